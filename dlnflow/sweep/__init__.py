"""Parameter sweeps: a named grid of cells, run locally or on a Dask cluster, resumable, gathered
into an ``xarray.Dataset`` (netCDF) with the provenance in its attributes.

* :func:`sweep` (the front door) and :func:`run_sweeps` (several sweeps at once, numpy results)
  in :mod:`~dlnflow.sweep.run`; :class:`Grid` (:mod:`~dlnflow.sweep.grid`).
* executors (:mod:`~dlnflow.sweep.executors`): :class:`LocalExecutor` (default) and
  :class:`~dlnflow.sweep.dask_executor.DaskExecutor`; :func:`executor_scope`.
* :class:`CellStore` (:mod:`~dlnflow.sweep.store`): finished cells, one file each.
* :func:`~dlnflow.sweep.dataset.to_dataset`, ``save_netcdf``, ``load_netcdf``.
* registered sweep functions for ``dlnflow sweep SPEC.toml`` (:mod:`~dlnflow.sweep.registry`,
  built-ins in :mod:`~dlnflow.sweep.functions`).

xarray, h5netcdf and distributed (the ``dask`` extra) are imported only when used.
"""

from .cell import Outcome
from .executors import Executor, LocalExecutor, executor_scope, resolve
from .grid import Grid
from .registry import SweepFunction, get, register, registered
from .run import SweepResult, SweepSpec, run_sweeps, sweep
from .store import CellStore


def __getattr__(name: str):        # the Dask executor and the xarray helpers, on first use
    if name == "DaskExecutor":
        from .dask_executor import DaskExecutor
        return DaskExecutor
    if name in ("to_dataset", "save_netcdf", "load_netcdf"):
        from . import dataset
        return getattr(dataset, name)
    raise AttributeError(f"module 'dlnflow.sweep' has no attribute {name!r}")


__all__ = ["CellStore", "DaskExecutor", "Executor", "Grid", "LocalExecutor", "Outcome",
           "SweepFunction", "SweepResult", "SweepSpec", "executor_scope", "get", "load_netcdf",
           "register", "registered", "resolve", "run_sweeps", "save_netcdf", "sweep",
           "to_dataset"]
