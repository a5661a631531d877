"""CriticalSet: one family of critical points, its invariants and the symmetry that generates it.

For a plain network W = W_L ... W_1 the loss is invariant under the rescalings
(W_l, W_(l+1)) -> (G W_l, W_(l+1) G^-1), G in GL(d_l), l = 1..L-1. Their tangent vectors at a
point are dW_l = A W_l, dW_(l+1) = -W_(l+1) A (A any d_l x d_l matrix): :func:`orbit_tangent`.
With A antisymmetric (G orthogonal) the same directions are the symmetries of gradient descent.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:           # the problem modules load equinox: not needed by numpy callers
    from ..architecture import ParamsLike
    from ..problem import Params, Problem


def orbit_generators(problem: Problem, params: ParamsLike, orthogonal: bool = False) -> np.ndarray:
    """The generators' images at ``params`` as columns (n, m), in a fixed order of (l, A):
    dW_l = A W_l, dW_(l+1) = -W_(l+1) A for A = E_ij (or E_ij - E_ji when ``orthogonal``) in
    gl(d_l); none for residual forms."""
    if not problem.architecture.has_rescaling_symmetry:
        return np.zeros((problem.num_params, 0))
    return plain_generators(problem.widths, params, orthogonal)


def plain_generators(widths: tuple[int, ...], params: ParamsLike,
                     orthogonal: bool = False) -> np.ndarray:
    """:func:`orbit_generators` of a plain network of widths (d_0, ..., d_L)."""
    shapes = [(widths[l + 1], widths[l]) for l in range(len(widths) - 1)]
    n = sum(a * b for a, b in shapes)
    if len(shapes) < 2:
        return np.zeros((n, 0))
    cols = []
    for l in range(1, len(shapes)):  # hidden layer l sits between W_l (index l-1) and W_(l+1)
        d = widths[l]
        for i in range(d):
            for j in range(d):
                if orthogonal and j <= i:
                    continue
                A = np.zeros((d, d))
                A[i, j] = 1.0
                if orthogonal:
                    A[j, i] = -1.0
                dW = [np.zeros(s) for s in shapes]
                dW[l - 1] = A @ np.asarray(params[l - 1])
                dW[l] = -np.asarray(params[l]) @ A
                cols.append(np.concatenate([m.ravel() for m in dW]))
    return np.stack(cols, axis=1) if cols else np.zeros((n, 0))


def orbit_tangent(problem: Problem, params: Params, orthogonal: bool = False,
                  rtol: float = 1e-9) -> np.ndarray:
    """Orthonormal basis (columns) of the tangent space of the rescaling orbit at ``params``
    (the span of :func:`orbit_generators`); residual forms have no such symmetry (empty)."""
    M = orbit_generators(problem, params, orthogonal)
    return span_basis(M, float(np.linalg.norm(problem.flatten(params))), rtol)


def span_basis(M: np.ndarray, norm: float, rtol: float = 1e-9) -> np.ndarray:
    """Orthonormal basis of the column span of the generators M at a point of norm ``norm``:
    singular directions above rtol * max(s_1, norm, 1)."""
    if M.shape[1] == 0:
        return np.zeros((M.shape[0], 0))
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    if s.size == 0 or s[0] == 0.0:
        return np.zeros((M.shape[0], 0))
    scale = max(s[0], norm, 1.0)
    return U[:, s > rtol * scale]


def act(params: Params, gs: list[Any]) -> Params:
    """Apply the rescaling: W_l -> G_l W_l G_(l-1)^-1 (G_0 = G_L = I), G_l invertible."""
    out = []
    L = len(params)
    for l in range(L):
        W = jnp.asarray(params[l])
        if l < L - 1:
            W = jnp.asarray(gs[l]) @ W
        if l > 0:
            W = W @ jnp.linalg.inv(jnp.asarray(gs[l - 1]))
        out.append(W)
    return tuple(out)


@dataclasses.dataclass
class CriticalSet:
    """A family of critical points: representative point, loss, dimension, class.

    ``label`` names the set (e.g. ``S={1,2}`` or ``zeros={1,2}``); ``invariant`` holds what is
    constant on the family (end-to-end matrix, zero set, sign pattern); ``kind`` is one of
    global_min, local_min, strict_saddle, non_strict_saddle, max; ``index`` counts descent
    directions, ``nullity`` is the dimension of ker H at the point, ``normal_nullity`` the part
    of it left after removing the family's tangent space, ``escape_order`` the order of the first
    non-zero derivative of F along an escape direction (2 for strict saddles, None at minima).
    """

    label: str
    point: Params
    loss: float
    dimension: int
    kind: str = ""
    predicted_kind: str = ""
    index: int = 0
    nullity: int = 0
    normal_nullity: int = 0
    escape_order: int | None = None
    hessian_eigenvalues: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    normal_eigenvalues: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    invariant: dict[str, Any] = dataclasses.field(default_factory=dict)
    escape_directions: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    generator: str = "W_l -> G_l W_l G_(l-1)^-1, G_l in GL+(d_l)"
    tolerance: float = 0.0
    predicted: bool = True

    def generate(self, gs: list[Any]) -> Params:
        """Another point of the family: the rescaling by invertible G_1, ..., G_(L-1)."""
        return act(self.point, gs)

    def sample(self, key: Any, scale: float = 0.3) -> Params:
        """A random point of the family: G_l = expm(scale * N(0, 1) matrix) (in GL+)."""
        key = jax.random.PRNGKey(key) if isinstance(key, int) else key
        gs = []
        for W in self.point[:-1]:
            key, sub = jax.random.split(key)
            d = W.shape[0]
            import scipy.linalg
            gs.append(scipy.linalg.expm(scale * np.asarray(jax.random.normal(sub, (d, d)))))
        return self.generate(gs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (point as nested lists, one entry per layer)."""
        point = [np.asarray(W).tolist() for W in self.point]
        if all(np.asarray(W).size == 1 for W in self.point):
            point = [float(np.asarray(W).ravel()[0]) for W in self.point]
        return {
            "label": self.label, "kind": self.kind, "predicted_kind": self.predicted_kind,
            "loss": float(self.loss), "dimension": int(self.dimension), "index": int(self.index),
            "nullity": int(self.nullity), "normal_nullity": int(self.normal_nullity),
            "escape_order": self.escape_order,
            "hessian_eigenvalues": np.asarray(self.hessian_eigenvalues).tolist(),
            "normal_eigenvalues": np.asarray(self.normal_eigenvalues).tolist(),
            "point": point, "generator": self.generator, "predicted": self.predicted,
            "invariant": {k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
                          for k, v in self.invariant.items()},
        }
