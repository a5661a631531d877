"""Min-Vidal-Mallada deep bounds (ICML 2023, Definition 3, Theorem 3, Corollary 2).

Paper orientation: V_1 ... V_L with W = V_1 V_2 ... V_L, V_1 the output layer; ours W_L ... W_1,
so V_l = W_(L+1-l) and the paper's D_l = V_l^T V_l - V_(l+1) V_(l+1)^T is our D_(L-l). The weights
are unimodal with index l* if D_l >= 0 for l < l* and D_l <= 0 for l >= l*; cumulative imbalances

    d~(i) = sum_{l=l*}^{i} lambda_m(-D_l) (i >= l*), d~(i) = sum_{l=i}^{l*-1} lambda_n(D_l) (i < l*)

(n the output, m the input dimension, lambda_k the k-th largest eigenvalue). Theorem 3:
lambda_min(T) >= prod_i d~(i) (18); with homogeneous imbalance (D_l = d_l I) also
lambda_min(T) >= sqrt((prod_i d~(i))^2 + (L sigma_min(W)^(2-2/L))^2) (19). All D_l are conserved by
the flow and sigma_min(W(t)) >= the margin nu, so Corollary 2: F(t) - F* <= exp(-gamma alpha_L t)
(F(0) - F*) with alpha_L the bound at sigma_min = nu. (The paper's Corollary 2 prints (L nu)^2;
Theorem 3 and the poster, seed 004, have (L nu^(2-2/L))^2, which we use: with d_l = 0 it is the
balanced rate L nu^(2-2/L) of Arora et al.) Scalar chains are unimodal once the weights are
sorted by |w| (the loss and the flow do not depend on the order), so the bound applies to all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, check_finite_array

if TYPE_CHECKING:
    from ..problem import Problem

_REL = 1e-10     # relative tolerance for "D >= 0", "D <= 0" and "D = d I"


def _paper_layers(layers: Any) -> list[np.ndarray]:
    Ws = [np.asarray(W, float) for W in layers]
    if len(Ws) < 2 or any(W.ndim != 2 for W in Ws):
        raise InputError("the deep bound needs a list of at least two weight matrices")
    for a, b in zip(Ws[:-1], Ws[1:], strict=True):
        if b.shape[1] != a.shape[0]:
            raise InputError(f"layers must chain (W_(l+1) of shape (d_(l+1), d_l)), got "
                             f"{a.shape} then {b.shape}")
    for W in Ws:
        check_finite_array("layers", W)
    if all(W.shape == (1, 1) for W in Ws):     # scalar chain: sort by |w|, descending
        Ws = sorted(Ws, key=lambda W: -abs(float(W[0, 0])))
        return Ws                               # already in "output first" order (any order)
    return Ws[::-1]


def cumulative_imbalances(layers: Any) -> tuple[int, np.ndarray]:
    """(l*, [d~(1), ..., d~(L-1)]) of weights ``layers`` = (W_1, ..., W_L) in our convention
    (the largest valid unimodality index when several are valid); InputError when the weights
    are not unimodal or a hidden width is below n or m."""
    V = _paper_layers(layers)
    L = len(V)
    n, m = V[0].shape[0], V[-1].shape[1]
    D = [V[l].T @ V[l] - V[l + 1] @ V[l + 1].T for l in range(L - 1)]
    if any(Dl.shape[0] < max(n, m) for Dl in D):
        raise InputError(f"the deep bound needs hidden widths >= max(n, m) = {max(n, m)}")
    scale = max(max(float(np.max(np.abs(Dl))) for Dl in D), 1e-300)
    ev = [np.linalg.eigvalsh(Dl)[::-1] for Dl in D]                 # descending
    psd = [e[-1] >= -_REL * scale for e in ev]
    nsd = [e[0] <= _REL * scale for e in ev]
    valid = [s for s in range(1, L + 1)
             if all(psd[l] for l in range(s - 1)) and all(nsd[l] for l in range(s - 1, L - 1))]
    if not valid:
        raise InputError("the weights are not unimodal (MVM Definition 3): no l* with "
                         "D_l >= 0 before it and D_l <= 0 after it")
    s = valid[-1]
    lam_n = [max(float(e[n - 1]), 0.0) for e in ev]               # lambda_n(D_l)
    lam_m = [max(float(-e[::-1][m - 1]), 0.0) for e in ev]        # lambda_m(-D_l)
    dt = np.array([sum(lam_m[l - 1] for l in range(s, i + 1)) if i >= s
                   else sum(lam_n[l - 1] for l in range(i, s)) for i in range(1, L)])
    return s, dt


def is_homogeneous(layers: Any) -> bool:
    """Whether every imbalance is a multiple of the identity, D_l = d_l I (MVM Definition 3)."""
    V = _paper_layers(layers)
    D = [V[l].T @ V[l] - V[l + 1] @ V[l + 1].T for l in range(len(V) - 1)]
    scale = max(max(float(np.max(np.abs(Dl))) for Dl in D), 1e-300)
    return all(np.max(np.abs(Dl - np.mean(np.diag(Dl)) * np.eye(Dl.shape[0]))) <= _REL * scale
               for Dl in D)


def deep_lambda_bound(layers: Any, sigma_min: float | None = None) -> float:
    """MVM Theorem 3: prod_i d~(i) (18), and for homogeneous imbalance with all widths equal
    (n = m = d_l) the larger sqrt(prod^2 + (L sigma^(2-2/L))^2) (19), sigma = ``sigma_min``
    (default sigma_min(W)). (19) is not applied when widths differ: its proof writes every layer
    as Q Sigma Q^T with Sigma of size min(n, m), which cannot carry D_l = d_l I != 0 on a wider
    hidden layer, and random draws with n != m violate it (tests/test_bounds.py)."""
    _, dt = cumulative_imbalances(layers)
    prod = float(np.prod(dt))
    shapes = {d for W in layers for d in np.shape(W)}
    if not is_homogeneous(layers) or len(shapes) != 1:
        return prod
    L = len(layers)
    if sigma_min is None:
        W = np.asarray(layers[0], float)
        for Wl in layers[1:]:
            W = np.asarray(Wl, float) @ W
        sigma_min = float(np.linalg.svd(W, compute_uv=False).min())
    return float(np.hypot(prod, L * sigma_min ** (2.0 - 2.0 / L)))


def alpha_deep(problem: Problem, params: Any) -> float:
    """MVM Corollary 2: alpha_L with F(t) - F* <= exp(-gamma alpha_L t) (F(0) - F*) along the
    flow from ``params`` (unimodal weights; the margin enters only with homogeneous imbalance)."""
    from .margins import product_margins

    p, batch = problem.check_params(params)
    if batch is not None:
        raise InputError("the deep bound takes one start, not a batch")
    layers = [np.asarray(W, float) for W in p]
    W = layers[0]
    for Wl in layers[1:]:
        W = Wl @ W
    return deep_lambda_bound(layers, sigma_min=product_margins(problem, W).min)
