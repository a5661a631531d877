"""l_q loss to a target (q even): f(W) = (1/q) sum_ij (W - Phi)_ij^q (Arora et al. 2018)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_positive_int
from .base import AbstractLoss, as_matrix


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
        return tuple(self.target.shape)

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

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        phi = np.asarray(self.target)
        reachable = np.allclose(p_out @ phi @ p_in, phi, rtol=0, atol=1e-12 * max(
            1.0, float(np.abs(phi).max())))
        return 0.0 if reachable and np.linalg.matrix_rank(phi) <= rank else None

    def describe(self) -> dict[str, Any]:
        return {"loss": "lp_target", "power": self.power,
                "target": np.asarray(self.target).tolist()}
