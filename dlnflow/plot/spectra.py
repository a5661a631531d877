"""Singular values of the end-to-end matrix against time on a log-time axis, plateaus marked.

sigma_1(t) >= ... >= sigma_r(t) of W(t) (``Track(("singular_values",))`` or any array of shape
(T, r)) drawn as one line each; the target's singular values (where known) as dotted horizontal
lines; plateaus (intervals [start, end] of flow time, e.g. from the loss) as shaded bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from ..errors import InputError
from .style import PALETTE, time_axes


def singular_value_trajectories(ax: Axes, t: Any, values: Any, *, top: int | None = None,
                                targets: Sequence[float] | None = None,
                                plateaus: Sequence[Sequence[float]] = (),
                                color: str | None = None, label: str | None = None,
                                floor: float = 1e-12, ylog: bool = True) -> Axes:
    """Draw sigma_i(t), i = 1..``top`` (default all), against t > 0 on a log-time axis.

    ``values``: (T, r) singular values at the times ``t`` (T,); one colour per value unless
    ``color`` is given (then every value in that colour, ``label`` on the first line only);
    ``targets``: the target's singular values (dotted lines); ``plateaus``: (start, end) pairs
    shaded grey; values below ``floor`` are clipped (log axis).
    """
    t = np.asarray(t, dtype=float)
    sv = np.atleast_2d(np.asarray(values, dtype=float))
    if sv.shape[0] != t.shape[0]:
        raise InputError(f"values has {sv.shape[0]} rows, t has {t.shape[0]} times")
    k = sv.shape[1] if top is None else min(int(top), sv.shape[1])
    ok = (t > 0) & np.all(np.isfinite(sv[:, :k]), axis=1)
    for start, end in plateaus:
        ax.axvspan(max(float(start), float(t[ok].min())), float(end), color="#999999",
                   alpha=0.18, lw=0)
    if targets is not None:
        for s in list(targets)[:k]:
            ax.axhline(float(s), color="#777777", lw=0.5, ls=":")
    for i in range(k):
        col = color or PALETTE[i % len(PALETTE)]
        lab = label if (color is None or i == 0) else None
        if color is None and label is None:
            lab = rf"$\sigma_{{{i + 1}}}$"
        ax.plot(t[ok], np.maximum(sv[ok, i], floor), color=col, lw=1.1, label=lab)
    return time_axes(ax, r"singular values of $W(t)$", xlog=True, ylog=ylog)
