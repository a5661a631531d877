"""``dlnflow sweep SPEC.toml``: run a registered sweep function over a grid, write netCDF.

The spec (TOML) names the function and its grid::

    function = "gd_iterations"      # see dlnflow sweep --list
    [grid]                          # axes: every cell is one combination
    depth = [2, 4, 6, 8]
    eta = [0.02, 0.05]
    [config]                        # parameters fixed for all cells (defaults otherwise)
    runs = 32

Finished cells are kept in a store folder (default ``<out>.cells/``), so a rerun (after a crash,
a kill, or with a larger grid) computes only the cells it does not have.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from ..errors import InputError, show
from ._common import add_executor_arguments, emit

NAME = "sweep"
HELP = ("run a registered sweep function over the grid of a TOML spec (local or on a Dask "
        "cluster, resumable) and write an xarray Dataset as netCDF")
SPEC_KEYS = ("function", "grid", "config")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", metavar="SPEC.toml",
                        help="the sweep: function, [grid] and [config] (see --list)")
    add_executor_arguments(parser, "cells")
    parser.add_argument("--out", default=None, metavar="FILE.nc",
                        help="netCDF output (default: <spec name>.nc in this folder)")
    parser.add_argument("--store", default=None, metavar="DIR",
                        help="folder of finished cells (default: <out>.cells)")
    parser.add_argument("--list", action="store_true",
                        help="list the registered sweep functions and their parameters")


def read_spec(path: str) -> dict[str, Any]:
    """The spec file as {function, grid, config}; InputError names the file and the key."""
    try:
        with open(path, "rb") as fh:
            spec = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"SPEC.toml: {path!r} does not exist") from None
    except OSError as exc:
        raise InputError(f"SPEC.toml: {path!r} cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"SPEC.toml: {path!r} is not valid TOML ({exc})") from None
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise InputError(f"SPEC.toml: unknown key {unknown[0]!r}; a spec has "
                         f"{', '.join(SPEC_KEYS)}")
    if "function" not in spec or "grid" not in spec:
        raise InputError(f"SPEC.toml: {path!r} needs function = \"NAME\" and a [grid] table")
    for table in ("grid", "config"):
        if not isinstance(spec.get(table, {}), dict):
            raise InputError(f"SPEC.toml: {table} must be a table ([{table}]), got "
                             f"{show(spec[table])}")
    return spec


def executor_from_args(args: argparse.Namespace) -> tuple[Any, int | None]:
    """(executor, workers) from --executor, --scheduler and --workers (shared with figures)."""
    if args.scheduler is not None:
        if args.executor == "local":
            raise InputError("--scheduler: a scheduler address needs --executor dask")
        if args.workers is not None:
            raise InputError("--workers: a running cluster has its own workers; give --workers "
                             "only without --scheduler")
        return args.scheduler, None
    if args.workers is not None and args.executor != "dask":
        raise InputError("--workers: only --executor dask starts workers")
    return args.executor or "local", args.workers


def _list(as_json: bool) -> int:
    from .. import sweep

    funcs = sweep.registered()
    items: list[dict[str, Any]] = [{"name": f.name, "summary": f.summary,
                                    "parameters": dict(f.defaults)}
             for f in funcs.values()]
    text = "\n".join(f"{i['name']}: {i['summary']}\n  parameters (defaults): "
                     + ", ".join(f"{k}={v}" for k, v in i["parameters"].items()) for i in items)
    emit({"functions": items}, as_json, text)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args.json)
    if args.spec is None:
        raise InputError("SPEC.toml: give the spec file of the sweep (or --list)")
    from .. import sweep
    from ..sweep.dataset import save_netcdf, to_dataset
    from ..sweep.executors import require

    spec = read_spec(args.spec)
    func = sweep.get(spec["function"])
    grid = sweep.Grid.of(spec["grid"])
    config = func.config(spec.get("config"), dict(grid.axes))
    out = Path(args.out) if args.out else Path(Path(args.spec).stem + ".nc")
    if out.suffix != ".nc":
        raise InputError(f"--out: {str(out)!r} must end in .nc (netCDF)")
    store = Path(args.store) if args.store else out.with_name(out.name + ".cells")
    executor, workers = executor_from_args(args)
    require("xarray")
    require("h5netcdf")
    with sweep.executor_scope(executor, workers) as ex:
        where = ex.describe()
        (result,) = sweep.run_sweeps([sweep.SweepSpec.of(func.fn, grid, config)],
                                     store=store, progress=None if not args.json else False,
                                     desc=func.name)
    save_netcdf(to_dataset(result), out)
    stored = sum(result.stored)
    failed: list[dict[str, Any]] = [{"cell": c, "error": e} for c, e in result.failed]
    report = {"function": func.name, "out": str(out), "store": str(store), "executor": where,
              "cells": len(result.cells), "computed": len(result.cells) - stored - len(failed),
              "stored": stored, "failed": failed}
    lines = [f"{func.name}: {report['cells']} cells on {where}: {report['computed']} computed, "
             f"{stored} from the store, {len(failed)} failed -> {out}"]
    lines += [f"failed {sweep.grid.describe(f['cell'])}: {f['error']}" for f in failed]
    emit(report, args.json, "\n".join(lines))
    return 1 if failed else 0
