"""Gradient flow dW_l/dt = -dF/dW_l."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..problem import Params, Problem
from .base import AbstractFlow


class GradientFlow(AbstractFlow):
    """dW_l/dt = -dF/dW_l."""

    problem: Problem

    def vector_field(self, t: jax.Array, params: Params) -> Params:
        return jax.tree_util.tree_map(jnp.negative, self.problem.grad(params))

    def vector_field_flat(self, t: jax.Array, v: jax.Array) -> jax.Array:
        """-grad F on the flattened parameters (for scalar chains a graph whose size does not
        grow with the depth)."""
        return -jax.grad(self.problem.loss_flat)(v)
