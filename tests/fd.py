"""Finite-difference references shared by the tests (independent of JAX autodiff)."""

import jax
import numpy as np


def fd_hessian(problem, params, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of F in flattened coordinates (independent of jax.hessian)."""
    f = jax.jit(lambda x: problem.loss_flat(x))
    x0 = np.asarray(problem.flatten(params))
    n = x0.size
    H = np.zeros((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(i, n):
            v = (f(x0 + E[i] + E[j]) - f(x0 + E[i] - E[j]) - f(x0 - E[i] + E[j])
                 + f(x0 - E[i] - E[j])) / (4 * h * h)
            H[i, j] = H[j, i] = float(v)
    return H
