"""Widths (d_0, ..., d_L) of a plain network, from the widths or from a depth and a hidden
width, checked against the input and output dimensions of the loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import InputError, check_positive_int
from .resources import check_memory


def check_depth(depth: Any) -> int:
    """A positive integer depth whose layers (about 1 KB of bookkeeping each) fit in memory."""
    depth = check_positive_int("depth", depth)
    check_memory(f"a network of depth {depth}", 128.0 * depth)
    return depth


def resolve_widths(d_in: int, d_out: int, widths: Sequence[int] | None, depth: int | None,
                    width: int | None, check_ends: bool = True) -> tuple[int, ...]:
    """Widths (d_0, ..., d_L): ``widths`` as given (its ends checked against d_in, d_out when
    ``check_ends``), or d_in, ``depth - 1`` hidden layers of ``width`` (default
    max(d_in, d_out)), d_out."""
    if widths is not None:
        try:
            ws = tuple(check_positive_int("width", w) for w in widths)
        except TypeError:
            raise InputError(f"widths must be a list of integers d_0, ..., d_L, got "
                             f"{widths!r}") from None
        if len(ws) < 2:
            raise InputError(f"widths must list d_0, ..., d_L (at least 2 entries), got {widths}")
        if check_ends and (ws[0] != d_in or ws[-1] != d_out):
            raise InputError(
                f"widths must start with the input dimension {d_in} and end with the output "
                f"dimension {d_out}, got {list(ws)}")
        return ws
    if depth is None:
        raise InputError("give either widths or depth")
    depth = check_depth(depth)
    m = max(d_in, d_out) if width is None else check_positive_int("width", width)
    return (d_in,) + (m,) * (depth - 1) + (d_out,)
