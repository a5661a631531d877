"""Closed forms of gradient flow used as references (conventions of REFERENCES.md).

* Saxe et al. (2014), two layers, whitened data, decoupled balanced start: a mode strength u with
  target singular value s obeys u' = 2 u (s - u), u(t) = s e^(2st) / (e^(2st) - 1 + s/u0), and the
  time from u0 to uf is (1/(2s)) ln(uf (s - u0) / (u0 (s - uf))).
* Balanced scalar chain of depth L (all w_i equal, p > 0), f = 0.5 (p - y)^2:
  p' = L p^(2 - 2/L) (y - p); the time from p0 to p1 is int_{p0}^{p1} dp / (L p^(2-2/L) (y - p)).
  The same ODE, u' = M u^(2 - 2/M) (s - u), moves a Saxe mode of a depth-M network from a
  balanced decoupled start (solved numerically: :func:`deep_saxe_mode`).
"""

from __future__ import annotations

import numpy as np
import scipy.integrate

from .errors import InputError


def saxe_mode(t: np.ndarray | float, s: float, u0: float) -> np.ndarray:
    """u(t) = s e^(2st) / (e^(2st) - 1 + s/u0) (two layers, u' = 2u(s - u))."""
    t = np.asarray(t, dtype=float)
    e = np.exp(2 * s * t)
    return s * e / (e - 1 + s / u0)


def saxe_time(s: float, u0: float, uf: float) -> float:
    """Time for a two-layer mode to go from u0 to uf: (1/(2s)) ln(uf (s - u0) / (u0 (s - uf)))."""
    if not (0 < u0 < s and 0 < uf < s):
        raise InputError(f"need 0 < u0, uf < s, got u0={u0}, uf={uf}, s={s}")
    return float(np.log(uf * (s - u0) / (u0 * (s - uf))) / (2 * s))


def balanced_chain_rate(p: np.ndarray | float, depth: int, y: float) -> np.ndarray:
    """p' = L p^(2 - 2/L) (y - p) for a balanced scalar chain with p > 0."""
    p = np.asarray(p, dtype=float)
    return depth * p ** (2 - 2 / depth) * (y - p)


def balanced_chain_time(depth: int, y: float, p0: float, p1: float) -> float:
    """Time from p0 to p1 (0 < p0 < p1 < y) for a balanced depth-L chain, by quadrature."""
    if not (0 < p0 < p1 < y):
        raise InputError(f"need 0 < p0 < p1 < y, got p0={p0}, p1={p1}, y={y}")
    val, _ = scipy.integrate.quad(lambda p: 1.0 / balanced_chain_rate(p, depth, y), p0, p1,
                                  epsabs=0.0, epsrel=1e-12, limit=200)
    return float(val)


def deep_saxe_mode(t: np.ndarray, s: float, u0: float, depth: int) -> np.ndarray:
    """Mode strength u(t) of a depth-M network from a balanced decoupled start: the solution of
    u' = M u^(2 - 2/M) (s - u) (:func:`balanced_chain_rate`), u(0) = u0 > 0, at the increasing
    times ``t`` (scipy DOP853, rtol 1e-12, atol 1e-15); M = 2 gives :func:`saxe_mode`."""
    t = np.asarray(t, dtype=float)
    sol = scipy.integrate.solve_ivp(lambda _t, u: balanced_chain_rate(u, depth, s),
                                    (0.0, float(t[-1])), [u0], method="DOP853", t_eval=t,
                                    rtol=1e-12, atol=1e-15)
    return np.asarray(sol.y[0])


def two_layer_product(t: np.ndarray | float, y: float, p0: float) -> np.ndarray:
    """Balanced two-layer chain: p(t) = y e^(2yt) / (e^(2yt) - 1 + y/p0) (logistic)."""
    return saxe_mode(t, y, p0)
