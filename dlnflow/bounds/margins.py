"""Margins of a start: Arora et al.'s deficiency margin, balancedness, and the product margin of
Min-Vidal-Mallada (ICML 2023, Lemma B.1, eq. 10) and Xu et al. (TMLR 2025, Table 2: beta_1,
beta_2).

For a quadratic loss f(W) = 0.5 tr(W C W^T) - tr(W B^T) + c0 (square target: C = I; regression:
C = X X^T / n), f is K-smooth and mu-strongly convex with K = lambda_max(C), mu = lambda_min(C),
and the flow keeps ||W(t) - W*||_F <= sqrt(K/mu) ||W(0) - W*||_F, so that
sigma_min(W(t)) >= [sigma_min(W*) - sqrt(K/mu) ||W(0) - W*||_F]_+ (the margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    from ..problem import Problem


@dataclass(frozen=True)
class QuadraticConstants:
    """K, mu (smoothness and strong convexity of f), W* (its minimiser), f* = f(W*), and the
    quadratic form (C, B, c0) of f."""

    K: float
    mu: float
    Wstar: np.ndarray
    fstar: float
    C: np.ndarray
    B: np.ndarray
    c0: float

    def f(self, W: Any) -> np.ndarray:
        """f(W) = 0.5 tr(W C W^T) - tr(W B^T) + c0 over the leading axes of W (numpy)."""
        W = np.asarray(W, float)
        return (0.5 * np.einsum("...ij,jk,...ik->...", W, self.C, W)
                - np.einsum("...ij,ij->...", W, self.B) + self.c0)

    @property
    def gamma(self) -> float:
        """PL constant of f: ||grad f||^2 >= gamma (f - f*), gamma = 2 mu (MVM assumption A1)."""
        return 2.0 * self.mu


def quadratic_constants(problem: Problem) -> QuadraticConstants:
    """K, mu, W*, f* of a plain network's quadratic loss; InputError when f is not strongly
    convex (C singular) or not quadratic."""
    from ..architecture import Plain
    from ..losses.base import QuadraticLoss

    obj = problem.objective
    if not isinstance(obj, QuadraticLoss) or not isinstance(problem.architecture, Plain):
        raise InputError("the rate bounds need a plain network with a quadratic loss (square "
                         "target or regression)")
    C, B, c0 = (np.asarray(x, float) for x in obj.quadratic_form())
    ev = np.linalg.eigvalsh(C)
    if not ev[0] > 1e-12 * max(ev[-1], 1e-300):
        raise InputError(f"the loss is not strongly convex in W (lambda_min(C) = {ev[0]:.3g}): "
                         "the bounds need K-smooth, mu-strongly convex f (e.g. X X^T invertible)")
    Ws = np.linalg.solve(C, B.T).T                                          # W* C = B
    fstar = 0.5 * float(np.trace(Ws @ C @ Ws.T)) - float(np.trace(Ws @ B.T)) + float(c0)
    return QuadraticConstants(K=float(ev[-1]), mu=float(ev[0]), Wstar=Ws, fstar=fstar, C=C, B=B,
                              c0=float(c0))


def _sigma_k(M: np.ndarray, k: int) -> float:
    """The k-th largest singular value of M (0 when k exceeds min(M.shape))."""
    s = np.linalg.svd(M, compute_uv=False)
    return float(s[k - 1]) if k <= s.size else 0.0


@dataclass(frozen=True)
class ProductMargins:
    """[sigma_k(W*) - sqrt(K/mu) ||W(0) - W*||_F]_+ for k = n (out), m (in), min(n, m)
    (MVM's nu_n, nu_m, nu_min; Xu's beta_1 = nu_min) and Xu's beta_2 = sigma_max(W*) +
    sqrt(K/mu) ||W(0) - W*||_F (an upper bound on sigma_max(W(t)))."""

    out: float
    inp: float
    min: float
    upper: float


def product_margins(problem: Problem, product0: Any,
                    constants: QuadraticConstants | None = None) -> ProductMargins:
    """The margins of the end-to-end start W(0) = ``product0`` (an (n, m) matrix);
    ``constants``: quadratic_constants(problem) when already at hand."""
    qc = quadratic_constants(problem) if constants is None else constants
    W0 = np.asarray(product0, float)
    if W0.shape != qc.Wstar.shape:
        raise InputError(f"the product must have shape {qc.Wstar.shape}, got {W0.shape}")
    r = np.sqrt(qc.K / qc.mu) * float(np.linalg.norm(W0 - qc.Wstar))
    n, m = W0.shape
    return ProductMargins(out=max(_sigma_k(qc.Wstar, n) - r, 0.0),
                          inp=max(_sigma_k(qc.Wstar, m) - r, 0.0),
                          min=max(_sigma_k(qc.Wstar, min(n, m)) - r, 0.0),
                          upper=_sigma_k(qc.Wstar, 1) + r)


def _plain_minimiser(problem: Problem) -> np.ndarray:
    """Phi = W* (``Problem.optimal_product``) of a plain network; InputError otherwise."""
    from ..architecture import Plain

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
    from ..invariants import imbalance

    p, _ = problem.check_params(params)
    D = imbalance(p, problem)
    if not D:
        return np.zeros(np.shape(p[0])[:-2])
    norms = [np.sqrt(np.sum(np.asarray(d) ** 2, axis=(-2, -1))) for d in D]
    return np.max(np.stack(norms), axis=0)


