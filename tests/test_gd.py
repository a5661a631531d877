"""Gradient descent as a map: exact imbalance identity, per-run stopping, statuses,
first-order agreement with the flow."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow import init
from dlnflow.invariants import gd_imbalance_change, imbalance
from dlnflow.simulate import SaveAt, Solver, Stop


@pytest.mark.parametrize("kind", ["scalar", "matrix", "residual"])
def test_gd_imbalance_change_identity_to_roundoff(kind):
    rng = np.random.default_rng(0)
    if kind == "scalar":
        prob = dl.Problem.scalar_chain(5, target=-0.7)
    elif kind == "matrix":
        prob = dl.Problem.regression(rng.normal(size=(3, 6)), rng.normal(size=(2, 6)),
                                     widths=[3, 4, 5, 2])
    else:
        prob = dl.Problem.residual(3, rng.normal(size=(3, 2)), rng.normal(size=(2, 3)),
                                   X=rng.normal(size=(2, 5)), Y=rng.normal(size=(2, 5)))
    params = init.gaussian(prob, 4)
    eta = 0.05
    new = dl.GradientDescent(prob, eta).step(params)
    change = [b - a for a, b in zip(imbalance(params, prob), imbalance(new, prob), strict=True)]
    predicted = gd_imbalance_change(prob.grad(params), eta)
    scale = max(float(np.max(np.abs(D))) for D in imbalance(params, prob))
    for c, p in zip(change, predicted, strict=True):
        assert float(np.max(np.abs(p))) > 1e-6          # the change is not trivially zero
        np.testing.assert_allclose(c, p, atol=1e-13 * max(scale, 1.0))


def test_batched_runs_stop_on_their_own():
    prob = dl.Problem.scalar_chain(3, target=1.0)
    w0 = np.array([[0.9, 1.0, 1.1], [0.3, 0.5, 0.4], [0.1, 0.2, 0.15]])
    batch = dl.simulate(dl.GradientDescent(prob, 0.05), w0, stop=Stop(loss=1e-10, max_steps=20000))
    assert batch.status == ["converged"] * 3
    for i in range(3):
        one = dl.simulate(dl.GradientDescent(prob, 0.05), w0[i],
                          stop=Stop(loss=1e-10, max_steps=20000))
        assert one.iterations[0] == batch.iterations[i]
        np.testing.assert_array_equal(one.params_final[0], batch.params_final[0][i:i + 1])
    assert len(set(batch.iterations.tolist())) == 3
    assert np.all(batch.loss_final <= 1e-10)


def test_gd_iterates_match_a_plain_numpy_loop():
    prob = dl.Problem.scalar_chain(4, target=2.0)
    w = np.array([0.8, 1.1, 0.6, 1.3])
    traj = dl.simulate(dl.GradientDescent(prob, 0.002), w, stop=Stop(max_steps=300),
                       save=SaveAt(every=1))
    ref = [w.copy()]
    for _ in range(300):
        p = np.prod(w)
        w = w - 0.002 * (p - 2.0) * np.array([np.prod(np.delete(w, i)) for i in range(4)])
        ref.append(w.copy())
    np.testing.assert_allclose(traj.scalar_weights()[0], np.array(ref), rtol=1e-12)
    np.testing.assert_allclose(traj.t[0], 0.002 * np.arange(301), rtol=1e-12)
    assert traj.status == ["completed"]


def test_divergence_is_reported_not_nan():
    prob = dl.Problem.scalar_chain(2, target=1.0)
    w0 = np.array([[1.0, 1.0 + 1e-3], [0.5, 0.6]])
    # lambda_max at the balanced minimum is 2|y| = 2: eta = 3 is far beyond 2/lambda_max = 1
    traj = dl.simulate(dl.GradientDescent(prob, 3.0), w0, stop=Stop(loss=1e-12, max_steps=5000))
    assert traj.status == ["diverged", "diverged"]
    assert np.all(np.isfinite(traj.loss_final))
    assert all(np.all(np.isfinite(W)) for W in traj.params_final)
    assert "non-finite or exploded" in traj.messages[0]
    assert not np.any(np.isnan(traj.loss[traj.valid]))


def test_stalled_at_saddle_and_max_steps():
    prob = dl.Problem.scalar_chain(3, target=1.0)
    w0 = np.array([[0.0, 0.0, 1.0], [0.2, 0.2, 0.2]])
    traj = dl.simulate(dl.GradientDescent(prob, 0.1), w0, stop=Stop(loss=1e-8, max_steps=50))
    assert traj.status == ["stalled", "max_steps"]
    assert traj.loss_final[0] == pytest.approx(0.5)


def test_gd_approaches_flow_at_first_order():
    prob = dl.Problem.scalar_chain(3, target=1.0)
    w0 = np.array([0.5, 0.7, 0.9])
    T = 2.0
    ratios = []
    for eta in (0.02, 0.01, 0.005):
        k = int(round(T / eta))
        gd = dl.simulate(dl.GradientDescent(prob, eta), w0, stop=Stop(max_steps=k),
                         save=SaveAt(every=k // 4))
        ts = gd.t[0, gd.valid[0]]
        fl = dl.simulate(dl.GradientFlow(prob), w0, t1=T,
                         solver=Solver("dopri8", rtol=1e-12, atol=1e-14), save=SaveAt(ts=ts))
        dist = np.max(np.linalg.norm(gd.scalar_weights()[0, :len(ts)]
                                     - fl.scalar_weights()[0, :len(ts)], axis=-1))
        ratios.append(dist / eta)
    # distance / eta about constant as eta halves (first order)
    assert ratios[1] / ratios[0] == pytest.approx(1.0, abs=0.1)
    assert ratios[2] / ratios[1] == pytest.approx(1.0, abs=0.05)


def test_gd_bad_inputs():
    prob = dl.Problem.scalar_chain(2)
    with pytest.raises(dl.InputError, match="eta must be positive, got -0.1"):
        dl.GradientDescent(prob, -0.1)
    with pytest.raises(dl.InputError, match="eta must be a finite number, got nan"):
        dl.GradientDescent(prob, float("nan"))
    with pytest.raises(dl.InputError, match="a map needs Stop.max_steps or t1"):
        dl.simulate(dl.GradientDescent(prob, 0.1), np.ones(2))
    with pytest.raises(dl.InputError, match="a start must have 2 weights"):
        dl.simulate(dl.GradientDescent(prob, 0.1), np.ones(3), stop=Stop(max_steps=3))
    with pytest.raises(dl.InputError, match="a map takes no solver"):
        dl.simulate(dl.GradientDescent(prob, 0.1), np.ones(2), stop=Stop(max_steps=3),
                    solver="rodas4")
    with pytest.raises(dl.InputError, match="apply to flows"):
        dl.simulate(dl.GradientDescent(prob, 0.1), np.ones(2), stop=Stop(max_steps=3),
                    save=SaveAt(ts=[0.1]))
    with pytest.raises(dl.InputError, match="apply to flows"):
        dl.simulate(dl.GradientDescent(prob, 0.1), np.ones(2), stop=Stop(max_steps=3),
                    save=SaveAt(steps=True))
