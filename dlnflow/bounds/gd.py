"""Xu, Min, Tarmoun, Mallada, Vidal (TMLR 2025, "A local Polyak-Lojasiewicz and descent lemma of
gradient descent for overparametrized linear models"): GD rates for two-layer networks.

Loss F = f(W_2 W_1) with f K-smooth, mu-strongly convex and f* = 0 (Assumptions 2.1, 2.2); the
gradient map T_t has sigma^2(T_t) = the eigenvalues of our preconditioner G -> W_2 W_2^T G +
G W_1^T W_1 (two_layer.py). Theorem 3.1 (local PL and descent lemma): if eta K_t < 2,

    F(t+1) <= F(t) (1 - 2 mu_t eta + mu_t K_t eta^2) = F(t) rho(eta, t),
    mu_t = mu sigma_min^2(T_t),  s2 = sigma_max^2(T_t),
    K_t = K s2 + sqrt(2 K F) + 6 K^2 sigma_max(W) F eta^2 + 3 K s2 sqrt(2 K F) eta.

Theorem 3.2 (Theorem E.1 with c = 1/2): with alpha_1, alpha_2, beta_2 of Table 2 (alpha_1 <=
sigma_min^2(T_t), alpha_2 >= sigma_max^2(T_t)) and any 0 < eta_0 < eta_max (papers.xu_eta_max),
a step eta_0 <= eta_t <= min((1 + eta_0^d)^(t/2) eta_0, 1/K_t) gives F(t+1) <= F(t) rho_bar(eta_0),

    rho_bar = 1 - 2 mu_bar eta_0 + mu_bar K_bar_0 eta_0^2,  mu_bar = mu (alpha_1 + 2 alpha_2 (1 -
    exp(sqrt(eta_0)))),  K_bar_0 = sqrt(2 K F(0)) + 6 K^2 beta_2 F(0) eta_0^2 + K exp(sqrt(eta_0))
    alpha_2 (1 + 3 sqrt(2 K F(0)) eta_0).

A constant step eta_t = eta_0 obeys the rule (eta_0 K_t <= eta_0 K_bar_0 <= 1). alpha_1 is Min et
al.'s two-layer bound (two_layer.py; Table 2 uses beta_1 in both square roots, which for n != m
is not a lower bound, so the term whose sigma vanishes by rank gets 0, as in MVM Theorem 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, check_positive

if TYPE_CHECKING:
    from ..problem import Problem


@dataclass(frozen=True)
class XuConstants:
    """Table 2 of Xu et al. at a start: alpha_1, alpha_2, beta_1, beta_2, with K, mu and the
    initial loss F(0) (f* = 0)."""

    alpha1: float
    alpha2: float
    beta1: float
    beta2: float
    K: float
    mu: float
    loss0: float


def _checked(problem: Problem, params: Any):
    from .margins import quadratic_constants
    from .two_layer import _params2

    W1, W2 = _params2(problem, params)
    qc = quadratic_constants(problem)
    _fstar_zero(qc)
    return W1, W2, qc


def _fstar_zero(qc) -> None:
    scale = max(float(np.sum(np.asarray(qc.Wstar) ** 2)), 1.0)
    if abs(qc.fstar) > 1e-12 * scale:
        raise InputError(f"Xu et al.'s bound assumes min f = 0 (Assumption 2.2), got "
                         f"f* = {qc.fstar:.3g}")


def xu_constants(problem: Problem, params: Any) -> XuConstants:
    """alpha_1, alpha_2, beta_1, beta_2 (Table 2) of the start ``params`` = (W_1, W_2)."""
    from .margins import product_margins
    from .two_layer import two_layer_lambda_bound

    W1, W2, qc = _checked(problem, params)
    W = W2 @ W1
    mg = product_margins(problem, W, qc)
    ev = np.linalg.eigvalsh(W2.T @ W2 - W1 @ W1.T)
    lp, lm = max(float(ev[-1]), 0.0), max(float(-ev[0]), 0.0)
    a2 = 0.5 * (lp + np.hypot(lp, 2 * mg.upper)) + 0.5 * (lm + np.hypot(lm, 2 * mg.upper))
    return XuConstants(alpha1=two_layer_lambda_bound(W1, W2, s_in=mg.inp, s_out=mg.out),
                       alpha2=float(a2), beta1=mg.min, beta2=mg.upper, K=qc.K, mu=qc.mu,
                       loss0=float(qc.f(W)))


def xu_mu_bar(c: XuConstants, eta0: float) -> float:
    """mu_bar = mu (alpha_1 + 2 alpha_2 (1 - exp(sqrt(eta_0)))) <= mu_t (Theorem 3.2)."""
    return c.mu * (c.alpha1 + 2.0 * c.alpha2 * (1.0 - np.exp(np.sqrt(eta0))))


def xu_K_bar0(c: XuConstants, eta0: float) -> float:
    """K_bar_0 >= K_t (Theorem 3.2 at t = 0; K_bar_t decreases in t)."""
    s = np.sqrt(2.0 * c.K * c.loss0)
    return (s + 6 * c.K**2 * c.beta2 * c.loss0 * eta0**2
            + c.K * np.exp(np.sqrt(eta0)) * c.alpha2 * (1 + 3 * s * eta0))


def xu_contraction_gap(c: XuConstants, eta0: float) -> float:
    """1 - rho_bar(eta_0, 0) = mu_bar eta_0 (2 - K_bar_0 eta_0), without cancellation
    (numpy: ``eta0`` may be an array of positive steps)."""
    eta: Any = np.asarray(eta0, float)       # an array of steps as well as one
    if not np.all(eta > 0):
        raise InputError(f"eta0 must be positive, got {eta}")
    return xu_mu_bar(c, eta) * eta * (2.0 - xu_K_bar0(c, eta) * eta)


def xu_rho_bar(c: XuConstants, eta0: float) -> float:
    """rho_bar(eta_0, 0) = 1 - 2 mu_bar eta_0 + mu_bar K_bar_0 eta_0^2: the per-step contraction
    of the loss that Theorem 3.2 guarantees for 0 < eta_0 < eta_max."""
    return float(1.0 - xu_contraction_gap(c, eta0))


def xu_rate_bound(c: XuConstants, eta0: float) -> float:
    """-ln(rho_bar) / eta_0: the least loss rate per unit time t = k eta that Theorem 3.2
    guarantees (tends to 2 mu alpha_1 = gamma alpha_1 as eta_0 -> 0, MVM's flow bound)."""
    return float(-np.log1p(-xu_contraction_gap(c, eta0)) / eta0)


@dataclass(frozen=True)
class XuLocal:
    """Theorem 3.1 at iterates: mu_t, K_t and rho(eta, t) (NaN where eta K_t >= 2), arrays over
    the leading axes of the weights."""

    mu_t: np.ndarray
    K_t: np.ndarray
    rho: np.ndarray


def xu_local(problem: Problem, params: Any, eta: float) -> XuLocal:
    """Theorem 3.1 (eqs. 10-12) at iterates ``params`` = (W_1, W_2), each with any leading
    (batch, time) axes, for the step ``eta`` (numpy, vectorised)."""
    from .margins import quadratic_constants

    eta = check_positive("eta", eta)
    if problem.depth != 2 or len(params) != 2:
        raise InputError("xu_local takes the two layers (W_1, W_2) of a depth-2 network")
    W1, W2 = (np.asarray(W, float) for W in params)
    if W1.shape[:-2] != W2.shape[:-2] or W2.shape[-1] != W1.shape[-2]:
        raise InputError("xu_local takes the two layers (W_1, W_2) of a depth-2 network")
    qc = quadratic_constants(problem)
    _fstar_zero(qc)
    W = W2 @ W1
    F = np.maximum(qc.f(W), 0.0)
    A, G = W2 @ np.swapaxes(W2, -1, -2), np.swapaxes(W1, -1, -2) @ W1
    ea, eg = np.linalg.eigvalsh(A), np.linalg.eigvalsh(G)
    s2, s2min = ea[..., -1] + eg[..., -1], ea[..., 0] + eg[..., 0]
    smax_W = np.linalg.svd(W, compute_uv=False)[..., 0]
    r = np.sqrt(2.0 * qc.K * F)
    K_t = qc.K * s2 + r + 6 * qc.K**2 * smax_W * F * eta**2 + 3 * qc.K * s2 * r * eta
    mu_t = qc.mu * s2min
    rho = np.where(eta * K_t < 2.0, 1.0 - 2.0 * mu_t * eta + mu_t * K_t * eta**2, np.nan)
    return XuLocal(mu_t=mu_t, K_t=K_t, rho=rho)
