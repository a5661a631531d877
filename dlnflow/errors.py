"""Errors raised for bad input: each message names the offending argument and value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class InputError(ValueError):
    """A user-supplied value is invalid; the message names it (the CLI exits with status 2)."""


def check_positive_int(name: str, value: Any, minimum: int = 1,
                       maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in [minimum, maximum], else raise InputError
    (integral floats such as 3.0 are accepted; bools, strings and NaN are not)."""
    ok = isinstance(value, int | float | np_integer()) and not isinstance(value, bool)
    if ok and isinstance(value, float):
        ok = math.isfinite(value) and value == int(value)
    if not ok or int(value) < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {show(value)}")
    if maximum is not None and int(value) > maximum:
        raise InputError(f"{name} must be an integer <= {maximum}, got {show(value)}")
    return int(value)


def np_integer() -> type:
    """``numpy.integer``, imported on use (integer checks accept numpy integers)."""
    import numpy as np

    return np.integer


SEED_MAX = 2**63 - 1
"""Largest integer seed (JAX PRNG seeds are 64-bit integers)."""


def check_seed(name: str, value: Any) -> int:
    """An integer seed in [0, 2**63 - 1] (InputError otherwise)."""
    return check_positive_int(name, value, minimum=0, maximum=SEED_MAX)


def check_type(name: str, value: Any, types: type | tuple[type, ...], what: str) -> Any:
    """Return ``value`` if it is an instance of ``types``, else raise InputError saying that
    ``name`` must be ``what`` (e.g. 'a dlnflow.Problem')."""
    if not isinstance(value, types):
        raise InputError(f"{name} must be {what}, got {show(value)}")
    return value


def check_problem(name: str, value: Any) -> Any:
    """Return ``value`` if it is a dlnflow.Problem, else raise InputError naming ``name``."""
    from .problem import Problem

    return check_type(name, value, Problem, "a dlnflow.Problem")


def check_trajectory(name: str, value: Any) -> Any:
    """Return ``value`` if it is a dlnflow.Trajectory, else raise InputError naming ``name``."""
    from .trajectory import Trajectory

    return check_type(name, value, Trajectory, "a dlnflow.Trajectory (from dlnflow.simulate)")


def float_array(name: str, value: Any) -> Any:
    """``value`` as a float64 numpy array; InputError naming ``name`` when it is not numeric."""
    import numpy as np

    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be numbers (an array of reals), got {show(value)}") \
            from None


def show(value: Any, limit: int = 60) -> str:
    """repr of ``value`` for a one-line message, shortened to about ``limit`` characters;
    numbers, strings and short lists are shown as written, other objects by their type."""
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, str | int | float | complex | list | tuple | type(None)):
        text = " ".join(repr(value).split())
        if len(text) <= limit:
            return text
        if isinstance(value, str):
            return text[:limit - 4] + "...'"
    return f"a value of type {type(value).__name__}"


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as float if it is a finite real number, else raise InputError."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a finite number, got {show(value)}") from None
    if not math.isfinite(x):
        raise InputError(f"{name} must be a finite number, got {show(value)}")
    return x


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise InputError."""
    x = check_finite(name, value)
    if x <= 0:
        raise InputError(f"{name} must be positive, got {show(value)}")
    return x


def check_finite_array(name: str, values: Sequence[Any] | Any) -> None:
    """Raise InputError if any entry of ``values`` is NaN or infinite."""
    import numpy as np

    arr = float_array(name, values)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise InputError(f"{name} must be finite, got an entry {bad!r}")
