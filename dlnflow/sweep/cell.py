"""One cell of a sweep: call ``fn(cell, config)`` and bring its result to a standard form.

The function returns a mapping name -> array (or -> ``(dims, array)`` to name the array's own
axes; unnamed axes are called ``<name>_dim<i>``). Arrays become numpy arrays of numbers, bools
or strings (JAX arrays and lists of ``Status`` values included). :func:`run_cell` runs in the
process that computes (in-process or on a Dask worker) and never raises for an error of ``fn``:
it returns an :class:`Outcome` that holds either the values or the error's one-line message.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import InputError, show

Values = dict[str, tuple[tuple[str, ...], np.ndarray]]
RESERVED = ("cell_status", "cell_error")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one cell gave: ``values`` (name -> (dims, array)) or ``error`` (a message)."""

    values: Values | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the cell succeeded (no error)."""
        return self.error is None


def normalize(out: Any, axes: tuple[str, ...] = ()) -> Values:
    """The standard form of a cell function's result; InputError names what is wrong."""
    if not isinstance(out, Mapping) or not out:
        raise InputError(f"a sweep function must return a non-empty dict of arrays, got "
                         f"{show(out)}")
    values: Values = {}
    for name, item in out.items():
        if not isinstance(name, str) or not name.isidentifier() or name in RESERVED \
                or name in axes:
            raise InputError(f"sweep output name {show(name)} must be an identifier other than "
                             f"{', '.join(RESERVED + tuple(axes))}")
        dims = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], tuple | list):
            dims, item = tuple(item[0]), item[1]
        arr = np.asarray(item)
        if arr.dtype.kind == "O":
            try:
                arr = arr.astype(str)
            except (TypeError, ValueError):
                raise InputError(f"sweep output {name!r} is not an array of numbers, bools or "
                                 f"strings") from None
        if arr.dtype.kind not in "biufU":
            raise InputError(f"sweep output {name!r} has dtype {arr.dtype}: give numbers, bools "
                             f"or strings")
        if dims is None:
            dims = tuple(f"{name}_dim{i}" for i in range(arr.ndim))
        if len(dims) != arr.ndim or not all(isinstance(d, str) and d.isidentifier()
                                            for d in dims):
            raise InputError(f"sweep output {name!r}: dims {show(list(dims))} do not name its "
                             f"{arr.ndim} axes")
        if set(dims) & set(axes):
            raise InputError(f"sweep output {name!r}: dims {show(list(dims))} reuse a grid axis")
        values[name] = (dims, arr)
    return values


def run_cell(fn: Callable[[dict, dict], Any], cell: dict[str, Any],
             config: dict[str, Any]) -> Outcome:
    """``fn(cell, config)`` in standard form, or the error as a one-line message (with the
    innermost frame, so that the report says where)."""
    try:
        return Outcome(values=normalize(fn(dict(cell), dict(config)), tuple(cell)))
    except Exception as exc:  # noqa: BLE001 (a failing cell is reported, the others go on)
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        msg = " ".join(str(exc).split())
        return Outcome(error=f"{type(exc).__name__}: {msg}{where}")
