"""min f(P_out M P_in) over M for a smooth convex f of W (scipy.optimize): F* where no closed
form exists and the network's rank bound does not bind (cross-entropy, l_p regression)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

NEWTON_MAX_UNKNOWNS = 2_500
"""Up to this many entries of M: trust-region Newton with the exact Hessian (quadratic
convergence); above: L-BFGS-B."""


def minimise_on_subspace(f: Callable[[jax.Array], jax.Array], shape: tuple[int, int],
                         p_out: np.ndarray, p_in: np.ndarray) -> tuple[float, np.ndarray]:
    """(min f, a minimiser W = p_out M p_in) from M = 0; f must be convex with its minimum
    attained on the subspace (gradient tolerance 1e-11)."""
    import scipy.optimize  # on use: a 1 s import
    d_out, d_in = shape
    P, Q = jnp.asarray(p_out), jnp.asarray(p_in)

    def g(m):
        return f(P @ m.reshape(d_out, d_in) @ Q)

    vg = jax.jit(jax.value_and_grad(g))
    fun = lambda m: tuple(np.asarray(v) for v in vg(jnp.asarray(m)))   # noqa: E731
    x0 = np.zeros(d_out * d_in)
    if x0.size <= NEWTON_MAX_UNKNOWNS:
        hess = jax.jit(jax.hessian(g))
        res = scipy.optimize.minimize(
            fun, x0, jac=True, hess=lambda m: np.asarray(hess(jnp.asarray(m))),
            method="trust-exact", options={"gtol": 1e-11})
    else:
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B",
                                      options={"gtol": 1e-11, "ftol": 1e-15, "maxiter": 10000})
    return float(res.fun), np.asarray(p_out @ res.x.reshape(shape) @ p_in)
