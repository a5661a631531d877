"""`dlnflow continuation`: fixed points and period-doubling cascade of GD on a scalar chain,
continued in the step size eta (``dlnflow.continuation``)."""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import InputError, check_finite, check_positive, check_positive_int
from ..problem import Problem
from ._common import emit, float_list, integer

NAME = "continuation"
HELP = ("continue GD's fixed point and its period-2, 4, ... orbits in the step size eta on a "
        "scalar chain f = 0.5 (w_L...w_1 - y)^2: period doublings, folds, stability")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=integer(1), required=True, help="number of layers L >= 1")
    parser.add_argument("--target", type=str, default="1.0", help="target y (default 1)")
    parser.add_argument("--eta-range", type=str, required=True,
                        help="step sizes A,B (0 < A < B): continue from A up to B")
    parser.add_argument("--init", type=str, default=None,
                        help="start w_1,...,w_L: GD at eta=A from it settles on the fixed point "
                             "continued (default: the balanced minimum w_i = y^(1/L))")
    parser.add_argument("--period", type=integer(1, 64), default=2,
                        help="largest period followed through the doublings: 1, 2, 4, ... "
                             "(default 2)")
    parser.add_argument("--branches", action="store_true",
                        help="with --json also print every branch point by point")


def run(args: argparse.Namespace) -> int:
    from ..continuation import gd_continuation

    depth = check_positive_int("--depth", args.depth)
    y = check_finite("--target", args.target)
    rng = float_list("--eta-range", args.eta_range)
    if len(rng) != 2:
        raise InputError(f"--eta-range needs two step sizes A,B, got {args.eta_range!r}")
    lo, hi = check_positive("--eta-range", rng[0]), check_positive("--eta-range", rng[1])
    if not lo < hi:
        raise InputError(f"--eta-range needs A < B, got {args.eta_range!r}")
    period = check_positive_int("--period", args.period)
    if period & (period - 1):
        raise InputError(f"--period must be a power of 2 (1, 2, 4, ...), got {period}")
    if y == 0 and depth > 1 and args.init is None:
        raise InputError("--target 0: the balanced minimum is the origin, a degenerate critical "
                         "point (all multipliers 1); give another --target or an --init")
    problem = Problem.scalar_chain(depth, y)
    start = None
    if args.init is not None:
        start = float_list("--init", args.init)
        if len(start) != depth:
            raise InputError(f"--init must have {depth} weights (one per layer), got "
                             f"{len(start)}: {args.init}")
    try:
        diagram = gd_continuation(problem, (lo, hi), start=start, max_period=period)
    except InputError as exc:
        if start is None:
            raise
        raise InputError(f"--init {args.init}: {exc}") from None
    out = {"depth": depth, "target": y, "eta_range": [lo, hi], "max_period": period,
           **diagram.to_dict(branches=args.branches)}
    lines = [f"scalar chain L={depth}, y={y:g}: fixed point w = "
             f"{np.array2string(np.asarray(diagram.start), precision=6)} continued for eta in "
             f"[{lo:g}, {hi:g}]"]
    for p in diagram.points:
        mu = ", ".join(f"{complex(m).real:.6g}" + (f"{complex(m).imag:+.3g}i" if
                                                   complex(m).imag else "")
                       for m in p.multipliers)
        lines.append(f"{p.kind} of the period-{p.period} orbit at eta = {p.eta:.12g} "
                     f"(multipliers {mu})")
    for b in diagram.branches:
        lines.append(f"branch period {b.period}: eta {b.eta[0]:.6g} -> {b.eta[-1]:.6g}, "
                     f"{len(b.eta)} points ({int(np.sum(b.stable))} stable), end: {b.end}")
    lines += [f"note: {n}" for n in diagram.notes]
    emit(out, args.json, "\n".join(lines))
    return 0
