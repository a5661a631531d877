"""Sharpness: the largest eigenvalues of the Hessian of the training loss in the parameters.

For F(W_1, ..., W_L) = f(W_L ... W_1) the sharpness at theta = (W_1, ..., W_L) is
lambda_max(nabla^2_theta F(theta)), the top eigenvalue of the P x P Hessian in the coordinates of
``Problem.flatten`` (P = sum_l d_l d_(l-1)). GD with step eta is linearly unstable along the top
eigenvector once lambda_max > 2/eta (the edge of stability, Cohen et al., ICLR 2021).

Methods (``method=``):

* ``"dense"``: ``jnp.linalg.eigh(jax.hessian(Problem.loss_flat))``: exact to round-off, P^2
  memory and P^3 time; refused (InputError) past ``DENSE_MAX_PARAMS`` parameters.
* ``"lanczos"``: ARPACK's implicitly restarted Lanczos (``scipy.sparse.linalg.eigsh``,
  ``which="LA"``) on Hessian-vector products H v = d/de grad F(theta + e v) (``jax.jvp`` of
  ``jax.grad``, about two gradients each), compiled once per problem structure and reused;
  ``tol`` is ARPACK's relative accuracy of the eigenvalues, ``v0`` a warm start (along a
  trajectory: the previous checkpoint's top eigenvector).
* ``"auto"``: dense up to ``AUTO_DENSE_MAX`` parameters, Lanczos above.

Closed form (a test): on the scalar chain 0.5 (w_L...w_1 - y)^2 at a minimum (p = y) the Hessian
is grad p grad p^T with d p / d w_i = y / w_i, so the sharpness is sum_i (y / w_i)^2.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, check_positive, check_positive_int, check_problem, show
from .problem import Params, Problem
from .resources import check_memory, size_text

__all__ = ["AUTO_DENSE_MAX", "DENSE_MAX_PARAMS", "check_dense", "sharpness", "top_eigenpairs"]

AUTO_DENSE_MAX = 400
"""``method="auto"`` takes the dense Hessian up to this many parameters, Lanczos above (there
a few dozen Hessian-vector products are cheaper than P of them plus a P^3 eigh)."""

DENSE_MAX_PARAMS = 10_000
"""No dense Hessian is built past this many parameters (its P^2 matrix alone is 800 MB at the
limit; jax.hessian needs several times that): use ``method="lanczos"`` there."""

_METHODS = ("auto", "dense", "lanczos")


def check_dense(num_params: int) -> None:
    """Refuse (InputError) a dense Hessian of ``num_params`` parameters past
    ``DENSE_MAX_PARAMS`` or past the memory limit (``dlnflow.resources``)."""
    if num_params > DENSE_MAX_PARAMS:
        raise InputError(
            f"a dense Hessian of {num_params} parameters ({size_text(8.0 * num_params**2)}) is "
            f"refused past {DENSE_MAX_PARAMS} parameters; use Hessian-vector products: "
            "dlnflow.sharpness.top_eigenpairs(problem, params, method='lanczos')")
    check_memory(f"a dense Hessian of {num_params} parameters", 4.0 * num_params**2)


# ---------------------------------------------------------------------- compiled kernels
@eqx.filter_jit
def _hvp(problem: Problem, x: jax.Array, v: jax.Array) -> jax.Array:
    """H(x) v by forward-over-reverse differentiation."""
    return jax.jvp(jax.grad(problem.loss_flat), (x,), (v,))[1]


@eqx.filter_jit
def _dense_eigh(problem: Problem, X: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Ascending eigenvalues (B, P) and eigenvectors (B, P, P) of the Hessian at each row of X."""
    return jax.vmap(lambda x: jnp.linalg.eigh(jax.hessian(problem.loss_flat)(x)))(X)


@eqx.filter_jit
def _dense_hessians(problem: Problem, X: jax.Array) -> jax.Array:
    """The Hessian (B, P, P) at each row of X."""
    return jax.vmap(jax.hessian(problem.loss_flat))(X)


def _dense_top_batched(problem: Problem, X: jax.Array) -> np.ndarray:
    """Top eigenvalue at each row of X, in chunks of about 256 MB of Hessians whose sizes are
    powers of two (padded with the last row): few compilations for any number of rows."""
    n, B = X.shape[1], X.shape[0]
    cap = 1 << max(0, (2**25 // (n * n)).bit_length() - 1)
    out = []
    for i in range(0, B, cap):
        part = X[i:i + cap]
        size = min(cap, 1 << (part.shape[0] - 1).bit_length())
        pad = jnp.concatenate([part, jnp.repeat(part[-1:], size - part.shape[0], axis=0)])
        # LAPACK through numpy: 4 to 7 times faster than XLA's batched eigvalsh on the CPU
        H = np.asarray(_dense_hessians(problem, pad))[:part.shape[0]]
        out.append(np.linalg.eigvalsh(H)[:, -1])
    return np.concatenate(out)


# ---------------------------------------------------------------------- checks
def _method(method: Any, num_params: int, k: int) -> str:
    if method not in _METHODS:
        raise InputError(f"method must be one of {', '.join(_METHODS)}, got {show(method)}")
    if method == "auto":
        method = "dense" if num_params <= AUTO_DENSE_MAX or k >= num_params - 1 else "lanczos"
    if method == "dense":
        check_dense(num_params)
    elif k >= num_params:
        raise InputError(f"k = {k} eigenpairs by Lanczos needs k < {num_params} (the number of "
                         "parameters); use method='dense'")
    return method


def _flat_points(problem: Problem, params: Any) -> tuple[jax.Array, int | None]:
    """Validated params -> flat vectors (B, P) and the batch size (None for one start)."""
    p, batch = check_problem("problem", problem).check_params(params)
    X = jnp.stack([problem.flatten(p)]) if batch is None else jax.vmap(problem.flatten)(p)
    return X, batch


def _check_v0(v0: Any, num_params: int) -> np.ndarray | None:
    if v0 is None:
        return None
    v = np.asarray(v0, dtype=np.float64)
    if v.ndim == 2:                     # (P, k) eigenvectors: the top one starts the search
        v = v[:, 0]
    if v.shape != (num_params,) or not np.all(np.isfinite(v)) or not np.any(v):
        raise InputError(f"v0 must be a finite non-zero vector of length {num_params} (the "
                         f"number of parameters), got shape {v.shape}")
    return v


# ---------------------------------------------------------------------- one point
def lanczos_at(problem: Problem, x: jax.Array, k: int, tol: float,
               v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k largest Hessian eigenpairs at the flat point ``x`` by eigsh (no input checks):
    values descending (k,), vectors (P, k)."""
    import scipy.sparse.linalg as spla  # on use: a ~0.1 s import, kept off the CLI's start

    n = int(x.shape[0])

    def matvec(v: np.ndarray) -> np.ndarray:
        return np.asarray(_hvp(problem, x, jnp.asarray(v.reshape(n))))

    op = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    try:
        vals, vecs = spla.eigsh(op, k=k, which="LA", tol=tol, v0=v0)
    except spla.ArpackNoConvergence as err:
        raise RuntimeError(f"Lanczos (ARPACK) did not converge to tol={tol} for the top {k} "
                           f"Hessian eigenvalues of {n} parameters: {err}") from None
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def top_eigenpairs(problem: Problem, params: Params | Any, *, k: int = 1, method: str = "auto",
                   tol: float = 1e-10, v0: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The k largest (algebraic) eigenvalues of the Hessian of F at one start ``params`` and
    their eigenvectors: (values (k,) descending, vectors (P, k) in ``problem.flatten`` order).

    ``method``: "dense", "lanczos" or "auto" (see the module docstring); ``tol``: Lanczos
    relative accuracy (dense is exact to round-off); ``v0``: Lanczos start vector (P,).
    """
    X, batch = _flat_points(problem, params)
    if batch is not None and batch != 1:
        raise InputError(f"top_eigenpairs takes one start, got a batch of {batch}; use "
                         "sharpness(...) for a batch")
    n = problem.num_params
    k = check_positive_int("k", k, maximum=n)
    tol = check_positive("tol", tol)
    method = _method(method, n, k)
    if method == "dense":
        vals, vecs = _dense_eigh(problem, X)
        ev, V = np.asarray(vals[0]), np.asarray(vecs[0])
        return ev[::-1][:k].copy(), V[:, ::-1][:, :k].copy()
    return lanczos_at(problem, X[0], k, tol, _check_v0(v0, n))


def sharpness(problem: Problem, params: Params | Any, *, method: str = "auto",
              tol: float = 1e-10, v0: Any = None) -> float | np.ndarray:
    """lambda_max of the Hessian of F(W_1, ..., W_L) = f(W_L...W_1) in the parameters.

    One start: a float. A batch (leading axis on every layer): an array (B,), one per start.
    Lanczos then runs start by start, ``v0`` starting the first and each later one starting
    from the previous start's top eigenvector plus 1% of a fixed random vector (consecutive
    states of a run: few iterations, and a top eigenvector that changed places is still found).
    """
    X, batch = _flat_points(problem, params)
    n = problem.num_params
    tol = check_positive("tol", tol)
    method = _method(method, n, 1)
    if method == "dense":
        out = _dense_top_batched(problem, X)
    else:
        v, vals = _check_v0(v0, n), []
        mix = np.random.default_rng(0).standard_normal(n)
        mix *= 0.01 / np.linalg.norm(mix)
        for x in X:
            lam, vec = lanczos_at(problem, x, 1, tol, v)
            vals.append(lam[0])
            v = vec[:, 0] + mix
        out = np.asarray(vals)
    return float(out[0]) if batch is None else out
