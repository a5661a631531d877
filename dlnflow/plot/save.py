"""A figure's bytes in a file format, drawn and saved in the paper style with no timestamps
(identical bytes on reruns): what the figure pipeline writes.

A figure saved in several formats is laid out once (``freeze_layout``). savefig with bbox
"tight" and a layout engine lays the figure out and draws it twice per format (a draw that
renders nothing, to place the artists and find the tight box, then the real one), each format
from the layout the previous one left. Here one such draw at the PNG resolution places the
artists and gives the box, and each format draws the figure once, cropped to it: the PNG is
byte for byte savefig's own for a fresh figure, the PDF shows the PNG's layout (same ticks).
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from .style import paper_style

SAVE_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
    "png": {"Software": None},
    "svg": {"Date": None},
}
"""Metadata cleared in each format (dates, producer): no wall-clock time in a figure file."""


def freeze_layout(fig: Any) -> Bbox:
    """Lay ``fig`` out for saving, once: its layout engine (constrained) runs in one draw that
    renders nothing, at the savefig resolution, and is then removed, so the artists stay where
    it put them; returns the box savefig's bbox "tight" crops to (inches: the artists' tight
    box padded by ``savefig.pad_inches``), to pass to every ``figure_bytes`` of the figure."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)                            # a Figure made outside pyplot
    with paper_style():
        if mpl.rcParams["savefig.dpi"] != "figure":
            fig.set_dpi(mpl.rcParams["savefig.dpi"])    # text measured as in the PNG
        fig.draw_without_rendering()
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        # None removes the engine only when the rc asks for no automatic layout
        with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)
        return box.padded(float(mpl.rcParams["savefig.pad_inches"]))


def figure_bytes(fig: Any, fmt: str, bbox: Bbox | None = None) -> bytes:
    """The Figure saved as ``fmt`` with no timestamps (identical bytes on reruns), cropped to
    ``bbox`` (inches, from ``freeze_layout``; None: savefig's own tight box for ``fmt``)."""
    buf = io.BytesIO()
    with paper_style():
        fig.savefig(buf, format=fmt, metadata=SAVE_METADATA[fmt], bbox_inches=bbox)
    return buf.getvalue()


def rendered_bytes(render: Any, data: Any, config: Any, fmts: tuple[str, ...]
                   ) -> dict[str, bytes]:
    """``render(data, config)`` drawn in the paper style, laid out once and saved in each
    format (the figure closed afterwards): format -> bytes."""
    with paper_style():
        fig = render(data, config)
    try:
        box = freeze_layout(fig)
        return {fmt: figure_bytes(fig, fmt, box) for fmt in fmts}
    finally:
        plt.close(fig)
