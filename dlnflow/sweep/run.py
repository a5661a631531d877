"""Running sweeps: cells through an executor, finished cells kept in a store, a progress bar.

``sweep(fn, grid, config=..., executor=..., store=..., out=...)`` is the front door: it runs
every cell ``fn(cell, config)`` of the grid (those already in the store are read, not rerun),
gathers the results into an ``xarray.Dataset`` with the grid as coordinates and the provenance
in its attributes (:mod:`dlnflow.sweep.dataset`), and writes it as netCDF when ``out`` is given.

``run_sweeps(specs, ...)`` is the level below, without xarray: several sweeps whose cells are
handed to the executor together (a cluster works on all of them at once); each gives a
:class:`SweepResult` of numpy arrays per cell. The figure analyses use it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from ..errors import InputError
from .cell import Values
from .executors import Executor, current, resolve
from .grid import Grid, cell_key, check_config, describe, function_name
from .store import CellStore


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """One sweep: a cell function ``fn(cell, config) -> {name: array}``, its grid and the
    configuration shared by all cells."""

    fn: Callable[[dict, dict], Any]
    grid: Grid
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, fn: Callable, grid: Grid | Mapping[str, Any],
           config: Mapping[str, Any] | None = None) -> SweepSpec:
        """A spec from a cell function (module-level, so it can be named and hashed), a grid
        (`Grid.of`) and a JSON-ready configuration."""
        function_name(fn)
        return cls(fn, Grid.of(grid), check_config(config))

    @property
    def fn_name(self) -> str:
        """``module:qualname`` of the cell function."""
        return function_name(self.fn)


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """The cells of one sweep in grid order: ``values[i]`` (None where the cell failed),
    ``errors[i]`` (None where it succeeded), ``stored[i]`` (read from the store, not run) and
    ``codes[i]`` (the :func:`code_hash` under which the cell was computed); ``code`` is the
    code hash of this run."""

    spec: SweepSpec
    cells: list[dict[str, Any]]
    values: list[Values | None]
    errors: list[str | None]
    stored: list[bool]
    codes: list[str | None]
    code: str

    @property
    def failed(self) -> list[tuple[dict[str, Any], str]]:
        """(cell, message) of every failed cell."""
        return [(c, e) for c, e in zip(self.cells, self.errors, strict=True) if e is not None]

    def check(self) -> None:
        """Raise a RuntimeError naming the first failed cell (for callers that need them all)."""
        if self.failed:
            cell, err = self.failed[0]
            raise RuntimeError(f"{len(self.failed)} cell(s) of {self.spec.fn_name} failed; "
                               f"first {describe(cell)}: {err}")

    def column(self, name: str) -> list[Any]:
        """The array ``name`` of every cell, in grid order (after :meth:`check`)."""
        self.check()
        return [cast(Values, v)[name][1] for v in self.values]   # check(): none is None


def module_hash(fn: Callable) -> str:
    """sha256 of the source file that defines ``fn`` ("" when it has none): part of a cell's
    key, so an edit of the cell function recomputes its cells."""
    mod = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(mod, "__file__", None)
    if path and os.path.isfile(path):
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return ""


def code_hash(fn: Callable) -> str:
    """sha256 of the dlnflow sources and of the file that defines ``fn``: the provenance of
    the code that computed a cell (recorded with it, not part of its key, so that an edit
    elsewhere in dlnflow does not throw a long sweep away)."""
    from ..pipeline import package_hash

    return hashlib.sha256(f"{package_hash()}:{module_hash(fn)}".encode()).hexdigest()


def run_sweeps(specs: Sequence[SweepSpec], *, executor: Any = None,
               store: str | os.PathLike | CellStore | None = None,
               progress: bool | None = None, desc: str = "sweep") -> list[SweepResult]:
    """Run the cells of every spec that the store does not hold, all through one executor.

    ``executor``: None (the enclosing :func:`~dlnflow.sweep.executors.executor_scope`, else
    local), ``"local"``, ``"dask"``, a scheduler address, a ``distributed.Client`` or an
    Executor. ``store``: a folder that keeps finished cells (resume); None keeps nothing.
    ``progress``: a bar on stderr (None: only on a terminal).
    """
    from tqdm import tqdm

    cs = store if isinstance(store, CellStore) or store is None else CellStore(store)
    codes: dict[Callable, tuple[str, str]] = {}
    plan, out = [], []
    for s, spec in enumerate(specs):
        if spec.fn not in codes:
            codes[spec.fn] = (module_hash(spec.fn), code_hash(spec.fn))
        source, code = codes[spec.fn]
        cells = spec.grid.cells()
        keys = [cell_key(spec.fn_name, c, spec.config, source) for c in cells]
        found = [cs.get(k) if cs is not None else None for k in keys]
        res = SweepResult(spec, cells, [f and f[0] for f in found], [None] * len(cells),
                          [f is not None for f in found],
                          [f and f[1].get("code") for f in found], code)
        out.append(res)
        plan += [(s, i, k) for i, (k, f) in enumerate(zip(keys, found, strict=True))
                 if f is None]
    total = sum(len(r.cells) for r in out)
    bar = tqdm(total=total, initial=total - len(plan), desc=desc, unit="cell", file=sys.stderr,
               disable=None if progress is None else not progress, leave=False)
    calls = [(specs[s].fn, out[s].cells[i], dict(specs[s].config)) for s, i, _ in plan]
    ex: Executor | None = current() if executor is None else None
    owned = ex is None
    if ex is None:
        ex = resolve(executor)
    failed = 0
    try:
        if owned:
            ex.open()
        for j, outcome in ex.map(calls):
            s, i, key = plan[j]
            res = out[s]
            if outcome.ok:
                res.values[i], res.codes[i] = outcome.values, res.code
                if cs is not None:
                    cs.put(key, cast(Values, outcome.values),
                           {"fn": specs[s].fn_name, "cell": res.cells[i], "code": res.code})
            else:
                res.errors[i] = outcome.error
                failed += 1
                bar.set_postfix_str(f"failed {failed}")
            bar.update(1)
    finally:
        bar.close()
        if owned:
            ex.close()
    return out


def sweep(fn: Callable[[dict, dict], Any], grid: Grid | Mapping[str, Any], *,
          config: Mapping[str, Any] | None = None, executor: Any = None,
          store: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
          progress: bool | None = None) -> Any:
    """Run ``fn(cell, config)`` on every cell of ``grid`` and gather an ``xarray.Dataset``.

    The Dataset has one coordinate per grid axis (in the grid's order), one variable per output
    of ``fn`` (grid axes first, then the output's own axes), ``cell_status`` ("done"/"failed")
    and ``cell_error`` per cell, and the provenance in ``attrs``. Failed cells are kept as
    missing values (floats NaN; int and bool outputs become float64 then) and named in a
    warning. ``store``: a folder of
    finished cells, so that a rerun computes only what is missing. ``out``: write the Dataset
    there as netCDF (h5netcdf engine, atomically). Needs the ``dask`` extra (xarray, h5netcdf)
    for the Dataset, not for the local executor.
    """
    from .dataset import save_netcdf, to_dataset

    spec = SweepSpec.of(fn, grid, config)
    if out is not None and Path(out).suffix != ".nc":
        raise InputError(f"out {str(out)!r}: a netCDF file name ends in .nc")
    from .executors import require

    require("xarray")
    if out is not None:
        require("h5netcdf")
    (result,) = run_sweeps([spec], executor=executor, store=store, progress=progress)
    if result.failed:
        shown = "; ".join(f"{describe(c)}: {e}" for c, e in result.failed[:3])
        more = f" (and {len(result.failed) - 3} more)" if len(result.failed) > 3 else ""
        warnings.warn(f"{len(result.failed)} of {len(result.cells)} cells failed (kept as "
                      f"missing values, see cell_error): {shown}{more}", stacklevel=2)
    ds = to_dataset(result)
    if out is not None:
        save_netcdf(ds, out)
    return ds
