"""Backward-error (modified) flow of gradient descent (Barrett and Dherin 2021)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import check_positive
from ..problem import Params, Problem
from .base import AbstractFlow


class ModifiedFlow(AbstractFlow):
    """dW/dt = -grad(F + (eta/4) ||grad F||^2): follows GD with step eta to second order,
    ||w_GD(k) - w(k eta)|| = O(eta^2)."""

    problem: Problem
    eta: float = eqx.field(static=True)

    def __init__(self, problem: Problem, eta: float):
        self.problem = problem
        self.eta = check_positive("eta", eta)

    def modified_loss(self, params: Params) -> jax.Array:
        """F~(W) = F(W) + (eta/4) ||grad F(W)||^2, the loss whose gradient flow this is."""
        g = self.problem.grad(params)
        sq = sum(jnp.sum(x**2) for x in g)
        return self.problem.loss(params) + 0.25 * self.eta * sq

    def vector_field(self, t: jax.Array, params: Params) -> Params:
        return jax.tree_util.tree_map(jnp.negative, jax.grad(self.modified_loss)(params))

    def describe(self) -> dict:
        return {**super().describe(), "eta": self.eta}
