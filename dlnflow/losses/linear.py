"""Least squares on linear measurements of W: f(W) = 1/(2 n) ||A(W) - y||^2, A linear.

Matrix sensing (A_i dense, n = m) and completion (A picks entries, n = 1) are the two cases.
F* over the reachable W = P_out M P_in, rank M <= r: the least-squares minimum over that
subspace (dense lstsq on A (P_out kron P_in^T)) when the rank bound cannot bind or its
least-norm minimiser has rank <= r; 0 when the ground truth W* is reachable with rank <= r and
gave y; otherwise unknown (rank-constrained least squares has no closed form).

Not a ``QuadraticLoss``: the Hessian of f acts on vec(W) as A^T A / n, not as W -> W C, so the
closed-form critical sets of ``critical.enumerate`` do not apply (except in the special case
A^T A = I kron C); the numerical tools (``critical.find``, ``classify_point``) do.
"""

from __future__ import annotations

import abc
import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from .base import AbstractLoss

DENSE_MAX_ENTRIES = 4_000_000
"""Largest operator (measurements x d_out d_in) F* is computed for by dense least squares."""
DENSE_MAX_UNKNOWNS = 2_500
"""Largest d_out d_in (unknowns) F* is computed for by dense least squares."""

_CACHE: dict[str, tuple[float, np.ndarray]] = {}


class LinearMeasurementLoss(AbstractLoss):
    """f(W) = 1/(2 n) sum_i (A_i(W) - y_i)^2 for a linear map A of W (abstract)."""

    @abc.abstractmethod
    def measure(self, W: jax.Array) -> jax.Array:
        """A(W): the vector of measurements of one matrix W."""

    @property
    @abc.abstractmethod
    def observations(self) -> jax.Array:
        """y: the measured values."""

    @property
    @abc.abstractmethod
    def normaliser(self) -> float:
        """n in f = 1/(2 n) ||A(W) - y||^2."""

    @property
    @abc.abstractmethod
    def ground_truth(self) -> np.ndarray | None:
        """The matrix W* the measurements were taken of (None when not given)."""

    @abc.abstractmethod
    def operator_matrix(self) -> np.ndarray:
        """A as a dense (m, d_out d_in) matrix acting on row-major vec(W)."""

    @property
    def degree(self) -> int:
        return 2

    def f(self, W: jax.Array) -> jax.Array:
        r = self.measure(W) - self.observations
        return 0.5 / self.normaliser * jnp.sum(r**2)

    def _dense_fits(self) -> bool:
        d_out, d_in = self.shape
        n_unknowns = d_out * d_in
        m = int(np.size(self.observations))
        return n_unknowns <= DENSE_MAX_UNKNOWNS and m * n_unknowns <= DENSE_MAX_ENTRIES

    def subspace_least_squares(self, p_out: np.ndarray, p_in: np.ndarray
                               ) -> tuple[float, np.ndarray] | None:
        """(min f, least-norm minimiser) over W = p_out M p_in (no rank bound), by dense lstsq;
        None when the operator is too large (see DENSE_MAX_ENTRIES)."""
        if not self._dense_fits():
            return None
        key = hashlib.sha256(f"{type(self).__name__}{self.shape}".encode() + b"".join(
            np.ascontiguousarray(a, dtype=float).tobytes()
            for a in (*jax.tree_util.tree_leaves(self), p_out, p_in))).hexdigest()
        if key not in _CACHE:
            _CACHE[key] = self._lstsq(p_out, p_in)
        value, W = _CACHE[key]
        return value, W.copy()

    def _lstsq(self, p_out: np.ndarray, p_in: np.ndarray) -> tuple[float, np.ndarray]:
        A = self.operator_matrix()
        if not (np.array_equal(p_out, np.eye(len(p_out))) and
                np.array_equal(p_in, np.eye(len(p_in)))):
            A = A @ np.kron(p_out, p_in.T)        # vec_r(P M Q) = (P kron Q^T) vec_r(M)
        y = np.asarray(self.observations, dtype=float)
        m_vec, *_ = np.linalg.lstsq(A, y, rcond=None)
        r = A @ m_vec - y
        W = p_out @ m_vec.reshape(self.shape) @ p_in
        rr = float(r @ r)
        if np.sqrt(rr) <= 1e-13 * max(1.0, float(np.linalg.norm(y))):
            rr = 0.0                        # consistent system: the residual is rounding
        return 0.5 / self.normaliser * rr, W

    def minimiser(self) -> np.ndarray | None:
        """The least-norm minimiser over all matrices (dense lstsq; None when too large)."""
        d_out, d_in = self.shape
        out = self.subspace_least_squares(np.eye(d_out), np.eye(d_in))
        return None if out is None else out[1]

    def ground_truth_reachable(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> bool:
        """True when W* is known, of rank <= rank, in the range of p_out . p_in and y = A(W*)
        (to rounding): then F* = 0."""
        T = self.ground_truth
        if T is None:
            return False
        scale = max(1.0, float(np.abs(T).max()))
        inside = np.allclose(p_out @ T @ p_in, T, rtol=0, atol=1e-12 * scale)
        y = np.asarray(self.observations)
        fits = np.allclose(np.asarray(self.measure(jnp.asarray(T))), y, rtol=0,
                           atol=1e-12 * max(1.0, float(np.abs(y).max(initial=0.0))))
        return bool(inside and fits and np.linalg.matrix_rank(T) <= rank)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        if self.ground_truth_reachable(p_out, p_in, rank):
            return 0.0
        out = self.subspace_least_squares(p_out, p_in)
        if out is None:
            return None
        value, W = out
        unbound = rank >= min(np.linalg.matrix_rank(p_out), np.linalg.matrix_rank(p_in))
        return value if unbound or np.linalg.matrix_rank(W) <= rank else None
