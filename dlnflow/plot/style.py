"""Paper style: one/two-column sizes, readable fonts, colour-blind-safe palette, vector output.

Sizes follow common two-column journals: one column 3.4 in, two columns 7.0 in wide.
Palette: Okabe-Ito (colour-blind safe).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # the rc names matplotlib knows (>= 3.8 stubs)

TIME_LABEL = r"time $t$ (GD: $t = k\eta$)"
"""The x label of every plot against time: flow time t, GD iteration k at t = k eta."""
ONE_COLUMN = 3.4
TWO_COLUMN = 7.0
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")
CRITICAL_COLORS = {"global_min": "#009E73", "local_min": "#56B4E9", "strict_saddle": "#D55E00",
                   "non_strict_saddle": "#CC79A7", "max": "#000000"}

RC: dict[RcKeyType, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3,
    "axes.prop_cycle": matplotlib.rcsetup.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "dlnflow",
    "path.simplify": True,
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context manager applying the paper rc parameters."""
    with plt.rc_context(RC):
        yield


def figure(columns: int = 1, aspect: float = 0.75, nrows: int = 1, ncols: int = 1,
           **subplot_kw) -> tuple[Figure, object]:
    """A Figure sized for ``columns`` (1 or 2) journal columns and its axes (plt.subplots)."""
    width = ONE_COLUMN if columns == 1 else TWO_COLUMN
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, width * aspect),
                                 layout="constrained", **subplot_kw)
    return fig, axes


def time_axes(ax: Any, ylabel: str, *, xlog: bool, ylog: bool) -> Any:
    """Label ``ax`` as a plot of ``ylabel`` against time (``TIME_LABEL``), on log scales where
    asked; returns it."""
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(ylabel)
    return ax
