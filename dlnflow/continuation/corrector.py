"""Newton corrector of the pseudo-arclength continuation, and the branch tangent.

Unknowns y = (x, eta, mu), mu in R^k unfolding parameters for the k directions T along which
orbits come in families (:meth:`MapFamily.null_basis`, frozen at the anchor x_a). Equations:

    G^p(x, eta) - x + T mu = 0,   T^T (x - x_a) = 0 (phase),   t . ((x, eta) - y_a) = s (arclength)

At a solution mu = 0 (T is tangent to the family); the phase rows pick one member of the family,
so the bordered Jacobian stays regular where D(G^p) - I alone is singular along T. Solved by
scipy.optimize.root (method "lm", MINPACK lmder) with the exact Jacobian from JAX
(:func:`~dlnflow.continuation.families.evaluate`): on this square regular system its steps near
the solution are Newton steps (quadratic convergence, 3-8 evaluations per correction). Each
evaluation is one compiled step per orbit point; optimistix's Newton, compiled per system and
period, cost more to compile than a whole continuation takes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.optimize

from .branch import ContinuationOptions
from .families import MapFamily, evaluate


@dataclasses.dataclass(frozen=True)
class Correction:
    """Result of one correction: the point (x, eta), unfolding parameters, success, function
    evaluations and the final residual norm of G^p(x) - x."""

    x: np.ndarray
    eta: float
    mu: np.ndarray
    ok: bool
    steps: int
    residual: float


def bordered_system(family: MapFamily, period: int, y: np.ndarray, anchor: np.ndarray,
                    t: np.ndarray, s: float, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The residual of the corrector's equations at y = (x, eta, mu) and its Jacobian."""
    n, k = family.dim, T.shape[1]
    x, eta, mu = y[:n], y[n], y[n + 1:]
    g, Jx, Je = evaluate(family, x, eta, period)
    F = np.concatenate([g - x + T @ mu, T.T @ (x - anchor[:n]), [t @ (y[:n + 1] - anchor) - s]])
    J = np.vstack([np.hstack([Jx - np.eye(n), Je.reshape(n, 1), T]),
                   np.hstack([T.T, np.zeros((k, 1 + k))]),
                   np.concatenate([t, np.zeros(k)])[None]])
    return F, J


def correct(family: MapFamily, period: int, anchor: np.ndarray, tangent: np.ndarray, s: float,
            options: ContinuationOptions, predictor: np.ndarray | None = None) -> Correction:
    """Solve for the period-p orbit on the hyperplane t . (y - y_a) = s (anchor y_a = (x_a,
    eta_a), unit tangent t), Newton from ``predictor`` (default y_a + s t)."""
    anchor = np.asarray(anchor, float)
    tangent = np.asarray(tangent, float)
    n = family.dim
    T = family.null_basis(anchor[:n], float(anchor[n]), period)
    pred = anchor + s * tangent if predictor is None else np.asarray(predictor, float)
    y0 = np.concatenate([pred, np.zeros(T.shape[1])])
    with np.errstate(all="ignore"):
        sol = scipy.optimize.root(
            lambda y: bordered_system(family, period, y, anchor, tangent, s, T), y0, jac=True,
            method="lm", options={"xtol": options.newton_tol, "ftol": options.newton_tol,
                                             "maxiter": options.newton_steps})
    y = np.asarray(sol.x, float)
    res = np.linalg.norm(evaluate(family, y[:n], y[n], period)[0] - y[:n]) if np.all(
        np.isfinite(y)) else np.inf
    scale = 1.0 + float(np.linalg.norm(y[:n]))
    good = bool(np.all(np.isfinite(y))) and float(res) <= 1e3 * options.newton_tol * scale
    return Correction(x=y[:n], eta=float(y[n]), mu=y[n + 1:], ok=good, steps=int(sol.nfev),
                      residual=float(res))


def augmented_jacobian(family: MapFamily, x: np.ndarray, eta: float, period: int,
                       T: np.ndarray | None = None) -> np.ndarray:
    """Jacobian of (G^p(x, eta) - x + T mu, T^T x) in (x, eta, mu): (n + k) x (n + 1 + k)."""
    n = family.dim
    T = family.null_basis(x, eta, period) if T is None else T
    k = T.shape[1]
    _, Jx, Je = evaluate(family, x, eta, period)
    top = np.hstack([Jx - np.eye(n), Je.reshape(n, 1), T])
    bottom = np.hstack([T.T, np.zeros((k, 1 + k))])
    return np.vstack([top, bottom])


def tangent(family: MapFamily, x: np.ndarray, eta: float, period: int,
            orient: np.ndarray | None = None) -> np.ndarray:
    """Unit tangent (dx, deta) of the branch at (x, eta): the null vector of the augmented
    Jacobian (its mu part vanishes), oriented to have a positive product with ``orient``."""
    n = family.dim
    A = augmented_jacobian(family, x, eta, period)
    v = np.linalg.svd(A)[2][-1][:n + 1]
    v = v / np.linalg.norm(v)
    if orient is not None and float(v @ orient) < 0:
        v = -v
    return v


def orbit_residual(family: MapFamily, x: np.ndarray, eta: float, period: int) -> float:
    """|G^p(x, eta) - x| (0 on a period-p orbit)."""
    return float(np.linalg.norm(evaluate(family, x, eta, period)[0] - np.asarray(x)))
