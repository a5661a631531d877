"""The baselines dlnflow is measured against, written plainly (numpy, scipy, numba, JAX).

Each computes the same thing as the dlnflow call it is timed beside in ``benchmarks/run.py``:
GD and gradient-flow fields of deep linear networks F = 0.5 ||W_L...W_1 - Phi||^2 (scalar
chains: Phi = y), looped or vectorised by hand, and the sharpness by scipy's eigsh on
Hessian-vector products.
"""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.sparse.linalg as spla


# ---------------------------------------------------------------- scalar chains (numpy)
def others_product(w: np.ndarray) -> np.ndarray:
    """prod_(j != i) w_j along the last axis from exclusive prefix and suffix products."""
    ones = np.ones_like(w[..., :1])
    left = np.cumprod(np.concatenate([ones, w[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, w[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


def chain_field(t: float, w: np.ndarray, y: float) -> np.ndarray:
    """-dF/dw_i = -(p - y) prod_(j != i) w_j."""
    return -(np.prod(w) - y) * others_product(w)


def numpy_gd_chain(w: np.ndarray, y: float, eta: float, steps: int) -> np.ndarray:
    """GD on a batch (B, L) of chains, vectorised over the starts."""
    w = w.copy()
    for _ in range(steps):
        others = others_product(w)
        p = others[:, 0] * w[:, 0]
        w -= eta * (p - y)[:, None] * others
    return w


def numba_gd_chain():
    """A numba GD loop over the starts, blocked (8 starts per SIMD block, blocks in parallel over
    the threads), or None when numba is not installed (the ``bench`` extra)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(parallel=True, fastmath=False, cache=False)
    def run(w, y, eta, steps):
        B, L = w.shape
        out = w.copy()
        nblocks = (B + 7) // 8
        for b in numba.prange(nblocks):
            lo, hi = b * 8, min(B, b * 8 + 8)
            blk = out[lo:hi].copy()
            n = hi - lo
            left = np.empty((n, L))
            for _ in range(steps):
                for i in range(n):
                    acc = 1.0
                    for j in range(L):
                        left[i, j] = acc
                        acc *= blk[i, j]
                    g = acc - y
                    acc = 1.0
                    for j in range(L - 1, -1, -1):
                        d = left[i, j] * acc
                        acc *= blk[i, j]
                        blk[i, j] -= eta * g * d
            out[lo:hi] = blk
        return out

    return run


def lsoda_loop(field, w0: np.ndarray, t1: float, rtol: float, atol: float,
               args: tuple = (), method: str = "LSODA") -> np.ndarray:
    """scipy's LSODA (or ``method``; numpy right-hand side) run start by start: final states
    (B, P)."""
    out = np.empty_like(w0)
    for i in range(w0.shape[0]):
        sol = scipy.integrate.solve_ivp(field, (0.0, t1), w0[i], method=method, rtol=rtol,
                                        atol=atol, args=args)
        out[i] = sol.y[:, -1]
    return out


# ---------------------------------------------------------------- matrix layers (numpy)
def _layers(v: np.ndarray, shapes) -> list[np.ndarray]:
    out, i = [], 0
    for a, b in shapes:
        out.append(v[..., i:i + a * b].reshape(*v.shape[:-1], a, b))
        i += a * b
    return out


def matrix_grads(Ws: list[np.ndarray], phi: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(loss, layer gradients) of 0.5 ||W_L...W_1 - Phi||^2, batched over a leading axis:
    forward prefix products, then suffix products on the way back."""
    prefix = [Ws[0]]
    for W in Ws[1:]:
        prefix.append(W @ prefix[-1])
    G = prefix[-1] - phi
    loss = 0.5 * np.sum(G * G, axis=(-2, -1))
    grads = [None] * len(Ws)
    back = G                                                    # (W_L...W_(l+1))^T G
    for l in range(len(Ws) - 1, -1, -1):
        right = prefix[l - 1] if l > 0 else None
        grads[l] = back @ np.swapaxes(right, -1, -2) if right is not None else back
        back = np.swapaxes(Ws[l], -1, -2) @ back
    return loss, grads


def numpy_gd_matrix(Ws: list[np.ndarray], phi: np.ndarray, eta: float, steps: int):
    """Matrix GD, batched over starts; the loss of every iterate 0..steps (steps + 1, B)."""
    Ws = [W.copy() for W in Ws]
    losses = []
    for _ in range(steps):
        loss, grads = matrix_grads(Ws, phi)
        losses.append(loss)
        for W, G in zip(Ws, grads, strict=True):
            W -= eta * G
    losses.append(matrix_grads(Ws, phi)[0])
    return Ws, np.asarray(losses)


def matrix_field(shapes, phi):
    """The flattened flow field -grad F for one start (for solve_ivp)."""
    def field(t, v):
        _, grads = matrix_grads(_layers(v, shapes), phi)
        return -np.concatenate([g.ravel() for g in grads])
    return field


# ---------------------------------------------------------------- JAX (plain)
def lax_scan_gd(loss, eta: float, steps: int):
    """A plain jitted lax.scan of jax.grad recording the loss every step: params -> (params,
    losses). ``loss`` takes a tuple of layers."""
    import jax

    @jax.jit
    def run(params):
        def step(p, _):
            val, g = jax.value_and_grad(loss)(p)
            return jax.tree_util.tree_map(lambda W, G: W - eta * G, p, g), val
        return jax.lax.scan(step, params, None, length=steps)

    return run


def eigsh_sharpness(loss, checkpoints, tol: float) -> np.ndarray:
    """Top Hessian eigenvalue at each flat checkpoint by eigsh on a LinearOperator over a jitted
    jax.jvp of jax.grad, warm-started from the previous checkpoint's eigenvector."""
    import jax
    import jax.numpy as jnp

    hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(loss), (x,), (v,))[1])
    out, v0 = [], None
    for x in checkpoints:
        x = jnp.asarray(x)
        n = x.shape[0]
        op = spla.LinearOperator((n, n), matvec=lambda v, x=x, n=n: np.asarray(hvp(x, jnp.asarray(
            v.reshape(n)))), dtype=np.float64)
        vals, vecs = spla.eigsh(op, k=1, which="LA", tol=tol, v0=v0)
        out.append(vals[0])
        v0 = vecs[:, 0]
    return np.asarray(out)
