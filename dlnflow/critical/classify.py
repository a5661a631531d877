"""Classify a critical point modulo the rescaling symmetry, with a higher-order test.

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
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import jet

from ..errors import check_problem
from ..problem import Params, Problem
from ..rates import balanced_lambda_max
from .sets import orbit_tangent


def problem_scale(problem: Problem) -> float:
    """Target scale s = largest singular value of W* (1 when unknown, zero, or residual)."""
    W = problem.optimal_product if problem.architecture.has_rescaling_symmetry else None
    s = 0.0 if W is None else float(np.linalg.norm(W, 2))
    return s if s > 0 else 1.0


def hessian_tolerance(problem: Problem, H: np.ndarray, rtol: float = 1e-7) -> float:
    """tol = rtol * max(||H||_2, L s^(2 - 2/L)): eigenvalues below it count as zero."""
    s, L = problem_scale(problem), problem.depth
    norm = float(np.max(np.abs(np.linalg.eigvalsh(H)))) if H.size else 0.0
    return rtol * max(norm, balanced_lambda_max(L, s))


@eqx.filter_jit
def _hess_grad_loss(problem: Problem, params: Params) -> tuple[jax.Array, jax.Array, jax.Array]:
    x = problem.flatten(params)
    return (jax.hessian(problem.loss_flat)(x), jax.grad(problem.loss_flat)(x),
            problem.loss_flat(x))


def hessian_grad_loss(problem: Problem, params: Params) -> tuple[np.ndarray, np.ndarray, float]:
    """(Hessian in flattened coordinates, flat gradient, loss) at ``params`` (jitted)."""
    H, g, f = _hess_grad_loss(problem, tuple(jnp.asarray(W) for W in params))
    return np.asarray(H), np.asarray(g), float(f)


def complement(basis: np.ndarray, n: int) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of span(basis) in R^n."""
    if basis.shape[1] == 0:
        return np.eye(n)
    U, _, _ = np.linalg.svd(basis, full_matrices=True)
    return U[:, basis.shape[1]:]


@eqx.filter_jit
def _taylor(problem: Problem, x: jax.Array, V: jax.Array, order: int) -> jax.Array:
    def derivs(v: jax.Array) -> jax.Array:
        h = lambda t: problem.loss_flat(x + t * v)  # noqa: E731
        series = [jnp.ones(())] + [jnp.zeros(())] * (order - 1)
        _, out = jet.jet(h, (jnp.zeros(()),), (series,))
        return jnp.stack(out)
    return jax.vmap(derivs)(V)


@eqx.filter_jit
def _line_values(problem: Problem, x: jax.Array, V: jax.Array, ts: jax.Array) -> jax.Array:
    pts = x[None, None, :] + ts[None, :, None] * V[:, None, :]
    return jax.vmap(jax.vmap(problem.loss_flat))(pts)


def directional_derivatives(problem: Problem, params: Params, directions: np.ndarray,
                            order: int, radius: float = 1.0) -> np.ndarray:
    """h_v^(k)(0) for h_v(t) = F(x + t v), k = 1..order, one row per direction v (rows).

    Polynomial losses (degree <= order along a line): exact interpolation at order + 1
    Chebyshev nodes in [-radius, radius]; other losses: Taylor mode (jax.experimental.jet).
    """
    x = problem.flatten(params)
    V = jnp.asarray(directions)
    if problem.objective.degree is None:
        return np.asarray(_taylor(problem, x, V, order))
    m = order + 1
    u = np.cos(np.pi * (np.arange(m) + 0.5) / m)
    h = np.asarray(_line_values(problem, x, V, jnp.asarray(radius * u)))
    coef = np.linalg.solve(np.vander(u, m, increasing=True), h.T).T   # h = sum c_k u^k
    from math import factorial
    k = np.arange(1, m)
    return coef[:, 1:] * np.array([factorial(j) for j in k]) / radius ** k


def higher_order_test(problem: Problem, params: Params, null_basis: np.ndarray,
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
    L = problem.depth
    max_order = (problem.objective.degree or 2) * L
    max_order = max(max_order, 3)
    s = problem_scale(problem)
    a = s ** (1.0 / L)
    D = directional_derivatives(problem, params, V, max_order, radius=a)
    from math import factorial
    scale = np.array([a ** j / factorial(j) for j in range(1, max_order + 1)])
    rel = np.abs(D) * scale[None, :] / (s ** 2)
    for q in range(3, max_order + 1):
        nz = rel[:, q - 1] > rtol
        if np.any(nz):
            d = D[nz, q - 1]
            Vq = V[nz]
            if q % 2 == 1:
                esc = Vq * -np.sign(d)[:, None]
                return q, True, esc
            neg = d < 0
            return q, bool(np.any(neg)), Vq[neg]
    return None, False, np.zeros((0, V.shape[1]))


@dataclasses.dataclass
class Classification:
    """Result of :func:`classify_point` (see the module docstring for the definitions)."""

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


def classify_point(problem: Problem, params: Params, tangent: np.ndarray | None = None,
                   optimal_loss: float | None = None, rtol: float = 1e-7,
                   loss_rtol: float = 1e-6) -> Classification:
    """Classify the critical point ``params`` of F modulo the family tangent ``tangent``.

    ``tangent`` defaults to the rescaling-orbit tangent (:func:`orbit_tangent`). A minimum is
    global when F(x) <= F* + loss_rtol s^2 (F* = ``optimal_loss`` or problem.optimal_loss).
    """
    check_problem("problem", problem)
    params = tuple(jnp.asarray(W) for W in params)
    H, g, loss = hessian_grad_loss(problem, params)
    H = 0.5 * (H + H.T)
    n = H.shape[0]
    eig = np.linalg.eigvalsh(H)
    tol = hessian_tolerance(problem, H, rtol)
    T = orbit_tangent(problem, params) if tangent is None else tangent
    Q = complement(T, n)
    Hn = Q.T @ H @ Q
    ne, nv = np.linalg.eigh(Hn)
    index = int(np.sum(ne < -tol))
    pos = int(np.sum(ne > tol))
    normal_null = int(ne.size - index - pos)
    nullity = int(np.sum(np.abs(eig) <= tol))
    gnorm = float(np.linalg.norm(g))
    fstar = problem.optimal_loss if optimal_loss is None else optimal_loss
    s = problem_scale(problem)
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
        q, descends, esc = higher_order_test(problem, params, null_basis, rtol=rtol)
        if descends:
            kind, order = "non_strict_saddle", q
        else:
            kind, order, esc = min_kind, None, np.zeros((0, n))
    return Classification(kind=kind, index=index, nullity=nullity, normal_nullity=normal_null,
                          escape_order=order, hessian_eigenvalues=eig, normal_eigenvalues=ne,
                          escape_directions=esc, tangent_dimension=int(T.shape[1]),
                          tolerance=tol, gradient_norm=gnorm)


def apply_classification(cset: Any, c: Classification) -> Any:
    """Copy a Classification's fields onto a CriticalSet (returns it)."""
    cset.kind, cset.index, cset.nullity = c.kind, c.index, c.nullity
    cset.normal_nullity, cset.escape_order = c.normal_nullity, c.escape_order
    cset.hessian_eigenvalues, cset.normal_eigenvalues = c.hessian_eigenvalues, c.normal_eigenvalues
    cset.escape_directions, cset.tolerance = c.escape_directions, c.tolerance
    return cset
