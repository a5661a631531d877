"""Gradient flow against independent references: closed forms, quadrature, another solver,
the exact 1-D reduction, the end-to-end rule of Arora et al., and conservation of imbalances."""

import jax
import numpy as np
import pytest
import scipy.integrate

import dlnflow as dl
from dlnflow import closed_forms, init
from dlnflow.scalar_chain import reduced_flow
from dlnflow.simulate import SaveAt, Solver, Stop

SCALAR = dl.Problem.scalar_chain(depth=3, target=1.0)
W0_SCALAR = np.array([[0.4, -0.9, -1.3], [1.5, 0.2, 0.7]])
MATRIX = dl.Problem.target_matrix(np.array([[2.0, 0.5], [0.0, 1.0], [1.0, -1.0]]),
                                  widths=[2, 3, 2, 3])


def matrix_start():
    return init.gaussian(MATRIX, 11, batch=2)


@pytest.mark.parametrize("solver", ["kvaerno5", "kvaerno3", "tsit5", "dopri5", "dopri8",
                                    "rodas4"])
@pytest.mark.parametrize("which", ["scalar", "matrix"])
def test_imbalance_conserved_jax_solvers(solver, which):
    prob, p0 = (SCALAR, SCALAR.scalar_params(W0_SCALAR)) if which == "scalar" else (
        MATRIX, matrix_start())
    traj = dl.simulate(dl.GradientFlow(prob), p0, t1=20.0,
                       solver=Solver(solver, rtol=1e-9, atol=1e-11),
                       save=SaveAt(ts=np.linspace(0, 20, 9)))
    assert traj.status == ["completed", "completed"]
    drift = dl.invariants.drift(traj)
    # to solver tolerance: well below the O(1) size of the weights, and far below a sloppy run
    assert np.all(drift < 1e-6), drift
    loose = dl.simulate(dl.GradientFlow(prob), p0, t1=20.0,
                        solver=Solver(solver, rtol=1e-4, atol=1e-6))
    assert np.max(dl.invariants.drift(loose)) > np.max(drift)


@pytest.mark.parametrize("solver", ["Radau", "BDF", "LSODA", "RK45", "DOP853"])
def test_imbalance_conserved_scipy(solver):
    for prob, p0 in ((SCALAR, SCALAR.scalar_params(W0_SCALAR)), (MATRIX, matrix_start())):
        traj = dl.simulate(dl.GradientFlow(prob), p0, t1=20.0,
                           solver=Solver(solver, rtol=1e-9, atol=1e-11),
                           save=SaveAt(ts=np.linspace(0, 20, 5)))
        assert traj.metadata["backend"] == "scipy"
        assert set(traj.status) == {"completed"}
        assert np.all(dl.invariants.drift(traj) < 1e-5)


def test_diffrax_and_scipy_agree_and_match_reduced_chain():
    ts = np.linspace(0, 6, 7)
    p0 = SCALAR.scalar_params(W0_SCALAR)
    a = dl.simulate(dl.GradientFlow(SCALAR), p0, t1=6.0,
                    solver=Solver("dopri8", rtol=1e-11, atol=1e-13), save=SaveAt(ts=ts))
    b = dl.simulate(dl.GradientFlow(SCALAR), p0, t1=6.0,
                    solver=Solver("DOP853", rtol=1e-11, atol=1e-13), save=SaveAt(ts=ts))
    wa, wb = a.scalar_weights(), b.scalar_weights()
    np.testing.assert_allclose(wa[:, :len(ts)], wb[:, :len(ts)], atol=1e-8)
    for i in range(2):
        ref = reduced_flow(SCALAR, W0_SCALAR[i], ts)
        np.testing.assert_allclose(wa[i, :len(ts)], ref, atol=1e-8)


def test_least_weight_crosses_zero_like_the_reduction():
    # y < 0 from a positive start: the least weight must change sign (Shamir's near-identity case)
    prob = dl.Problem.scalar_chain(depth=3, target=-1.0)
    w0 = np.array([0.9, 1.1, 1.2])
    ts = np.linspace(0, 30, 7)
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=30.0,
                       solver=Solver("dopri8", rtol=1e-11, atol=1e-13), save=SaveAt(ts=ts))
    w = traj.scalar_weights()[0]
    ref = reduced_flow(prob, w0, ts)
    np.testing.assert_allclose(w, ref, atol=1e-7)
    assert w[-1, 0] < 0 < w[-1, 1]


def test_saxe_two_layer_modes_follow_closed_form():
    # Phi = U diag(s) V^T, decoupled balanced start W_1 = diag(sqrt u0) V^T, W_2 = U diag(sqrt u0)
    rng = np.random.default_rng(5)
    U, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    V, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    s = np.array([3.0, 1.5, 0.5])
    u0 = np.array([1e-3, 2e-3, 1e-2])
    prob = dl.Problem.target_matrix(U @ np.diag(s) @ V.T, widths=[3, 3, 3])
    params = (np.diag(np.sqrt(u0)) @ V.T, U @ np.diag(np.sqrt(u0)))
    ts = np.linspace(0, 8, 17)
    traj = dl.simulate(dl.GradientFlow(prob), params, t1=8.0,
                       solver=Solver("tsit5", rtol=1e-11, atol=1e-13), save=SaveAt(ts=ts))
    W = traj.end_to_end()[0, :len(ts)]
    modes = np.einsum("ia,tij,jb->tab", U, W, V)
    for k in range(3):
        np.testing.assert_allclose(modes[:, k, k], closed_forms.saxe_mode(ts, s[k], u0[k]),
                                   rtol=1e-7, atol=1e-9)
    off = modes - np.einsum("tkk->tk", modes)[:, :, None] * np.eye(3)
    assert np.max(np.abs(off)) < 1e-8


@pytest.mark.parametrize("depth", [2, 4, 6])
def test_balanced_chain_time_to_loss_matches_quadrature(depth):
    y, p0, p1 = 1.0, 0.05, 0.99
    prob = dl.Problem.scalar_chain(depth, target=y)
    w0 = np.full(depth, p0 ** (1 / depth))
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=1e3,
                       solver=Solver("tsit5", rtol=1e-11, atol=1e-13),
                       stop=Stop(loss=0.5 * (y - p1) ** 2))
    assert traj.status == ["converged"]
    expected = closed_forms.balanced_chain_time(depth, y, p0, p1)
    assert traj.t_final[0] == pytest.approx(expected, rel=1e-7)
    if depth == 2:   # the logistic closed form
        assert float(closed_forms.two_layer_product(expected, y, p0)) == pytest.approx(p1, rel=1e-9)


def test_end_to_end_rule_equals_layerwise_flow_from_balanced_start():
    rng = np.random.default_rng(8)
    # square, full-rank product: the fractional powers (W W^T)^a stay smooth along the path
    prob = dl.Problem.target_matrix(rng.normal(size=(3, 3)), widths=[3, 3, 3, 3])
    params = init.balanced(prob, product=np.eye(3) + 0.3 * rng.normal(size=(3, 3)))
    ts = np.linspace(0, 3, 7)
    traj = dl.simulate(dl.GradientFlow(prob), params, t1=3.0,
                       solver=Solver("tsit5", rtol=1e-11, atol=1e-13), save=SaveAt(ts=ts))
    e2e = dl.EndToEndFlow(prob)
    field = jax.jit(lambda W: e2e.vector_field(0.0, (W,))[0])
    W0 = np.asarray(prob.end_to_end(params))
    sol = scipy.integrate.solve_ivp(lambda t, v: np.asarray(field(v.reshape(3, 3))).ravel(),
                                    (0, 3), W0.ravel(), method="DOP853", t_eval=ts,
                                    rtol=1e-10, atol=1e-12)
    assert sol.status == 0
    ref = sol.y.T.reshape(-1, 3, 3)
    np.testing.assert_allclose(traj.end_to_end()[0, :len(ts)], ref, atol=1e-7)
    # the end-to-end flow run by simulate itself: its state is W, a depth-1 problem
    direct = dl.simulate(e2e, W0, t1=3.0, solver=Solver("tsit5", rtol=1e-11, atol=1e-13),
                         save=SaveAt(ts=ts))
    assert direct.status == ["completed"] and direct.problem.depth == 1
    np.testing.assert_allclose(direct.params[0][0, :len(ts)], ref, atol=1e-7)
    np.testing.assert_allclose(direct.loss[0, :len(ts)],
                               [float(prob.f(W)) for W in ref], rtol=1e-7)


def test_event_reports_crossing_time_and_padding():
    prob = dl.Problem.scalar_chain(2, target=1.0)
    traj = dl.simulate(dl.GradientFlow(prob), np.array([[0.1, 0.1], [0.2, 0.2]]), t1=100.0,
                       solver=Solver("tsit5", rtol=1e-10, atol=1e-12), stop=Stop(loss=1e-6),
                       save=SaveAt(ts=np.linspace(0, 100, 101)))
    assert traj.status == ["converged", "converged"]
    np.testing.assert_allclose(traj.loss_final, 1e-6, rtol=1e-8)
    p1 = 1.0 - np.sqrt(2e-6)
    for i, p0 in enumerate([0.01, 0.04]):
        assert traj.t_final[i] == pytest.approx(closed_forms.saxe_time(1.0, p0, p1), rel=1e-7)
    # records stop at the event: padding is NaN and marked invalid
    assert not np.any(np.isnan(traj.loss[traj.valid]))
    assert np.all(np.isnan(traj.loss[~traj.valid]))
    assert traj.t[0, traj.valid[0]].max() == pytest.approx(traj.t_final[0])


@pytest.mark.parametrize("solver", ["rodas4", "kvaerno5", "Radau"])
def test_save_steps_records_every_accepted_step(solver):
    """SaveAt(steps=True) on each backend (rodas4, diffrax, scipy): the start plus one record
    per accepted step, in time order, each on the exact 1-D reduction to 100 rtol."""
    prob = dl.Problem.scalar_chain(3, target=2.0)
    w0 = np.array([0.3, 1.1, -0.7])
    rtol = 1e-9
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=3.0,
                       solver=Solver(solver, rtol=rtol, atol=1e-12), save=SaveAt(steps=True))
    assert traj.status == ["completed"]
    n = int(traj.valid[0].sum())
    assert n == traj.steps[0] + 1 == traj.stats["accepted_steps"][0] + 1
    t = traj.t[0, :n]
    assert t[0] == 0.0 and t[-1] == 3.0 and np.all(np.diff(t) > 0)
    ref = reduced_flow(prob, w0, t, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(traj.scalar_weights()[0, :n], ref, rtol=100 * rtol,
                               atol=100 * rtol)
    with pytest.raises(dl.InputError, match="a flow has no iterations"):
        _ = traj.iterations


def test_horizon_without_threshold_is_max_steps_status():
    prob = dl.Problem.scalar_chain(6, target=1.0)
    w0 = np.full(6, 0.3)   # product 7e-4: long plateau
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=1.0, solver="tsit5", stop=Stop(loss=1e-8))
    assert traj.status == ["max_steps"]
    assert "horizon" in traj.messages[0]
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=1e4, solver="tsit5",
                       stop=Stop(loss=1e-8, max_steps=5))
    assert traj.status == ["max_steps"]
    assert "step cap" in traj.messages[0]


def test_flow_bad_inputs():
    flow = dl.GradientFlow(SCALAR)
    with pytest.raises(dl.InputError, match="t1 must be positive"):
        dl.simulate(flow, np.ones(3), t1=-1.0)
    with pytest.raises(dl.InputError, match="a flow needs t1"):
        dl.simulate(flow, np.ones(3))
    with pytest.raises(dl.InputError, match="unknown solver 'rk4'"):
        dl.simulate(flow, np.ones(3), t1=1.0, solver="rk4")
    with pytest.raises(dl.InputError, match="unknown solver 'rk4'"):
        Solver("rk4")
    with pytest.raises(dl.InputError, match="solver must be a solver name or a dlnflow.Solver"):
        dl.simulate(flow, np.ones(3), t1=1.0, solver=3)
    with pytest.raises(dl.InputError, match="SaveAt.every applies to maps"):
        dl.simulate(flow, np.ones(3), t1=1.0, save=SaveAt(every=2))
    with pytest.raises(dl.InputError, match="Solver.rtol must be positive"):
        Solver("rodas4", rtol=0.0)
    with pytest.raises(dl.InputError, match=r"SaveAt.ts must lie in \[0, t1=1\]"):
        dl.simulate(flow, np.ones(3), t1=1.0, save=SaveAt(ts=[0.5, 2.0]))
    with pytest.raises(dl.InputError, match="SaveAt.ts must be finite, >= 0 and increasing"):
        SaveAt(ts=[0.5, 0.2])
    with pytest.raises(dl.InputError, match="stop must be a dlnflow.Stop"):
        dl.simulate(flow, np.ones(3), t1=1.0, stop=1e-6)
    with pytest.raises(dl.InputError, match="Stop.max_steps must be an integer >= 1 for a flow"):
        dl.simulate(flow, np.ones(3), t1=1.0, stop=Stop(max_steps=0))
