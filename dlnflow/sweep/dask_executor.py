"""The Dask distributed executor: one task per cell, results streamed back with as_completed.

Connects to a running scheduler (``address="tcp://host:8786"``), uses a given
``distributed.Client``, or starts a ``LocalCluster`` of ``workers`` processes with one thread
each and the *spawn* start method (JAX must not be forked).

Bit-for-bit equality with the local executor needs, on the workers as in this process, the
same number of JAX CPU devices (``DLNFLOW_CPU_DEVICES``, default one per core: the map loop
spreads a cell's runs over the devices, and XLA's code for another per-device batch can round
the last bits of a loss differently) and the same BLAS thread counts (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``: scipy's Radau/BDF factorise Jacobians with BLAS,
and Dask's nannies set them to 1). The LocalCluster started here keeps both as in this process
(:data:`WORKER_CONFIG`); on another cluster, set them alike on the workers and locally.
Iteration counts and statuses agree either way; the differences are round-off. Each task runs
:func:`dlnflow.sweep.cell.run_cell` on a worker, so an error of the cell function comes back as
a failed Outcome; a task lost with its worker (``KilledWorker``) or any other error of the task
itself is reported as the failure of that cell too, and the other cells go on.

The cell function travels by reference (module and name) when the worker can import it, and
by value (cloudpickle) when it lives in a module loaded from a file (``__main__`` or an
analysis folder given by path).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import InputError, show
from .cell import Outcome, run_cell
from .executors import Call, Executor, require


def _by_value_if_not_importable(fn: Any) -> None:
    """Have cloudpickle send ``fn``'s module by value when a worker could not import it."""
    name = getattr(fn, "__module__", None)
    mod = sys.modules.get(name or "")
    if mod is None or name == "__main__":
        return                                  # cloudpickle sends __main__ by value already
    spec = getattr(mod, "__spec__", None)
    if spec is None or (name or "").startswith("_dlnflow_analysis_"):
        import cloudpickle

        cloudpickle.register_pickle_by_value(mod)


BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
WORKER_CONFIG = {
    "distributed.worker.multiprocessing-method": "spawn",
    # Dask's nannies set these to 1 in their workers; None leaves them as in this process, so
    # that BLAS (scipy's implicit solvers factorise Jacobians) rounds as it does here
    **{f"distributed.nanny.pre-spawn-environ.{v}": None for v in BLAS_THREAD_VARIABLES},
}
"""Dask settings of the LocalCluster started here: spawned workers that inherit this process's
environment (``DLNFLOW_CPU_DEVICES`` and the BLAS thread counts), the conditions of results
bit-identical to the local executor's."""


class DaskExecutor(Executor):
    """Cells as Dask tasks on a scheduler (address), a Client, or a new LocalCluster."""

    name = "dask"

    def __init__(self, client: Any = None, address: str | None = None,
                 workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                    or workers < 1):
            raise InputError(f"workers must be an integer >= 1, got {show(workers)}")
        if workers is not None and (client is not None or address is not None):
            raise InputError("workers: an existing cluster has its own workers; give workers "
                             "only for a new local cluster (no scheduler address)")
        self._given = client
        self.address = address
        self.workers = workers
        self.client: Any = client
        self._cluster: Any = None
        self._owned = False

    def open(self) -> None:
        if self.client is not None:
            return
        distributed = require("distributed")
        dask = require("dask")
        if self.address is not None:
            try:
                self.client = distributed.Client(self.address, timeout="20s")
            except OSError as exc:
                raise InputError(f"scheduler {self.address!r}: cannot connect ({exc})") from None
        else:
            n = self.workers or max(1, min(os.cpu_count() or 1, 16))
            with dask.config.set(WORKER_CONFIG):
                self._cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR)
            self.client = distributed.Client(self._cluster)
        self._owned = True

    def close(self) -> None:
        if self._owned:
            if self.client is not None:
                self.client.close()
            if self._cluster is not None:
                self._cluster.close()
            self.client, self._cluster, self._owned = self._given, None, False

    def describe(self) -> str:
        """``dask ADDRESS with N workers`` of the connected scheduler, or ``not connected``."""
        if self.client is None:
            return "dask (not connected)"
        info = self.client.scheduler_info()
        return f"dask {info.get('address', '?')} with {len(info.get('workers', {}))} workers"

    def map(self, calls: Sequence[Call]) -> Iterator[tuple[int, Outcome]]:
        if self.client is None:
            self.open()
        distributed = require("distributed")
        futures = {}
        for i, (fn, cell, config) in enumerate(calls):
            _by_value_if_not_importable(fn)
            fut = self.client.submit(run_cell, fn, cell, config, pure=False)
            futures[fut] = i
        try:
            for fut in distributed.as_completed(futures):
                i = futures.pop(fut)
                if fut.status == "finished":
                    yield i, fut.result()
                else:
                    exc = fut.exception()
                    msg = " ".join(str(exc).split())
                    yield i, Outcome(error=f"{type(exc).__name__} (task): {msg}")
                fut.release()
        finally:
            for fut in futures:           # interrupted: do not leave work on the cluster
                fut.cancel()
