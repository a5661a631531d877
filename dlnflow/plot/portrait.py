"""Phase portraits of scalar chains F(w) = f(w_L ... w_1): drawing only.

The data come from ``dlnflow.portrait``: :func:`dlnflow.portrait.phase_portrait_data` (two
layers, the (w1, w2) plane) or :func:`dlnflow.portrait.reduced_portrait_data` (deeper chains,
coordinates (w1, w2) on an invariant surface), and overlay runs normalised by
:func:`dlnflow.portrait.overlay_runs`. Drawn: the flow field -grad F as streamlines, the minimum
set w1 w2 = y, the invariant hyperbolas w1^2 - w2^2 = c, the critical points coloured by class,
flow runs as lines and GD iterates as dots joined by thin lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from .style import CRITICAL_COLORS, PALETTE

CLASS_LABELS = {"global_min": "global minimum", "strict_saddle": "strict saddle",
                "non_strict_saddle": "non-strict saddle", "local_min": "local minimum",
                "max": "maximum"}
REDUCED_YLABEL = r"$w_2$  ($w_j = s_j\sqrt{w_2^2 + D_j}$, $j\geq 3$)"


def _draw_runs(ax: Axes, runs: Sequence[dict]) -> list[Line2D]:
    handles = []
    for i, run in enumerate(runs):
        color = run.get("color") or PALETTE[i % len(PALETTE)]
        w = run["w"]
        if run["kind"] == "gd":
            h, = ax.plot(w[:, 0], w[:, 1], "-", color=color, lw=0.4, alpha=0.8, zorder=4)
            ax.plot(w[:, 0], w[:, 1], "o", color=color, ms=1.8, zorder=5)
            h = Line2D([], [], color=color, marker="o", ms=2.5, lw=0.4, label=run["label"])
        else:
            h, = ax.plot(w[:, 0], w[:, 1], "-", color=color, lw=1.3, zorder=4,
                         label=run["label"])
        ax.plot(w[0, 0], w[0, 1], "s", color=color, ms=3.5, mec="k", mew=0.4, zorder=6)
        if run["label"]:
            handles.append(h)
    return handles


def _background(ax: Axes, data: dict, density: float) -> None:
    X, Y = data["X"], data["Y"]
    ax.streamplot(X, Y, data["U"], data["V"], color="0.72", linewidth=0.5, density=density,
                  arrowsize=0.6, zorder=1)
    ax.contour(X, Y, data["invariant"], levels=data["invariant_levels"], colors="0.55",
               linewidths=0.35, linestyles=":", zorder=2)
    ax.contour(X, Y, data["excess"], levels=[0.0], colors=CRITICAL_COLORS["global_min"],
               linewidths=1.6, zorder=3)


def _finish(ax: Axes, extent, handles: list, critical_classes: set[str], legend: bool,
            xlabel: str, ylabel: str) -> None:
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="box")
    if legend:
        extra = [Line2D([], [], color=CRITICAL_COLORS["global_min"], lw=1.6,
                        label=r"minima $p=y$"),
                 Line2D([], [], color="0.55", lw=0.6, ls=":", label=r"$w_1^2-w_2^2=$ const")]
        for c in sorted(critical_classes):
            extra.append(Line2D([], [], color=CRITICAL_COLORS[c], marker="o", lw=0,
                                ms=4, label=CLASS_LABELS[c]))
        ax.legend(handles=extra + handles, loc="lower left", fontsize=5.5, framealpha=0.85)


def draw_portrait(ax: Axes, data: dict, runs: Sequence[dict] = (), *, density: float = 1.0,
                  legend: bool = True, xlabel: str = r"$w_1$",
                  ylabel: str = r"$w_2$") -> Axes:
    """Draw portrait ``data`` (from ``dlnflow.portrait``) and overlay ``runs`` (dicts {"w":
    (N, >=2) weights, "kind": "flow"|"gd", "label", optional "color"}, as made by
    ``dlnflow.portrait.overlay_runs``; only w1, w2 are drawn) on ax."""
    _background(ax, data, density)
    classes = set()
    for y0, cls in data["critical_lines"]:
        ax.axhline(y0, color=CRITICAL_COLORS[cls], lw=2.0, alpha=0.8, zorder=3)
        classes.add(cls)
    for x0, y0, cls in data["critical_points"]:
        ax.plot(x0, y0, "o", color=CRITICAL_COLORS[cls], ms=6, mec="k", mew=0.5, zorder=7)
        classes.add(cls)
    handles = _draw_runs(ax, runs)
    _finish(ax, data["extent"], handles, classes, legend, xlabel, ylabel)
    return ax


def phase_portrait(ax: Axes, data: dict, runs: Sequence[dict] = (), *, density: float = 1.0,
                   legend: bool = True) -> Axes:
    """Two-layer portrait: ``data`` from ``dlnflow.portrait.phase_portrait_data``."""
    return draw_portrait(ax, data, runs, density=density, legend=legend)


def reduced_portrait(ax: Axes, data: dict, runs: Sequence[dict] = (), *, density: float = 1.0,
                     legend: bool = True) -> Axes:
    """Reduced portrait on an invariant surface: ``data`` from
    ``dlnflow.portrait.reduced_portrait_data``."""
    return draw_portrait(ax, data, runs, density=density, legend=legend, ylabel=REDUCED_YLABEL)
