"""Least-squares regression: f(W) = 0.5/n ||W X - Y||_F^2, X (d_in, n), Y (d_out, n)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .base import QuadraticLoss, least_squares_optimum, paired_samples


class Regression(QuadraticLoss):
    """f(W) = 0.5/n ||W X - Y||_F^2; W* = Y X^T (X X^T)^+ (least norm)."""

    X: jax.Array
    Y: jax.Array

    def __init__(self, X: Any, Y: Any):
        self.X, self.Y = paired_samples(X, Y)

    @property
    def n_samples(self) -> int:
        """Number of samples n (columns of X and Y)."""
        return int(self.X.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.Y.shape[0]), int(self.X.shape[0]))

    def f(self, W: jax.Array) -> jax.Array:
        return 0.5 / self.n_samples * jnp.sum((W @ self.X - self.Y) ** 2)

    def residuals(self, W: jax.Array) -> jax.Array:
        """Y - W X (broadcasts over leading axes of W)."""
        return self.Y - W @ self.X

    def minimiser(self) -> np.ndarray:
        X, Y = np.asarray(self.X), np.asarray(self.Y)
        return Y @ X.T @ np.linalg.pinv(X @ X.T)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float:
        return least_squares_optimum(np.asarray(self.X), np.asarray(self.Y), self.n_samples,
                                     p_out, p_in, rank)

    def quadratic_form(self) -> tuple[np.ndarray, np.ndarray, float]:
        X, Y = np.asarray(self.X), np.asarray(self.Y)
        n = self.n_samples
        return X @ X.T / n, Y @ X.T / n, 0.5 * float(np.sum(Y**2)) / n

    def describe(self) -> dict[str, Any]:
        return {"loss": "regression", "n_samples": self.n_samples}
