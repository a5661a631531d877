"""F* of softmax cross-entropy over W = P_out M P_in, through linear programs on the margins.

Margins m_jc(W) = (W x_j)_(y_j) - (W x_j)_c = <M, P_out (e_(y_j) - e_c) (P_in x_j)^T>, one per
sample j and wrong class c. (1) Separable: some M has every m_jc > 0 (found fast by L-BFGS on
the squared hinge, else decided by the LP m_jc >= 1 with scipy.optimize.linprog / HiGHS):
F* = 0, not attained. (2) Otherwise the LP
max sum t_jc, m_jc(M) >= t_jc, 0 <= t_jc <= 1, finds the largest set S of margins a direction
D can raise while keeping every other margin >= 0 (any optimum has t > 0 on all of S, else
adding a small multiple of a D that raises the missing pair would raise the objective). Moving
along D removes the pairs in S from the softmax sums and leaves the rest, so
F* = min f_rest (pairs in S dropped), attained by f itself only when S is empty. f_rest has no
such direction left, so scipy.optimize finds its minimum. (3) A rank bound r below the rank of
the projectors makes the problem non-convex: F* is then known only when a separating W of rank
<= r turns up (rows centred: margins do not see a common row added to W).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from .base import Optimum
from .convex import minimise_on_subspace

if TYPE_CHECKING:
    import scipy.sparse

SUPPORT_TOL = 1e-6
"""t_jc above this counts as a margin that can grow (HiGHS's feasibility tolerance is 1e-7)."""

_CACHE: dict[str, Optimum] = {}


def margin_matrix(X: np.ndarray, labels: np.ndarray, k: int, p_out: np.ndarray,
                  p_in: np.ndarray) -> tuple[scipy.sparse.csr_array, np.ndarray]:
    """(G, pairs): m_jc = G vec_r(M) for the pairs (j, c), c != y_j, in sample order."""
    import scipy.sparse  # on use: scipy.sparse costs the CLI's start-up ~0.1 s

    j, c = np.nonzero(np.arange(k)[None, :] != labels[:, None])        # (N,) pairs
    U = p_out[:, labels[j]].T - p_out[:, c].T                          # (N, k): P_out(e_y - e_c)
    V = (p_in @ X).T[j]                                                # (N, d)
    blocks = [scipy.sparse.csr_array(U[:, a:a + 1] * V) for a in range(k)]
    return scipy.sparse.hstack(blocks, format="csr"), np.stack([j, c], axis=1)


def _hinge_certificate(G: scipy.sparse.csr_array) -> np.ndarray | None:
    """A fast try: L-BFGS on the squared hinge 1/2 sum max(0, 1 - m_jc)^2 (0 iff separable),
    stopped at the first iterate whose margins are all > 0; None if none is found."""
    import scipy.optimize  # on use: a 1 s import
    def fun(m):
        s = np.maximum(0.0, 1.0 - G @ m)
        return 0.5 * float(s @ s), -(G.T @ s)

    def stop(intermediate_result):
        if np.min(G @ intermediate_result.x) > 0:
            raise StopIteration

    res = scipy.optimize.minimize(fun, np.zeros(G.shape[1]), jac=True, method="L-BFGS-B",
                                  callback=stop, options={"maxiter": 500})
    return res.x if np.min(G @ res.x) > 0 else None


def _separating(G: scipy.sparse.csr_array) -> np.ndarray | None:
    """An M with every margin > 0 (vec_r), or None when none exists (exact: the LP m >= 1
    decides when the squared-hinge try finds none)."""
    import scipy.optimize  # on use: a 1 s import
    found = _hinge_certificate(G)
    if found is not None:
        return found
    N, P = G.shape
    res = scipy.optimize.linprog(np.zeros(P), A_ub=-G, b_ub=-np.ones(N), bounds=(None, None),
                                 method="highs")
    return res.x if res.status == 0 else None


def _growing_pairs(G: scipy.sparse.csr_array) -> np.ndarray:
    """Boolean (N,): the margins some direction can raise without lowering any below 0."""
    import scipy.optimize  # on use: a 1 s import
    import scipy.sparse

    N, P = G.shape
    A = scipy.sparse.hstack([-G, scipy.sparse.eye_array(N)], format="csr")
    c = np.concatenate([np.zeros(P), -np.ones(N)])
    bounds = [(None, None)] * P + [(0.0, 1.0)] * N
    res = scipy.optimize.linprog(c, A_ub=A, b_ub=np.zeros(N), bounds=bounds, method="highs")
    if res.status != 0:                       # bounded and feasible (t = 0): cannot happen
        raise RuntimeError(f"margin LP failed: {res.message}")
    return res.x[P:] > SUPPORT_TOL


def _minimum(X, labels, k, p_out, p_in, keep) -> float:
    """min over M of the cross-entropy of W = p_out M p_in with the softmax sums of ``keep``."""
    from .cross_entropy import masked_cross_entropy

    Xj, onehot, K = jnp.asarray(X), jnp.asarray(np.eye(k)[:, labels]), jnp.asarray(keep)
    return minimise_on_subspace(lambda W: masked_cross_entropy(W @ Xj, onehot, K),
                                (k, X.shape[0]), p_out, p_in)[0]


def _low_rank_separator(m: np.ndarray, k: int, p_out, p_in, rank: int) -> bool:
    W = p_out @ m.reshape(k, -1) @ p_in
    if np.allclose(p_out, np.eye(k)):
        W = W - W.mean(axis=0, keepdims=True)             # same margins, often lower rank
    return np.linalg.matrix_rank(W) <= rank


def classification_optimum(X: np.ndarray, labels: np.ndarray, k: int, p_out: np.ndarray,
                           p_in: np.ndarray, rank: int) -> Optimum:
    """F* of the cross-entropy over W = p_out M p_in, rank M <= rank (module docstring)."""
    key = hashlib.sha256(b"".join(np.ascontiguousarray(a, dtype=float).tobytes() for a in (
        X, labels, p_out, p_in, np.array([k, rank])))).hexdigest()
    if key not in _CACHE:
        _CACHE[key] = _optimum(X, labels, k, p_out, p_in, rank)
    return _CACHE[key]


def _optimum(X, labels, k, p_out, p_in, rank) -> Optimum:
    G, pairs = margin_matrix(X, labels, k, p_out, p_in)
    binds = rank < min(np.linalg.matrix_rank(p_out), np.linalg.matrix_rank(p_in))
    sep = _separating(G)
    if sep is not None and (not binds or _low_rank_separator(sep, k, p_out, p_in, rank)):
        return Optimum(0.0, False, "F* = 0 is an infimum, not attained: the data are linearly "
                       "separable, so the loss falls to 0 only as ||W|| grows without bound "
                       "(the weights have no limit point)")
    if binds:
        return Optimum(None, None, f"F* unknown: the network's rank bound {rank} binds and the "
                       "rank-constrained cross-entropy has no closed form; thresholds on F - F* "
                       "use F* = 0, so they measure F itself")
    grow = _growing_pairs(G)
    keep = np.ones((k, X.shape[1]))
    keep[pairs[grow, 1], pairs[grow, 0]] = 0.0
    value = _minimum(X, labels, k, p_out, p_in, keep)
    if not grow.any():
        return Optimum(value, True)
    return Optimum(value, False, f"F* = {value:.6g} is an infimum, not attained: {int(grow.sum())}"
                   f" of {grow.size} class margins can grow without bound (part of the data is "
                   "separable), so the weights have no limit point")
