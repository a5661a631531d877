"""dlnflow's batched RODAS4: its order (local error h^5, embedded estimate h^4, dense output
h^4) on an ODE with a closed form, L-stable steps on a stiff linear system, and simulate's
``rodas4`` against the exact 1-D reduction and against dopri8 (saves, loss event, statuses)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dlnflow as dl
from dlnflow import init, rosenbrock
from dlnflow.scalar_chain import reduced_flow
from dlnflow.simulate import SaveAt, Solver, Stop


def _riccati(v):
    """y' = -y^2, exact y(t) = y0 / (1 + y0 t)."""
    return -v ** 2


F = jax.vmap(_riccati)
J = jax.vmap(jax.jacfwd(_riccati))


def _exact(y0, t):
    return y0 / (1 + y0 * t)


def test_rodas4_orders_on_riccati():
    y0 = jnp.array([[1.0], [0.5]])
    errs, ests, mids = [], [], []
    for h in (0.04, 0.02, 0.01):
        hb = jnp.full(2, h)
        y1, err, q1, q2 = rosenbrock.rodas4_step(F, J(y0), y0, hb)
        errs.append(np.max(np.abs(np.asarray(y1) - _exact(np.asarray(y0), h))))
        ests.append(np.max(np.abs(np.asarray(err))))
        mid = rosenbrock.dense(y0, y1, q1, q2, jnp.full(2, 0.5))
        mids.append(np.max(np.abs(np.asarray(mid) - _exact(np.asarray(y0), h / 2))))
    # order 4 method: local error ~ h^5 (ratio 32 per halving); 3rd-order embedded estimate
    # ~ h^4 (16); 3rd-order dense output ~ h^4 (16)
    for a, b in zip(errs, errs[1:], strict=False):
        assert 26 < a / b < 38, errs
    for a, b in zip(ests, ests[1:], strict=False):
        assert 12 < a / b < 19, ests
    for a, b in zip(mids, mids[1:], strict=False):
        assert 12 < a / b < 19, mids


def test_stiff_linear_system_few_steps_and_exact():
    lam = jnp.array([1.0, 1e4])
    y0 = jnp.array([[1.0, 1.0], [2.0, -1.0]])
    ts = jnp.array([0.5, 1.0, 2.5])
    out = rosenbrock.solve_batch(lambda v: -lam * v, y0, jnp.asarray(5.0), jnp.asarray(1e-10),
                                 jnp.asarray(1e-12), ts, 10_000)
    assert np.all(np.asarray(out["code"]) == rosenbrock.COMPLETED)
    exact = np.asarray(y0) * np.exp(-np.asarray(lam) * 5.0)
    np.testing.assert_allclose(np.asarray(out["y"]), exact, rtol=1e-8, atol=1e-12)
    saved = np.asarray(out["saved"])                              # (N, B, P)
    ref = np.asarray(y0)[None] * np.exp(-np.asarray(lam)[None, None] * np.asarray(ts)[:, None,
                                                                                       None])
    np.testing.assert_allclose(saved, ref, rtol=1e-7, atol=1e-11)
    assert np.all(np.asarray(out["saved_ok"]))
    # an explicit method needs >= 5 * 1e4 / 3.3 = 15,000 steps (stability); L-stable steps
    # follow the slow mode's accuracy only
    assert int(np.max(np.asarray(out["accepted"]))) < 2500


def test_simulate_rodas4_matches_reduced_chain():
    prob = dl.Problem.scalar_chain(6, target=1.0)
    params = init.xavier(prob, 1, batch=12)
    w0 = np.asarray(prob.scalar_weights(params))
    traj = dl.simulate(dl.GradientFlow(prob), params, t1=200.0,
                       solver=Solver("rodas4", rtol=1e-9, atol=1e-11))
    assert traj.metadata["backend"] == "rodas4" and traj.status == ["completed"] * 12
    ref = np.array([reduced_flow(prob, w0[i], np.array([0.0, 200.0]))[-1] for i in range(12)])
    np.testing.assert_allclose(traj.scalar_weights()[:, -1], ref, atol=1e-7)
    # each run its own step size: a batch run equals the runs solved one by one
    one = dl.simulate(dl.GradientFlow(prob), w0[3], t1=200.0,
                      solver=Solver("rodas4", rtol=1e-9, atol=1e-11))
    np.testing.assert_allclose(one.scalar_weights()[0, -1], traj.scalar_weights()[3, -1],
                               rtol=1e-13, atol=1e-15)
    assert one.steps[0] == traj.steps[3]


def test_simulate_rodas4_event_and_saves_match_dopri8():
    prob = dl.Problem.target_matrix(np.array([[2.0, 0.5], [0.0, 1.0], [1.0, -1.0]]),
                                    widths=[2, 3, 2, 3])
    p0 = init.gaussian(prob, 11, batch=3)
    ts = np.linspace(0, 40, 9)
    kw = dict(t1=40.0, stop=Stop(loss=1e-6), save=SaveAt(ts=ts))
    a = dl.simulate(dl.GradientFlow(prob), p0, solver=Solver("rodas4", rtol=1e-10, atol=1e-12),
                    **kw)
    b = dl.simulate(dl.GradientFlow(prob), p0, solver=Solver("dopri8", rtol=1e-12, atol=1e-14),
                    **kw)
    assert a.status == b.status and "converged" in a.status
    np.testing.assert_allclose(a.t_final, b.t_final, rtol=1e-6)
    done = np.array(a.status) == "converged"
    np.testing.assert_allclose(a.loss_final[done] - prob.optimal_loss, 1e-6, rtol=1e-6)
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_allclose(a.loss[a.valid], b.loss[b.valid], rtol=1e-6, atol=1e-10)
    for Wa, Wb in zip(a.params, b.params, strict=True):
        np.testing.assert_allclose(Wa[a.valid], Wb[b.valid], atol=1e-6)


def test_rodas4_step_cap_is_reported():
    prob = dl.Problem.scalar_chain(3, target=1.0)
    traj = dl.simulate(dl.GradientFlow(prob), np.array([0.3, 0.4, 0.5]), t1=1e3,
                       solver="rodas4", stop=Stop(max_steps=4))
    assert traj.status == ["max_steps"] and "step cap" in traj.messages[0]
    assert traj.steps[0] == 4


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rodas4_non_finite_field_fails_cleanly(bad):
    out = rosenbrock.solve_batch(lambda v: v * bad, jnp.ones((2, 2)), jnp.asarray(1.0),
                                 jnp.asarray(1e-8), jnp.asarray(1e-10), jnp.zeros(0), 1000)
    assert np.all(np.asarray(out["code"]) != rosenbrock.COMPLETED)
    assert np.all(np.isfinite(np.asarray(out["y"])))
