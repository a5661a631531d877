"""Basins of the gradient-descent map w -> w - eta grad F of a two-layer scalar chain (the data;
``dlnflow.plot.basins`` draws it).

The starts of a grid run through ``simulate`` (gradient descent, batches of at most ``chunk``
starts) and each run is labelled by where it ends: a branch of the minimum set w1 w2 = y (sign of
w1), the saddle at the origin, a period-2 orbit (w_{k+2} = w_k != w_{k+1}), divergence, or not
converged (none of these within ``max_steps``, e.g. a longer cycle or chaos). Each run also gets
the iteration at which it settled: the last iterate k <= max_steps where its end condition still
failed.

Two passes keep this exact without holding every iterate of every run: the first runs all starts
to max_steps recording every CHECKPOINT-th iterate, which shows where an orbit starts to repeat
bitwise (GD is deterministic: w_p == w_(p+m) makes the orbit m-periodic from p; float orbits
reach an exact fixed point or 2-cycle within a few hundred steps); the second records every
iterate only up to one period past that point, and the iterates beyond it are copies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


CHECKPOINT = 64
"""Stride of the first pass's records (even, so that an orbit of period 2 repeats on it)."""
RECORD_BUDGET = 2 ** 20
"""At most this many iterates (runs x records) per batch of the second pass (memory)."""


def _last_failure(fail: np.ndarray, default: int) -> np.ndarray:
    """Per run (row): the last iterate index k >= 1 where ``fail`` holds, else ``default``."""
    fail = fail[:, 1:]
    if fail.shape[1] == 0:
        return np.full(len(fail), default)
    last = fail.shape[1] - np.argmax(fail[:, ::-1], axis=1)
    return np.where(np.any(fail, axis=1), last, default)


def _failures(w: np.ndarray, loss: np.ndarray, fstar: float, tol: float, saddle_tol: float,
              cycle_tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each end condition fails along records w (B, N, 2) and loss (B, N): excess loss
    above tol, |w| above saddle_tol, |w_k - w_(k-2)| above cycle_tol (|w_1 - w_0| at k = 1)."""
    moved = np.zeros(loss.shape, dtype=bool)
    moved[:, 2:] = np.any(np.abs(w[:, 2:] - w[:, :-2]) > cycle_tol, axis=2)
    moved[:, 1:2] = np.any(np.abs(w[:, 1:2] - w[:, :1]) > cycle_tol, axis=2)
    return loss - fstar > tol, np.any(np.abs(w) > saddle_tol, axis=2), moved


def _period_start(ckpt: np.ndarray) -> np.ndarray:
    """Per run, the first checkpoint iteration p = j CHECKPOINT with w_p == w_(p + CHECKPOINT)
    bitwise (ckpt: (B, J, 2) records at 0, CHECKPOINT, ...), -1 if none. The map is
    deterministic, so from p on the orbit repeats with a period dividing CHECKPOINT (a fixed point
    where simulate stopped the run is kept as its padding, period 1)."""
    same = np.all(ckpt[:, 1:] == ckpt[:, :-1], axis=2)
    if same.shape[1] == 0:                      # max_steps < CHECKPOINT: a single record
        return np.full(len(ckpt), -1)
    return np.where(np.any(same, axis=1), CHECKPOINT * np.argmax(same, axis=1), -1)


def _pow2(n: np.ndarray | int) -> np.ndarray:
    """n rounded up to a power of two (few distinct compiled shapes)."""
    return 2 ** np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64)


def _settle(w: np.ndarray, loss: np.ndarray, p: np.ndarray, end: dict[str, np.ndarray],
            fstar: float, max_steps: int, tol: float, saddle_tol: float,
            cycle_tol: float) -> dict[str, np.ndarray]:
    """Outcome codes and settling iterations of runs that did not diverge, from their records
    w (B, N, 2), loss (B, N) of iterations 0..N-1, the start p >= 0 of their repetition with
    period dividing CHECKPOINT (-1: none; then N = max_steps) and their state at max_steps
    (``end``: w, loss). Iterations past N - 1 follow from the repetition: the last failure
    among them is the last k <= max_steps - 1 congruent (mod CHECKPOINT) to a failing record of
    one period."""
    K, n, m = max_steps, loss.shape[1], CHECKPOINT
    rows = np.arange(len(p))[:, None]
    periodic = p >= 0

    def at(k: int) -> np.ndarray:                 # w at iteration k <= K - 1, (B, 2)
        if k < n:
            return w[:, k]
        return w[rows[:, 0], np.where(periodic, p + (k - p) % m, 0)]

    last = []
    for fail, q, default in zip(_failures(w, loss, fstar, tol, saddle_tol, cycle_tol),
                                (p, p, p + 2), (0, 0, 1), strict=True):
        found = _last_failure(fail, default)
        idx = np.where(periodic, q, 0)[:, None] + np.arange(m)     # one period of records
        rep = periodic[:, None] & fail[rows, np.minimum(idx, n - 1)]
        k = idx + m * ((K - 1 - idx) // m)                          # its last copy below K
        last.append(np.maximum(found, np.max(np.where(rep & (k >= 1), k, -1), axis=1)))
    prev, prev2 = at(K - 1), at(max(K - 2, 0))
    wK = end["w"]
    at_end = (end["loss"] - fstar > tol, np.any(np.abs(wK) > saddle_tol, axis=1),
              np.any(np.abs(wK - prev2) > cycle_tol, axis=1))
    last_min, last_sad, last_cyc = (np.where(f, K, x) for f, x in zip(at_end, last, strict=True))
    step = np.max(np.abs(wK - prev), axis=1)
    outcome = np.full(len(p), 5)
    iters = np.full(len(p), K)
    cyc_ok = (last_cyc < K) & (step > 1e3 * cycle_tol)
    sad_ok = last_sad < K
    min_ok = (last_min < K) & ~sad_ok
    for ok, code, at_last in ((cyc_ok, 3, last_cyc), (sad_ok, 2, last_sad)):
        outcome[ok] = code
        iters[ok] = at_last[ok]
    outcome[min_ok] = np.where(wK[:, 0] > 0, 0, 1)[min_ok]
    iters[min_ok] = last_min[min_ok]
    return {"outcome": outcome, "iterations": iters}


def _batches(system: Any, problem: Problem, starts: np.ndarray, size: int, stop: Stop,
             save: SaveAt) -> Iterator[tuple[slice, Any]]:
    """simulate over ``starts`` in batches of exactly ``size`` runs (the last one padded by
    repeating its last start, so one compiled loop serves all): (rows of starts, trajectory)."""
    for i in range(0, len(starts), size):
        block = starts[i:i + size]
        pad = np.repeat(block[-1:], size - len(block), axis=0)
        traj = simulate(system, problem.scalar_params(np.concatenate([block, pad])), stop=stop,
                        save=save)
        yield slice(i, i + len(block)), traj


def _weights(traj: Any, n: int) -> np.ndarray:
    """(n, N, 2) recorded (w1, w2) of the first n runs of a two-layer scalar trajectory."""
    return np.stack([np.asarray(W)[:n, :, 0, 0] for W in traj.params], axis=2)


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
    # pass 1: every start to max_steps, records every CHECKPOINT iterations
    final, loss_end = np.zeros((n, 2)), np.zeros(n)
    steps, dead, p = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.zeros(n, np.int64)
    stop = Stop(max_steps=max_steps, diverge_factor=diverge_factor)
    for rows, traj in _batches(system, problem, starts, size, stop, SaveAt(every=CHECKPOINT)):
        b = rows.stop - rows.start
        final[rows] = np.stack([np.asarray(W)[:b, 0, 0] for W in traj.params_final], axis=1)
        loss_end[rows] = np.asarray(traj.loss_final)[:b]
        steps[rows] = np.asarray(traj.steps)[:b]
        dead[rows] = [s == "diverged" for s in traj.status[:b]]
        p[rows] = _period_start(_weights(traj, b))
    # pass 2: every iterate of the live runs up to one period past the start of repetition
    # record lengths 2^j (iterations 0..2^j - 1; 2^8 = the first pass's): few compiled loops
    n_iter = np.minimum(max_steps, np.maximum(2 ** 8, _pow2(p + CHECKPOINT + 3)) - 1)
    n_iter[p < 0] = max_steps
    p[n_iter < p + CHECKPOINT + 2] = -1                 # no room for a period: all iterates
    outcome, iters = np.full(n, 4), steps + 1         # diverged: the iterate that exploded
    for N in np.unique(n_iter[~dead]):
        live = np.flatnonzero(~dead & (n_iter == N))
        stop = Stop(max_steps=int(N), diverge_factor=diverge_factor)
        group = max(1, min(size, int(_pow2(RECORD_BUDGET // (int(N) + 1) + 1)) // 2))
        for rows, traj in _batches(system, problem, starts[live], group, stop, SaveAt(every=1)):
            b = rows.stop - rows.start
            sel = live[rows]
            loss = np.where(traj.valid, traj.loss, np.asarray(traj.loss_final)[:, None])[:b, :N]
            out = _settle(_weights(traj, b)[:, :N], loss, p[sel],
                          {"w": final[sel], "loss": loss_end[sel]}, fstar, max_steps,
                          tol, saddle_tol, cycle_tol)
            outcome[sel], iters[sel] = out["outcome"], out["iterations"]
    res = {"outcome": outcome, "iterations": iters, "final_w": final,
           "final_excess": loss_end - fstar}
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
