"""Square loss to a target: f(W) = 0.5 ||W - Phi||_F^2 (whitened data), F* by Eckart-Young."""

from __future__ import annotations

from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from .base import QuadraticLoss, as_matrix, least_squares_optimum


class SquareTarget(QuadraticLoss):
    """f(W) = 0.5 ||W - Phi||_F^2; W* = Phi."""

    target: jax.Array

    def __init__(self, target: Any):
        self.target = jnp.asarray(as_matrix("target", target))

    @property
    def shape(self) -> tuple[int, int]:
        return cast(tuple[int, int], tuple(self.target.shape))

    def f(self, W: jax.Array) -> jax.Array:
        return 0.5 * jnp.sum((W - self.target) ** 2)

    def scalar_derivative(self, p: float) -> float:
        """f'(p) = p - y for a 1x1 target y (numpy; the exact 1-D chain reduction uses it)."""
        return p - float(self.target[0, 0])

    def minimiser(self) -> np.ndarray:
        return np.asarray(self.target)

    @property
    def ground_truth(self) -> np.ndarray:
        return np.asarray(self.target)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float:
        phi = np.asarray(self.target)
        return least_squares_optimum(np.eye(phi.shape[1]), phi, 1.0, p_out, p_in, rank)

    def quadratic_form(self) -> tuple[np.ndarray, np.ndarray, float]:
        phi = np.asarray(self.target)
        return np.eye(phi.shape[1]), phi, 0.5 * float(np.sum(phi**2))

    def describe(self) -> dict[str, Any]:
        return {"loss": "square_target", "target": np.asarray(self.target).tolist()}
