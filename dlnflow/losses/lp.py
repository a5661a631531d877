"""l_q losses (q even), Arora, Cohen and Hazan 2018: to a target, f(W) = (1/q) sum_ij
(W - Phi)_ij^q, and regression on data, f(W) = 1/(q n) sum_(o,j) (W X - Y)_oj^q."""

from __future__ import annotations

from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_positive_int
from .base import AbstractLoss, as_matrix, least_squares_optimum, paired_samples
from .convex import minimise_on_subspace


class LpTarget(AbstractLoss):
    """f(W) = (1/q) sum_ij (W - Phi)_ij^q, q even; W* = Phi, F* = 0 when Phi is reachable."""

    target: jax.Array
    power: int = eqx.field(static=True)

    def __init__(self, target: Any, power: int = 4):
        power = check_positive_int("power", power, minimum=2)
        if power % 2:
            raise InputError(f"power must be even for the l_p loss, got {power}")
        self.target = jnp.asarray(as_matrix("target", target))
        self.power = power

    @property
    def shape(self) -> tuple[int, int]:
        return cast(tuple[int, int], tuple(self.target.shape))

    @property
    def degree(self) -> int:
        return self.power

    def f(self, W: jax.Array) -> jax.Array:
        return jnp.sum((W - self.target) ** self.power) / self.power

    def scalar_derivative(self, p: float) -> float:
        """f'(p) = (p - y)^(q-1) for a 1x1 target y (numpy)."""
        return (p - float(self.target[0, 0])) ** (self.power - 1)

    def minimiser(self) -> np.ndarray:
        return np.asarray(self.target)

    @property
    def ground_truth(self) -> np.ndarray:
        return np.asarray(self.target)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        phi = np.asarray(self.target)
        reachable = np.allclose(p_out @ phi @ p_in, phi, rtol=0, atol=1e-12 * max(
            1.0, float(np.abs(phi).max())))
        return 0.0 if reachable and np.linalg.matrix_rank(phi) <= rank else None

    def describe(self) -> dict[str, Any]:
        return {"loss": "lp_target", "power": self.power,
                "target": np.asarray(self.target).tolist()}


class LpRegression(AbstractLoss):
    """f(W) = 1/(q n) sum_(o,j) (W X - Y)_oj^q, q even, X (d_in, n), Y (d_out, n): the l_p
    regression of Arora, Cohen and Hazan 2018 (their E_(x,y) (1/p)(y - x^T w)^p, p = 4; one
    output row there). F* = 0 when some reachable W of rank <= r fits Y exactly (Eckart-Young on
    the square loss decides it); otherwise f is convex and F* = its minimum over the reachable
    subspace (scipy.optimize) where the rank bound cannot bind, unknown where it does."""

    X: jax.Array
    Y: jax.Array
    power: int = eqx.field(static=True)

    def __init__(self, X: Any, Y: Any, power: int = 4):
        power = check_positive_int("power", power, minimum=2)
        if power % 2:
            raise InputError(f"power must be even for the l_p loss, got {power}")
        self.X, self.Y = paired_samples(X, Y)
        self.power = power

    @property
    def n_samples(self) -> int:
        """Number of samples n (columns of X), the 1/n of the mean loss."""
        return int(self.X.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.Y.shape[0]), int(self.X.shape[0]))

    @property
    def degree(self) -> int:
        return self.power

    def f(self, W: jax.Array) -> jax.Array:
        return jnp.sum((W @ self.X - self.Y) ** self.power) / (self.power * self.n_samples)

    def _subspace_minimum(self, p_out: np.ndarray, p_in: np.ndarray) -> tuple[float, np.ndarray]:
        X, Y = np.asarray(self.X), np.asarray(self.Y)
        d_out, d_in = self.shape
        if least_squares_optimum(X, Y, 1.0, p_out, p_in, min(d_out, d_in)) <= _exact(Y):
            W = np.linalg.lstsq((p_in @ X).T, (p_out @ Y).T, rcond=None)[0].T @ p_in
            return 0.0, W
        return minimise_on_subspace(self.f, self.shape, p_out, p_in)

    def minimiser(self) -> np.ndarray:
        """The least-norm minimiser: rows in the span of the samples (W X X^+)."""
        X = np.asarray(self.X)
        W = self._subspace_minimum(np.eye(self.shape[0]), np.eye(self.shape[1]))[1]
        return W @ X @ np.linalg.pinv(X)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        X, Y = np.asarray(self.X), np.asarray(self.Y)
        if least_squares_optimum(X, Y, 1.0, p_out, p_in, rank) <= _exact(Y):
            return 0.0
        value, W = self._subspace_minimum(p_out, p_in)
        binds = rank < min(np.linalg.matrix_rank(p_out), np.linalg.matrix_rank(p_in))
        return value if not binds or np.linalg.matrix_rank(W) <= rank else None

    def describe(self) -> dict[str, Any]:
        return {"loss": "lp_regression", "power": self.power, "n_samples": self.n_samples}


def _exact(Y: np.ndarray) -> float:
    """Square residual below which a least-squares fit of Y counts as exact (rounding)."""
    return (1e-12 * max(1.0, float(np.linalg.norm(Y)))) ** 2
