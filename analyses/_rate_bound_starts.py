"""Seeded starts for the rate-bound analyses (min_rate_bound, rate_bounds_flow_vs_gd)."""

from __future__ import annotations

import numpy as np


def two_layer_starts(rng: np.random.Generator, count: int, n: int, h: int, m: int,
                     low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """``count`` imbalanced starts W_1 (h, m), W_2 (n, h): Gaussian entries, each start scaled by
    its own factor from U(low, high) (so the imbalance and the product vary together)."""
    s = rng.uniform(low, high, size=(count, 1, 1))
    return rng.normal(size=(count, h, m)) * s, rng.normal(size=(count, n, h)) * s


def homogeneous_start(rng: np.random.Generator, depth: int, width: int,
                      lstar: int) -> list[np.ndarray]:
    """Square layers with homogeneous imbalance D_l = d_l I, unimodal with index l* (Min-Vidal-
    Mallada Definition 3, paper orientation V_1 = output): V_l = Q_(l-1) Sigma_l Q_l^T with random
    orthogonal Q and Sigma_l^2 - Sigma_(l+1)^2 = d_l I. Returned in our order W_1 = V_L, ..."""
    L = depth
    Q = [np.linalg.qr(rng.normal(size=(width, width)))[0] for _ in range(L + 1)]
    sig2 = {lstar: rng.uniform(0.2, 1.2, size=width)}
    for l in range(lstar - 1, 0, -1):                 # D_l = d_l I >= 0 above l*
        sig2[l] = sig2[l + 1] + rng.uniform(0.05, 0.6)
    for l in range(lstar + 1, L + 1):                 # D_(l-1) <= 0 below l*
        sig2[l] = sig2[l - 1] + rng.uniform(0.05, 0.6)
    V = [Q[l - 1] @ np.diag(np.sqrt(sig2[l])) @ Q[l].T for l in range(1, L + 1)]
    return V[::-1]
