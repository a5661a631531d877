"""Classify a critical point from its numbers alone (numpy): Hessian, gradient, loss, the
family's tangent basis and derivatives of F along lines. ``classify.classify_point`` feeds it
JAX autodiff values for any problem; ``chain`` feeds it the closed forms of a scalar chain.

Let T be the tangent space of the family (orbit of the GL(d_l) rescalings) and Q an orthonormal
basis of its orthogonal complement. T is invariant under the Hessian H (H T = 0 on a critical
family), so the spectrum of H splits into 0 on T and the spectrum of Q^T H Q (the *normal*
Hessian). Index = number of normal eigenvalues < -tol; where the normal Hessian is singular the
class is settled along its null directions v by h(t) = F(x + t v): the order q of the first
non-zero derivative h^(q)(0) and its sign pattern (odd q or both signs: a saddle of escape
order q). Tolerances scale with the problem: tol = rtol * max(||H||_2, L s^(2 - 2/L)), s the
largest singular value of the optimal end-to-end matrix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from math import factorial
from typing import Any

import numpy as np

Derivatives = Callable[[np.ndarray, int, float], np.ndarray]
"""(directions V as rows, order, radius) -> h_v^(k)(0) for k = 1..order, one row per v."""


@dataclasses.dataclass
class Classification:
    """Result of :func:`classify` (see the module docstring for the definitions)."""

    kind: str
    index: int
    nullity: int
    normal_nullity: int
    escape_order: int | None
    hessian_eigenvalues: np.ndarray
    normal_eigenvalues: np.ndarray
    escape_directions: np.ndarray   # rows, flattened coordinates
    tangent_dimension: int
    tolerance: float
    gradient_norm: float


@dataclasses.dataclass(frozen=True)
class Scale:
    """What the tolerances of a problem scale with: depth L, target scale s (largest singular
    value of W*), the Hessian scale L s^(2 - 2/L) at the balanced minimum, the loss's
    polynomial degree (None: not a polynomial) and F* (None: unknown)."""

    depth: int
    s: float
    hessian_scale: float
    degree: int | None
    optimal_loss: float | None


def tolerance(H: np.ndarray, scale: Scale, rtol: float = 1e-7) -> float:
    """tol = rtol * max(||H||_2, L s^(2 - 2/L)): eigenvalues below it count as zero."""
    norm = float(np.max(np.abs(np.linalg.eigvalsh(H)))) if H.size else 0.0
    return rtol * max(norm, scale.hessian_scale)


def complement(basis: np.ndarray, n: int) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of span(basis) in R^n."""
    if basis.shape[1] == 0:
        return np.eye(n)
    U, _, _ = np.linalg.svd(basis, full_matrices=True)
    return U[:, basis.shape[1]:]


def chebyshev_nodes(order: int) -> np.ndarray:
    """The order + 1 Chebyshev nodes in [-1, 1] at which line values are interpolated."""
    m = order + 1
    return np.cos(np.pi * (np.arange(m) + 0.5) / m)


def derivatives_from_values(h: np.ndarray, radius: float) -> np.ndarray:
    """h_v^(k)(0), k = 1..m-1, from a polynomial's values h (rows: directions) at
    ``radius`` * chebyshev_nodes(m - 1) (exact interpolation)."""
    m = h.shape[1]
    u = chebyshev_nodes(m - 1)
    coef = np.linalg.solve(np.vander(u, m, increasing=True), h.T).T   # h = sum c_k u^k
    k = np.arange(1, m)
    return coef[:, 1:] * np.array([factorial(j) for j in k]) / radius ** k


def escape_test(derivatives: Derivatives, null_basis: np.ndarray, scale: Scale,
                n_directions: int = 64, seed: int = 0, rtol: float = 1e-7
                ) -> tuple[int | None, bool, np.ndarray]:
    """Order q of the first non-zero derivative of F along the null directions, and its sign.

    Samples unit directions v in span(null_basis): basis vectors (at most half of them), then
    random combinations, which move every layer at once (at W = 0 a basis vector changes one
    layer and leaves the product, hence F, unchanged: only joint moves see the order-L descent);
    q = least k >= 3 with |h_v^(k)(0)| a^k / k! > rtol s^2 for some v (a = s^(1/L) the weight
    scale). Returns (q or None when F is flat to order max_order, descends, escape directions):
    descends is True when some v has h_v^(q)(0) < 0 or q is odd (then -v descends).
    """
    k = null_basis.shape[1]
    rng = np.random.default_rng(seed)
    coeffs = rng.standard_normal((n_directions, k))   # a fixed count: one compile per shape
    n_basis = min(k, n_directions // 2)   # at least half random: with many null directions
    coeffs[:n_basis] = np.eye(k)[:n_basis]   # basis vectors alone move one layer at a time
    V = coeffs @ null_basis.T
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    L, s = scale.depth, scale.s
    max_order = max((scale.degree or 2) * L, 3)
    a = s ** (1.0 / L)
    D = derivatives(V, max_order, a)
    weights = np.array([a ** j / factorial(j) for j in range(1, max_order + 1)])
    rel = np.abs(D) * weights[None, :] / (s ** 2)
    for q in range(3, max_order + 1):
        nz = rel[:, q - 1] > rtol
        if np.any(nz):
            d = D[nz, q - 1]
            Vq = V[nz]
            if q % 2 == 1:
                return q, True, Vq * -np.sign(d)[:, None]
            neg = d < 0
            return q, bool(np.any(neg)), Vq[neg]
    return None, False, np.zeros((0, V.shape[1]))


def classify(H: np.ndarray, g: np.ndarray, loss: float, T: np.ndarray, scale: Scale,
             derivatives: Derivatives, rtol: float = 1e-7,
             loss_rtol: float = 1e-6) -> Classification:
    """Classify a critical point with Hessian H, gradient g, loss F(x) and family tangent
    basis T (columns); ``derivatives`` settles singular normal Hessians (:func:`escape_test`).
    A minimum is global when F(x) <= F* + loss_rtol s^2 (or F* is unknown)."""
    H = 0.5 * (H + H.T)
    n = H.shape[0]
    eig = np.linalg.eigvalsh(H)
    tol = tolerance(H, scale, rtol)
    Q = complement(T, n)
    Hn = Q.T @ H @ Q
    ne, nv = np.linalg.eigh(Hn)
    index = int(np.sum(ne < -tol))
    pos = int(np.sum(ne > tol))
    normal_null = int(ne.size - index - pos)
    nullity = int(np.sum(np.abs(eig) <= tol))
    fstar, s = scale.optimal_loss, scale.s
    is_global = fstar is None or loss <= fstar + loss_rtol * s ** 2
    min_kind = "global_min" if is_global else "local_min"
    if index > 0:
        kind = "max" if pos == 0 and normal_null == 0 else "strict_saddle"
        order: int | None = 2
        esc = (Q @ nv[:, ne < -tol]).T
    elif normal_null == 0:
        kind, order, esc = min_kind, None, np.zeros((0, n))
    else:
        null_basis = Q @ nv[:, np.abs(ne) <= tol]
        q, descends, esc = escape_test(derivatives, null_basis, scale, rtol=rtol)
        if descends:
            kind, order = "non_strict_saddle", q
        else:
            kind, order, esc = min_kind, None, np.zeros((0, n))
    return Classification(kind=kind, index=index, nullity=nullity, normal_nullity=normal_null,
                          escape_order=order, hessian_eigenvalues=eig, normal_eigenvalues=ne,
                          escape_directions=esc, tangent_dimension=int(T.shape[1]),
                          tolerance=tol, gradient_norm=float(np.linalg.norm(g)))


def apply_classification(cset: Any, c: Classification) -> Any:
    """Copy a Classification's fields onto a CriticalSet (returns it)."""
    cset.kind, cset.index, cset.nullity = c.kind, c.index, c.nullity
    cset.normal_nullity, cset.escape_order = c.normal_nullity, c.escape_order
    cset.hessian_eigenvalues, cset.normal_eigenvalues = c.hessian_eigenvalues, c.normal_eigenvalues
    cset.escape_directions, cset.tolerance = c.escape_directions, c.tolerance
    return cset
