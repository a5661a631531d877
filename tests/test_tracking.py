"""simulate(..., track=Track(...)): observables along maps and flows against independent
references (a plain numpy GD, a flow solve with SaveAt.ts, numpy's svd, closed forms)."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow import observables
from dlnflow.sharpness import sharpness

rng = np.random.default_rng(7)
PHI = rng.standard_normal((3, 2))
PROB = dl.Problem.target_matrix(PHI, widths=(2, 4, 3, 3))
STARTS = tuple(0.5 * rng.standard_normal((2, *s)) for s in PROB.layer_shapes)
ETA = 0.05


def product(layers):
    W = layers[0]
    for M in layers[1:]:
        W = M @ W
    return W


def numpy_gd(layers, eta, steps):
    """Plain GD on 0.5 ||W_L...W_1 - Phi||_F^2: dF/dW_l = (W_L..W_(l+1))^T (W - Phi) (W_(l-1)..
    W_1)^T; returns the iterates 0..steps."""
    out = [tuple(np.array(W) for W in layers)]
    for _ in range(steps):
        Ws = out[-1]
        G = product(Ws) - PHI
        grads = []
        for l in range(len(Ws)):
            left = product(Ws[l + 1:]) if l + 1 < len(Ws) else np.eye(G.shape[0])
            right = product(Ws[:l]) if l > 0 else np.eye(Ws[0].shape[1])
            grads.append(left.T @ G @ right.T)
        out.append(tuple(W - eta * g for W, g in zip(Ws, grads, strict=True)))
    return out


@pytest.mark.parametrize(("save_every", "track_every"), [(7, 5), (10, 20)])
def test_gd_tracking_matches_numpy_iterates(save_every, track_every):
    """Samples at k = 0, every, ..., and the last iteration; values = sharpness (dense eigh) and
    numpy's svd at numpy's own GD iterates (1e-9 relative: iterates agree to ~1e-14)."""
    steps = 60
    tr = dl.simulate(dl.GradientDescent(PROB, ETA), STARTS, stop=dl.Stop(max_steps=steps),
                     save=dl.SaveAt(every=save_every),
                     track=dl.Track(("sharpness", "singular_values", "nuclear_norm"),
                                    every=track_every))
    plain = dl.simulate(dl.GradientDescent(PROB, ETA), STARTS, stop=dl.Stop(max_steps=steps),
                        save=dl.SaveAt(every=save_every))
    np.testing.assert_array_equal(tr.loss, plain.loss)          # loss records unchanged
    np.testing.assert_array_equal(tr.t, plain.t)
    ks = list(range(0, steps, track_every)) + [steps]
    for b in range(2):
        iterates = numpy_gd(tuple(W[b] for W in STARTS), ETA, steps)
        S = tr.tracked["sharpness"]
        np.testing.assert_array_equal(S.iterations[b], ks)
        np.testing.assert_allclose(S.times[b], np.array(ks) * ETA, rtol=1e-15)
        ref = [sharpness(PROB, iterates[k], method="dense") for k in ks]
        np.testing.assert_allclose(S.values[b], ref, rtol=1e-9)
        sv = [np.linalg.svd(product(iterates[k]), compute_uv=False) for k in ks]
        np.testing.assert_allclose(tr.tracked["singular_values"].values[b], sv, rtol=1e-9)
        np.testing.assert_allclose(tr.tracked["nuclear_norm"].values[b], np.sum(sv, axis=1),
                                   rtol=1e-9)


def test_gd_tracking_with_lanczos_warm_starts():
    """The Lanczos path along a run (warm starts) against dense eigh at the numpy iterates."""
    tr = dl.simulate(dl.GradientDescent(PROB, ETA), tuple(W[:1] for W in STARTS),
                     stop=dl.Stop(max_steps=40),
                     track=dl.Track(("sharpness",), every=4, method="lanczos", tol=1e-12))
    iterates = numpy_gd(tuple(W[0] for W in STARTS), ETA, 40)
    ref = [sharpness(PROB, iterates[k], method="dense") for k in range(0, 41, 4)]
    np.testing.assert_allclose(tr.tracked["sharpness"].values[0], ref, rtol=1e-8)


def test_flow_tracking_matches_a_solve_at_the_same_times():
    t1, every = 2.0, 0.25
    sys = dl.GradientFlow(PROB)
    tr = dl.simulate(sys, STARTS, t1=t1, track=dl.Track(("sharpness", "recovery_error"),
                                                        every=every))
    plain = dl.simulate(sys, STARTS, t1=t1)
    np.testing.assert_array_equal(tr.t, plain.t)                 # loss records unchanged
    np.testing.assert_array_equal(tr.loss, plain.loss)
    grid = np.arange(8) * every
    ref = dl.simulate(sys, STARTS, t1=t1, save=dl.SaveAt(ts=grid[1:]))
    np.testing.assert_allclose(ref.t[0], np.append(grid, t1))
    S, R = tr.tracked["sharpness"], tr.tracked["recovery_error"]
    assert S.iterations is None
    for b in range(2):
        np.testing.assert_array_equal(S.times[b], np.append(grid, t1))
        states = tuple(W[b] for W in ref.params)
        np.testing.assert_allclose(S.values[b], sharpness(PROB, states, method="dense"),
                                   rtol=1e-12)
        W = np.stack([product([L[b, m] for L in ref.params]) for m in range(ref.t.shape[1])])
        err = np.linalg.norm(W - PHI, axis=(1, 2)) / np.linalg.norm(PHI)
        np.testing.assert_allclose(R.values[b], err, rtol=1e-12)


def test_padding_after_an_early_stop_and_run_concatenate():
    """Run 0 reaches the threshold first: its samples end at its last iteration, NaN after."""
    y = 1.0
    prob = dl.Problem.scalar_chain(3, y)
    starts = np.array([[0.9, 1.0, 1.05], [0.3, 0.4, 0.5]])
    tr = dl.simulate(dl.GradientDescent(prob, 0.1), starts, stop=dl.Stop(loss=1e-8,
                                                                          max_steps=2000),
                     track=dl.Track(("sharpness",), every=3))
    S = tr.tracked["sharpness"]
    iters = tr.steps
    assert iters[0] < iters[1] and list(tr.status) == [dl.Status.CONVERGED] * 2
    n0 = len(range(0, iters[0], 3)) + 1
    assert S.valid[0].sum() == n0 and np.all(np.isnan(S.times[0, n0:]))
    assert np.all(np.isnan(S.values[0, n0:])) and np.all(np.isnan(S.iterations[0, n0:]))
    assert S.iterations[0, n0 - 1] == iters[0] and S.iterations[1, -1] == iters[1]
    for b in range(2):
        w = np.asarray(prob.scalar_weights(tuple(W[b] for W in tr.params_final)))
        # at the final state (p = y up to the threshold) the closed form of the minimum holds
        assert S.values[b, S.valid[b].sum() - 1] == pytest.approx(np.sum((y / w) ** 2),
                                                                  rel=1e-3)
        assert S.values[b, S.valid[b].sum() - 1] == pytest.approx(
            sharpness(prob, w, method="dense"), rel=1e-12)
    one = tr.run(0).tracked["sharpness"]
    assert one.times.shape == (1, n0) and np.all(np.isfinite(one.values))
    back = dl.Trajectory.concatenate([tr.run(0), tr.run(1)]).tracked["sharpness"]
    np.testing.assert_array_equal(back.values, S.values)
    np.testing.assert_array_equal(back.iterations, S.iterations)


def test_flow_padding_after_a_loss_event():
    prob = dl.Problem.scalar_chain(2, 1.0)
    starts = np.array([[0.95, 1.0], [0.2, 0.3]])
    tr = dl.simulate(dl.GradientFlow(prob), starts, t1=50.0, stop=dl.Stop(loss=1e-6),
                     track=dl.Track(("sharpness",), every=1.0))
    S = tr.tracked["sharpness"]
    for b in range(2):
        n = int(S.valid[b].sum())
        assert n == int(np.ceil(tr.t_final[b])) + 1
        assert S.times[b, n - 1] == tr.t_final[b]
        assert np.all(np.isnan(S.values[b, n:]))
        w = np.asarray(prob.scalar_weights(tuple(W[b] for W in tr.params_final)))
        assert S.values[b, n - 1] == pytest.approx(sharpness(prob, w), rel=1e-12)


@pytest.mark.parametrize(("sigma", "expected"), [
    ([3.0, 0.0, 0.0], 1.0),
    ([2.0, 2.0, 2.0], 3.0),
    ([2.0, 1.0, 0.0], np.exp(-(2 / 3) * np.log(2 / 3) - (1 / 3) * np.log(1 / 3))),
    ([0.0, 0.0, 0.0], np.nan),
])
def test_effective_rank_of_known_spectra(sigma, expected):
    """Roy-Vetterli: exp of the entropy of sigma / ||sigma||_1, for W = U diag(sigma) V^T."""
    prob = dl.Problem.target_matrix(np.eye(3), depth=1)
    U, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    W = U @ np.diag(sigma) @ V.T
    out = observables.evaluate("effective_rank", prob, (W[None],))
    np.testing.assert_allclose(out, [expected], rtol=1e-12)
    np.testing.assert_allclose(observables.evaluate("nuclear_norm", prob, (W[None],)),
                               [np.sum(sigma)], atol=1e-12)


def test_recovery_error_regression_closed_form():
    """W* = Y X^T (X X^T)^(-1) for full-rank X; the error of W = 0 is 1, of W* itself 0."""
    X, Y = rng.standard_normal((3, 10)), rng.standard_normal((2, 10))
    prob = dl.Problem.regression(X, Y, widths=(3, 4, 2))
    W_star = np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T
    A = rng.standard_normal((4, 3))
    B = W_star @ np.linalg.pinv(A)                         # B A = W* (A has full column rank)
    states = (np.stack([A, A]), np.stack([B, np.zeros((2, 4))]))
    np.testing.assert_allclose(observables.evaluate("recovery_error", prob, states), [0.0, 1.0],
                               atol=1e-12)


def test_recovery_error_of_completion_is_relative_to_the_measured_matrix():
    """Completion: W* is the matrix the entries were observed of, not the least-norm fit of the
    observations (W* on Omega, 0 elsewhere), which would call the fit itself perfect."""
    target = np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 2.0])          # rank one
    mask = np.ones((3, 3))
    mask[0, 2] = mask[2, 0] = 0.0
    prob = dl.Problem.completion(target, mask, depth=2, width=3)
    fit = target * mask                                          # the least-norm fit
    W1, W2 = np.eye(3), fit                                      # W2 W1 = fit
    err = observables.evaluate("recovery_error", prob, (W1[None], W2[None]))
    expected = np.linalg.norm(fit - target) / np.linalg.norm(target)
    np.testing.assert_allclose(err, [expected], rtol=1e-14)
    assert expected > 0.3                                         # the old W* gave 0


def test_bad_track_arguments():
    gd = dl.GradientDescent(dl.Problem.scalar_chain(2, 1.0), 0.1)
    with pytest.raises(dl.InputError, match="unknown observable 'curvature'; choose from"):
        dl.Track(("curvature",))
    with pytest.raises(dl.InputError, match="Track.every must be positive, got 0"):
        dl.Track(every=0)
    with pytest.raises(dl.InputError, match=r"Track.every \(iterations, for a map\) must be an "
                                            r"integer >= 1, got 0.5"):
        dl.simulate(gd, [1.0, 1.0], stop=dl.Stop(max_steps=5), track=dl.Track(every=0.5))
    with pytest.raises(dl.InputError, match="track must be a dlnflow.Track"):
        dl.simulate(gd, [1.0, 1.0], stop=dl.Stop(max_steps=5), track=("sharpness",))
    flow = dl.GradientFlow(dl.Problem.scalar_chain(2, 1.0))
    with pytest.raises(dl.InputError, match=r"Track with SaveAt.steps needs a rodas4 or scipy "
                                            r"solver: diffrax \(tsit5\)"):
        dl.simulate(flow, [1.0, 1.0], t1=1.0, solver="tsit5", save=dl.SaveAt(steps=True),
                    track=dl.Track())
    custom = dl.Problem.scalar_chain(2, loss=lambda p: (p - 1.0) ** 4)
    with pytest.raises(dl.InputError, match="recovery_error needs a known minimiser W"):
        dl.simulate(dl.GradientDescent(custom, 0.1), [1.0, 1.0], stop=dl.Stop(max_steps=5),
                    track=dl.Track(("recovery_error",)))


@pytest.mark.parametrize("solver", ["RK45", "rodas4"])
def test_flow_tracking_keeps_step_records(solver):
    """With SaveAt.steps and ts the records are those of the untracked solve; samples found."""
    sys = dl.GradientFlow(PROB)
    save = dl.SaveAt(ts=[0.3], steps=True)
    tr = dl.simulate(sys, STARTS, t1=1.0, solver=solver, save=save,
                     track=dl.Track(("nuclear_norm",), every=0.1))
    plain = dl.simulate(sys, STARTS, t1=1.0, solver=solver, save=save)
    np.testing.assert_array_equal(tr.t, plain.t)
    np.testing.assert_array_equal(tr.loss, plain.loss)
    N = tr.tracked["nuclear_norm"]
    np.testing.assert_allclose(N.times, np.tile(np.linspace(0, 1, 11), (2, 1)), atol=1e-15)
    at_03 = np.flatnonzero(plain.t[0] == 0.3)[0]
    W = np.asarray(PROB.end_to_end(tuple(L[0, at_03] for L in plain.params)))
    assert N.values[0, 3] == pytest.approx(np.linalg.svd(W, compute_uv=False).sum(), rel=1e-12)
