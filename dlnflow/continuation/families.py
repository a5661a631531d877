"""Families of maps x -> G(x, eta) to continue in the step size eta, and their multipliers.

Kinds: any map given as a function (:class:`FunctionFamily`), gradient descent on a problem,
G(x, eta) = x - eta grad F(x) (:class:`GDFamily`), and the restriction of a family to an
invariant affine subspace x = x0 + B z, z -> B^T (G(x0 + B z, eta) - x0) (:class:`Subspace`;
:func:`balanced_line`: w_1 = ... = w_L of a scalar chain, which GD maps into itself).

Multipliers of a period-p orbit through x: eigenvalues of D(G^p)(x). Where orbits come in
continuous families (critical points of a DLN along the rescaling orbit W_l -> A W_l,
W_(l+1) -> W_(l+1) A^-1; periodic orbits along its orthogonal part, a symmetry of GD, and along
rescalings of parts at rest) the family's tangent T is fixed by D(G^p) (multiplier 1), and the
multipliers are those of the quotient Q^T D(G^p) Q, Q an orthonormal basis of the complement of
T (:meth:`MapFamily.null_basis`).
"""

from __future__ import annotations

import abc
import collections
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..critical.classify import complement
from ..critical.sets import orbit_generators
from ..errors import InputError, check_problem
from ..orbits import SweptGD
from ..problem import Problem


class MapFamily(eqx.Module):
    """A map G(., eta) of R^dim for every step size eta."""

    @abc.abstractmethod
    def step(self, x: jax.Array, eta: jax.Array) -> jax.Array:
        """G(x, eta)."""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Dimension of the state x."""

    def null_basis(self, x: np.ndarray, eta: float, period: int) -> np.ndarray:
        """Orthonormal basis (columns) of the directions along which period-``period`` orbits
        through x come in continuous families (multiplier 1 by structure); none by default."""
        return np.zeros((self.dim, 0))

    def lift(self, x: np.ndarray) -> np.ndarray:
        """Coordinates of x in :attr:`full`'s space (the identity unless restricted)."""
        return np.asarray(x, dtype=float)

    @property
    def full(self) -> MapFamily:
        """The family whose multipliers decide stability (self unless restricted)."""
        return self


class FunctionFamily(MapFamily):
    """Any smooth map ``fn(x, eta) -> x`` of R^dim (JAX-traceable)."""

    fn: Callable[[jax.Array, jax.Array], jax.Array] = eqx.field(static=True)
    size: int = eqx.field(static=True)

    def step(self, x: jax.Array, eta: jax.Array) -> jax.Array:
        return jnp.asarray(self.fn(x, eta), dtype=jnp.float64).reshape(x.shape)

    @property
    def dim(self) -> int:
        return self.size


class GDFamily(MapFamily):
    """Gradient descent x -> x - eta grad F(x) on the flattened parameters of ``problem``
    (:class:`dlnflow.orbits.SweptGD`, eta traced)."""

    problem: Problem

    def __init__(self, problem: Problem):
        self.problem = check_problem("problem", problem)

    def step(self, x: jax.Array, eta: jax.Array) -> jax.Array:
        return SweptGD(self.problem, eta).loss_and_step_flat(x)[1]

    @property
    def dim(self) -> int:
        return self.problem.num_params

    def null_basis(self, x: np.ndarray, eta: float, period: int,
                   rtol: float = 1e-8) -> np.ndarray:
        """Directions along which the period-p orbit through x moves with a rescaling: the
        combinations c of the generators M(x) = [A_j . x] (:func:`orbit_generators`) carried
        from each orbit point to the next, D G(x_k) M(x_k) c = M(x_(k+1)) c for k < p
        (x_p = x_0), to ``rtol``. At a critical point that is every generator (F and grad F = 0
        are constant on the orbit); on a periodic orbit the orthogonal ones (a symmetry of GD)
        and rescalings of a part at rest (a mode at its minimum while another oscillates). A
        direction that only D(G^p) fixes, as at a doubling of a transverse multiplier, is not
        one."""
        pts = orbit(self, x, eta, period)
        Ms = [orbit_generators(self.problem, _layers(self.problem, p)) for p in pts]
        if Ms[0].shape[1] == 0:
            return np.zeros((self.dim, 0))
        rows = [evaluate(self, pts[k], eta, 1)[1] @ Ms[k] - Ms[(k + 1) % period]
                for k in range(period)]
        _, sv, Vt = np.linalg.svd(np.vstack(rows))
        sv = np.concatenate([sv, np.zeros(Vt.shape[0] - sv.size)])
        scale = max(float(np.linalg.norm(M, 2)) for M in Ms)
        C = Vt[sv <= rtol * max(scale, 1e-300)]
        if C.size == 0:
            return np.zeros((self.dim, 0))
        U, s, _ = np.linalg.svd(Ms[0] @ C.T, full_matrices=False)
        return U[:, s > rtol * max(s[0], 1e-300)] if s.size and s[0] > 0 else np.zeros(
            (self.dim, 0))


def _layers(problem: Problem, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Problem.unflatten in numpy (row-major W_1, ..., W_L), without eager JAX dispatch."""
    sizes = np.cumsum([a * b for a, b in problem.layer_shapes])[:-1]
    return tuple(v.reshape(shape) for v, shape in zip(np.split(np.asarray(x, float), sizes),
                                                      problem.layer_shapes, strict=True))


class Subspace(MapFamily):
    """The restriction z -> B^T (G(x0 + B z, eta) - x0) of ``parent`` to the affine subspace
    x = x0 + B z (B orthonormal columns), which G must map into itself (:meth:`defect`)."""

    parent: MapFamily
    origin: np.ndarray = eqx.field(converter=lambda a: np.asarray(a, float))
    basis: np.ndarray = eqx.field(converter=lambda a: np.asarray(a, float))

    def __check_init__(self):
        B = self.basis
        if B.ndim != 2 or B.shape[0] != self.parent.dim or not np.allclose(
                B.T @ B, np.eye(B.shape[1]), atol=1e-12) or self.origin.shape != B.shape[:1]:
            raise InputError(f"a subspace of R^{self.parent.dim} needs an origin of that size "
                             "and a basis (dim, k) with orthonormal columns")

    def step(self, z: jax.Array, eta: jax.Array) -> jax.Array:
        B, x0 = jnp.asarray(self.basis), jnp.asarray(self.origin)
        return B.T @ (self.parent.step(x0 + B @ z, eta) - x0)

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    def lift(self, z: np.ndarray) -> np.ndarray:
        return self.origin + self.basis @ np.asarray(z, float)

    @property
    def full(self) -> MapFamily:
        return self.parent.full

    def defect(self, z: np.ndarray, eta: float) -> float:
        """|| (I - B B^T)(G(x0 + B z) - x0) ||: 0 (to rounding) on an invariant subspace."""
        g = evaluate(self.parent, self.lift(z), eta, 1)[0] - self.origin
        return float(np.linalg.norm(g - self.basis @ (self.basis.T @ g)))


def balanced_signs(problem: Problem) -> np.ndarray:
    """Sign pattern s of the balanced line through the chain's minimum: all +1, except the last
    layer's -1 when the target y < 0 and L is even (no real y^(1/L))."""
    L = problem.depth
    s = np.ones(L)
    W = problem.optimal_product
    if W is not None and L % 2 == 0 and float(np.asarray(W).ravel()[0]) < 0:
        s[-1] = -1.0
    return s


def balanced_line(problem: Problem) -> Subspace:
    """The balanced line w = s a (a real, s = ``balanced_signs``: |w_1| = ... = |w_L|) of a
    scalar chain, invariant under GD: layer i's gradient is s_i a^(L-1) (prod s) f'(prod w)
    there, since 1/s_i = s_i; coordinate z = sqrt(L) a."""
    check_problem("problem", problem)
    if not problem.is_scalar_chain:
        raise InputError("the balanced line needs a scalar chain problem")
    L = problem.depth
    s = balanced_signs(problem)
    return Subspace(GDFamily(problem), np.zeros(L), s[:, None] / np.sqrt(L))


# ---------------------------------------------------------------- orbits and their multipliers
_COMPILED: collections.OrderedDict = collections.OrderedDict()


def _compiled(family: MapFamily):
    """jax.jit of x, eta -> (G, D_x G, dG/deta) for this family instance, kept in a small LRU
    cache (a plain jit call costs microseconds where filtering a module per call costs a
    millisecond, and a continuation makes thousands)."""
    key = id(family)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is family:
        _COMPILED.move_to_end(key)
        return hit[1]
    fun = jax.jit(lambda x, eta: (family.step(x, eta), jax.jacfwd(family.step, 0)(x, eta),
                                  jax.jacfwd(family.step, 1)(x, eta)))
    _COMPILED[key] = (family, fun)
    if len(_COMPILED) > 32:
        _COMPILED.popitem(last=False)
    return fun


def evaluate(family: MapFamily, x: np.ndarray, eta: float,
             period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(G^p(x, eta), D_x G^p, d G^p / d eta) as numpy arrays, by the chain rule along the orbit
    x_(k+1) = G(x_k): D G^p = D G(x_(p-1)) ... D G(x_0), e_(k+1) = D G(x_k) e_k + dG/deta(x_k),
    from one compiled step per family (every period shares it). A :class:`Subspace` projects
    its parent's: B^T (G^p - x0), B^T J B, B^T dG^p/deta (exact on an invariant subspace)."""
    if isinstance(family, Subspace):
        g, J, e = evaluate(family.parent, family.lift(x), eta, period)
        B = family.basis
        return B.T @ (g - family.origin), B.T @ J @ B, B.T @ e
    fun = _compiled(family)
    g, J, e = (np.asarray(a) for a in fun(np.asarray(x, dtype=float), np.float64(eta)))
    for _ in range(period - 1):
        g, Jk, ek = (np.asarray(a) for a in fun(g, np.float64(eta)))
        J, e = Jk @ J, Jk @ e + ek
    return g, J, e


def orbit(family: MapFamily, x: np.ndarray, eta: float, period: int) -> np.ndarray:
    """The points x, G(x), ..., G^(period-1)(x), shape (period, dim)."""
    pts = [np.asarray(x, dtype=float)]
    for _ in range(period - 1):
        pts.append(evaluate(family, pts[-1], eta, 1)[0])
    return np.stack(pts)


def multipliers(family: MapFamily, x: np.ndarray, eta: float, period: int) -> np.ndarray:
    """Eigenvalues of D(G^p) on the quotient by :meth:`MapFamily.null_basis`, in the full space
    of ``family.full`` at the lifted point, ordered by decreasing modulus (complex; imaginary
    parts below 1e-10 max(1, |mu|), eigen-solver rounding on repeated real ones, set to 0)."""
    full = family.full
    X = family.lift(x)
    J = evaluate(full, X, eta, period)[1]
    T = full.null_basis(X, eta, period)
    Q = complement(T, J.shape[0])
    mu = np.linalg.eigvals(Q.T @ J @ Q).astype(complex) if Q.shape[1] else np.zeros(0, complex)
    # repeated real multipliers (symmetric layers) come back with rounding-size imaginary parts
    mu.imag[np.abs(mu.imag) <= 1e-10 * np.maximum(1.0, np.abs(mu))] = 0.0
    return mu[np.lexsort((np.angle(mu), -np.round(np.abs(mu), 12)))]
