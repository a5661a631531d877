"""Data for phase portraits of scalar chains F(w) = f(w_L ... w_1): grids of the vector field,
invariants and minimum set, critical points with their class, overlay runs.

Two layers (:func:`phase_portrait_data`): the (w1, w2) plane with the flow field -grad F, the
minimum set w1 w2 = y, the invariant hyperbolas w1^2 - w2^2 = c (conserved by gradient flow) and
the critical points off the minimum set, with their class.

Deeper chains (:func:`reduced_portrait_data`): the flow conserves every w_i^2 - w_j^2, so the
surface S = {w_j = s_j sqrt(w2^2 + D_j), j >= 3} (D_j >= 0 fixed; w_j = s_j w2 where D_j = 0) is
invariant and (w1, w2) are exact coordinates on it: the field is the true flow restricted to S.
When every D_j = 0 (w2 = |w3| = ... ) S is the set where the tail weights are equal up to sign,
which GD also preserves exactly (the tail gradients are then equal up to the same signs).

``dlnflow.plot.portrait`` draws what these functions return.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import jax
import numpy as np
from numpy.typing import ArrayLike

from .critical import classify_point
from .critical.classify import problem_scale
from .errors import InputError
from .losses import SquareTarget
from .problem import Problem


# ------------------------------------------------------------------------------ slices
def tail_from_start(w0: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Offsets D_j = w_j^2 - w_2^2 and signs s_j (j = 3..L) of the invariant surface through w0.

    Needs |w_2| <= |w_j| for j >= 3 (so that w2 is free to cross zero on the surface).
    """
    w = np.asarray(w0, dtype=float)
    if w.ndim != 1 or w.size < 2:
        raise InputError(f"a start must list at least two weights, got shape {w.shape}")
    D = w[2:] ** 2 - w[1] ** 2
    if np.any(D < -1e-12):
        raise InputError(f"the reduced portrait needs |w_2| <= |w_j| (j >= 3) at the start, "
                         f"got w = {w.tolist()}")
    D = np.where(np.abs(D) <= 1e-12, 0.0, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(w[1] != 0, w[2:] / np.where(w[1] != 0, w[1], 1.0), 1.0)
    signs = np.where(D > 0, np.sign(w[2:]), np.sign(ratio))
    signs = np.where(signs == 0, 1.0, signs)
    return D, signs


def lift(w1: Any, w2: Any, offsets: ArrayLike, signs: ArrayLike) -> np.ndarray:
    """Full weights (..., L) of the point (w1, w2) of the surface S (offsets D_j, signs s_j)."""
    w1, w2 = np.broadcast_arrays(np.asarray(w1, float), np.asarray(w2, float))
    D = np.asarray(offsets, float)
    s = np.asarray(signs, float)
    tail = np.where(D > 0, s * np.sqrt(w2[..., None] ** 2 + D), s * w2[..., None])
    return np.concatenate([w1[..., None], w2[..., None], tail], axis=-1)


def field(problem: Problem, W: np.ndarray) -> np.ndarray:
    """-grad F at the scalar weights W (..., L), returned as (..., L)."""
    flat = W.reshape(-1, W.shape[-1])
    grads = jax.jit(jax.vmap(lambda q: problem.grad(q)))(problem.scalar_params(flat))
    return -np.asarray(problem.scalar_weights(grads)).reshape(W.shape)


def point_class(problem: Problem, w: ArrayLike) -> str:
    """Kind of the critical point at the scalar weights w, for colouring
    (``dlnflow.critical.classify_point``: global_min, strict_saddle, non_strict_saddle, ...);
    InputError when w is not a critical point."""
    weights = np.asarray(w, float)
    c = classify_point(problem, problem.scalar_params(weights))
    s = problem_scale(problem)
    if c.gradient_norm > 1e-8 * s * s / s ** (1.0 / problem.depth):   # find.py's scale
        raise InputError(f"w = {weights.tolist()} is not a critical point (|grad F| = "
                         f"{c.gradient_norm:.3g})")
    return c.kind


# ------------------------------------------------------------------------------ overlays
def overlay_runs(trajectories: Sequence[Any]) -> list[dict]:
    """Normalise overlays to dicts {"w": (N, L) weights, "kind": "flow"|"gd", "label"}.

    Accepts Trajectory objects (valid records only; maps become "gd"), (N, L) arrays (flow
    lines) and dicts {"w": (N, L) or (B, N, L), "kind": ..., "label": str or list}.
    """
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


# ------------------------------------------------------------------------------ grids
def _check_chain(problem: Problem, depth: int | None) -> None:
    if not problem.is_scalar_chain:
        raise InputError("phase portraits need a scalar chain problem")
    if depth is not None and problem.depth != depth:
        raise InputError(f"phase_portrait draws two-layer chains, got depth {problem.depth}; "
                         "use reduced_portrait for deeper chains")


def _grids(problem: Problem, W: np.ndarray, X: np.ndarray, Y: np.ndarray, extent,
           invariant_levels: ArrayLike | None) -> dict:
    V = field(problem, W)
    inv = X**2 - Y**2
    if invariant_levels is None:
        hi = float(np.max(np.abs(inv)))
        invariant_levels = np.linspace(-hi, hi, 13)[1:-1]
    prod = np.prod(W, axis=-1)
    y = float(cast(SquareTarget, problem.objective).target[0, 0])
    return {"extent": tuple(extent), "X": X, "Y": Y, "U": V[..., 0], "V": V[..., 1],
            "invariant": inv,
            "invariant_levels": np.sort(np.asarray(invariant_levels, float)),
            "excess": prod - y, "critical_lines": [], "critical_points": []}


def _mesh(extent, grid: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(extent[0], extent[1], grid)
    yy = np.linspace(extent[2], extent[3], grid)
    return np.meshgrid(x, yy)


def phase_portrait_data(problem: Problem, *,
                        extent: Sequence[float] = (-2.0, 2.0, -2.0, 2.0), grid: int = 61,
                        invariant_levels: Sequence[float] | None = None) -> dict:
    """Portrait data of a two-layer scalar chain in the (w1, w2) plane.

    Returns {"extent", "X", "Y" (grid), "U", "V" (-grad F), "invariant" (w1^2 - w2^2),
    "invariant_levels", "excess" (w1 w2 - y), "critical_lines" [(w2, class)],
    "critical_points" [(w1, w2, class)]}; critical points on the minimum set are left out (the
    origin: strict saddle with Hessian eigenvalues +-|y|).
    """
    _check_chain(problem, 2)
    X, Y = _mesh(extent, grid)
    W = np.stack([X, Y], axis=-1)
    data = _grids(problem, W, X, Y, extent, invariant_levels)
    cls = point_class(problem, [0.0, 0.0])
    if cls != "global_min":
        data["critical_points"].append((0.0, 0.0, cls))
    return data


def reduced_portrait_data(problem: Problem, *, offsets: Sequence[float] | None = None,
                          signs: Sequence[float] | None = None,
                          extent: Sequence[float] = (-2.0, 2.0, -2.0, 2.0), grid: int = 61,
                          invariant_levels: Sequence[float] | None = None) -> dict:
    """Portrait data of a depth-L scalar chain on its invariant surface S, coordinates (w1, w2).

    S: w_j = s_j sqrt(w2^2 + D_j) for j = 3..L (``offsets`` D_j >= 0, default 0; ``signs`` s_j,
    default +1). The flow conserves w1^2 - w2^2 and the D_j, so S is invariant and its field is
    the exact restriction of -grad F. Critical points on S (two or more zero weights) come with
    their class: the line w2 = 0 when some D_j = 0, the origin otherwise. Keys as in
    :func:`phase_portrait_data`.
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
    X, Y = _mesh(extent, grid)
    W = lift(X, Y, D, s)
    data = _grids(problem, W, X, Y, extent, invariant_levels)
    if np.any(D == 0):
        cls_line = point_class(problem, lift(0.5 * (extent[1] if extent[1] != 0 else 1),
                                                0.0, D, s))
        if cls_line != "global_min":
            data["critical_lines"].append((0.0, cls_line))
    cls0 = point_class(problem, lift(0.0, 0.0, D, s))
    if cls0 != "global_min":
        data["critical_points"].append((0.0, 0.0, cls0))
    return data
