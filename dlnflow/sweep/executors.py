"""Executors: where the cells of a sweep run. ``Executor`` is the abstract base.

* :class:`LocalExecutor` (the default): in this process, one cell after the other; each cell
  batches its runs with vmap over one JAX device per core, as ``simulate`` does.
* :class:`~dlnflow.sweep.dask_executor.DaskExecutor`: Dask distributed, one task per cell,
  results streaming back as they complete (the ``dask`` extra).

:func:`resolve` turns what a user writes (``"local"``, ``"dask"``, ``"tcp://host:8786"``, a
``distributed.Client`` or an Executor) into an Executor; :func:`executor_scope` opens one for a
block and makes it the default of every sweep run inside (``dlnflow figures --executor``).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import InputError, show
from .cell import Outcome, run_cell

Call = tuple[Callable, dict, dict]          # (fn, cell, config)

_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "dlnflow_sweep_executor", default=None)


def require(module: str) -> Any:
    """Import an optional module of the ``dask`` extra, or raise an InputError that says so."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"this needs the optional 'dask' extra (module {module!r} is missing): "
                         f"pip install 'dlnflow[dask]'") from None


class Executor(abc.ABC):
    """Runs calls ``fn(cell, config)`` and yields ``(index, Outcome)`` as each one completes
    (in any order). ``open``/``close`` bracket its use; ``with executor:`` does both."""

    name: str = "executor"

    def open(self) -> None:  # noqa: B027 (optional hook: most executors hold nothing)
        """Acquire what the executor needs (a cluster connection); called before ``map``."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release what ``open`` acquired (only what this executor created)."""

    @abc.abstractmethod
    def map(self, calls: Sequence[Call]) -> Iterator[tuple[int, Outcome]]:
        """Yield ``(i, outcome of calls[i])`` for every call, as each completes."""

    def describe(self) -> str:
        """One line naming the executor, for messages and stored metadata."""
        return self.name

    def __enter__(self) -> Executor:
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LocalExecutor(Executor):
    """In this process, cells in order (no extra dependency)."""

    name = "local"

    def map(self, calls: Sequence[Call]) -> Iterator[tuple[int, Outcome]]:
        for i, (fn, cell, config) in enumerate(calls):
            yield i, run_cell(fn, cell, config)


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "submit")


def resolve(executor: Any = None, workers: int | None = None) -> Executor:
    """An Executor from ``None``/``"local"``, ``"dask"`` (a LocalCluster of ``workers``
    processes), a scheduler address (``"tcp://host:8786"``, ``"host:8786"``), a
    ``distributed.Client`` or an Executor."""
    if isinstance(executor, Executor):
        return executor
    if executor is None or executor == "local":
        if workers is not None:
            raise InputError("workers: only a Dask executor has workers (use executor='dask')")
        return LocalExecutor()
    from .dask_executor import DaskExecutor

    if _is_dask_client(executor):
        return DaskExecutor(client=executor)
    if executor == "dask":
        return DaskExecutor(workers=workers)
    if isinstance(executor, str) and ("://" in executor or ":" in executor):
        return DaskExecutor(address=executor, workers=workers)
    raise InputError(f"executor must be 'local', 'dask', a scheduler address such as "
                     f"'tcp://host:8786', a distributed.Client or an Executor, got "
                     f"{show(executor)}")


def current() -> Executor | None:
    """The executor of the enclosing :func:`executor_scope` (None outside one)."""
    return _CURRENT.get()


@contextlib.contextmanager
def executor_scope(executor: Any = None, workers: int | None = None) -> Iterator[Executor]:
    """Open ``resolve(executor, workers)`` for the block and make it the default executor of
    the sweeps run inside (closed at the end)."""
    ex = resolve(executor, workers)
    with ex:
        token = _CURRENT.set(ex)
        try:
            yield ex
        finally:
            _CURRENT.reset(token)
