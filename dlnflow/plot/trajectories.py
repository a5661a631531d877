"""Loss against time for gradient flow and gradient descent on one axis (t = k eta), log scale.

Flow runs are solid lines; GD runs are dashed lines with sparse markers at their iterates, so
flow time t and GD iteration k are compared at t = k eta (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from .style import PALETTE, time_axes


def _as_runs(runs: Sequence[Any]) -> list[dict]:
    out = []
    for r in runs:
        if isinstance(r, dict):
            out.append(r)
            continue
        # a Trajectory: one entry per run, excess loss over valid records
        fstar = float(r.problem.optimal_loss or 0.0)
        for i in range(r.batch_size):
            ok = np.asarray(r.valid[i])
            out.append({"t": r.t[i][ok], "loss": r.loss[i][ok] - fstar,
                        "kind": "gd" if r.kind == "map" else "flow", "label": None})
    return out


def loss_curves(ax: Axes, runs: Sequence[Any], floor: float = 1e-30,
                xlog: bool = False) -> Axes:
    """Plot excess loss against t for ``runs``: Trajectory objects or dicts {"t", "loss",
    "kind": "flow"|"gd", "label", "color"}; values below ``floor`` are clipped (log axis)."""
    for i, run in enumerate(_as_runs(runs)):
        t = np.asarray(run["t"], dtype=float)
        loss = np.asarray(run["loss"], dtype=float)
        ok = np.isfinite(t) & np.isfinite(loss)
        t, loss = t[ok], np.maximum(loss[ok], floor)
        color = run.get("color") or PALETTE[i % len(PALETTE)]
        if run.get("kind", "flow") == "gd":
            every = max(1, len(t) // 25)
            ax.plot(t, loss, "--", color=color, lw=0.9, marker="o", ms=2, markevery=every,
                    label=run.get("label"))
        else:
            ax.plot(t, loss, "-", color=color, lw=1.3, label=run.get("label"))
    return time_axes(ax, r"excess loss $F - F^*$", xlog=xlog, ylog=True)


def plateau_losses(ax: Axes, runs: Sequence[dict], labels: Sequence[str],
                   levels: Sequence[float], bottom: float) -> Axes:
    """Loss curves (log scale) of ``runs`` (dicts with t, loss and detected plateaus, each with
    start, end, loss) with their plateaus as thick translucent bars, and the predicted plateau
    ``levels`` as dotted lines; the y axis starts at ``bottom``."""
    for i, (r, label) in enumerate(zip(runs, labels, strict=True)):
        col = PALETTE[i % len(PALETTE)]
        ax.semilogy(np.asarray(r["t"], float), np.asarray(r["loss"], float), color=col, lw=1.0,
                    label=label)
        for p in r["plateaus"]:
            ax.plot([p["start"], p["end"]], [p["loss"]] * 2, color=col, lw=3, alpha=0.35)
    for lev in levels:
        ax.axhline(lev, color="#999999", lw=0.5, ls=":")
    ax.set_ylim(bottom=bottom)
    ax.set_xlabel("t")
    ax.set_ylabel("loss")
    return ax
