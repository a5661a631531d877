"""Gradient descent W_l <- W_l - eta dF/dW_l."""

from __future__ import annotations

import jax

from ..errors import check_positive
from ..problem import Params, Problem
from .base import AbstractMap


class GradientDescent(AbstractMap):
    """W_l <- W_l - eta dF/dW_l."""

    problem: Problem
    eta: float

    def __init__(self, problem: Problem, eta: float):
        self.problem = problem
        self.eta = check_positive("eta", eta)

    def step(self, params: Params) -> Params:
        g = self.problem.grad(params)
        return tuple(W - self.eta * G for W, G in zip(params, g, strict=True))

    def loss_and_step(self, params: Params) -> tuple[jax.Array, Params]:
        """(F, W_l - eta dF/dW_l) from one value_and_grad pass (the loss comes for free)."""
        loss, g = self.problem.loss_and_grad(params)
        return loss, tuple(W - self.eta * G for W, G in zip(params, g, strict=True))

    def loss_and_step_flat(self, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The same step on the flattened parameters (for scalar chains a graph whose size does
        not grow with the depth)."""
        loss, g = jax.value_and_grad(self.problem.loss_flat)(v)
        return loss, v - self.eta * g
