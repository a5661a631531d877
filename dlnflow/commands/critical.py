"""``dlnflow critical``: the classified critical sets of a scalar chain or a diagonal target."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError, check_positive_int
from ..io import dumps, to_jsonable
from ._common import finite_float, float_list, integer

if TYPE_CHECKING:
    from ..critical import CriticalSet
    from ..problem import Problem

NAME = "critical"
HELP = ("critical sets (kind, loss, index, nullity, Hessian eigenvalues) of a scalar chain "
        "(--target) or of 0.5 ||W - diag(s)||^2 (--target-diag)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=integer(1), required=True, help="number of layers L")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--target", type=finite_float,
                       help="scalar chain target y (F = 0.5 (w_L...w_1 - y)^2)")
    group.add_argument("--target-diag", help="diagonal target s1,s2,... (distinct, non-zero)")
    parser.add_argument("--width", type=integer(1), default=None,
                        help="hidden width m (default: the target's size)")


def check_chain(args: argparse.Namespace) -> tuple[int, float]:
    """(depth, y) of the scalar chain named by --depth and --target (InputError on bad
    values)."""
    depth = check_positive_int("--depth", args.depth)
    if args.width not in (None, 1):
        raise InputError(f"--width applies to --target-diag only, got {args.width}")
    if args.target == 0:
        raise InputError("--target must be non-zero, got 0")
    _check_scale("--target", [args.target])
    if depth > 8:
        raise InputError(f"--depth must be at most 8 for a scalar chain, got {depth}")
    return depth, float(args.target)


def build_problem(args: argparse.Namespace) -> Problem:
    """The problem named by the arguments (InputError on bad values)."""
    from ..problem import Problem

    if args.target is not None:
        return Problem.scalar_chain(*check_chain(args))
    depth = check_positive_int("--depth", args.depth)
    s = float_list("--target-diag", args.target_diag)
    if any(x == 0 for x in s):
        raise InputError(f"--target-diag entries must be non-zero, got {args.target_diag!r}")
    if len(set(abs(x) for x in s)) < len(s):
        raise InputError(f"--target-diag needs distinct |s_i|, got {args.target_diag!r}")
    if len(s) > 4 or depth > 6:
        raise InputError("--target-diag supports at most 4 entries and depth at most 6")
    _check_scale("--target-diag", s)
    ratio = max(abs(x) for x in s) / min(abs(x) for x in s)
    if ratio > MAX_RATIO:
        raise InputError(f"--target-diag entries must lie within a factor {MAX_RATIO:g} of each "
                         f"other (the classification's tolerances cannot tell the smaller ones "
                         f"from zero beyond that), got a factor {ratio:.3g}")
    width = None if args.width is None else check_positive_int("--width", args.width)
    problem = Problem.target_matrix(np.diag(s), depth=depth, width=width)
    if problem.num_params > MAX_WEIGHTS:
        raise InputError(f"--depth {depth} and width {problem.widths[1]} give "
                         f"{problem.num_params} weights; critical classifies at most "
                         f"{MAX_WEIGHTS} (dense Hessian eigendecompositions per set): lower "
                         f"--width or --depth")
    return problem


MAX_SCALE = 1e50
"""Largest |target entry| (and 1 / the smallest): the Hessians scale like the target squared."""
MAX_RATIO = 1e4
"""Largest ratio of |--target-diag| entries that the classification separates reliably."""
MAX_WEIGHTS = 256
"""Largest number of weights of a --target-diag network (about 20 s at depth 2, width 64)."""


def _check_scale(flag: str, values: list[float]) -> None:
    for x in values:
        if not 1 / MAX_SCALE <= abs(x) <= MAX_SCALE:
            raise InputError(f"{flag} entries must have magnitude between {1 / MAX_SCALE:g} and "
                             f"{MAX_SCALE:g} (Hessians scale like the target squared), got {x:g}")


def find_sets(args: argparse.Namespace) -> list[CriticalSet]:
    """The classified critical sets the arguments name: a scalar chain (--target) in closed
    form (``critical.chain``, numpy: no JAX compile), a diagonal target by autodiff."""
    if args.target is not None:
        from ..critical.chain import chain_critical_sets
        return chain_critical_sets(*check_chain(args))
    from ..critical.enumerate import critical_sets
    return critical_sets(build_problem(args))


def run(args: argparse.Namespace) -> int:
    sets = find_sets(args)
    rows = [c.to_dict() for c in sets]
    if args.json:
        print(dumps(to_jsonable(rows)))
        return 0
    lines = [f"{'label':<18} {'kind':<18} {'loss':>10} {'index':>5} {'null':>4} {'order':>5}"]
    for c in sets:
        order = "-" if c.escape_order is None else str(c.escape_order)
        lines.append(f"{c.label:<18} {c.kind:<18} {c.loss:>10.4g} {c.index:>5} "
                     f"{c.nullity:>4} {order:>5}")
    print("\n".join(lines))
    return 0
