"""The grid of a sweep: named axes of values; a cell is one value per axis (C order).

``Grid.of({"depth": [2, 4], "eta": [0.01, 0.1]})`` has the cells {depth 2, eta 0.01},
{depth 2, eta 0.1}, {depth 4, eta 0.01}, {depth 4, eta 0.1}. Values are plain scalars (bool, int,
float or str), one kind per axis, each at most once, so that they label an xarray coordinate.
A cell is identified by :func:`cell_key`, the sha256 of the function's qualified name, the cell,
the configuration and the source of the cell function: the name of its file in the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import InputError, show
from ..io import dumps

SCALAR_KINDS = (bool, int, float, str)


def _scalar(where: str, value: Any) -> bool | int | float | str:
    """A plain Python scalar from ``value`` (numpy scalars unwrapped); InputError otherwise."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if not isinstance(value, SCALAR_KINDS):
        raise InputError(f"{where}: {show(value)} is not a number, a string or a bool")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{where}: {show(value)} is not finite")
    return value


def _kind(value: Any) -> type:
    if isinstance(value, bool):
        return bool
    return float if isinstance(value, int | float) else str


@dataclasses.dataclass(frozen=True)
class Grid:
    """Named axes, in order: ``axes = (("depth", (2, 4)), ("eta", (0.01, 0.1)))``."""

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    def __post_init__(self) -> None:
        if not self.axes:
            raise InputError("grid: give at least one axis (a name and a list of values)")
        seen = set()
        for name, values in self.axes:
            if not isinstance(name, str) or not name.isidentifier():
                raise InputError(f"grid: axis name {show(name)} is not an identifier")
            if name in seen:
                raise InputError(f"grid: axis {name!r} given twice")
            seen.add(name)
            if not values:
                raise InputError(f"grid.{name}: give a non-empty list of values")
            kinds = {_kind(v) for v in values}
            if len(kinds) > 1:
                kinds_text = " and ".join(sorted(k.__name__ for k in kinds))
                raise InputError(f"grid.{name}: mixes {kinds_text} values")
            if len(set(values)) != len(values):
                raise InputError(f"grid.{name}: a value appears twice in {show(list(values))}")

    @classmethod
    def of(cls, grid: Grid | Mapping[str, Any]) -> Grid:
        """A Grid from a Grid or a mapping name -> values (a scalar is a one-value axis)."""
        if isinstance(grid, Grid):
            return grid
        if not isinstance(grid, Mapping):
            raise InputError(f"grid must be a mapping of axis names to lists of values, got "
                             f"{show(grid)}")
        axes = []
        for name, values in grid.items():
            if isinstance(values, str) or not isinstance(values, Sequence | Iterator) and \
                    not hasattr(values, "__array__"):
                values = [values]
            axes.append((name, tuple(_scalar(f"grid.{name}", v) for v in list(values))))
        return cls(tuple(axes))

    @property
    def names(self) -> tuple[str, ...]:
        """The axis names, in grid order."""
        return tuple(n for n, _ in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values on each axis."""
        return tuple(len(v) for _, v in self.axes)

    @property
    def size(self) -> int:
        """Number of cells, the product of `shape`."""
        return math.prod(self.shape)

    def cells(self) -> list[dict[str, Any]]:
        """Every cell as {name: value}, in C order (the last axis varies fastest)."""
        return [dict(zip(self.names, combo, strict=True))
                for combo in itertools.product(*(v for _, v in self.axes))]

    def to_dict(self) -> dict[str, list[Any]]:
        """The grid as {name: list of values} (JSON-ready; ``Grid.of`` reads it back)."""
        return {n: list(v) for n, v in self.axes}


def check_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The configuration as a dict that has a JSON form (it is hashed and stored)."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InputError(f"config must be a mapping, got {show(config)}")
    try:
        dumps(config)
    except (TypeError, ValueError) as exc:
        raise InputError(f"config must be JSON-serialisable (numbers, strings, lists, dicts): "
                         f"{exc}") from None
    return dict(config)


def function_name(fn: Callable) -> str:
    """``module:qualname`` of the cell function (its identity in cell keys and provenance)."""
    if not callable(fn):
        raise InputError(f"fn must be a function of (cell, config), got {show(fn)}")
    module = getattr(fn, "__module__", None) or "?"
    qual = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}:{qual}"


def cell_key(fn_name: str, cell: Mapping[str, Any], config: Mapping[str, Any], code: str) -> str:
    """sha256 of the function name, the cell, the configuration and the function's source hash."""
    text = dumps({"fn": fn_name, "cell": dict(cell), "config": dict(config), "code": code})
    return hashlib.sha256(text.encode()).hexdigest()


def describe(cell: Mapping[str, Any]) -> str:
    """``depth=4, eta=0.1``: a cell's coordinates for messages."""
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in cell.items())
