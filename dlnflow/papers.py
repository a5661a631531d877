"""Step-size rules and scalings of the convergence theorems, one function per paper's formula.

Norms: ||.||_2 the spectral norm, ||.||_F the Frobenius norm; L the depth, n the number of
samples (columns of X), d_y the output dimension, m the hidden width. Our regression loss is
0.5/n ||W X - Y||_F^2; where a paper states its rule for the loss without the 1/n, the function
returns the step for ours (n times the paper's), as its docstring says.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _spectral_sq(M: Any) -> float:
    return float(np.linalg.norm(np.asarray(M, dtype=float), 2) ** 2)


def arora_eta(depth: int, margin: float, phi_norm: float, constant: float = 6144.0) -> float:
    """Arora, Cohen, Golowich, Hu (ICLR 2019), Theorem 1: for the target loss
    0.5 ||W - Phi||_F^2 from a balanced start with deficiency margin c,

        eta <= c^((4L - 2)/L) / (6144 L^3 ||Phi||_F^((6L - 4)/L)).

    ``margin`` is c, ``phi_norm`` is ||Phi||_F; ``constant`` replaces the 6144."""
    L = depth
    return margin ** ((4 * L - 2) / L) / (constant * L**3 * phi_norm ** ((6 * L - 4) / L))


def bartlett_eta(depth: int, phi_norm: float) -> float:
    """Bartlett, Helmbold, Long (ICML 2018): identity start, symmetric positive definite target
    Phi, an O(1/L) step

        eta = 1 / (2 L max(1, ||Phi||_2)^2).

    ``phi_norm`` is ||Phi||_2 (the largest |eigenvalue| of the symmetric Phi)."""
    return 1.0 / (2 * depth * max(1.0, phi_norm) ** 2)


def du_hu_output_scale(width: int, depth: int, d_out: int) -> float:
    """Du and Hu (ICML 2019): the output of the width-m network is scaled by
    1 / sqrt(m^(L-1) d_y) (every layer's entries N(0, 1))."""
    return 1.0 / np.sqrt(float(width) ** (depth - 1) * d_out)


def du_hu_eta(depth: int, X: Any, d_out: int) -> float:
    """Du and Hu (ICML 2019): eta = d_y / (2 L ||X||_2^2) for their loss 0.5 ||W X - Y||_F^2,
    so for ours (with 1/n)

        eta = n d_y / (2 L ||X||_2^2).

    Hu, Xiao, Pennington (ICLR 2020) use the same step with orthogonal layers."""
    X = np.asarray(X, dtype=float)
    return X.shape[1] * d_out / (2 * depth * _spectral_sq(X))


def zou_eta(depth: int, A: Any, B: Any, X: Any) -> float:
    """Zou, Long, Gu (ICLR 2020): residual network B (I + W_L) ... (I + W_1) A from W_l = 0,
    an O(1/L) step eta = 1 / (L ||A||_2^2 ||B||_2^2 ||X||_2^2) for their loss (no 1/n), so for
    ours

        eta = n / (L ||A||_2^2 ||B||_2^2 ||X||_2^2)

    (the constant is ours: the paper's theorem has an unspecified one)."""
    X = np.asarray(X, dtype=float)
    ab2 = float(np.linalg.norm(np.asarray(A, float), 2) ** 2
                * np.linalg.norm(np.asarray(B, float), 2) ** 2)
    return X.shape[1] / (depth * ab2 * _spectral_sq(X))


def xu_eta_max(constants: Any, d: float = 2.0) -> float:
    """Xu, Min, Tarmoun, Mallada, Vidal (TMLR 2025), Theorem E.1 with c = 1/2 (Theorem 3.2 is
    d = 2; their experiments use d = 1.01): any constant step 0 < eta < eta_max, or a schedule
    eta_0 <= eta_t <= min((1 + eta_0^d)^(t/2) eta_0, 1/K_t), contracts the loss by rho_bar per
    step. ``constants`` is bounds.xu_constants(problem, start) (alpha_1 > 0 needed);

        eta_max = min(eta1, eta2, log(1 + alpha_1 / (2 alpha_2))^2),

    eta1 the root of eta K_bar_0(eta) = 1 (eq. 101), eta2 the least positive root of
    4 K F(0) eta^2 = (1 - exp(-sqrt(eta))) (1 - (1 + eta^d) rho_bar(eta)) (eq. 102; inf if none).
    K and mu are those of our loss (regression: C = X X^T / n carries our 1/n), so the step
    applies to our loss as it stands."""
    import scipy.optimize

    from .bounds.gd import xu_contraction_gap, xu_K_bar0
    from .errors import InputError

    c = constants
    if not c.alpha1 > 0:
        raise InputError(f"Xu et al.'s step-size rule needs alpha_1 > 0, got {c.alpha1:.3g}")
    eta3 = float(np.log1p(c.alpha1 / (2.0 * c.alpha2)) ** 2)
    g1 = lambda e: e * xu_K_bar0(c, e) - 1.0  # noqa: E731
    hi = 1.0
    while g1(hi) < 0:
        hi *= 2.0
    eta1 = scipy.optimize.brentq(g1, 0.0, hi, xtol=1e-15, rtol=1e-13)
    cap = min(eta1, eta3)

    def g2(e: Any) -> Any:
        gap = xu_contraction_gap(c, e)                      # 1 - rho_bar
        return -np.expm1(-np.sqrt(e)) * (gap - e**d * (1 - gap)) - 4 * c.K * c.loss0 * e**2

    grid = cap * np.logspace(-9, 0, 901)
    vals = g2(grid)
    neg = np.flatnonzero(vals < 0)
    eta2 = np.inf
    if neg.size:
        j = int(neg[0])
        eta2 = (scipy.optimize.brentq(g2, grid[j - 1], grid[j], xtol=1e-15, rtol=1e-13)
                if j > 0 else 0.0)
    return float(min(eta1, eta2, eta3))


def xu_adaptive_eta(problem: Any, params: Any, t: int, eta0: float, d: float = 2.0) -> float:
    """Xu et al. (TMLR 2025), eq. 19 with h = rho: the step at iteration t from the iterate
    ``params`` = (W_1, W_2),

        eta_t = min((1 + eta_0^d)^(t/2) eta_0, 1/K_t),

    K_t of Theorem 3.1 (eq. 12) at the iterate; K_t grows with eta_t, so 1/K_t means the root of
    eta K_t(eta) = 1. With 0 < eta_0 < eta_max (:func:`xu_eta_max`) this obeys the rule
    eta_0 <= eta_t <= min((1 + eta_0^d)^(t/2) eta_0, 1/K_t) of Theorem 3.2."""
    import scipy.optimize

    from .bounds.gd import xu_local

    grow = (1.0 + eta0**d) ** (t / 2.0) * eta0

    def g(e: float) -> float:
        return e * float(xu_local(problem, params, e).K_t) - 1.0

    if g(grow) <= 0:
        return float(grow)
    return float(scipy.optimize.brentq(g, 1e-12 * grow, grow, xtol=1e-15, rtol=1e-13))
