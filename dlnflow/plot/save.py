"""A figure's bytes in a file format, drawn and saved in the paper style with no timestamps
(identical bytes on reruns): what the figure pipeline writes."""

from __future__ import annotations

import io
from typing import Any

import matplotlib.pyplot as plt

from .style import paper_style

SAVE_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
    "png": {"Software": None},
    "svg": {"Date": None},
}
"""Metadata cleared in each format (dates, producer): no wall-clock time in a figure file."""


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """The Figure saved as ``fmt`` with no timestamps (identical bytes on reruns)."""
    buf = io.BytesIO()
    with paper_style():
        fig.savefig(buf, format=fmt, metadata=SAVE_METADATA[fmt])
    return buf.getvalue()


def rendered_bytes(render: Any, data: Any, config: Any, fmts: tuple[str, ...]
                   ) -> dict[str, bytes]:
    """``render(data, config)`` drawn in the paper style and saved in each format (the
    figure closed afterwards): format -> bytes."""
    with paper_style():
        fig = render(data, config)
    try:
        return {fmt: figure_bytes(fig, fmt) for fmt in fmts}
    finally:
        plt.close(fig)
