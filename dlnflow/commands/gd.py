"""`dlnflow gd`: gradient descent W_l <- W_l - eta dF/dW_l from given starts."""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import check_positive, check_positive_int
from ..invariants import drift
from ..simulate import Stop, Track, simulate
from ..systems import GradientDescent
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

NAME = "gd"
HELP = "run gradient descent with a fixed step (jitted, batched over starts)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_problem_arguments(parser)
    add_start_arguments(parser)
    parser.add_argument("--eta", type=str, required=True, help="step size > 0")
    parser.add_argument("--max-steps", type=integer(1), default=100_000, help="iteration cap")
    parser.add_argument("--stop-at-loss", type=str, default=None,
                        help="stop when F - F* reaches this value")
    parser.add_argument("--track-sharpness", type=integer(1), default=None, metavar="K",
                        help="record the sharpness (top Hessian eigenvalue) every K iterations "
                             "and at the last one (JSON keys sharpness, sharpness_final)")


def run(args: argparse.Namespace) -> int:
    problem = build_problem(args)
    params, n = build_starts(args, problem)
    eta = check_positive("--eta", args.eta)
    max_steps = check_positive_int("--max-steps", args.max_steps)
    stop = None if args.stop_at_loss is None else check_positive("--stop-at-loss",
                                                                  args.stop_at_loss)
    track = None if args.track_sharpness is None else Track(("sharpness",),
                                                            every=args.track_sharpness)
    traj = simulate(GradientDescent(problem, eta), params,
                    stop=Stop(loss=stop, max_steps=max_steps), track=track, progress=True)
    d = drift(traj)
    out = {
        "status": per_run([str(s) for s in traj.status], n),
        "iterations": per_run(np.asarray(traj.iterations).astype(int).tolist(), n),
        "loss_final": per_run(traj.loss_final.tolist(), n),
        "imbalance_change_max": per_run(d.tolist(), n),
    }
    lines = [f"gradient descent, {problem.name}, eta={eta:g}"]
    for i in range(n):
        msg = f"  [{traj.messages[i]}]" if traj.messages[i] else ""
        lines.append(f"start {i}: {traj.status[i]} after {int(traj.iterations[i])} iterations, "
                     f"loss={traj.loss_final[i]:.3e}, imbalance change={d[i]:.2e}{msg}")
    if track is not None:
        out.update(tracked_pairs(traj, "sharpness", n, iterations=True))
        lines.append("final sharpness: " + ", ".join(
            f"{v:.6g}" for v in np.atleast_1d(out["sharpness_final"])))
    emit(out, args.json, "\n".join(lines))
    return 0
