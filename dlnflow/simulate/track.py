"""Tracking (``simulate(..., track=Track(...))``): the states at the sample times of each run,
and the observables there (``dlnflow.observables``), into ``Trajectory.tracked``.

The solver loops are not changed. Flows: the sample times join ``SaveAt.ts`` for the solve (dense
output: the steps are the same) and the records they added are taken out again, so the loss
records are those of the untracked solve. Maps: the iterate at k is the recorded iterate at the
largest multiple <= k of the parameter record stride (``SaveAt.params_every``, else
``SaveAt.every``), or the previous sample if later, advanced by the map itself; with ``every`` a
multiple of that stride no extra step is taken, and never more than the run's own iterations.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .. import observables
from ..errors import InputError, check_positive_int, check_type
from ..problem import Params, Problem
from ..resources import check_memory
from ..systems import AbstractMap
from ..trajectory import Tracked, Trajectory
from .auto import auto_solver_name
from .options import AUTO, DEFAULT_SOLVER, FLOW_SOLVERS, SaveAt, Solver, Stop, Track
from .records import compact_records


def check_track(track: Track | None, system, problem: Problem, batch: int, t1: float | None,
                stop: Stop, save: SaveAt, solver: Any) -> Track | None:
    """Validate ``track`` for this run before it starts (InputError naming what is wrong)."""
    if track is None:
        return None
    check_type("track", track, Track, "a dlnflow.Track")
    name = solver.name if isinstance(solver, Solver) else (solver or DEFAULT_SOLVER)
    if name == AUTO and not isinstance(system, AbstractMap):
        name = auto_solver_name(system)
    if save.steps and FLOW_SOLVERS.get(name) == "diffrax":
        raise InputError(f"Track with SaveAt.steps needs a rodas4 or scipy solver: diffrax "
                         f"({name}) records its steps or SaveAt.ts, not both")
    max_steps = stop.max_steps
    for name in track.names:
        observables.OBSERVABLES[name].check(problem)
    if isinstance(system, AbstractMap):
        check_positive_int("Track.every (iterations, for a map)", track.every)
        span = max_steps if max_steps is not None else (t1 or 0.0) / system.eta
    else:
        span = t1 or 0.0
    samples = math.ceil(span / track.every) + 2
    check_memory(f"tracking {batch} runs x {samples} samples x {problem.num_params} parameters",
                 float(batch) * samples * (problem.num_params + 2))
    return track


def _flow_grid(track: Track, t1: float) -> np.ndarray:
    """t = 0, every, 2 every, ... below t1."""
    n = int(math.ceil(t1 / track.every))
    ts = track.every * np.arange(n + 1, dtype=float)
    return ts[ts < t1]


def flow_save(save: SaveAt, track: Track | None, t1: float | None) -> SaveAt:
    """``save`` with the positive sample times added to its ``ts`` (for the solve)."""
    if track is None or t1 is None or not t1 > 0:
        return save
    grid = _flow_grid(track, t1)
    ts = np.union1d(np.asarray(save.ts if save.ts is not None else (), dtype=float),
                    grid[grid > 0])
    return dataclasses.replace(save, ts=tuple(ts.tolist()))


def _flow_samples(traj: Trajectory, track: Track, save: SaveAt, t1: float):
    """(times, states, trajectory with the added records removed)."""
    grid = _flow_grid(track, t1)
    B, N = traj.t.shape
    added = np.setdiff1d(grid[grid > 0], np.asarray(save.ts or (), dtype=float))
    last = traj.valid.sum(axis=1) - 1
    keep = traj.valid & ~np.isin(traj.t, added)
    keep[np.arange(B), last] = True                     # the final state stays
    times = np.full((B, grid.size + 1), np.nan)
    index = np.zeros((B, grid.size + 1), dtype=int)
    for b in range(B):
        t_row = traj.t[b, :last[b] + 1]
        want = grid[grid < traj.t_final[b]]
        pos = np.minimum(np.searchsorted(t_row, want), last[b])
        found = t_row[pos] == want
        n = int(found.sum())
        if n != want.size:                              # every backend records SaveAt.ts
            raise RuntimeError(f"run {b}: the solve did not record the sample times "
                               f"{want[~found].tolist()[:3]} (tracking)")
        times[b, :n], index[b, :n] = want[found], pos[found]
        times[b, n], index[b, n] = traj.t_final[b], last[b]
    states = tuple(np.take_along_axis(np.asarray(W), index[:, :, None, None], axis=1)
                   for W in traj.params)
    t, loss, params, valid = compact_records(traj.t, traj.loss, traj.params, keep,
                                             traj.params_final)
    return times, states, dataclasses.replace(traj, t=t, loss=loss, params=params, valid=valid)


@eqx.filter_jit
def _advance(system: AbstractMap, params: Params, n: jax.Array) -> Params:
    """n iterations of the map on the batch ``params``."""
    step = jax.vmap(system.step)
    return jax.lax.fori_loop(0, n, lambda _, p: step(p), params)


def _map_samples(system: AbstractMap, traj: Trajectory, track: Track):
    """(times, iterations, states): iterates at k = 0, every, ... < iters, and the last one."""
    every = int(track.every)
    stride = int(traj.metadata["record_every"]) * traj.params_stride   # parameter records
    iters = np.asarray(traj.steps, dtype=int)
    B, n_rec = traj.params[0].shape[:2]
    grid = np.arange(0, int(iters.max()), every)          # may be empty: only final samples
    cur: Params | None
    cur_k: int | np.integer
    cur, cur_k, at_grid = None, -1, []
    for k in grid:
        base = (k // stride) * stride
        if base > cur_k and k // stride < n_rec:     # a recorded iterate is nearer
            cur, cur_k = tuple(jnp.asarray(W[:, k // stride]) for W in traj.params), base
        if k > cur_k:
            cur, cur_k = _advance(system, cast(Params, cur), jnp.asarray(k - cur_k)), k
        at_grid.append(tuple(np.asarray(W) for W in cast(Params, cur)))
    M = grid.size + 1
    its = np.full((B, M), np.nan)
    states = tuple(np.repeat(np.asarray(F)[:, None], M, axis=1) for F in traj.params_final)
    on_grid = [np.stack([a[l] for a in at_grid], axis=1) for l in range(len(states))] \
        if at_grid else None
    for b in range(B):
        n = int(np.sum(grid < iters[b]))                # the grid is increasing: a prefix
        its[b, :n], its[b, n] = grid[:n], iters[b]
        for l, S in enumerate(states):
            if n:
                S[b, :n] = cast(list[np.ndarray], on_grid)[l][b, :n]   # n > 0: at_grid not empty
    return its * system.eta, its, states


def attach(system, traj: Trajectory, track: Track | None, save: SaveAt,
           t1: float | None) -> Trajectory:
    """``traj`` with ``tracked`` filled in (and, for flows, the sample records taken out)."""
    if track is None:
        return traj
    its = None
    if traj.kind == "map":
        times, its, states = _map_samples(system, traj, track)
    else:
        times, states, traj = _flow_samples(traj, track, save, float(cast(float, t1)))
    valid = np.isfinite(times)
    counts = valid.sum(axis=1)                  # each run's samples: a prefix of its row
    flat = tuple(jnp.asarray(np.concatenate([S[b, :n] for b, n in enumerate(counts)]))
                 for S in states)               # all runs in one call, run after run
    tracked = {}
    for name in track.names:
        out = observables.evaluate(name, traj.problem, flat, method=track.method,
                                   tol=track.tol)
        values = np.full((*times.shape, *out.shape[1:]), np.nan)
        values[valid] = out
        tracked[name] = Tracked(times, values, its)
    meta = {**traj.metadata, "track": track.describe()}
    return dataclasses.replace(traj, tracked=tracked, metadata=meta)

