"""SaveAt(every=k, params_every=m): the loss at every k-th iteration, the parameters only at every
m-th. The losses, times and statuses must be bit-for-bit those of the run that records the
parameters at every record, and its parameter records the corresponding ones of that run; the
parameter records are also checked against a plain numpy GD loop."""

import numpy as np
import pytest

import dlnflow as dl

ETA = 0.1


def _problem_and_starts():
    """Depth 3, width 3 square-target problem, three starts c I + noise (c = 1, 0.8, 0.6) that
    reach the threshold 1e-3 at different iterations (27, 24, 30)."""
    prob = dl.Problem.target_matrix(np.diag([1.0, 0.5, 0.25]), depth=3, width=3)
    rng = np.random.default_rng(0)
    params = tuple(np.stack([c * np.eye(3) + 0.1 * rng.standard_normal((3, 3))
                             for c in (1.0, 0.8, 0.6)]) for _ in range(3))
    return prob, params


def _numpy_gd(Ws, phi, eta, steps):
    """Plain numpy GD on 0.5 ||W3 W2 W1 - phi||^2 (one start), the iterates after each step."""
    Ws, out = [W.copy() for W in Ws], []
    for _ in range(steps):
        W1, W2, W3 = Ws
        R = W3 @ W2 @ W1 - phi
        g = [(W3 @ W2).T @ R, W3.T @ R @ W1.T, R @ (W2 @ W1).T]
        Ws = [W - eta * G for W, G in zip(Ws, g, strict=True)]
        out.append([W.copy() for W in Ws])
    return out


@pytest.mark.parametrize(("every", "params_every"), [(1, 5), (2, 6)])
def test_losses_identical_params_at_their_records(every, params_every):
    prob, p0 = _problem_and_starts()
    gd = dl.GradientDescent(prob, ETA)
    stop = dl.Stop(max_steps=60, loss=1e-3)
    full = dl.simulate(gd, p0, stop=stop, save=dl.SaveAt(every=every))
    thin = dl.simulate(gd, p0, stop=stop, save=dl.SaveAt(every=every, params_every=params_every))
    s = params_every // every
    assert thin.params_stride == s and full.params_stride == 1
    np.testing.assert_array_equal(full.steps, [27, 24, 30])   # padding in two runs
    for name in ("t", "loss", "valid", "t_final", "loss_final", "steps"):
        np.testing.assert_array_equal(getattr(thin, name), getattr(full, name), err_msg=name)
    assert thin.status == full.status
    for R, F, Rf, Ff in zip(thin.params, thin.params_final, full.params, full.params_final,
                            strict=True):
        assert R.shape[1] == (full.t.shape[1] - 1) // s + 1
        np.testing.assert_array_equal(R, Rf[:, ::s])
        np.testing.assert_array_equal(F, Ff)
    np.testing.assert_array_equal(thin.params_t, full.t[:, ::s])
    np.testing.assert_array_equal(thin.params_valid, full.valid[:, ::s])
    # independent reference: numpy GD iterates at k = params_every, 2 params_every, ...
    phi = np.diag([1.0, 0.5, 0.25])
    for b in range(3):
        ref = _numpy_gd([W[b] for W in p0], phi, ETA, int(thin.steps[b]))
        for j in np.flatnonzero(thin.params_valid[b])[1:]:
            k = j * params_every
            for layer in range(3):
                np.testing.assert_allclose(thin.params[layer][b, j], ref[k - 1][layer],
                                           rtol=1e-12, atol=1e-14)


def test_run_concatenate_and_tracking_with_params_every():
    prob, p0 = _problem_and_starts()
    gd = dl.GradientDescent(prob, ETA)
    stop = dl.Stop(max_steps=60, loss=1e-3)
    full = dl.simulate(gd, p0, stop=stop, save=dl.SaveAt(every=1),
                       track=dl.Track(names=("nuclear_norm",), every=4))
    thin = dl.simulate(gd, p0, stop=stop, save=dl.SaveAt(every=1, params_every=8),
                       track=dl.Track(names=("nuclear_norm",), every=4))
    np.testing.assert_array_equal(thin.tracked["nuclear_norm"].times,
                                  full.tracked["nuclear_norm"].times)
    # samples between parameter records are advanced by the map from the last record
    np.testing.assert_allclose(thin.tracked["nuclear_norm"].values,
                               full.tracked["nuclear_norm"].values, rtol=1e-13)
    for i in range(3):
        a, b = thin.run(i), full.run(i)
        np.testing.assert_array_equal(a.loss, b.loss)
        for Ra, Rb in zip(a.params, b.params, strict=True):
            np.testing.assert_array_equal(Ra, Rb[:, ::8])
        np.testing.assert_array_equal(a.params_valid, np.ones_like(a.params_valid))
    joined = dl.Trajectory.concatenate([thin.run(2), thin.run(0), thin.run(1)])
    order = [2, 0, 1]
    N = int(thin.steps.max()) + 1                      # records of the longest run
    np.testing.assert_array_equal(joined.loss, thin.loss[order, :N])
    for Rj, R in zip(joined.params, thin.params, strict=True):    # padding: the final state
        np.testing.assert_array_equal(Rj, R[order, :(N - 1) // 8 + 1])
    with pytest.raises(dl.InputError, match="same params_stride"):
        dl.Trajectory.concatenate([thin.run(0), full.run(0)])


def test_memory_check_counts_params_every(monkeypatch):
    """1,001 records of 1,875 parameters (15 MB) are refused under a 1 MB limit; with the
    parameters at 11 of them (about 0.18 MB) the same run goes through."""
    prob = dl.Problem.target_matrix(np.eye(25), depth=3, width=25)      # P = 1875
    gd = dl.GradientDescent(prob, 1e-3)
    p0 = dl.init.lecun_normal(prob, key=0)
    monkeypatch.setenv("DLNFLOW_MEMORY_LIMIT", "1M")
    with pytest.raises(dl.InputError, match="recording 1 runs x 1001 records x 1875 param"):
        dl.simulate(gd, p0, stop=dl.Stop(max_steps=1000), save=dl.SaveAt(every=1))
    tr = dl.simulate(gd, p0, stop=dl.Stop(max_steps=1000),
                     save=dl.SaveAt(every=1, params_every=100))
    assert tr.loss.shape == (1, 1001) and tr.params[0].shape == (1, 11, 25, 25)


@pytest.mark.parametrize(("kw", "match"), [
    ({"params_every": 5}, "needs SaveAt.every"),
    ({"every": 2, "params_every": 5}, "multiple of SaveAt.every=2"),
    ({"every": 1, "params_every": 0}, "params_every must be an integer >= 1"),
    ({"every": 1, "params_every": 2.5}, "params_every must be an integer"),
    ({"every": 1, "params_every": True}, "params_every must be an integer"),
])
def test_params_every_bad_values(kw, match):
    with pytest.raises(dl.InputError, match=match):
        dl.SaveAt(**kw)


def test_params_every_refused_for_flows():
    prob = dl.Problem.scalar_chain(2, 1.0)
    with pytest.raises(dl.InputError, match="applies to maps"):
        dl.simulate(dl.GradientFlow(prob), np.array([0.5, 0.5]), t1=1.0,
                    save=dl.SaveAt(every=1, params_every=2))


def test_scalar_chain_flat_loop_params_every():
    """Scalar chains run a flattened loop state (B, L): the same records, unflattened."""
    prob = dl.Problem.scalar_chain(4, 1.0)
    w0 = np.array([[0.5, 0.9, 1.1, 0.7], [1.2, 0.4, 0.8, 1.0]])
    gd = dl.GradientDescent(prob, 0.05)
    stop = dl.Stop(max_steps=40)
    full = dl.simulate(gd, w0, stop=stop, save=dl.SaveAt(every=2))
    thin = dl.simulate(gd, w0, stop=stop, save=dl.SaveAt(every=2, params_every=6))
    np.testing.assert_array_equal(thin.loss, full.loss)
    np.testing.assert_array_equal(thin.scalar_weights(), full.scalar_weights()[:, ::3])
    assert thin.scalar_weights().shape == (2, 7, 4)
