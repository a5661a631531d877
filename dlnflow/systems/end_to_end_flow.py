"""The end-to-end flow of a balanced start (Arora, Cohen, Hazan 2018); its state is W itself."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..architecture import Plain
from ..errors import InputError
from ..problem import Problem
from .base import AbstractFlow


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def psd_power(M: jax.Array, a: float) -> jax.Array:
    """M^a for a symmetric positive semi-definite M (eigenvalues clipped at 0), a >= 0.

    Its derivative is the Daleckii-Krein formula Q (F o (Q^T dM Q)) Q^T with the divided
    differences F_ij = (l_i^a - l_j^a) / (l_i - l_j) (a l_i^(a-1) where l_i = l_j), which stays
    finite at repeated eigenvalues, where the derivative of eigh does not.
    """
    if a == 0:
        return jnp.eye(M.shape[-1])
    vals, vecs = jnp.linalg.eigh(M)
    return (vecs * jnp.clip(vals, 0.0, None) ** a) @ vecs.T


@psd_power.defjvp
def _psd_power_jvp(a, primals, tangents):
    (M,), (dM,) = primals, tangents
    if a == 0:
        return jnp.eye(M.shape[-1]), jnp.zeros_like(M)
    vals, vecs = jnp.linalg.eigh(M)
    lam = jnp.clip(vals, 0.0, None)
    pw = lam**a
    diff = lam[:, None] - lam[None, :]
    close = jnp.abs(diff) <= 1e-12 * jnp.maximum(1.0, jnp.max(lam))
    mean = 0.5 * (lam[:, None] + lam[None, :])
    deriv = a * jnp.where(mean > 0, mean, 1.0) ** (a - 1)
    F = jnp.where(close, deriv, (pw[:, None] - pw[None, :]) / jnp.where(close, 1.0, diff))
    out = (vecs * pw) @ vecs.T
    return out, vecs @ (F * (vecs.T @ dM @ vecs)) @ vecs.T


class EndToEndFlow(AbstractFlow):
    """dW/dt = -sum_{j=1}^{L} (W W^T)^((j-1)/L) grad f(W) (W^T W)^((L-j)/L).

    The product of a balanced gradient flow (every imbalance 0) obeys it. The state is the
    end-to-end matrix W, a one-layer parameter tuple ``(W,)`` of ``state_problem``: run it with
    ``simulate(EndToEndFlow(problem), W0)``. Needs a plain network with output scale 1.
    """

    problem: Problem

    def __init__(self, problem: Problem):
        arch = problem.architecture
        if not isinstance(arch, Plain) or arch.output_scale != 1.0:
            raise InputError("EndToEndFlow needs a plain network with output_scale 1")
        self.problem = problem

    @property
    def state_problem(self) -> Problem:
        d_out, d_in = self.problem.architecture.output_shape
        return Problem(Plain((d_in, d_out)), self.problem.objective,
                       name=f"{self.problem.name}_end_to_end")

    def vector_field(self, t: jax.Array, y: tuple[jax.Array, ...]) -> tuple[jax.Array]:
        (W,) = y
        L = self.problem.depth
        G = self.problem.grad_f(W)
        left, right = W @ W.T, W.T @ W
        total = jnp.zeros_like(W)
        for j in range(1, L + 1):
            total = total + psd_power(left, (j - 1) / L) @ G @ psd_power(right, (L - j) / L)
        return (-total,)
