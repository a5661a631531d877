"""Shared argument parsing and output helpers for the command modules."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import SEED_MAX, InputError, show
from ..io import dumps

COUNT_MAX = 2**31 - 1
"""Largest value of an integer count option (--depth, --width, --seeds, --max-steps): anything
larger cannot be an array index or the step counter of a compiled loop. This is a range check
only; whether a size within it is affordable (memory, time) is a separate check."""


def float_list(name: str, text: str) -> list[float]:
    """Parse 'a,b,c' into finite floats; raise InputError naming the option and the bad entry."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            x = float(part)
        except ValueError:
            raise InputError(f"{name}: {show(part)} is not a number") from None
        if not math.isfinite(x):
            raise InputError(f"{name}: {show(part)} is not a finite number")
        out.append(x)
    return out


def integer(minimum: int, maximum: int = COUNT_MAX):
    """argparse type: an integer in [minimum, maximum]. argparse prefixes the error with
    'argument --flag:', so the one-line message names the flag."""
    def parse(text: str) -> int:
        try:
            x = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {show(text)}") from None
        if not minimum <= x <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {minimum} to {maximum}, got {show(text)}")
        return x
    parse.__name__ = "integer"
    return parse


def finite_float(text: str) -> float:
    """argparse type: a finite float (argparse names the option in the error)."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {show(text)}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be finite, got {show(text)}")
    return x


def emit(obj: Any, as_json: bool, text: str) -> None:
    """Print ``obj`` as one JSON object (``--json``) or the readable ``text``."""
    if as_json:
        sys.stdout.write(dumps(obj) + "\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")


def add_problem_arguments(parser: argparse.ArgumentParser) -> None:
    """--depth, --target (scalar chain) or --target-diag/--width (0.5 ||W - diag(s)||^2)."""
    parser.add_argument("--depth", type=integer(1), required=True, help="number of layers L >= 1")
    parser.add_argument("--target", type=str, default=None,
                        help="scalar target y of f = 0.5 (w_L...w_1 - y)^2")
    parser.add_argument("--target-diag", type=str, default=None,
                        help="matrix problem 0.5 ||W - diag(s)||^2: s1,s2,...")
    parser.add_argument("--width", type=integer(1), default=None,
                        help="hidden width m for --target-diag (default: len(s))")


def add_executor_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """--executor, --scheduler, --workers: where ``what`` runs (in this process, or on Dask)."""
    parser.add_argument("--executor", choices=("local", "dask"), default=None,
                        help=f"where {what} run: in this process (default) or on Dask workers")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                             "(implies --executor dask)")
    parser.add_argument("--workers", type=integer(1, 1024), default=None,
                        help="workers of the local Dask cluster started by --executor dask "
                             "(default: one per core)")


def add_start_arguments(parser: argparse.ArgumentParser) -> None:
    """--init W1,...,WL (scalar chain) or --init-kind KIND --seeds N --seed S [--init-scale a]."""
    parser.add_argument("--init", type=str, default=None,
                        help="explicit scalar-chain start w_1,...,w_L")
    parser.add_argument("--init-kind", type=str, default=None,
                        help="lecun_normal (default), glorot_normal (= xavier), he_normal, "
                             "gaussian, near_identity, orthogonal, balanced, identity, "
                             "zero_first, zeros")
    parser.add_argument("--seeds", type=integer(1), default=1, help="number of random starts")
    parser.add_argument("--seed", type=integer(0, SEED_MAX), default=0,
                        help=f"seed of the random starts (0 to {SEED_MAX})")
    parser.add_argument("--init-scale", type=str, default="1.0",
                        help="multiply the start by this factor (small-scale starts)")


def build_problem(args: argparse.Namespace):
    """The Problem named by the problem arguments (InputError on bad values)."""
    from ..errors import check_finite
    from ..problem import Problem

    if args.target_diag is not None:
        if args.target is not None:
            raise InputError("give --target or --target-diag, not both")
        s = float_list("--target-diag", args.target_diag)
        import numpy as np

        from ..errors import check_positive_int
        depth = check_positive_int("--depth", args.depth)
        width = len(s) if args.width is None else check_positive_int("--width", args.width)
        return Problem.target_matrix(np.diag(s), depth=depth, width=width)
    if args.width is not None:
        raise InputError("--width applies only with --target-diag")
    y = check_finite("--target", args.target if args.target is not None else 1.0)
    from ..errors import check_positive_int
    return Problem.scalar_chain(check_positive_int("--depth", args.depth), target=y)


def build_starts(args: argparse.Namespace, problem) -> tuple[Any, int]:
    """(params, number of starts) from --init or --init-kind/--seeds/--seed."""
    import jax

    from .. import init
    from ..errors import check_finite, check_positive_int, check_seed

    scale = check_finite("--init-scale", args.init_scale)
    if args.init is not None:
        if args.init_kind is not None:
            raise InputError("give --init or --init-kind, not both")
        if not problem.is_scalar_chain:
            raise InputError("--init takes scalar-chain weights; use --init-kind for matrices")
        w = float_list("--init", args.init)
        if len(w) != problem.depth:
            raise InputError(f"--init must have {problem.depth} weights (one per layer), got "
                             f"{len(w)}: {args.init}")
        return _scaled(init, problem.scalar_params(w), scale), 1
    kind = args.init_kind or "lecun_normal"
    kinds = sorted([*init.INITS, "identity", "zero_first", "zeros"])
    if kind not in kinds:
        raise InputError(f"--init-kind: unknown initialisation {show(kind)}; choose one of "
                         f"{', '.join(kinds)}")
    n = check_positive_int("--seeds", args.seeds, maximum=COUNT_MAX)
    seed = check_seed("--seed", args.seed)
    if kind in ("identity", "zero_first", "zeros"):
        params = init.by_name(kind, problem, batch=n)
    else:
        params = init.by_name(kind, problem, jax.random.PRNGKey(seed), batch=n)
    return _scaled(init, params, scale), n


def _scaled(init, params, scale: float):
    """``init.scaled``, skipped for the default --init-scale 1 (1 * W = W exactly; no eager
    multiply to trace and compile per layer shape)."""
    return params if scale == 1.0 else init.scaled(params, scale)


def per_run(values: list, n: int) -> Any:
    """A list with one entry per start, or the single entry when there is one start."""
    return values if n > 1 else values[0]


class OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def tracked_pairs(traj: Any, name: str, n: int, iterations: bool) -> dict[str, Any]:
    """{name: [[x, value], ...] per start, name_final: value per start} from
    ``traj.tracked[name]``; x is the iteration (maps, ``iterations=True``) or the time t."""
    tr = traj.tracked[name]
    pairs, finals = [], []
    for b in range(traj.batch_size):
        m = int(tr.valid[b].sum())
        xs = tr.iterations[b, :m].astype(int).tolist() if iterations else tr.times[b, :m].tolist()
        vals = tr.values[b, :m].tolist()
        pairs.append([[x, v] for x, v in zip(xs, vals, strict=True)])
        finals.append(vals[-1])
    return {name: per_run(pairs, n), f"{name}_final": per_run(finals, n)}
