"""Dynamical systems built from a Problem: flows (vector fields) and maps (one step each).

Flows have ``vector_field(t, params) -> params'``; maps have ``step(params) -> params`` and a
step size ``eta`` (map iteration k is compared with flow time t = k eta). All are frozen
equinox modules, so they can be passed through jit and vmap.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .errors import check_positive
from .problem import Params, Problem


class GradientFlow(eqx.Module):
    """dW_l/dt = -dF/dW_l."""

    problem: Problem
    kind = "flow"

    def vector_field(self, t: jax.Array, params: Params) -> Params:
        return jax.tree_util.tree_map(jnp.negative, self.problem.grad(params))

    def describe(self) -> dict:
        return {"system": "GradientFlow"}


class ModifiedFlow(eqx.Module):
    """Backward-error flow dW/dt = -grad(F + (eta/4) ||grad F||^2) (Barrett and Dherin 2021).

    It follows gradient descent with step eta to second order: ||w_GD(k) - w(k eta)|| = O(eta^2).
    """

    problem: Problem
    eta: float = eqx.field(static=True)
    kind = "flow"

    def __init__(self, problem: Problem, eta: float):
        self.problem = problem
        self.eta = check_positive("eta", eta)

    def modified_loss(self, params: Params) -> jax.Array:
        g = self.problem.grad(params)
        sq = sum(jnp.sum(x**2) for x in g)
        return self.problem.loss(params) + 0.25 * self.eta * sq

    def vector_field(self, t: jax.Array, params: Params) -> Params:
        return jax.tree_util.tree_map(jnp.negative, jax.grad(self.modified_loss)(params))

    def describe(self) -> dict:
        return {"system": "ModifiedFlow", "eta": self.eta}


class EndToEndFlow(eqx.Module):
    """Arora, Cohen, Hazan (2018): for a balanced start the product obeys
    dW/dt = -sum_{j=1}^{L} (W W^T)^((j-1)/L) grad f(W) (W^T W)^((L-j)/L).

    State is the end-to-end matrix W (d_L, d_0); fractional powers via eigh with clipping.
    """

    problem: Problem
    kind = "flow"

    def vector_field(self, t: jax.Array, W: jax.Array) -> jax.Array:
        L = self.problem.depth
        G = self.problem.grad_f(W)
        left_vals, left_vecs = jnp.linalg.eigh(W @ W.T)
        right_vals, right_vecs = jnp.linalg.eigh(W.T @ W)
        left_vals = jnp.clip(left_vals, 0.0, None)
        right_vals = jnp.clip(right_vals, 0.0, None)

        def psd_power(vals: jax.Array, vecs: jax.Array, a: float) -> jax.Array:
            if a == 0:
                return jnp.eye(vals.shape[0])
            return (vecs * vals**a) @ vecs.T

        total = jnp.zeros_like(W)
        for j in range(1, L + 1):
            total = total + (psd_power(left_vals, left_vecs, (j - 1) / L) @ G
                             @ psd_power(right_vals, right_vecs, (L - j) / L))
        return -total

    def describe(self) -> dict:
        return {"system": "EndToEndFlow"}


class GradientDescent(eqx.Module):
    """W_l <- W_l - eta dF/dW_l."""

    problem: Problem
    eta: float = eqx.field(static=True)
    kind = "map"

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

    def describe(self) -> dict:
        return {"system": "GradientDescent", "eta": self.eta}
