"""Critical sets of the square-loss scalar chain F = 0.5 (w_L ... w_1 - y)^2, y != 0, listed and
classified in closed form with numpy (no JAX trace or compile): the fast path of ``dlnflow
critical --target``, equal to ``critical_sets(Problem.scalar_chain(L, y))`` to round-off.

The sets (``enumerate`` module docstring): the minimum manifold p = y, one branch per sign
pattern with prod sign = sign y (dimension L - 1), and the subspaces {w_i = 0, i in Z},
|Z| >= 2 (loss y^2 / 2, dimension L - |Z|). Derivatives, with p = prod_i w_i,
q_i = prod_(j != i) w_j and q_ij = prod_(k != i, j) w_k: grad_i F = (p - y) q_i,
H_ii = q_i^2, H_ij = q_i q_j + (p - y) q_ij (i != j); along a line
F(w + t v) = 0.5 (prod_i (w_i + t v_i) - y)^2, a polynomial of degree 2L in t.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError, check_finite, check_positive_int
from ..rates import balanced_lambda_max
from .sets import CriticalSet, plain_generators, span_basis
from .spectral import (
    Classification,
    Scale,
    apply_classification,
    chebyshev_nodes,
    classify,
    derivatives_from_values,
)


def label_of(prefix: str, idx: tuple[int, ...]) -> str:
    """A set's label: prefix then the (1-based) indices, e.g. zeros={1,3}."""
    return prefix + "{" + ",".join(str(i + 1) for i in idx) + "}"


def chain_sets(depth: int, y: float, point: Callable[[np.ndarray], Any]) -> list[CriticalSet]:
    """The critical sets of the chain (unclassified: kind empty), each at its representative
    ``point(w)`` for the weights w (``Problem.scalar_params``, or numpy layers)."""
    if y == 0.0:
        raise InputError("target must be non-zero for the enumeration (y = 0 makes p = 0 the "
                         "whole minimum set)")
    L = depth
    a = abs(y) ** (1.0 / L)
    out = []
    for signs in itertools.product((1.0, -1.0), repeat=L):
        if np.prod(signs) != np.sign(y):
            continue
        w = np.asarray(signs) * a
        name = "".join("+" if s > 0 else "-" for s in signs)
        out.append(CriticalSet(
            label=f"min[{name}]", point=point(w), loss=0.0, dimension=L - 1,
            predicted_kind="global_min", invariant={"product": y, "signs": list(signs)},
            generator="w_l -> g_l w_l / g_(l-1), g_l > 0 (branch of p = y)"))
    for k in range(L, 1, -1):
        for Z in itertools.combinations(range(L), k):
            w = np.full(L, a)
            w[list(Z)] = 0.0
            out.append(CriticalSet(
                label=label_of("zeros=", Z), point=point(w), loss=0.5 * y * y,
                dimension=L - k, predicted_kind="strict_saddle" if k == 2 else "non_strict_saddle",
                invariant={"product": 0.0, "zeros": [int(i) for i in Z]},
                generator="w_i free for i not in Z (the subspace w_Z = 0)"))
    return out


def chain_loss(w: np.ndarray, y: float) -> float:
    """F = 0.5 (p - y)^2 at the weights w."""
    return 0.5 * (float(np.prod(w)) - y) ** 2


def others_products(w: np.ndarray) -> np.ndarray:
    """q_i = prod_(j != i) w_j (prefix times suffix products: no division, exact at zeros)."""
    pre = np.concatenate(([1.0], np.cumprod(w[:-1])))
    suf = np.concatenate((np.cumprod(w[:0:-1])[::-1], [1.0]))
    return pre * suf


def chain_gradient(w: np.ndarray, y: float) -> np.ndarray:
    """grad F = (p - y) q at the weights w."""
    return (float(np.prod(w)) - y) * others_products(w)


def chain_derivatives(w: np.ndarray, y: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(Hessian, gradient, loss) of F at the weights w (module docstring)."""
    L = w.size
    p = float(np.prod(w))
    q = others_products(w)
    H = np.outer(q, q)
    for i in range(L):
        for j in range(L):
            if i != j:
                H[i, j] += (p - y) * np.prod(np.delete(w, [i, j]))
    return H, (p - y) * q, 0.5 * (p - y) ** 2


def chain_line_values(w: np.ndarray, y: float, V: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """F(w + t v) for every direction v (rows of V) and t in ts: shape (len(V), len(ts))."""
    pts = w[None, None, :] + ts[None, :, None] * V[:, None, :]
    return 0.5 * (np.prod(pts, axis=-1) - y) ** 2


def classify_chain_point(w: np.ndarray, y: float, rtol: float = 1e-7) -> Classification:
    """``classify_point`` at the chain weights w, from the closed forms (no JAX)."""
    L = w.size
    s = abs(y) if y != 0 else 1.0
    scale = Scale(depth=L, s=s, hessian_scale=balanced_lambda_max(L, s), degree=2,
                  optimal_loss=0.0)
    H, g, loss = chain_derivatives(w, y)
    layers = tuple(w[i].reshape(1, 1) for i in range(L))
    T = span_basis(plain_generators((1,) * (L + 1), layers), float(np.linalg.norm(w)))

    def derivatives(V: np.ndarray, order: int, radius: float) -> np.ndarray:
        h = chain_line_values(w, y, V, radius * chebyshev_nodes(order))
        return derivatives_from_values(h, radius)
    return classify(H, g, loss, T, scale, derivatives, rtol)


def chain_critical_sets(depth: int, y: float) -> list[CriticalSet]:
    """Classified critical sets of the chain of ``depth`` layers and target y != 0, sorted by
    loss then label, their points numpy layers of shape (1, 1)."""
    depth = check_positive_int("depth", depth)
    y = check_finite("target", y)
    sets = chain_sets(depth, y, lambda w: tuple(np.array([[x]]) for x in w))
    for cs in sets:
        w = np.array([float(W[0, 0]) for W in cs.point])
        apply_classification(cs, classify_chain_point(w, y))
    return sorted(sets, key=lambda c: (c.loss, c.label))
