"""Registered sweep functions: the names a spec file of ``dlnflow sweep`` can use.

A registered function ``fn(cell, config)`` declares its parameters with their defaults. A spec
sets any of them either once (``[config]``) or as a grid axis (``[grid]``, a list of values);
the function sees the defaults, overridden by the configuration, overridden by its cell.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InputError, show

_REGISTRY: dict[str, SweepFunction] = {}
BUILTIN_MODULES = ("dlnflow.sweep.functions",)


@dataclasses.dataclass(frozen=True)
class SweepFunction:
    """A registered cell function with its parameters' defaults and a one-line summary."""

    name: str
    fn: Callable[[dict, dict], Any]
    defaults: Mapping[str, Any]
    summary: str

    def config(self, config: Mapping[str, Any] | None, grid: Mapping[str, Any]) -> dict:
        """Defaults overridden by ``config``; every name of config and grid must be a
        parameter of the function."""
        config = dict(config or {})
        for where, names in (("config", config), ("grid", grid)):
            for n in names:
                if n not in self.defaults:
                    raise InputError(f"{where}.{n}: {self.name} has no parameter {n!r}; its "
                                     f"parameters: {', '.join(self.defaults)}")
        both = sorted(set(config) & set(grid))
        if both:
            raise InputError(f"grid.{both[0]}: also set in config; give it in one place")
        return {**self.defaults, **config}


def register(name: str, defaults: Mapping[str, Any]) -> Callable[[Callable], Callable]:
    """Decorator: register a module-level ``fn(cell, config)`` under ``name``."""
    def deco(fn: Callable) -> Callable:
        summary = (fn.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = SweepFunction(name, fn, dict(defaults), summary)
        return fn
    return deco


def _load_builtins() -> None:
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)


def get(name: str) -> SweepFunction:
    """The registered function ``name``; InputError listing the known names otherwise."""
    _load_builtins()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise InputError(f"function {show(name)} is not a registered sweep function; known: "
                         f"{', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def registered() -> dict[str, SweepFunction]:
    """Every registered sweep function by name."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))
