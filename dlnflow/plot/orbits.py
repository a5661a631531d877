"""Draw the orbit diagram of gradient descent in the step size (data: ``dlnflow.orbits``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from ..errors import InputError
from .style import PALETTE


def plot_orbit_diagram(ax: Axes, data: dict[str, Any], quantity: str = "p",
                       threshold: float | None = None, color: str | None = None,
                       label: str | None = None) -> Axes:
    """Scatter of the values of a ``dlnflow.orbits.orbit_diagram`` result (``quantity`` "p" or
    "loss") against eta; a dashed line at ``threshold`` (e.g. 2 / lambda_max of the minimum
    reached)."""
    if quantity not in ("p", "loss"):
        raise InputError(f"quantity must be 'p' or 'loss', got {quantity!r}")
    eta = np.asarray(data["eta"], dtype=float)
    vals = np.asarray(data[quantity], dtype=float)
    E, K = vals.shape
    X = np.repeat(eta, K)
    Y = vals.ravel()
    ok = np.isfinite(Y)
    ax.plot(X[ok], Y[ok], ",", color=color or PALETTE[0], alpha=0.9, rasterized=True)
    ax.plot([], [], "s", ms=3, color=color or PALETTE[0], label=label)
    if threshold is not None:
        ax.axvline(threshold, color=PALETTE[1], ls="--", lw=0.8,
                   label=rf"$2/\lambda_{{\max}} = {threshold:.4g}$")
    div = np.asarray(data["diverged"], bool)
    if np.any(div):
        ax.axvspan(eta[np.argmax(div)], eta[-1], color="0.9", zorder=0, label="diverges")
    ax.set_xlabel(r"step size $\eta$")
    ax.set_ylabel(r"product $p = w_L\cdots w_1$" if quantity == "p" else "loss")
    if quantity == "loss":
        ax.set_yscale("log")
    ax.set_xlim(eta[0], eta[-1])
    return ax


def plot_branches(ax: Axes, branches: list[dict[str, Any]],
                  points: Sequence[dict[str, Any]] = (),
                  color: str = "0.1") -> Axes:
    """Continued branches over an orbit diagram: for each branch (``eta`` (N,), ``p`` (N,
    period) values of its orbit points, ``stable`` (N,)) one line per orbit point, solid where
    stable and dashed where not; ``points`` (``eta``, ``p`` (period,), ``kind``) as markers
    (period doubling: open circle, fold: open triangle)."""
    for b in branches:
        eta = np.asarray(b["eta"], float)
        vals = np.asarray(b["p"], float).reshape(len(eta), -1)
        stable = np.asarray(b["stable"], bool)
        for lo, hi, ok in _runs(stable):
            seg = slice(lo, min(hi + 1, len(eta)))   # overlap one point: no gaps
            ax.plot(eta[seg], vals[seg], color=color, lw=0.8, ls="-" if ok else (0, (3, 2)))
    marks = {"period_doubling": "o", "fold": "^"}
    for q in points:
        v = np.asarray(q["p"], float).ravel()
        ax.plot(np.full(v.size, float(q["eta"])), v, marks.get(q["kind"], "s"), ms=3.5,
                mfc="white", mec=color, mew=0.8, zorder=5)
    ax.plot([], [], color=color, lw=0.8, label="stable branch")
    ax.plot([], [], color=color, lw=0.8, ls=(0, (3, 2)), label="unstable branch")
    if any(q["kind"] == "period_doubling" for q in points):
        ax.plot([], [], "o", ms=3.5, mfc="white", mec=color, mew=0.8, label="period doubling")
    if any(q["kind"] == "fold" for q in points):
        ax.plot([], [], "^", ms=3.5, mfc="white", mec=color, mew=0.8, label="fold")
    return ax


def _runs(flags: np.ndarray) -> list[tuple[int, int, bool]]:
    """Maximal runs [lo, hi) of equal values of a boolean array."""
    out, lo = [], 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[lo]:
            out.append((lo, i, bool(flags[lo])))
            lo = i
    return out
