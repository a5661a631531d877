"""Basins of the gradient-descent map w -> w - eta grad F of a two-layer scalar chain (the data;
``dlnflow.plot.basins`` draws it).

The starts of a grid run through ``simulate`` (gradient descent, one batch, every iterate
recorded; at most ``chunk`` starts per call to bound the memory of the records) and each run is
labelled by where it ends: a branch of the minimum set w1 w2 = y (sign of w1), the saddle at the
origin, a period-2 orbit (w_{k+2} = w_k != w_{k+1}), divergence, or not converged (none of these
within ``max_steps``, e.g. a longer cycle or chaos). Each run also gets the iteration at which it
settled: the last recorded iterate where its end condition still failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from .errors import InputError, check_positive, check_positive_int
from .losses import SquareTarget
from .orbits import SweptGD
from .problem import Problem
from .simulate import SaveAt, Stop, simulate

OUTCOMES = ("minimum, w1 > 0", "minimum, w1 < 0", "saddle (origin)", "period-2 orbit",
            "diverged", "not converged")


def start_grid(extent: Sequence[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Axes (w1 values, w2 values) of an n x n grid; symmetric extents give exactly symmetric
    grids (x_i = -x_(n-1-i)), so the saddle's stable line w1 = -w2 is sampled exactly."""
    n = check_positive_int("grid", n, minimum=2)

    def axis(a: float, b: float) -> np.ndarray:
        x = np.linspace(a, b, n)
        if a == -b:
            x = 0.5 * (x - x[::-1])
        return x

    return axis(float(extent[0]), float(extent[1])), axis(float(extent[2]), float(extent[3]))


def _last_failure(fail: np.ndarray, default: int) -> np.ndarray:
    """Per run (row): the last iterate index k >= 1 where ``fail`` holds, else ``default``."""
    fail = fail[:, 1:]
    last = fail.shape[1] - np.argmax(fail[:, ::-1], axis=1)
    return np.where(np.any(fail, axis=1), last, default)


def _classify(traj: Any, fstar: float, max_steps: int, tol: float, saddle_tol: float,
              cycle_tol: float) -> dict[str, np.ndarray]:
    """Outcome codes and settling iterations of the runs of one GD trajectory (all iterates)."""
    w1, w2 = (np.asarray(W)[..., 0, 0] for W in traj.params)     # (B, K + 1), end-padded
    loss = np.where(traj.valid, traj.loss, np.asarray(traj.loss_final)[:, None])
    last_min = _last_failure(loss - fstar > tol, 0)
    last_sad = _last_failure((np.abs(w1) > saddle_tol) | (np.abs(w2) > saddle_tol), 0)
    moved = np.zeros(w1.shape, dtype=bool)                        # |w_k - w_(k-2)| > cycle_tol
    for w in (w1, w2):
        moved[:, 2:] |= np.abs(w[:, 2:] - w[:, :-2]) > cycle_tol
        moved[:, 1] |= np.abs(w[:, 1] - w[:, 0]) > cycle_tol
    last_cyc = _last_failure(moved, 1)
    final = np.stack([w1[:, -1], w2[:, -1]], axis=1)
    step = np.max(np.abs(final - np.stack([w1[:, -2], w2[:, -2]], axis=1)), axis=1)
    dead = np.asarray([s == "diverged" for s in traj.status])
    outcome = np.full(len(final), 5)
    iters = np.full(len(final), max_steps)
    cyc_ok = (last_cyc < max_steps) & (step > 1e3 * cycle_tol)
    sad_ok = last_sad < max_steps
    min_ok = (last_min < max_steps) & ~sad_ok
    for ok, code, last in ((cyc_ok, 3, last_cyc), (sad_ok, 2, last_sad)):
        outcome[ok] = code
        iters[ok] = last[ok]
    outcome[min_ok] = np.where(final[:, 0] > 0, 0, 1)[min_ok]
    iters[min_ok] = last_min[min_ok]
    outcome[dead] = 4
    iters[dead] = np.asarray(traj.steps)[dead] + 1
    exc = np.asarray(traj.loss_final) - fstar
    return {"outcome": outcome, "iterations": iters, "final_w": final, "final_excess": exc}


def gd_basins(problem: Problem, eta: float, grid: int = 101,
              extent: Sequence[float] = (-2.0, 2.0, -2.0, 2.0), max_steps: int = 2000,
              tol: float = 1e-20, diverge_factor: float = 1e12, saddle_tol: float = 1e-8,
              cycle_tol: float = 1e-9, chunk: int = 4096) -> dict[str, Any]:
    """Where GD with step ``eta`` ends from each start of a ``grid`` x ``grid`` box ``extent``.

    Outcome codes index :data:`OUTCOMES`: 0/1 minimum with w1 > 0 / < 0 (excess loss <= tol),
    2 saddle (|w| <= saddle_tol), 3 period-2 orbit (|w_{k+2} - w_k| <= cycle_tol and
    |w_{k+1} - w_k| > 1e3 cycle_tol), 4 diverged (simulate's rule: non-finite, or the loss above
    diverge_factor * max(1, F(w_0))), 5 not converged. Returns plain arrays (outcome and
    iterations of shape (grid, grid), row i = w2[i]).
    """
    if not problem.is_scalar_chain or problem.depth != 2:
        raise InputError("gd_basins needs a two-layer scalar chain "
                         f"(got widths {list(problem.widths)})")
    eta = check_positive("eta", eta)
    max_steps = check_positive_int("max_steps", max_steps)
    chunk = check_positive_int("chunk", chunk)
    x, y = start_grid(extent, grid)
    X, Y = np.meshgrid(x, y)
    starts = np.stack([X.ravel(), Y.ravel()], axis=1)
    n = len(starts)
    size = min(chunk, n)
    fstar = float(problem.optimal_loss or 0.0)
    system = SweptGD(problem, eta)                # one compiled loop for every eta
    stop = Stop(max_steps=max_steps, diverge_factor=diverge_factor)
    parts = []
    for i in range(0, n, size):
        block = starts[i:i + size]
        pad = size - len(block)                 # equal batches: one compiled loop for all
        block = np.concatenate([block, np.repeat(block[-1:], pad, axis=0)])
        traj = simulate(system, problem.scalar_params(block), stop=stop, save=SaveAt(every=1))
        out = _classify(traj, fstar, max_steps, tol, saddle_tol, cycle_tol)
        parts.append({k: v[:size - pad] for k, v in out.items()})
    res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    shape = X.shape
    target = float(cast(SquareTarget, problem.objective).target[0, 0])
    return {
        "eta": eta, "target": target, "w1": x, "w2": y,
        "extent": [float(e) for e in extent], "outcome": res["outcome"].reshape(shape),
        "iterations": res["iterations"].reshape(shape),
        "final_w": res["final_w"].reshape(*shape, 2),
        "final_excess": res["final_excess"].reshape(shape), "outcomes": list(OUTCOMES),
        "max_steps": max_steps, "tol": tol, "diverge_factor": diverge_factor,
        "saddle_tol": saddle_tol, "cycle_tol": cycle_tol,
    }
