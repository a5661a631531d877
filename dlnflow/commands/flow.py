"""`dlnflow flow`: gradient flow of a scalar chain (or 0.5 ||W - diag(s)||^2) from given starts."""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import InputError, check_positive, show
from ..invariants import drift
from ..simulate import FLOW_SOLVERS, Solver, Stop, Track, simulate
from ..systems import GradientFlow
from ._common import (
    add_problem_arguments,
    add_start_arguments,
    build_problem,
    build_starts,
    emit,
    integer,
    per_run,
    tracked_pairs,
)

NAME = "flow"
HELP = "integrate the gradient flow dW_l/dt = -dF/dW_l (diffrax or scipy)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    add_start_arguments(parser)
    parser.add_argument("--t1", type=str, required=True, help="time horizon")
    parser.add_argument("--solver", type=str, default="auto",
                        help="auto, or one of " + ", ".join(FLOW_SOLVERS) + " (default auto: the "
                             "exact 1-D reduction for scalar chains, rodas4 for small matrix "
                             "problems, tsit5 above)")
    parser.add_argument("--rtol", type=str, default="1e-8")
    parser.add_argument("--atol", type=str, default="1e-10")
    parser.add_argument("--stop-at-loss", type=str, default=None,
                        help="stop when F - F* reaches this value")
    parser.add_argument("--max-steps", type=integer(1), default=None,
                        help="cap on attempted solver steps (default 100000)")
    parser.add_argument("--track-sharpness", type=str, default=None, metavar="DT",
                        help="record the sharpness (top Hessian eigenvalue) at t = 0, DT, "
                             "2 DT, ... and at the final time (JSON keys sharpness, "
                             "sharpness_final)")


def run(args: argparse.Namespace) -> int:
    problem = build_problem(args)
    params, n = build_starts(args, problem)
    t1 = check_positive("--t1", args.t1)
    rtol = check_positive("--rtol", args.rtol)
    atol = check_positive("--atol", args.atol)
    stop = None if args.stop_at_loss is None else check_positive("--stop-at-loss",
                                                                  args.stop_at_loss)
    if args.solver != "auto" and args.solver not in FLOW_SOLVERS:
        raise InputError(f"--solver: unknown solver {show(args.solver)}; choose one of "
                         f"{', '.join(FLOW_SOLVERS)}")
    solver = Solver(args.solver, rtol=rtol, atol=atol)
    track = None
    if args.track_sharpness is not None:
        track = Track(("sharpness",), every=check_positive("--track-sharpness",
                                                           args.track_sharpness))
    traj = simulate(GradientFlow(problem), params, t1=t1, solver=solver,
                    stop=Stop(loss=stop, max_steps=args.max_steps), track=track,
                    progress=True)
    d = drift(traj)
    used = str(traj.metadata.get("solver", solver.name))
    out = {
        "solver": used,
        "status": per_run([str(s) for s in traj.status], n),
        "t_final": per_run(traj.t_final.tolist(), n),
        "loss_final": per_run(traj.loss_final.tolist(), n),
        "steps": per_run(np.asarray(traj.steps).astype(int).tolist(), n),
        "stats": {k: per_run(v.astype(int).tolist(), n) for k, v in traj.stats.items()},
        "messages": per_run(list(traj.messages), n),
        "imbalance_drift_max": per_run(d.tolist(), n),
    }
    lines = [f"gradient flow, {problem.name}, solver {used}, "
             f"rtol={rtol:g}, atol={atol:g}"]
    for i in range(n):
        msg = f"  [{traj.messages[i]}]" if traj.messages[i] else ""
        lines.append(f"start {i}: {traj.status[i]} at t={traj.t_final[i]:.6g}, "
                     f"loss={traj.loss_final[i]:.3e}, steps={int(traj.steps[i])}, "
                     f"imbalance drift={d[i]:.2e}{msg}")
    if track is not None:
        out.update(tracked_pairs(traj, "sharpness", n, iterations=False))
        lines.append("final sharpness: " + ", ".join(
            f"{v:.6g}" for v in np.atleast_1d(out["sharpness_final"])))
    emit(out, args.json, "\n".join(lines))
    return 0
