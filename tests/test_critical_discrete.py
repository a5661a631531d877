"""GD map: multipliers 1 - eta lambda at critical points, the stable step 2 / lambda_max, and a
period-2 orbit checked against a 1-D root find on the balanced line."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

import dlnflow as dl
from dlnflow.critical import critical_sets, gd_fixed_point, period_two_orbits


@pytest.mark.parametrize("depth", [2, 3])
def test_gd_multipliers_match_one_minus_eta_lambda(depth):
    y, eta = 1.4, 0.2
    prob = dl.Problem.scalar_chain(depth, y)
    for c in critical_sets(prob):
        out = gd_fixed_point(c, prob, eta)
        w = np.array([float(W[0, 0]) for W in c.point])
        # closed-form Hessian spectra (REFERENCES.md)
        if c.kind == "global_min":
            lam = np.r_[np.zeros(depth - 1), np.sum((y / w) ** 2)]
            # balanced optimum: lambda_max = L |y|^(2 - 2/L)
            assert out["max_stable_eta"] == pytest.approx(
                2.0 / (depth * abs(y) ** (2 - 2 / depth)), rel=1e-10)
            assert out["stable"]
        elif len(c.invariant["zeros"]) == 2:
            e = abs(y * np.prod(w[w != 0]))
            lam = np.r_[-e, np.zeros(depth - 2), e]
        else:
            lam = np.zeros(depth)
        assert np.allclose(np.sort(out["multipliers"]), np.sort(1 - eta * lam), atol=1e-10)


def test_period_two_orbit_on_balanced_line():
    """Beyond eta = 1 (y = 1, L = 2) the balanced line a -> a - eta a (a^2 - 1) has a 2-cycle."""
    eta = 1.1
    prob = dl.Problem.scalar_chain(2, 1.0)
    g = lambda a: a - eta * a * (a * a - 1)  # noqa: E731
    a_ref = scipy.optimize.brentq(lambda a: g(g(a)) - a, 1.02, 1.3)
    assert abs(g(a_ref) - a_ref) > 1e-3
    # starts near the balanced line (period-2 orbits off it form other families)
    starts = np.array([[1.05, 1.05], [1.2, 1.2], [1.25, 1.25], [-1.1, -1.1]])
    orbits = period_two_orbits(prob, eta, starts=starts)
    hits = [o for o in orbits
            if any(np.allclose(p, [a_ref, a_ref], atol=1e-7) for p in o.points)]
    assert len(hits) == 1
    o = hits[0]
    # multiplier along the balanced line: (g o g)'(a) = g'(a) g'(g(a))
    dg = lambda a: 1 - eta * (3 * a * a - 1)  # noqa: E731
    assert np.min(np.abs(o.multipliers - dg(a_ref) * dg(g(a_ref)))) < 1e-8
    assert o.stable == bool(np.all(np.abs(o.multipliers) < 1))
    for orb in orbits:
        x, gx = orb.points
        assert not np.allclose(x, gx)
