"""Phase portraits of scalar chains F(w) = f(w_L ... w_1).

Two layers (:func:`phase_portrait`): the (w1, w2) plane with the flow field -grad F as
streamlines, the minimum set w1 w2 = y, the invariant hyperbolas w1^2 - w2^2 = c (conserved by
gradient flow), the critical points coloured by class, flow runs as lines and GD iterates as dots
joined by thin lines.

Deeper chains (:func:`reduced_portrait`): the flow conserves every w_i^2 - w_j^2, so the surface
S = {w_j = s_j sqrt(w2^2 + D_j), j >= 3} (D_j >= 0 fixed; w_j = s_j w2 where D_j = 0) is invariant
and (w1, w2) are exact coordinates on it: the field drawn is the true flow restricted to S. When
every D_j = 0 (w2 = |w3| = ... ) S is the set where the tail weights are equal up to sign, which GD
also preserves exactly (the tail gradients are then equal up to the same signs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ..critical import classify_point
from ..critical.classify import problem_scale
from ..errors import InputError
from ..problem import Problem
from .style import CRITICAL_COLORS, PALETTE

CLASS_LABELS = {"global_min": "global minimum", "strict_saddle": "strict saddle",
                "non_strict_saddle": "non-strict saddle", "local_min": "local minimum",
                "max": "maximum"}


# ------------------------------------------------------------------------------ slices
def tail_from_start(w0: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Offsets D_j = w_j^2 - w_2^2 and signs s_j (j = 3..L) of the invariant surface through w0.

    Needs |w_2| <= |w_j| for j >= 3 (so that w2 is free to cross zero on the surface).
    """
    w0 = np.asarray(w0, dtype=float)
    if w0.ndim != 1 or w0.size < 2:
        raise InputError(f"a start must list at least two weights, got shape {w0.shape}")
    D = w0[2:] ** 2 - w0[1] ** 2
    if np.any(D < -1e-12):
        raise InputError(f"the reduced portrait needs |w_2| <= |w_j| (j >= 3) at the start, "
                         f"got w = {w0.tolist()}")
    D = np.where(np.abs(D) <= 1e-12, 0.0, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(w0[1] != 0, w0[2:] / np.where(w0[1] != 0, w0[1], 1.0), 1.0)
    signs = np.where(D > 0, np.sign(w0[2:]), np.sign(ratio))
    signs = np.where(signs == 0, 1.0, signs)
    return D, signs


def lift(w1: Any, w2: Any, offsets: Sequence[float], signs: Sequence[float]) -> np.ndarray:
    """Full weights (..., L) of the point (w1, w2) of the surface S (offsets D_j, signs s_j)."""
    w1, w2 = np.broadcast_arrays(np.asarray(w1, float), np.asarray(w2, float))
    D = np.asarray(offsets, float)
    s = np.asarray(signs, float)
    tail = np.where(D > 0, s * np.sqrt(w2[..., None] ** 2 + D), s * w2[..., None])
    return np.concatenate([w1[..., None], w2[..., None], tail], axis=-1)


def _field(problem: Problem, W: np.ndarray) -> np.ndarray:
    """-grad F at the scalar weights W (..., L), returned as (..., L)."""
    flat = W.reshape(-1, W.shape[-1])
    grads = jax.jit(jax.vmap(lambda q: problem.grad(q)))(problem.scalar_params(flat))
    return -np.asarray(problem.scalar_weights(grads)).reshape(W.shape)


def point_class(problem: Problem, w: Sequence[float]) -> str:
    """Kind of the critical point at the scalar weights w, for colouring
    (``dlnflow.critical.classify_point``: global_min, strict_saddle, non_strict_saddle, ...);
    InputError when w is not a critical point."""
    c = classify_point(problem, problem.scalar_params(np.asarray(w, float)))
    s = problem_scale(problem)
    if c.gradient_norm > 1e-8 * s * s / s ** (1.0 / problem.depth):   # find.py's scale
        raise InputError(f"w = {list(w)} is not a critical point (|grad F| = "
                         f"{c.gradient_norm:.3g})")
    return c.kind


# ------------------------------------------------------------------------------ overlays
def _runs(trajectories: Sequence[Any]) -> list[dict]:
    """Normalise overlays to dicts {"w": (N, L) weights, "kind": "flow"|"gd", "label"}."""
    out = []
    for item in trajectories:
        if isinstance(item, dict):
            w = np.asarray(item["w"], dtype=float)
            runs = [w] if w.ndim == 2 else list(w)
            labels = item.get("label")
            labels = labels if isinstance(labels, list) else [labels] * len(runs)
            for r, lab in zip(runs, labels, strict=True):
                out.append({"w": r, "kind": item.get("kind", "flow"), "label": lab})
        elif hasattr(item, "scalar_weights") and hasattr(item, "valid"):
            W = item.scalar_weights()
            kind = "gd" if item.kind == "map" else "flow"
            for i in range(W.shape[0]):
                out.append({"w": W[i][np.asarray(item.valid[i])], "kind": kind, "label": None})
        else:
            w = np.asarray(item, dtype=float)
            out.append({"w": w, "kind": "flow", "label": None})
    return out


def _draw_runs(ax: Axes, runs: list[dict]) -> list[Line2D]:
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


def _background(ax: Axes, problem: Problem, W: np.ndarray, X: np.ndarray, Y: np.ndarray,
                invariant_levels: Sequence[float] | None, density: float) -> None:
    V = _field(problem, W)
    ax.streamplot(X, Y, V[..., 0], V[..., 1], color="0.72", linewidth=0.5, density=density,
                  arrowsize=0.6, zorder=1)
    inv = X**2 - Y**2
    if invariant_levels is None:
        hi = float(np.max(np.abs(inv)))
        invariant_levels = np.linspace(-hi, hi, 13)[1:-1]
    ax.contour(X, Y, inv, levels=np.sort(np.asarray(invariant_levels, float)), colors="0.55",
               linewidths=0.35, linestyles=":", zorder=2)
    prod = np.prod(W, axis=-1)
    y = float(problem.objective.target[0, 0])
    ax.contour(X, Y, prod - y, levels=[0.0], colors=CRITICAL_COLORS["global_min"],
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


def _check_chain(problem: Problem, depth: int | None) -> None:
    if not problem.is_scalar_chain:
        raise InputError("phase portraits need a scalar chain problem")
    if depth is not None and problem.depth != depth:
        raise InputError(f"phase_portrait draws two-layer chains, got depth {problem.depth}; "
                         "use reduced_portrait for deeper chains")


def phase_portrait(ax: Axes, problem: Problem, trajectories: Sequence[Any] = (), *,
                   extent: Sequence[float] = (-2.0, 2.0, -2.0, 2.0), grid: int = 61,
                   invariant_levels: Sequence[float] | None = None, density: float = 1.0,
                   legend: bool = True) -> Axes:
    """Phase portrait of a two-layer scalar chain in the (w1, w2) plane.

    Streamlines of -grad F, minimum set w1 w2 = y, invariant curves w1^2 - w2^2 = c, critical
    points coloured by class (the origin: strict saddle with Hessian eigenvalues +-|y|), and the
    overlays ``trajectories``: Trajectory objects, (N, 2) arrays (flow lines) or dicts
    {"w": (N, 2) or (B, N, 2), "kind": "flow"|"gd", "label": ...}.
    """
    _check_chain(problem, 2)
    x = np.linspace(extent[0], extent[1], grid)
    yy = np.linspace(extent[2], extent[3], grid)
    X, Y = np.meshgrid(x, yy)
    W = np.stack([X, Y], axis=-1)
    _background(ax, problem, W, X, Y, invariant_levels, density)
    classes = set()
    cls = point_class(problem, [0.0, 0.0])
    if cls != "global_min":
        ax.plot(0.0, 0.0, "o", color=CRITICAL_COLORS[cls], ms=6, mec="k", mew=0.5, zorder=7)
        classes.add(cls)
    handles = _draw_runs(ax, _runs(trajectories))
    _finish(ax, extent, handles, classes, legend, r"$w_1$", r"$w_2$")
    return ax


def reduced_portrait(ax: Axes, problem: Problem, trajectories: Sequence[Any] = (), *,
                     offsets: Sequence[float] | None = None, signs: Sequence[float] | None = None,
                     extent: Sequence[float] = (-2.0, 2.0, -2.0, 2.0), grid: int = 61,
                     invariant_levels: Sequence[float] | None = None, density: float = 1.0,
                     legend: bool = True) -> Axes:
    """Portrait of a depth-L scalar chain on its invariant surface S, in coordinates (w1, w2).

    S: w_j = s_j sqrt(w2^2 + D_j) for j = 3..L (``offsets`` D_j >= 0, default 0; ``signs`` s_j,
    default +1). The flow conserves w1^2 - w2^2 and the D_j, so S is invariant and its field is
    the exact restriction of -grad F. Critical points on S (two or more zero weights) are marked
    by class: the line w2 = 0 when some D_j = 0, the origin otherwise. Overlays as in
    :func:`phase_portrait`, given as full weights (only w1, w2 are drawn).
    """
    _check_chain(problem, None)
    L = problem.depth
    if L < 3:
        raise InputError(f"reduced_portrait needs depth >= 3, got {L}; use phase_portrait")
    D = np.zeros(L - 2) if offsets is None else np.asarray(offsets, float)
    s = np.ones(L - 2) if signs is None else np.asarray(signs, float)
    if D.shape != (L - 2,) or s.shape != (L - 2,) or np.any(D < 0):
        raise InputError(f"offsets must be {L - 2} numbers >= 0 and signs {L - 2} numbers, got "
                         f"{D.tolist()} and {s.tolist()}")
    x = np.linspace(extent[0], extent[1], grid)
    yy = np.linspace(extent[2], extent[3], grid)
    X, Y = np.meshgrid(x, yy)
    W = lift(X, Y, D, s)
    _background(ax, problem, W, X, Y, invariant_levels, density)
    classes = set()
    if np.any(D == 0):
        cls_line = point_class(problem, lift(0.5 * (extent[1] if extent[1] != 0 else 1),
                                                0.0, D, s))
        if cls_line != "global_min":
            ax.axhline(0.0, color=CRITICAL_COLORS[cls_line], lw=2.0, alpha=0.8, zorder=3)
            classes.add(cls_line)
    cls0 = point_class(problem, lift(0.0, 0.0, D, s))
    if cls0 != "global_min":
        ax.plot(0.0, 0.0, "o", color=CRITICAL_COLORS[cls0], ms=6, mec="k", mew=0.5, zorder=7)
        classes.add(cls0)
    handles = _draw_runs(ax, _runs(trajectories))
    _finish(ax, extent, handles, classes, legend, r"$w_1$",
            r"$w_2$  ($w_j = s_j\sqrt{w_2^2 + D_j}$, $j\geq 3$)")
    return ax
