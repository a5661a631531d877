"""`dlnflow rates`: convergence rates of gradient flow and descent on a scalar chain vs alpha*."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..bounds import alpha_star_scalar, scalar_margin
from ..errors import InputError, check_finite, check_positive, check_positive_int
from ..problem import Problem
from ..rates import (
    flow_asymptotic_rate,
    gd_asymptotic_rate,
    gd_flow_distance,
    local_rate,
)
from ..simulate import simulate
from ..systems import GradientDescent, GradientFlow
from ._common import emit, float_list

NAME = "rates"
HELP = ("convergence rates of a scalar chain: flow local/asymptotic rate, Min-Vidal-Mallada "
        "alpha*, gradient descent per step size (rate, iterations, distance to the flow)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, required=True, help="number of layers L >= 1")
    parser.add_argument("--target", type=str, default="1.0",
                        help="target y of f = 0.5 (w_L...w_1 - y)^2")
    parser.add_argument("--init", type=str, required=True, help="start w_1,...,w_L")
    parser.add_argument("--etas", type=str, default=None, help="GD step sizes E1,E2,...")
    parser.add_argument("--stop-at-loss", type=str, default="1e-12",
                        help="excess loss F - F* at which runs stop (default 1e-12)")
    parser.add_argument("--t1", type=str, default="1e4", help="flow time horizon")
    parser.add_argument("--max-steps", type=int, default=100_000, help="GD iteration cap")


def _flow(problem: Problem, params: Any, t1: float, stop: float) -> tuple[Any, Any]:
    kw = dict(backend="scipy", solver="DOP853", rtol=1e-11, atol=1e-13)
    first = simulate(GradientFlow(problem), params, t1=t1, stop_at_loss=stop, **kw)
    tf = float(first.t_final[0])
    grid = np.linspace(0.0, tf, 2001)[1:-1] if tf > 0 else None
    return first, simulate(GradientFlow(problem), params, t1=max(tf, 1e-12), save_at=grid, **kw)


def run(args: argparse.Namespace) -> int:
    depth = check_positive_int("--depth", args.depth)
    y = check_finite("--target", args.target)
    w = float_list("--init", args.init)
    if len(w) != depth:
        raise InputError(f"--init must have {depth} weights (one per layer), got {len(w)}: "
                         f"{args.init}")
    etas = [] if args.etas is None else [check_positive("--etas", e)
                                         for e in float_list("--etas", args.etas)]
    stop = check_positive("--stop-at-loss", args.stop_at_loss)
    t1 = check_positive("--t1", args.t1)
    max_steps = check_positive_int("--max-steps", args.max_steps)
    problem = Problem.scalar_chain(depth, y)
    params = problem.scalar_params(np.asarray(w))
    out: dict[str, Any] = {"depth": depth, "target": y, "init": w, "stop_at_loss": stop}
    notes = []
    c = scalar_margin(w, y)
    out["margin"] = c
    if depth < 2:
        out["alpha_star"] = None
        notes.append("alpha* is defined for depth >= 2")
    elif c > 0:
        out["alpha_star"] = alpha_star_scalar(w, y)
    else:
        out["alpha_star"] = None
        notes.append(f"margin |y| - |y - p(0)| = {c:.6g} is not positive: Min-Vidal-Mallada's "
                     "bound gives no rate for this start")

    first, flow = _flow(problem, params, t1, stop)
    _, r = local_rate(flow)
    rr = r[0][np.isfinite(r[0])]
    out["flow_status"] = first.status[0]
    out["flow_time"] = float(first.t_final[0]) if first.status[0] == "converged" else None
    out["flow_rate_min"] = float(rr.min()) if rr.size else None
    conv = first.status[0] == "converged"
    out["flow_rate_asymptotic"] = (flow_asymptotic_rate(problem, first.params_final)
                                   if conv else None)
    if out["alpha_star"] is not None and rr.size:
        out["flow_rate_over_2alpha_star"] = float(rr.min() / (2 * out["alpha_star"]))
    if not conv:
        notes.append(f"flow did not reach the loss {stop:g} by t={t1:g}: {first.status[0]}")

    gd_rows = []
    for eta in etas:
        gd = simulate(GradientDescent(problem, eta), params, max_steps=max_steps,
                      stop_at_loss=stop, record_every=1)
        row: dict[str, Any] = {"eta": eta, "status": gd.status[0]}
        ok = gd.status[0] == "converged"
        row["iterations"] = int(gd.steps[0]) if ok else None
        row["rate_asymptotic"] = gd_asymptotic_rate(problem, gd.params_final, eta) if ok else None
        k = int(gd.steps[0])
        if gd.status[0] == "diverged":
            row["distance_to_flow_max"] = None
            row["note"] = "gradient descent diverged"
        elif k >= 1:
            row["distance_to_flow_max"] = gd_flow_distance(
                problem, params, eta, k * eta, gd=gd, rtol=1e-11, atol=1e-13)["max"]
        else:
            row["distance_to_flow_max"] = 0.0
        gd_rows.append(row)
    out["gd"] = gd_rows
    if notes:
        out["note"] = "; ".join(notes)

    a = out["alpha_star"]
    lines = [f"scalar chain L={depth}, y={y:g}, start {w}, margin {c:.6g}",
             f"alpha* = {a:.6g} (bound on the flow rate 2 alpha* = {2 * a:.6g})" if a is not None
             else "alpha* = none", f"flow: {first.status[0]}, least local rate "
             f"{out['flow_rate_min']}, asymptotic rate {out['flow_rate_asymptotic']}"]
    for row in gd_rows:
        lines.append(f"GD eta={row['eta']:g}: {row['status']}, iterations {row['iterations']}, "
                     f"asymptotic rate {row['rate_asymptotic']}, max distance to flow "
                     f"{row['distance_to_flow_max']}")
    if notes:
        lines.append("note: " + "; ".join(notes))
    emit(out, args.json, "\n".join(lines))
    return 0
