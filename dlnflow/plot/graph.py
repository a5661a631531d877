"""Draw a connection graph of critical sets (``dlnflow.critical.connection_graph``) by loss.

Layout: height = loss; columns by family dimension (the dimension of the critical set, which
grows along the flow: the saddle at the origin left, the minima right). Inside a column the
nodes lie on an arc bulging to the right (x grows with the distance from the column's extreme
losses), so no straight edge between two nodes of a column passes through a third; nodes of
equal loss sit side by side. Labels go above and to the right of their node (edges mostly
arrive from the upper left and leave to the lower right).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from .style import CRITICAL_COLORS

ARC = 0.35       # horizontal bulge of a column's arc (columns are 1 apart)
ROW = 0.3        # horizontal spacing of equal-loss nodes


def layout_by_loss(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Positions (x, y): y = loss, x = column of the family dimension plus the arc offset and
    the spread of equal-loss nodes (module docstring)."""
    nodes = sorted(graph.nodes(data=True), key=lambda nd: (float(nd[1]["loss"]), str(nd[0])))
    dims = sorted({int(d.get("dimension", 0)) for _, d in nodes})
    column = {dim: i for i, dim in enumerate(dims)}
    pos: dict[str, tuple[float, float]] = {}
    for dim in dims:
        members = [(n, float(d["loss"])) for n, d in nodes if int(d.get("dimension", 0)) == dim]
        levels: dict[float, list[str]] = {}
        for n, loss in members:
            levels.setdefault(round(loss, 9), []).append(n)
        lo, hi = min(levels), max(levels)
        for loss, names in levels.items():
            u = 0.0 if hi == lo else 2.0 * (loss - lo) / (hi - lo) - 1.0      # in [-1, 1]
            x0 = column[dim] + ARC * (1.0 - u * u)
            k = len(names)
            for i, n in enumerate(names):
                pos[n] = (x0 + ROW * (i - 0.5 * (k - 1)), loss)
    return pos


def draw_connection_graph(ax: Any, graph: nx.DiGraph, labels: bool = True) -> None:
    """Draw ``graph`` on ``ax``: nodes at height = loss, coloured by kind, arrows = flow."""
    pos = layout_by_loss(graph)
    colors = [CRITICAL_COLORS.get(d["kind"], "#999999") for _, d in graph.nodes(data=True)]
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, arrowsize=8, width=0.8,
                           edge_color="#555555", node_size=60)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colors, node_size=60)
    if labels:
        for n, (x, y) in pos.items():
            ax.annotate(str(n), (x, y), xytext=(3, 3), textcoords="offset points",
                        fontsize=5, ha="left", va="bottom", zorder=5,
                        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                              "alpha": 0.7})
    xs = np.array([p[0] for p in pos.values()] or [0.0])
    ys = np.array([p[1] for p in pos.values()] or [0.0])
    span = max(float(ys.max() - ys.min()), 1e-12)
    ax.set_xlim(xs.min() - 0.3, xs.max() + 0.8)
    ax.set_ylim(ys.min() - 0.08 * span, ys.max() + 0.12 * span)
    ax.set_xticks([])
    ax.set_xlabel(r"family dimension $\rightarrow$")
    ax.set_ylabel("loss")
    ax.tick_params(left=True, labelleft=True)
    ax.set_axis_on()
    for kind, col in CRITICAL_COLORS.items():
        if any(d["kind"] == kind for _, d in graph.nodes(data=True)):
            ax.plot([], [], "o", color=col, label=kind.replace("_", " "))
    ax.legend(loc="upper right", frameon=False)
