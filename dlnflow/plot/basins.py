"""Draw the basins of gradient descent on a two-layer scalar chain (data: ``dlnflow.basins``).

Starts coloured by where GD ends (minimum branch, saddle, period-2 orbit, divergence, not
converged) or by the iteration at which they settled, with the minimum hyperbola w1 w2 = y.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm

from ..basins import OUTCOMES
from ..errors import InputError
from .style import CRITICAL_COLORS, PALETTE

OUTCOME_COLORS = (PALETTE[2], PALETTE[5], CRITICAL_COLORS["strict_saddle"], PALETTE[3],
                  "#222222", "#BBBBBB")
"""One colour per entry of ``dlnflow.basins.OUTCOMES``."""


def plot_basins(ax: Axes, result: dict[str, Any], show: str = "outcome",
                legend: bool = True) -> Axes:
    """Draw a ``dlnflow.basins.gd_basins`` result: ``show="outcome"`` colours starts by outcome (the
    minimum hyperbola w1 w2 = y on top), ``"iterations"`` by the iteration count (log scale)."""
    x = np.asarray(result["w1"], float)
    y = np.asarray(result["w2"], float)
    if show == "outcome":
        out = np.asarray(result["outcome"], int)
        cmap = ListedColormap(OUTCOME_COLORS)
        norm = BoundaryNorm(np.arange(-0.5, len(OUTCOMES) + 0.5), cmap.N)
        ax.pcolormesh(x, y, out, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
        if legend:
            from matplotlib.patches import Patch
            present = sorted(set(out.ravel().tolist()))
            ax.legend(handles=[Patch(color=OUTCOME_COLORS[i], label=OUTCOMES[i])
                               for i in present], loc="upper left", fontsize=5,
                      bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    elif show == "iterations":
        it = np.maximum(np.asarray(result["iterations"], float), 1.0)
        m = ax.pcolormesh(x, y, it, cmap="viridis", norm=LogNorm(vmin=1, vmax=max(2, it.max())),
                          shading="nearest", rasterized=True)
        # beside the square box itself (a colorbar given ax= sits at the edge of the space the
        # layout allotted, far from an equal-aspect box)
        ax.figure.colorbar(m, cax=ax.inset_axes((1.04, 0.0, 0.05, 1.0)), label="iterations")
    else:
        raise InputError(f"show must be 'outcome' or 'iterations', got {show!r}")
    X, Y = np.meshgrid(x, y)
    ax.contour(X, Y, X * Y - float(result["target"]), levels=[0.0], colors="k",
               linewidths=0.6, linestyles="--")
    ax.set_xlabel(r"$w_1(0)$")
    ax.set_ylabel(r"$w_2(0)$")
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"GD, $\\eta = {float(result['eta']):g}$")
    return ax
