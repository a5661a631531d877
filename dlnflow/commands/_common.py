"""Shared argument parsing and output helpers for the command modules."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import InputError
from ..io import dumps


def float_list(name: str, text: str) -> list[float]:
    """Parse 'a,b,c' into finite floats; raise InputError naming the bad entry."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            x = float(part)
        except ValueError:
            raise InputError(f"{name}: {part!r} is not a number") from None
        if not math.isfinite(x):
            raise InputError(f"{name}: {part!r} is not a finite number")
        out.append(x)
    return out


def finite_float(name: str):
    """argparse type: a finite float; the error names the option and the value."""
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError(f"{name} must be finite, got {text!r}")
        return x
    return parse


def emit(obj: Any, as_json: bool, text: str) -> None:
    """Print ``obj`` as one JSON object (``--json``) or the readable ``text``."""
    if as_json:
        sys.stdout.write(dumps(obj) + "\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
