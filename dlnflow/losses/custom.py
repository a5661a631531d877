"""A user-supplied smooth f of the end-to-end matrix, with F* if the user knows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np

from ..errors import check_finite, check_positive_int
from .base import AbstractLoss


class CustomLoss(AbstractLoss):
    """f(W) = fn(W) for W of shape ``shape``; ``optimal`` is F* (None: unknown, taken as 0 by
    thresholds on the excess loss)."""

    fn: Callable[[jax.Array], jax.Array] = eqx.field(static=True)
    dims: tuple[int, int] = eqx.field(static=True)
    optimal: float | None = eqx.field(static=True, default=None)

    def __init__(self, fn: Callable[[jax.Array], jax.Array], shape: tuple[int, int] = (1, 1),
                 optimal: float | None = None):
        self.fn = fn
        self.dims = (check_positive_int("shape[0]", shape[0]),
                     check_positive_int("shape[1]", shape[1]))
        self.optimal = None if optimal is None else check_finite("optimal_loss", optimal)

    @property
    def shape(self) -> tuple[int, int]:
        return self.dims

    def f(self, W: jax.Array) -> jax.Array:
        return self.fn(W)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        return self.optimal

    def describe(self) -> dict[str, Any]:
        return {"loss": "custom", "function": getattr(self.fn, "__name__", "f"),
                "optimal_loss": self.optimal}
