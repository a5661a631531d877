"""simulate(system, params0, ...) -> Trajectory: the one front door for flows and maps.

Flows are solved by one of four backends, one module each (the way scipy puts one method per
file behind ``solve_ivp``): ``rodas4`` (dlnflow's batched RODAS4), ``diffrax`` (vmapped
diffeqsolve), ``scipy`` (run by run) and ``reduction`` (scalar chains' exact 1-D flow); the
default solver "auto" picks one per system (``auto``). Maps run in ``maps``. Every backend gives the
same statuses (``Status``), the same statistics keys (``STATS_KEYS``) and honours every option
or rejects it with an InputError naming it.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import math
from typing import Any

from ..errors import InputError, check_positive
from ..problem import Params, Problem
from ..provenance import package_versions
from ..resources import check_memory, memory_limit, release_if_crowded
from ..systems import AbstractFlow, AbstractMap
from ..trajectory import Trajectory
from .auto import resolve
from .diagnose import diagnose
from .events import event_solver
from .maps import iterate_map, params_stride, record_stride
from .options import DEFAULT_SOLVER, FLOW_SOLVERS, SaveAt, Solver, Stop, Track
from .progress import Reporter, reporting
from .track import attach, check_track, flow_save

__all__ = ["FLOW_SOLVERS", "SaveAt", "Solver", "Stop", "Track", "simulate"]

DEFAULT_FLOW_MAX_STEPS = 100_000
SIMULATE_PACKAGES = ("dlnflow", "jax", "diffrax", "equinox", "numpy", "scipy")
"""Packages whose versions every Trajectory records (metadata["versions"])."""
EXPLICIT = ("tsit5", "dopri5", "dopri8", "RK45", "DOP853")
"""Flow solvers without a Jacobian; the others hold one (P x P) per run in flight, so a batch
whose Jacobians exceed the memory limit is solved in chunks."""


def _batched(problem: Problem, params0: Any) -> tuple[Params, bool]:
    params, batch = problem.check_params(params0, name="params0")
    if batch is None:
        return tuple(W[None] for W in params), False
    return params, True


def simulate(system: AbstractFlow | AbstractMap, params0: Any, *, t1: float | None = None,
             solver: Solver | str | None = None, stop: Stop | None = None,
             save: SaveAt | None = None, track: Track | None = None,
             progress: bool = False) -> Trajectory:
    """Run ``system`` from ``params0`` (one start, or a batch with a leading axis).

    Flows need the horizon ``t1`` and take a ``solver`` (a ``Solver`` or a solver name; default
    "auto" at rtol 1e-8, atol 1e-10: the exact reduction for scalar-chain gradient flows, rodas4
    for small states, tsit5 for large ones, see ``simulate.auto``; the choice is in
    ``Trajectory.metadata["solver"]``). Maps run ``stop.max_steps`` iterations (or t1 / eta) and
    take no solver. ``stop`` (``Stop``): excess-loss threshold, step budget, divergence and stall
    rules; ``save`` (``SaveAt``): what to record besides the start and the end; ``track``
    (``Track``): observables such as the sharpness sampled along the runs into
    ``Trajectory.tracked`` (maps: every k iterations; flows: every Delta t). ``progress``:
    report on stderr how far a run that takes more than two seconds has got (maps, rodas4 and
    scipy; diffrax solves are not reported).

    With a loss threshold eps, a flow stops at the time the excess loss F - F* reaches eps,
    located to solver accuracy: the tolerances are tightened to what eps needs and the crossing
    is landed on a solver state (``simulate.events``); the reported loss there is the threshold.
    """
    if not isinstance(system, AbstractFlow | AbstractMap):
        raise InputError(f"system must be a flow or a map (dlnflow.systems), got "
                         f"{type(system).__name__}")
    stop = Stop() if stop is None else stop
    save = SaveAt() if save is None else save
    if not isinstance(stop, Stop) or not isinstance(save, SaveAt):
        raise InputError("stop must be a dlnflow.Stop and save a dlnflow.SaveAt")
    problem = system.state_problem
    params, batched = _batched(problem, params0)
    _check_records(system, problem, params, t1, stop, save)
    release_if_crowded()                # compiled programs' memory maps (dlnflow.resources)
    track = check_track(track, system, problem, int(params[0].shape[0]), t1, stop, save, solver)
    optimum = system.problem.optimum        # F* once per call (an SVD or a solve: not cheap)
    fstar = float(optimum.value or 0.0)
    B = int(params[0].shape[0])
    reporter = None
    if progress:
        if isinstance(system, AbstractMap):
            reporter = Reporter(type(system).__name__, stop.max_steps or 0, B, "iteration")
        else:
            reporter = Reporter(type(system).__name__, t1 or 0.0, B, "t")
    with reporting(reporter):
        if isinstance(system, AbstractMap):
            traj = _run_map(system, params, t1, solver, stop, save, fstar)
        else:
            traj = _run_flow(system, params, t1, solver, stop, flow_save(save, track, t1),
                             fstar)
    traj = attach(system, diagnose(system, traj, stop, optimum.note), track, save, t1)
    meta = dict(traj.metadata)
    meta.update({"problem": system.problem.describe(), **system.describe(),
                 "stop_at_loss": stop.loss, "optimal_loss": optimum.value,
                 "versions": package_versions(SIMULATE_PACKAGES, python=False)})
    return dataclasses.replace(traj, metadata=meta, batched=batched,
                               optimal_loss=optimum.value)


def _check_records(system, problem: Problem, params: Params, t1, stop: Stop,
                   save: SaveAt) -> None:
    """Refuse up front records that cannot fit (runs x records x parameters); the Jacobians
    are checked in ``_run_flow``, where the solver is known."""
    B, P = int(params[0].shape[0]), problem.num_params
    if isinstance(system, AbstractMap):
        steps = _map_budget(system, t1, stop)
        n_rec = steps // record_stride(save, steps) + 1
        n_par = steps // params_stride(save, steps) + 1
        what = f"{P} parameters" if n_par == n_rec else f"{P} parameters at {n_par} of them"
        check_memory(f"recording {B} runs x {n_rec} records x {what}",
                     float(B) * (n_par * P + 2 * n_rec))
    else:
        n_rec = 2 + (len(save.ts) if save.ts is not None else 0)
        if save.steps:
            n_rec += stop.max_steps or DEFAULT_FLOW_MAX_STEPS
        check_memory(f"recording {B} runs x {n_rec} records x {P} parameters",
                     float(B) * n_rec * (P + 2))


def _run_map(system: AbstractMap, params: Params, t1: float | None, solver: Any, stop: Stop,
             save: SaveAt, fstar: float) -> Trajectory:
    if solver is not None:
        raise InputError("solver applies to flows; a map takes no solver")
    if save.ts is not None or save.steps:
        raise InputError("SaveAt.ts and SaveAt.steps apply to flows; a map records every "
                         "SaveAt.every iterations")
    return iterate_map(system, params, _map_budget(system, t1, stop), stop, save, fstar)


def _map_budget(system: AbstractMap, t1: float | None, stop: Stop) -> int:
    """Iterations a map may take: Stop.max_steps, else t1 / eta."""
    if stop.max_steps is not None:
        return stop.max_steps
    if t1 is None:
        raise InputError("a map needs Stop.max_steps or t1")
    return int(math.ceil(check_positive("t1", t1) / system.eta))


def _run_flow(system: AbstractFlow, params: Params, t1: float | None, solver: Any, stop: Stop,
              save: SaveAt, fstar: float) -> Trajectory:
    if t1 is None:
        raise InputError("a flow needs t1 (the time horizon)")
    t1 = check_positive("t1", t1)
    if save.every is not None:      # params_every needs every: refused with it
        raise InputError("SaveAt.every applies to maps; a flow records at SaveAt.ts or "
                         "SaveAt.steps")
    solver = Solver(solver) if isinstance(solver, str) else (solver or Solver(DEFAULT_SOLVER))
    if not isinstance(solver, Solver):
        raise InputError(f"solver must be a solver name or a dlnflow.Solver, got {solver!r}")
    solver = resolve(solver, system)
    if solver.backend == "rodas4" and not system.autonomous:
        raise InputError(f"solver 'rodas4' needs an autonomous flow; {type(system).__name__} "
                         "depends on t")
    max_steps = DEFAULT_FLOW_MAX_STEPS if stop.max_steps is None else stop.max_steps
    if max_steps < 1:
        raise InputError(f"Stop.max_steps must be an integer >= 1 for a flow, got {max_steps}")
    if save.steps and max_steps > 10**6:
        raise InputError(f"SaveAt.steps keeps a buffer of Stop.max_steps={max_steps} states; "
                         "give Stop.max_steps <= 1000000")
    save.times(t1)
    if stop.loss is not None:
        solver = event_solver(solver, system.problem.objective, stop.loss)
    backend = importlib.import_module(f".{solver.backend}", __name__)
    P = system.state_problem.num_params
    chunk = int(params[0].shape[0])
    if solver.name not in EXPLICIT:                 # a Jacobian (and its LU) per run in flight
        check_memory(f"the Jacobian of one run of {P} parameters", 3.0 * P * P)
        if solver.backend != "scipy":               # scipy solves one run at a time
            chunk = max(1, min(chunk, int(memory_limit() // (8 * 3 * P * P))))
    parts = [backend.solve(system, tuple(W[i:i + chunk] for W in params), t1, solver, stop,
                           save, fstar, max_steps)
             for i in range(0, int(params[0].shape[0]), chunk)]
    return parts[0] if len(parts) == 1 else Trajectory.concatenate(parts)
