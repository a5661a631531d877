"""`dlnflow rates`: convergence rates of gradient flow and descent on a scalar chain vs alpha*
(``chain_rates``: closed forms where every run converges, else ``dlnflow.simulate``)."""

from __future__ import annotations

import argparse

from ..chain_rates import chain_rates
from ..errors import InputError, check_finite, check_positive, check_positive_int
from ._common import emit, float_list, integer

NAME = "rates"
HELP = ("convergence rates of a scalar chain: flow local/asymptotic rate, Min-Vidal-Mallada "
        "alpha*, gradient descent per step size (rate, iterations, distance to the flow)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=integer(1), required=True, help="number of layers L >= 1")
    parser.add_argument("--target", type=str, default="1.0",
                        help="target y of f = 0.5 (w_L...w_1 - y)^2")
    parser.add_argument("--init", type=str, required=True, help="start w_1,...,w_L")
    parser.add_argument("--etas", type=str, default=None, help="GD step sizes E1,E2,...")
    parser.add_argument("--stop-at-loss", type=str, default="1e-12",
                        help="excess loss F - F* at which runs stop (default 1e-12)")
    parser.add_argument("--t1", type=str, default="1e4", help="flow time horizon")
    parser.add_argument("--max-steps", type=integer(1), default=100_000, help="GD iteration cap")


def run(args: argparse.Namespace) -> int:
    depth = check_positive_int("--depth", args.depth)
    y = check_finite("--target", args.target)
    w = float_list("--init", args.init)
    if len(w) != depth:
        raise InputError(f"--init must have {depth} weights (one per layer), got {len(w)}: "
                         f"{args.init}")
    etas = [] if args.etas is None else [check_positive("--etas", e)
                                         for e in float_list("--etas", args.etas)]
    out = chain_rates(depth, y, w, etas,
                      stop_at_loss=check_positive("--stop-at-loss", args.stop_at_loss),
                      t1=check_positive("--t1", args.t1),
                      max_steps=check_positive_int("--max-steps", args.max_steps))
    a = out["alpha_star"]
    lines = [f"scalar chain L={depth}, y={y:g}, start {w}, margin {out['margin']:.6g}",
             f"alpha* = {a:.6g} (bound on the flow rate 2 alpha* = {2 * a:.6g})" if a is not None
             else "alpha* = none", f"flow: {out['flow_status']}, least local rate "
             f"{out['flow_rate_min']}, asymptotic rate {out['flow_rate_asymptotic']}"]
    for row in out["gd"]:
        lines.append(f"GD eta={row['eta']:g}: {row['status']}, iterations {row['iterations']}, "
                     f"asymptotic rate {row['rate_asymptotic']}, max distance to flow "
                     f"{row['distance_to_flow_max']}")
    if "note" in out:
        lines.append("note: " + out["note"])
    emit(out, args.json, "\n".join(lines))
    return 0
