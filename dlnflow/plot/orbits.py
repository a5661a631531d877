"""Draw the orbit diagram of gradient descent in the step size (data: ``dlnflow.orbits``)."""

from __future__ import annotations

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
