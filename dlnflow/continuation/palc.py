"""Pseudo-arclength continuation of period-p orbits of a map family in eta.

From a point y_a = (x_a, eta_a) with unit tangent t_a, predict y_a + ds t_a and correct on the
hyperplane t_a . (y - y_a) = ds (:func:`~dlnflow.continuation.corrector.correct`); the step
grows after easy corrections and halves after failed ones or turns sharper than ``max_turn``.
Between accepted points the test functions of
:mod:`~dlnflow.continuation.bifurcations` are watched and special points located. Pseudo-
arclength passes folds, where the natural parameter eta cannot; on a branch of fixed points
of GD (critical points do not move with eta) it reduces to natural-parameter steps.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .bifurcations import locate, psi_doubling, psi_fold
from .branch import Branch, BranchPoint, ContinuationOptions
from .corrector import Correction, correct, orbit_residual, tangent
from .families import MapFamily, multipliers, orbit


def start_point(family: MapFamily, x0: np.ndarray, eta0: float, period: int,
                options: ContinuationOptions) -> Correction:
    """Newton-correct a guess x0 of a period-p orbit at fixed eta0 (natural-parameter step 0)."""
    n = family.dim
    x0 = np.asarray(x0, float)
    if x0.shape != (n,):
        raise InputError(f"a start of this family has {n} coordinates, got shape {x0.shape}")
    e = np.zeros(n + 1)
    e[-1] = 1.0
    return correct(family, period, np.concatenate([x0, [eta0]]), e, 0.0, options)


def continue_branch(family: MapFamily, x0: np.ndarray, eta0: float, period: int,
                    eta_range: tuple[float, float], options: ContinuationOptions | None = None,
                    t0: np.ndarray | None = None, branch: int = 0,
                    origin: tuple[np.ndarray, float] | None = None,
                    parent: int | None = None) -> Branch:
    """Continue the period-``period`` orbit through (x0, eta0) (a solution) while eta stays in
    ``eta_range``: along ``t0`` if given, else towards increasing eta. ``origin``: a point to
    put first (the period doubling a switched branch starts from)."""
    options = options or ContinuationOptions()
    lo, hi = (float(v) for v in eta_range)
    n = family.dim
    x, eta = np.asarray(x0, float), float(eta0)
    up = np.zeros(n + 1)
    up[-1] = 1.0
    t = tangent(family, x, eta, period, orient=up if t0 is None else t0)
    rows: list[tuple[np.ndarray, float, np.ndarray]] = []
    points: list[BranchPoint] = []

    def record(xr: np.ndarray, er: float) -> np.ndarray:
        mu = multipliers(family, xr, er, period)
        rows.append((xr, er, mu))
        return mu

    if origin is not None:
        record(np.asarray(origin[0], float), float(origin[1]))
    mu = record(x, eta)
    ds, end = options.ds, "max_points"
    while len(rows) < options.max_points:
        y = np.concatenate([x, [eta]])
        c = correct(family, period, y, t, ds, options)
        t_new = tangent(family, c.x, c.eta, period, orient=t) if c.ok else None
        if t_new is None or float(t_new @ t) < np.cos(options.max_turn):
            ds /= 2
            if ds < options.ds_min:
                end = "step_size"
                break
            continue
        if not lo <= c.eta <= hi:   # stop on the boundary of the range
            e = np.zeros(n + 1)
            e[-1] = 1.0
            edge = hi if c.eta > hi else lo
            c = correct(family, period, y, e, edge - eta, options, predictor=np.concatenate(
                [x + (edge - eta) / t[-1] * t[:n], [edge]]) if abs(t[-1]) > 1e-12 else None)
            end = "eta_max" if edge == hi else "eta_min"
            if not c.ok:
                break
            t_new = tangent(family, c.x, c.eta, period, orient=t)
        mu_new = multipliers(family, c.x, c.eta, period)
        s = float(t @ (np.concatenate([c.x, [c.eta]]) - y))
        for kind, before, after in (("period_doubling", psi_doubling(mu), psi_doubling(mu_new)),
                                    ("fold", psi_fold(t), psi_fold(t_new))):
            # a change between rounding-size values (a branch along which eta or det(I + M)
            # stays 0, as for a linear map) is no special point
            if np.sign(before) != np.sign(after) and before != 0.0 and max(
                    abs(before), abs(after)) > 1e-9:
                p = locate(family, period, kind, y, t, s, options, branch)
                if p is not None:
                    points.append(p)
        x, eta, t, mu = c.x, c.eta, t_new, mu_new
        record(x, eta)
        if end in ("eta_max", "eta_min"):
            break
        if not np.all(np.isfinite(x)) or np.linalg.norm(family.lift(x)) > options.diverge_norm:
            end = "diverged"
            break
        sub = max(d for d in range(1, period) if period % d == 0) if period > 1 else 0
        if sub and orbit_residual(family, x, eta, sub) < 1e-9 * (1 + np.linalg.norm(x)):
            end = "collapsed"   # back on orbits of a smaller period (those it doubled from)
            break
        if c.steps <= options.easy_newton:
            ds = min(ds * options.growth, options.ds_max)
    return _branch(family, period, rows, points, end, parent)


def _branch(family: MapFamily, period: int, rows, points, end: str,
            parent: int | None) -> Branch:
    xs = np.array([r[0] for r in rows])
    etas = np.array([r[1] for r in rows])
    m = max(len(r[2]) for r in rows)
    mult = np.full((len(rows), m), np.nan + 0j)
    for i, r in enumerate(rows):
        mult[i, :len(r[2])] = r[2]
    stable = np.array([bool(len(r[2]) == 0 or np.max(np.abs(r[2])) < 1.0) for r in rows])
    orbits = np.array([orbit(family.full, family.lift(r[0]), r[1], period) for r in rows])
    return Branch(period=period, eta=etas, x=xs, orbit=orbits, multipliers=mult, stable=stable,
                  points=sorted(points, key=lambda p: p.eta), end=end, parent=parent)


def point_at(family: MapFamily, branch: Branch, eta: float,
             options: ContinuationOptions | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The branch's orbit (period, full dim) and multipliers at ``eta``: natural-parameter
    correction from the nearest branch point on the side of the nearest point (None if eta is
    outside the branch's range or the corrector fails)."""
    options = options or ContinuationOptions()
    e = np.asarray(branch.eta)
    if not e.min() <= eta <= e.max():
        return None
    i = int(np.argmin(np.abs(e - eta)))
    n = family.dim
    up = np.zeros(n + 1)
    up[-1] = 1.0
    anchor = np.concatenate([branch.x[i], [e[i]]])
    c = correct(family, branch.period, anchor, up, eta - e[i], options)
    if not c.ok:
        return None
    return (orbit(family.full, family.lift(c.x), c.eta, branch.period),
            multipliers(family, c.x, c.eta, branch.period))
