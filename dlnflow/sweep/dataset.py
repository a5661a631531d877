"""Gathering a sweep into an ``xarray.Dataset`` and writing it as netCDF (h5netcdf engine).

Coordinates: the grid axes, in order. Variables: each output of the cell function with dims
(grid axes..., its own axes), ``cell_status`` ("done" or "failed") and ``cell_error`` (the
message, "" where done). Attributes (netCDF allows numbers and strings only, so nested values
are JSON text): ``sweep_function``, ``config``, ``grid``, ``versions`` (Python, dlnflow, JAX,
numpy, ... and the dask/xarray stack), ``code_hash`` (of this run), ``cells``, ``cells_failed``,
``cells_from_other_code`` (cells read from the store that an earlier version of dlnflow computed,
with the same cell function source). xarray is
imported here only, so ``import dlnflow`` does not need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io import TMP_PREFIX
from ..provenance import VERSION_PACKAGES, package_versions
from .executors import require
from .grid import describe
from .run import SweepResult

SWEEP_PACKAGES = (*VERSION_PACKAGES, "xarray", "h5netcdf", "h5py", "dask", "distributed")
ENGINE = "h5netcdf"


def _missing(arr: np.ndarray) -> tuple[np.dtype, Any]:
    """The dtype of a variable that has failed cells, and the value that marks them."""
    if arr.dtype.kind == "U":
        return np.dtype(object), ""
    if arr.dtype.kind in "biu":
        return np.dtype(np.float64), np.nan
    return arr.dtype, np.nan


def provenance(result: SweepResult) -> dict[str, Any]:
    """The attributes of a sweep's Dataset (numbers and strings; nested values as JSON)."""
    spec = result.spec
    return {
        "sweep_function": spec.fn_name,
        "config": json.dumps(dict(spec.config), sort_keys=True),
        "grid": json.dumps(spec.grid.to_dict()),
        "versions": json.dumps(package_versions(SWEEP_PACKAGES), sort_keys=True),
        "code_hash": result.code,
        "cells": len(result.cells),
        "cells_failed": len(result.failed),
        "cells_from_other_code": sum(c is not None and c != result.code for c in result.codes),
    }


def to_dataset(result: SweepResult) -> Any:
    """The Dataset of a sweep (see the module docstring)."""
    xr = require("xarray")
    grid = result.spec.grid
    shape = grid.shape
    template: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    first: dict[str, str] = {}
    for cell, values in zip(result.cells, result.values, strict=True):
        for name, (dims, arr) in (values or {}).items():
            if name not in template:
                template[name], first[name] = (dims, arr), describe(cell)
                continue
            tdims, tarr = template[name]
            if dims != tdims or arr.shape != tarr.shape:
                raise InputError(f"sweep output {name!r} has dims {dims} shape {arr.shape} at "
                                 f"{describe(cell)} but {tdims} {tarr.shape} at {first[name]}")
    for values, cell in zip(result.values, result.cells, strict=True):
        if values is not None and set(values) != set(template):
            raise InputError(f"sweep outputs {sorted(values)} at {describe(cell)} differ from "
                             f"{sorted(template)}")
    any_failed = any(v is None for v in result.values)
    data_vars: dict[str, Any] = {}
    for name, (dims, tarr) in template.items():
        if any_failed:
            dtype, fill = _missing(tarr)
        else:
            dtype, fill = (np.dtype(object) if tarr.dtype.kind == "U" else tarr.dtype), None
        full = np.empty((len(result.cells), *tarr.shape), dtype=dtype)
        for i, values in enumerate(result.values):
            full[i] = fill if values is None else values[name][1]
        data_vars[name] = ((*grid.names, *dims), full.reshape(*shape, *tarr.shape))
    status = np.array(["failed" if e else "done" for e in result.errors], dtype=object)
    error = np.array([e or "" for e in result.errors], dtype=object)
    data_vars["cell_status"] = (grid.names, status.reshape(shape))
    data_vars["cell_error"] = (grid.names, error.reshape(shape))
    coords = {n: np.asarray(v) for n, v in grid.axes}
    return xr.Dataset(data_vars, coords=coords, attrs=provenance(result))


def save_netcdf(ds: Any, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` as netCDF-4 (h5netcdf), atomically (temporary file, rename)."""
    require("h5netcdf")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"out {str(path)!r}: cannot create its folder ({exc.strerror})") from None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}-")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=ENGINE)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def load_netcdf(path: str | os.PathLike) -> Any:
    """The Dataset of a sweep written by :func:`save_netcdf` (loaded into memory)."""
    xr = require("xarray")
    require("h5netcdf")
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()
