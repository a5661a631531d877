"""Errors raised for bad input: each message names the offending argument and value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class InputError(ValueError):
    """A user-supplied value is invalid; the message names it (the CLI exits with status 2)."""


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer >= minimum, else raise InputError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as float if it is a finite real number, else raise InputError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return x


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise InputError."""
    x = check_finite(name, value)
    if x <= 0:
        raise InputError(f"{name} must be positive, got {value!r}")
    return x


def check_finite_array(name: str, values: Sequence[Any] | Any) -> None:
    """Raise InputError if any entry of ``values`` is NaN or infinite."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise InputError(f"{name} must be finite, got an entry {bad!r}")
