"""Two-layer matrix bounds on the preconditioner T(G) = W_2 W_2^T G + G W_1^T W_1 (W = W_2 W_1).

Min, Vidal, Mallada (ICML 2023, "On the convergence of gradient flow on multi-layer linear
models"), Lemma 3 and Theorem 1, in our convention (W_1 of shape (h, m) is the input layer, W_2 of
shape (n, h) the output layer; the paper's W_1 W_2 is our W_2 W_1, its D = W_1^T W_1 - W_2 W_2^T is
our D = W_2^T W_2 - W_1 W_1^T). With lambda_i the i-th largest eigenvalue and [x]_+ = max(x, 0):

    Delta_+ = [lambda_1(D)]_+ - [lambda_n(D)]_+,  Delta_- = [lambda_1(-D)]_+ - [lambda_m(-D)]_+,
    Delta   = [lambda_n(D)]_+ + [lambda_m(-D)]_+,
    lambda_min(T) >= (1/2) (-Delta_+ + sqrt((Delta_+ + Delta)^2 + 4 s_in^2)
                            -Delta_- + sqrt((Delta_- + Delta)^2 + 4 s_out^2)),

s_in^2 = lambda_m(W^T W), s_out^2 = lambda_n(W W^T). The paper's (9) pairs sigma_n with Delta_+ and
sigma_m with Delta_-; for n != m that pairing is violated by random draws (tests/test_bounds.py),
the pairing above holds on all of them; for n = m the two are the same. D is conserved by the
flow and sigma_min(W(t)) >= margin (margins.py), hence Theorem 1: F(t) - F* <= exp(-gamma alpha t)
(F(0) - F*) with alpha the bound at s = the margins. The paper's (12) omits the factor 1/2 that
its proof (Appendix F) carries; with the 1/2 the scalar case gives sqrt(d^2 + 4 c^2), the exact
scalar alpha* (bounds.scalar). Requires h >= max(n, m) (lambda_n(D), lambda_m(-D) defined).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, check_finite_array

if TYPE_CHECKING:
    from ..problem import Problem


def _pair(W1: Any, W2: Any) -> tuple[np.ndarray, np.ndarray]:
    W1, W2 = np.asarray(W1, float), np.asarray(W2, float)
    if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
        raise InputError(f"W1 (h, m) and W2 (n, h) must chain, got {W1.shape}, {W2.shape}")
    check_finite_array("W1", W1)
    check_finite_array("W2", W2)
    return W1, W2


def two_layer_preconditioner_min(W1: Any, W2: Any) -> float:
    """lambda_min of T(G) = W_2 W_2^T G + G W_1^T W_1 (W = W_2 W_1): the sum of the least
    eigenvalues of W_2 W_2^T (d_2 x d_2) and W_1^T W_1 (d_0 x d_0)."""
    W1, W2 = _pair(W1, W2)
    return float(np.linalg.eigvalsh(W2 @ W2.T)[0] + np.linalg.eigvalsh(W1.T @ W1)[0])


def two_layer_preconditioner_max(W1: Any, W2: Any) -> float:
    """lambda_max of T: lambda_max(W_2 W_2^T) + lambda_max(W_1^T W_1) (Xu et al.'s
    sigma_max^2(T_t))."""
    W1, W2 = _pair(W1, W2)
    return float(np.linalg.eigvalsh(W2 @ W2.T)[-1] + np.linalg.eigvalsh(W1.T @ W1)[-1])


def two_layer_matrix_bound(W1: Any, W2: Any) -> float:
    """Lower bound on lambda_min(T) from the imbalance D = W_2^T W_2 - W_1 W_1^T (conserved):
    [lambda_min(D)]_+ + [lambda_min(-D)]_+ (W_2^T W_2 >= D, W_1 W_1^T >= -D), each term counted
    only when the hidden width d_1 is at least d_2 (resp. d_0), so that W_2 W_2^T (resp.
    W_1^T W_1) inherits the bound. Never above Delta of :func:`imbalance_gaps`."""
    W1, W2 = _pair(W1, W2)
    ev = np.linalg.eigvalsh(W2.T @ W2 - W1 @ W1.T)
    d0, d1, d2 = W1.shape[1], W1.shape[0], W2.shape[0]
    pos = max(ev[0], 0.0) if d1 >= d2 else 0.0
    neg = max(-ev[-1], 0.0) if d1 >= d0 else 0.0
    return float(pos + neg)


def imbalance_gaps(W1: Any, W2: Any) -> tuple[float, float, float]:
    """(Delta_+, Delta_-, Delta) of the imbalance D = W_2^T W_2 - W_1 W_1^T (MVM Lemma 3; Xu et
    al. Table 2). InputError unless the hidden width h >= max(n, m)."""
    W1, W2 = _pair(W1, W2)
    (h, m), n = W1.shape, W2.shape[0]
    if h < max(n, m):
        raise InputError(f"the two-layer bound needs hidden width h >= max(n, m), got h={h}, "
                         f"n={n}, m={m}")
    ev = np.linalg.eigvalsh(W2.T @ W2 - W1 @ W1.T)[::-1]          # descending
    evn = -ev[::-1]                                                 # descending, of -D
    p = lambda x: max(float(x), 0.0)  # noqa: E731
    return (p(ev[0]) - p(ev[n - 1]), p(evn[0]) - p(evn[m - 1]), p(ev[n - 1]) + p(evn[m - 1]))


def two_layer_lambda_bound(W1: Any, W2: Any, s_in: float | None = None,
                           s_out: float | None = None) -> float:
    """MVM Lemma 3 (pairing as in the module docstring): a lower bound on lambda_min(T) from
    the imbalance and lower bounds s_in <= sqrt(lambda_m(W^T W)), s_out <= sqrt(lambda_n(W W^T))
    (default: those of W = W_2 W_1 itself)."""
    W1, W2 = _pair(W1, W2)
    dp, dm, d = imbalance_gaps(W1, W2)
    W = W2 @ W1
    n, m = W.shape
    if s_in is None:
        s_in = np.sqrt(max(np.linalg.eigvalsh(W.T @ W)[0], 0.0)) if m <= n else 0.0
    if s_out is None:
        s_out = np.sqrt(max(np.linalg.eigvalsh(W @ W.T)[0], 0.0)) if n <= m else 0.0
    return float(0.5 * (-dp + np.hypot(dp + d, 2.0 * s_in) - dm + np.hypot(dm + d, 2.0 * s_out)))


def alpha_two_layer(problem: Problem, params: Any) -> float:
    """MVM Theorem 1 (case A1 + A2): alpha with F(t) - F* <= exp(-gamma alpha t) (F(0) - F*)
    along the flow from ``params`` = (W_1, W_2), gamma = 2 mu; the local flow rate
    ||grad F||^2 / (F - F*) never falls below gamma alpha. Margins from margins.product_margins."""
    from .margins import product_margins

    W1, W2 = _params2(problem, params)
    mg = product_margins(problem, W2 @ W1)
    return two_layer_lambda_bound(W1, W2, s_in=mg.inp, s_out=mg.out)


def _params2(problem: Problem, params: Any) -> tuple[np.ndarray, np.ndarray]:
    p, batch = problem.check_params(params)
    if problem.depth != 2 or batch is not None:
        raise InputError("the two-layer bound takes one start (W_1, W_2) of a depth-2 network")
    return _pair(p[0], p[1])
