"""Convergence-rate bounds from the theory: Min-Vidal-Mallada's alpha*, Arora et al.'s margins.

Gradient flow gives d/dt (F - F*) = -||grad F||^2. When ||grad F||^2 >= K lambda_min(T_w) (F - F*)
(T_w the preconditioner of the induced flow, K = 2 for f = 0.5 (p - y)^2), the flow obeys
F(t) - F* <= exp(-K alpha* t) (F(0) - F*), alpha* = min lambda_min(T_w) over the set the flow can
reach (imbalances fixed, |p| >= margin). Scalar chains: lambda_min(T_w) = sum_i prod_{j!=i} w_j^2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.optimize

from .errors import InputError, check_finite, check_finite_array, float_array
from .losses import SquareTarget

if TYPE_CHECKING:
    from .problem import Problem
    from .trajectory import Trajectory


def scalar_margin(weights: Any, target: float) -> float:
    """Margin c = |y| - |y - p(0)| of a scalar-chain start, p(0) = prod_i w_i (may be <= 0)."""
    w = _weights(weights)
    y = check_finite("target", target)
    return abs(y) - abs(y - float(np.prod(w)))


def _sum_prod_others(v: np.ndarray) -> np.ndarray:
    """sum_i prod_{j != i} v_j over the last axis."""
    total = np.zeros(v.shape[:-1])
    for i in range(v.shape[-1]):
        total = total + np.prod(np.delete(v, i, axis=-1), axis=-1)
    return total


def alpha_star_scalar(weights: Any, target: float) -> float:
    """Min-Vidal-Mallada alpha* of a scalar-chain start (square loss, any depth L >= 2).

    With w_i^2 = x + D_i (D_i = w_i(0)^2 - min_j w_j(0)^2 conserved by the flow), the reachable
    set is {x >= 0, prod_i (x + D_i) >= c^2}; lambda_min = sum_i prod_{j!=i} (x + D_j) increases
    in x, so alpha* is its value at the one root x of prod_i (x + D_i) = c^2 (brentq on
    [0, c^(2/L)]). Raises InputError when the margin c = |y| - |y - p(0)| is not positive.
    """
    w = _weights(weights)
    if w.size < 2:
        raise InputError(f"alpha* needs a chain of depth >= 2, got {w.size} weight(s)")
    c = scalar_margin(w, target)
    if not c > 0:
        raise InputError(
            f"the margin |y| - |y - p(0)| = {c:.6g} is not positive (p(0) = {np.prod(w):.6g}, "
            f"y = {target}): the bound gives no rate")
    x = _alpha_root(w, c)
    D = w**2 - np.min(w**2)
    return float(_sum_prod_others(x + D))


def _alpha_root(w: np.ndarray, c: float) -> float:
    D = w**2 - np.min(w**2)
    g = lambda x: float(np.prod(x + D)) - c**2  # noqa: E731
    hi = c ** (2.0 / w.size)          # prod (hi + D_i) >= hi^L = c^2 (up to rounding)
    if g(hi) == 0.0:
        return hi
    while g(hi) < 0.0:
        hi *= 1.0 + 1e-9
    return scipy.optimize.brentq(g, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                 maxiter=500)


def alpha_star_scalar_root(weights: Any, target: float) -> float:
    """The root x = w_min^2 at the minimiser of :func:`alpha_star_scalar`."""
    w = _weights(weights)
    c = scalar_margin(w, target)
    if not c > 0:
        raise InputError(f"the margin |y| - |y - p(0)| = {c:.6g} is not positive")
    return _alpha_root(w, c)


def alpha_star_two_layer_scalar(d: float, margin: float) -> float:
    """Closed form for L = 2: alpha* = sqrt(d^2 + 4 c^2), d = w_1^2 - w_2^2, c the margin."""
    return float(np.hypot(check_finite("d", d), 2.0 * check_finite("margin", margin)))


def two_layer_preconditioner_min(W1: Any, W2: Any) -> float:
    """lambda_min of T(G) = W_2 W_2^T G + G W_1^T W_1 (W = W_2 W_1): the sum of the least
    eigenvalues of W_2 W_2^T (d_2 x d_2) and W_1^T W_1 (d_0 x d_0)."""
    W1, W2 = np.asarray(W1, float), np.asarray(W2, float)
    return float(np.linalg.eigvalsh(W2 @ W2.T)[0] + np.linalg.eigvalsh(W1.T @ W1)[0])


def two_layer_matrix_bound(W1: Any, W2: Any) -> float:
    """Lower bound on lambda_min(T) from the imbalance D = W_2^T W_2 - W_1 W_1^T (conserved):
    [lambda_min(D)]_+ + [lambda_min(-D)]_+ (W_2^T W_2 >= D, W_1 W_1^T >= -D), each term counted
    only when the hidden width d_1 is at least d_2 (resp. d_0), so that W_2 W_2^T (resp.
    W_1^T W_1) inherits the bound. With d_1 > max(d_0, d_2) both terms vanish (D has
    eigenvalues of both signs or zero): the bound is informative only for d_1 = d_2 or d_1 = d_0.
    """
    W1, W2 = np.asarray(W1, float), np.asarray(W2, float)
    if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
        raise InputError(f"W1 (d1, d0) and W2 (d2, d1) must chain, got {W1.shape}, {W2.shape}")
    check_finite_array("W1", W1)
    check_finite_array("W2", W2)
    D = W2.T @ W2 - W1 @ W1.T
    ev = np.linalg.eigvalsh(D)
    d0, d1, d2 = W1.shape[1], W1.shape[0], W2.shape[0]
    pos = max(ev[0], 0.0) if d1 >= d2 else 0.0
    neg = max(-ev[-1], 0.0) if d1 >= d0 else 0.0
    return float(pos + neg)


def rate_bound_check(trajectory: Trajectory, K: float = 2.0, rtol: float = 1e-9) -> dict:
    """Check that the local flow rate ||grad F||^2 / (F - F*) >= K alpha* at every record.

    Scalar chains with the square loss (K = 2); one entry per run: alpha_star (None when the
    margin is not positive), min_rate, min_ratio = min_rate / (K alpha*), holds (bool).
    """
    from .rates import local_rate

    prob = trajectory.problem
    if not prob.is_scalar_chain or not isinstance(prob.objective, SquareTarget):
        raise InputError("rate_bound_check needs a scalar chain with the square loss")
    y = float(prob.objective.target[0, 0])
    _, rate = local_rate(trajectory)
    w0 = trajectory.scalar_weights()[:, 0]
    out = []
    for i in range(trajectory.batch_size):
        r = rate[i][np.isfinite(rate[i])]
        rmin = float(r.min()) if r.size else float("nan")
        if scalar_margin(w0[i], y) > 0:
            a = alpha_star_scalar(w0[i], y)
            out.append({"alpha_star": a, "min_rate": rmin, "min_ratio": rmin / (K * a),
                        "holds": bool(rmin >= K * a * (1 - rtol))})
        else:
            out.append({"alpha_star": None, "min_rate": rmin, "min_ratio": None, "holds": None})
    return {"K": K, "runs": out}


def _plain_minimiser(problem: Problem) -> np.ndarray:
    """Phi = W* (``Problem.optimal_product``) of a plain network; InputError otherwise."""
    from .architecture import Plain

    Phi = problem.optimal_product
    if Phi is None or not isinstance(problem.architecture, Plain):
        raise InputError("deficiency margin needs a plain (non-residual) network and a loss with "
                         "a known minimiser (target or regression)")
    return Phi


def deficiency_margin(problem: Problem, params: Any) -> np.ndarray:
    """Arora, Cohen, Golowich, Hu (2019): c = sigma_min(Phi) - ||W(0) - Phi||_F (positive means
    ||W(0) - Phi||_F <= sigma_min(Phi) - c holds with that c). One value per run."""
    p, batch = problem.check_params(params)
    Phi = _plain_minimiser(problem)
    smin = float(np.linalg.svd(Phi, compute_uv=False).min())
    W = np.asarray(problem.end_to_end(p))
    dist = np.sqrt(np.sum((W - Phi) ** 2, axis=(-2, -1)))
    return smin - dist if batch is not None else np.asarray(smin - dist)


def balancedness(problem: Problem, params: Any) -> np.ndarray:
    """Approximate balancedness delta = max_l ||D_l||_F, D_l = W_(l+1)^T W_(l+1) - W_l W_l^T."""
    from .invariants import imbalance

    p, _ = problem.check_params(params)
    D = imbalance(p, problem)
    if not D:
        return np.zeros(np.shape(p[0])[:-2])
    norms = [np.sqrt(np.sum(np.asarray(d) ** 2, axis=(-2, -1))) for d in D]
    return np.max(np.stack(norms), axis=0)


def _weights(weights: Any) -> np.ndarray:
    w = float_array("weights", weights).ravel()
    check_finite_array("weights", w)
    return w
