"""gd_basins' two-pass classification against the whole history of every run: the one-pass
classification of simulate's every-iterate records (the method it replaced, restated here as the
reference) and a plain numpy gradient descent with the same stopping rules."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow import basins
from dlnflow.orbits import SweptGD
from dlnflow.simulate import SaveAt, Stop, simulate

KEYS = ("outcome", "iterations", "final_w", "final_excess")


def _last(fail, default):
    """Last index k >= 1 where fail holds (per row), else default."""
    hits = [np.flatnonzero(f[1:]) for f in fail]
    return np.array([h[-1] + 1 if len(h) else default for h in hits])


def _classify(w, loss, dead, steps, max_steps, fstar=0.0, tol=1e-20, saddle_tol=1e-8,
              cycle_tol=1e-9):
    """Outcome and settling iteration from every iterate w (B, K + 1, 2), loss (B, K + 1)."""
    last_min = _last(loss - fstar > tol, 0)
    last_sad = _last(np.any(np.abs(w) > saddle_tol, axis=2), 0)
    moved = np.zeros(loss.shape, dtype=bool)
    moved[:, 1] = np.any(np.abs(w[:, 1] - w[:, 0]) > cycle_tol, axis=1)
    moved[:, 2:] = np.any(np.abs(w[:, 2:] - w[:, :-2]) > cycle_tol, axis=2)
    last_cyc = _last(moved, 1)
    step = np.max(np.abs(w[:, -1] - w[:, -2]), axis=1)
    outcome, iters = np.full(len(w), 5), np.full(len(w), max_steps)
    for i in range(len(w)):
        if dead[i]:
            outcome[i], iters[i] = 4, steps[i] + 1
        elif last_min[i] < max_steps and last_sad[i] == max_steps:
            outcome[i], iters[i] = (0 if w[i, -1, 0] > 0 else 1), last_min[i]
        elif last_sad[i] < max_steps:
            outcome[i], iters[i] = 2, last_sad[i]
        elif last_cyc[i] < max_steps and step[i] > 1e3 * cycle_tol:
            outcome[i], iters[i] = 3, last_cyc[i]
    return outcome, iters


def _one_pass(prob, eta, grid, extent, max_steps):
    """Every iterate of every start recorded by simulate (one batch), then classified."""
    x, y = basins.start_grid(extent, grid)
    X, Y = np.meshgrid(x, y)
    traj = simulate(SweptGD(prob, eta), prob.scalar_params(np.stack([X.ravel(), Y.ravel()], 1)),
                    stop=Stop(max_steps=max_steps), save=SaveAt(every=1))
    w = np.stack([np.asarray(W)[:, :, 0, 0] for W in traj.params], axis=2)
    loss = np.where(traj.valid, traj.loss, np.asarray(traj.loss_final)[:, None])
    dead = np.array([s == "diverged" for s in traj.status])
    outcome, iters = _classify(w, loss, dead, np.asarray(traj.steps), max_steps)
    return {"outcome": outcome.reshape(X.shape), "iterations": iters.reshape(X.shape),
            "final_w": w[:, -1].reshape(*X.shape, 2),
            "final_excess": np.asarray(traj.loss_final).reshape(X.shape)}


@pytest.mark.parametrize(("eta", "grid", "max_steps", "chunk"), [
    (0.6, 24, 1000, 4096),      # minima, saddle line, divergence, round-off 2-cycles near minima
    (1.08, 24, 1000, 100),      # period-2 orbits; batches padded
    (1.08, 17, 130, 4096),      # too few steps for a period past the checkpoints: all iterates
    (0.6, 9, 3, 4096),          # shorter than a checkpoint
    (1.08, 9, 1, 4096),         # a single step
    (1.3, 20, 700, 4096),       # longer cycles and not converged
])
def test_two_passes_equal_one_pass_over_every_iterate(eta, grid, max_steps, chunk):
    prob = dl.Problem.scalar_chain(2, target=1.0)
    extent = (-2.0, 2.0, -2.0, 2.0)
    ref = _one_pass(prob, eta, grid, extent, max_steps)
    res = basins.gd_basins(prob, eta, grid=grid, extent=extent, max_steps=max_steps, chunk=chunk)
    for key in KEYS:
        np.testing.assert_array_equal(res[key], ref[key], err_msg=key)


def _numpy_gd(starts, eta, y, max_steps, diverge_factor=1e12):
    """Plain numpy GD on F = (w1 w2 - y)^2 / 2 with simulate's rules: a run diverges at the
    first iterate k < max_steps whose loss is non-finite or above diverge_factor max(1, F(w0))
    (keeping w_(k-1)), stops at an exact fixed point; stopped runs repeat their last iterate."""
    w = starts.astype(float).copy()
    hist = np.empty((len(w), max_steps + 1, 2))
    loss_of = lambda v: 0.5 * (v[:, 0] * v[:, 1] - y) ** 2   # noqa: E731
    limit = diverge_factor * np.maximum(1.0, loss_of(w))
    dead = np.zeros(len(w), dtype=bool)
    steps = np.full(len(w), max_steps)
    running = np.ones(len(w), dtype=bool)
    prev = w.copy()
    for k in range(max_steps + 1):
        f = loss_of(w)
        bad = running & (~np.isfinite(f) | (f > limit)) & (k < max_steps)
        w[bad] = prev[bad]
        dead |= bad
        steps[bad] = k - 1
        running &= ~bad
        hist[:, k] = w
        if k == max_steps:
            break
        r = w[:, 0] * w[:, 1] - y
        new = w - eta * np.stack([r * w[:, 1], r * w[:, 0]], axis=1)
        fixed = running & np.all(new == w, axis=1)
        steps[fixed] = k
        running &= ~fixed
        prev = np.where(running[:, None], w, prev)
        w = np.where(running[:, None], new, w)
    return hist, loss_of(hist.reshape(-1, 2)).reshape(len(w), -1), dead, steps


@pytest.mark.parametrize("eta", [0.6, 1.08])
def test_outcomes_and_settling_iterations_match_numpy_gd(eta):
    prob = dl.Problem.scalar_chain(2, target=1.0)
    res = basins.gd_basins(prob, eta, grid=21, max_steps=900)
    X, Y = np.meshgrid(res["w1"], res["w2"])
    hist, loss, dead, steps = _numpy_gd(np.stack([X.ravel(), Y.ravel()], 1), eta, 1.0, 900)
    outcome, iters = _classify(hist, loss, dead, steps, 900)
    assert set(np.unique(outcome)) >= ({0, 1, 2, 4} if eta < 1 else {2, 3, 4})
    np.testing.assert_array_equal(res["outcome"], outcome.reshape(X.shape))
    np.testing.assert_array_equal(res["iterations"], iters.reshape(X.shape))
