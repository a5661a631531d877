"""Detection, location and branch switching of special points on a continued branch.

Test functions, evaluated at every point of a branch (a sign change between two points brackets
a special point):

* period doubling: psi_PD = prod_i (1 + mu_i) = det(I + M) (M the quotient Jacobian of G^p):
  changes sign when a real multiplier crosses -1;
* fold (turning point in eta): psi_F = deta/ds, the eta part of the tangent; there a multiplier
  is +1.

Location: Brent's method (scipy.optimize.brentq) on the arclength sigma in (0, s) of the step
that bracketed the change; each trial point is the corrected point on the hyperplane
t . (y - y_a) = sigma. Branch switching at a period doubling (x*, eta*): the eigenvector v of
multiplier -1 of D(G^p) gives the direction of the period-2p branch (a pitchfork of G^2p with
eta'(0) = 0), started by correcting (x* + eps v, eta*) on the hyperplane v . (x - x*) = eps.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from .branch import BranchPoint, ContinuationOptions
from .corrector import Correction, correct, orbit_residual, tangent
from .families import MapFamily, evaluate, multipliers, orbit


def psi_doubling(mu: np.ndarray) -> float:
    """det(I + M) = prod (1 + mu): sign change when a real multiplier crosses -1."""
    return float(np.real(np.prod(1.0 + np.asarray(mu, complex)))) if len(mu) else 1.0


def psi_fold(t: np.ndarray) -> float:
    """The eta component of the unit tangent: sign change at a turning point in eta."""
    return float(t[-1])


def locate(family: MapFamily, period: int, kind: str, anchor: np.ndarray, t_anchor: np.ndarray,
           s: float, options: ContinuationOptions, branch: int) -> BranchPoint | None:
    """The special point of ``kind`` between the anchor (sigma = 0) and sigma = s along
    t_anchor, located by Brent's method on sigma; None if the corrector fails there."""
    n = family.dim

    def at(sigma: float) -> Correction:
        return correct(family, period, anchor, t_anchor, sigma, options)

    def psi(sigma: float) -> float:
        c = at(sigma)
        if not c.ok:
            raise _Failed
        if kind == "fold":
            return psi_fold(tangent(family, c.x, c.eta, period, orient=t_anchor))
        return psi_doubling(multipliers(family, c.x, c.eta, period))

    sigma: float | None
    try:
        lo, hi = psi(0.0), psi(s)
        if lo == 0.0:
            sigma = 0.0
        elif hi == 0.0 or np.sign(lo) == np.sign(hi):
            sigma = s if hi == 0.0 else None
        else:
            sigma = scipy.optimize.brentq(psi, 0.0, s, xtol=options.locate_tol * max(1.0, s),
                                          rtol=4 * np.finfo(float).eps, maxiter=200)
        if sigma is None:
            return None
        c = at(sigma)
    except _Failed:
        return None
    t = tangent(family, c.x, c.eta, period, orient=t_anchor)
    pts = orbit(family.full, family.lift(c.x), c.eta, period)
    return BranchPoint(kind=kind, eta=c.eta, period=period, orbit=pts,
                       multipliers=multipliers(family, c.x, c.eta, period), branch=branch,
                       x=c.x[:n], tangent=t)


class _Failed(Exception):
    """The corrector failed at a trial point of the location."""


def doubling_direction(family: MapFamily, point: BranchPoint) -> np.ndarray | None:
    """Unit real eigenvector of D(G^p) for the eigenvalue closest to -1, in the family's own
    coordinates; None if no eigenvalue there is within 1e-6 of -1 (the doubling is transverse
    to a restricted family's subspace)."""
    J = evaluate(family, point.x, point.eta, point.period)[1]
    w, V = np.linalg.eig(J)
    i = int(np.argmin(np.abs(w + 1.0)))
    if abs(w[i] + 1.0) > 1e-6:
        return None
    v = np.real(V[:, i])
    return v / np.linalg.norm(v)


def switch_doubling(family: MapFamily, point: BranchPoint,
                    options: ContinuationOptions) -> tuple[Correction, np.ndarray] | str:
    """First point of the period-2p branch born at ``point`` and its tangent, or a reason why
    none was found (no multiplier -1 in the family's coordinates; the corrector failed; the
    corrected point is a period-p orbit, i.e. the doubling does not leave the period-p set; the
    corrected point has eta = eta* exactly, a continuum of period-2p orbits as for a linear
    map, where a genuine flip's branch bends as eta - eta* ~ eps^2)."""
    v = doubling_direction(family, point)
    if v is None:
        return "no multiplier -1 in the continued coordinates"
    p2 = 2 * point.period
    eps = options.switch_offset * (1.0 + float(np.linalg.norm(point.x)))
    anchor = np.concatenate([point.x, [point.eta]])
    t0 = np.concatenate([v, [0.0]])
    c = correct(family, p2, anchor, t0, eps, options)
    if not c.ok:
        return f"corrector failed at offset {eps:.3g} along the eigenvector of -1"
    if orbit_residual(family, c.x, c.eta, point.period) < 0.1 * eps:
        return "the corrected point is a period-p orbit (no period-2p branch leaves it)"
    if abs(c.eta - point.eta) <= 1e-12 * max(1.0, abs(point.eta)):
        return ("degenerate doubling: the period-2p orbits along the eigenvector all sit at eta* "
                "(the map is linear along it), no branch leaves it")
    return c, tangent(family, c.x, c.eta, p2, orient=t0)
