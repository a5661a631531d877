"""AbstractLoss: a loss f of the end-to-end matrix W, owning f, its minimiser W* and F*.

A loss knows the shape (d_out, d_in) of the W it accepts, its value ``f(W)`` (one matrix, no
batch axis; JAX differentiates it), the least-norm minimiser W* over all matrices where one is
known, and F* = inf f over the matrices a network can reach (given by the architecture as
W = P_out M P_in with rank M <= r), in closed form where one exists.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError

UNKNOWN_OPTIMUM = ("F* unknown (no closed form for this loss on this network): thresholds on "
                   "F - F* use F* = 0, so they measure F itself")


@dataclasses.dataclass(frozen=True)
class Optimum:
    """F* (``value``; None when unknown), whether some W attains it (``attained``; None when
    unknown) and a sentence for statuses and rates when F* is unknown or not attained
    (``note``; empty otherwise)."""

    value: float | None
    attained: bool | None
    note: str = ""


class AbstractLoss(eqx.Module):
    """f(W) for W of shape ``shape`` = (d_out, d_in)."""

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int]:
        """(d_out, d_in): the shape of the end-to-end matrix W."""

    @abc.abstractmethod
    def f(self, W: jax.Array) -> jax.Array:
        """The loss of one end-to-end matrix W (no batch axis)."""

    def grad(self, W: jax.Array) -> jax.Array:
        """grad_W f (by JAX)."""
        return jax.grad(self.f)(W)

    def scalar_derivative(self, p: float) -> float:
        """f'(p) for a 1x1 W = p (float in, float out; the exact 1-D chain reduction uses it)."""
        return float(_scalar_grad(self, jnp.asarray(p, dtype=jnp.float64)))

    def minimiser(self) -> np.ndarray | None:
        """W*: the least-norm minimiser of f over all (d_out, d_in) matrices; None if unknown."""
        return None

    @property
    def ground_truth(self) -> np.ndarray | None:
        """The matrix the data were made from, where the loss knows one (a target loss's target,
        the measured matrix of completion or sensing); None else. ``recovery_error``'s W*."""
        return None

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        """F* = inf f over W = p_out M p_in with rank M <= ``rank`` (p_out, p_in orthogonal
        projectors); None where no closed form is known."""
        return None

    def optimum(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> Optimum:
        """F* (:meth:`optimal_loss`) with whether it is attained: by default a known F* is a
        minimum (closed forms of square, l_p and measurement losses on closed sets)."""
        value = self.optimal_loss(p_out, p_in, rank)
        return Optimum(None, None, UNKNOWN_OPTIMUM) if value is None else Optimum(value, True)

    @property
    def degree(self) -> int | None:
        """Degree of f as a polynomial in W (None when f is not a polynomial)."""
        return None

    def residual_norm(self, excess: float) -> float:
        """Distance ||W - W*|| at which the excess loss equals ``excess`` (f grows like
        ||W - W*||^degree / degree near W*; quadratic growth assumed when unknown)."""
        q = self.degree or 2
        return float((q * max(excess, 0.0)) ** (1.0 / q))

    def check_shape(self, d_out: int, d_in: int) -> None:
        """Raise InputError unless the network's end-to-end shape is ``shape``."""
        if (d_out, d_in) != tuple(self.shape):
            raise InputError(f"the loss takes W of shape {tuple(self.shape)}, the network makes "
                             f"{(d_out, d_in)}")

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (provenance)."""
        return {"loss": type(self).__name__}


@eqx.filter_jit
def _scalar_grad(loss: AbstractLoss, p: jax.Array) -> jax.Array:
    return jax.grad(lambda q: loss.f(jnp.reshape(q, (1, 1))))(p)


def as_matrix(name: str, value: Any) -> np.ndarray:
    """A finite float64 matrix from a scalar, vector (one row) or matrix; InputError otherwise."""
    from ..errors import check_finite_array, float_array

    arr = float_array(name, value)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a matrix, got an array of shape {arr.shape}")
    check_finite_array(name, arr)
    return arr


def paired_samples(X: Any, Y: Any) -> tuple[jax.Array, jax.Array]:
    """Inputs X (d_in, n) and targets Y (d_out, n) as float64 arrays, samples as columns;
    InputError unless both are matrices with the same n."""
    Xm, Ym = as_matrix("X", X), as_matrix("Y", Y)
    if Xm.shape[1] != Ym.shape[1]:
        raise InputError(
            f"X and Y must have the same number of columns (samples), got {Xm.shape[1]} "
            f"and {Ym.shape[1]}")
    return jnp.asarray(Xm), jnp.asarray(Ym)


def tail_energy(M: np.ndarray, r: int) -> float:
    """sum_{i > r} s_i(M)^2: the squared distance of M to the matrices of rank <= r."""
    s = np.linalg.svd(M, compute_uv=False)
    return float(np.sum(s[r:] ** 2))


def least_squares_optimum(X: np.ndarray, Y: np.ndarray, n: float, p_out: np.ndarray,
                          p_in: np.ndarray, rank: int) -> float:
    """min 0.5/n ||W X - Y||_F^2 over W = p_out M p_in, rank M <= rank (Eckart-Young).

    With X = U s V^T (rank k): Y (I - V V^T) is out of reach; Z = W X V ranges over p_out N Q
    (Q the projector on the row space of p_in X V), so the rest is ||Y V - p_out Y V Q||^2 plus
    the tail of p_out Y V Q beyond ``rank``.
    """
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    k = int(np.sum(s > s.max(initial=0.0) * max(X.shape) * np.finfo(float).eps))
    V = Vt[:k].T
    outside = float(np.sum((Y - Y @ V @ V.T) ** 2))
    YV = Y @ V
    XV = p_in @ X @ V
    Q = np.linalg.pinv(XV) @ XV
    inner = p_out @ YV @ Q
    inside = float(np.sum((YV - inner) ** 2)) + tail_energy(inner, rank)
    return 0.5 / n * (outside + inside)


class QuadraticLoss(AbstractLoss):
    """f(W) = 0.5 tr(W C W^T) - tr(W B^T) + c0 (square losses): the critical points of a deep
    network under such an f are known in closed form (``dlnflow.critical``)."""

    @abc.abstractmethod
    def quadratic_form(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(C, B, c0) with f(W) = 0.5 tr(W C W^T) - tr(W B^T) + c0."""

    @property
    def degree(self) -> int:
        return 2
