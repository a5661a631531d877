"""Scalar chains of depth 2..6: classes, Hessian spectra, nullities and escape orders against
the closed forms of REFERENCES.md and a finite-difference Hessian."""

from __future__ import annotations

import numpy as np
import pytest
from fd import fd_hessian

import dlnflow as dl
from dlnflow.critical import classify_point, critical_sets, orbit_tangent


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6])
def test_scalar_chain_classes_and_spectra(depth):
    y = -1.7 if depth % 2 else 1.3
    prob = dl.Problem.scalar_chain(depth, y)
    sets = critical_sets(prob)
    n_zero_sets = 2 ** depth - 1 - depth
    assert len(sets) == 2 ** (depth - 1) + n_zero_sets
    a = abs(y) ** (1 / depth)
    for c in sets:
        w = np.array([float(W[0, 0]) for W in c.point])
        assert c.kind == c.predicted_kind
        lam = np.sort(c.hessian_eigenvalues)
        if "signs" in c.invariant:
            assert c.kind == "global_min" and c.loss == 0.0
            # H = g g^T: one eigenvalue sum_i (y / w_i)^2, nullity L - 1
            assert lam[-1] == pytest.approx(np.sum((y / w) ** 2), rel=1e-10)
            assert np.allclose(lam[:-1], 0.0, atol=1e-10)
            assert c.nullity == depth - 1 and c.index == 0 and c.escape_order is None
        else:
            k = len(c.invariant["zeros"])
            assert c.loss == pytest.approx(0.5 * y * y)
            assert c.dimension == depth - k
            if k == 2:
                e = abs(y) * a ** (depth - 2)
                assert c.kind == "strict_saddle"
                assert lam[0] == pytest.approx(-e) and lam[-1] == pytest.approx(e)
                assert c.index == 1 and c.nullity == depth - 2 and c.escape_order == 2
            else:
                # Hessian zero; F(t v) - F = -y t^k prod(v_Z) prod(others) + ...: order k
                assert c.kind == "non_strict_saddle"
                assert np.allclose(lam, 0.0, atol=1e-12)
                assert c.nullity == depth and c.normal_nullity == k and c.escape_order == k
    # finite-difference check of the Hessian spectrum on one set of each type
    for c in [sets[0]] + [s for s in sets if "zeros" in s.invariant][-1:]:
        H = fd_hessian(prob, c.point)
        assert np.allclose(np.linalg.eigvalsh(H), np.sort(c.hessian_eigenvalues), atol=1e-5)


def test_scalar_family_points_keep_their_class():
    """Random points of each family (rescalings) are critical with the same class."""
    prob = dl.Problem.scalar_chain(4, 0.8)
    for c in critical_sets(prob)[::3]:
        q = c.sample(7, scale=0.4)
        g = np.asarray(prob.flatten(prob.grad(q)))
        assert np.linalg.norm(g) < 1e-12
        cl = classify_point(prob, q)
        assert cl.kind == c.kind and cl.index == c.index
        assert cl.escape_order == c.escape_order
        assert orbit_tangent(prob, q).shape[1] == c.dimension


def test_origin_escape_order_is_depth():
    """At the origin F(t v) - F(0) = -y t^L prod(v) + O(t^2L): order L, sign-indefinite."""
    prob = dl.Problem.scalar_chain(5, 2.0)
    cl = classify_point(prob, prob.scalar_params(np.zeros(5)))
    assert cl.kind == "non_strict_saddle" and cl.escape_order == 5 and cl.index == 0
    v = cl.escape_directions[0]
    assert -2.0 * np.prod(v) < 0   # the reported escape direction descends
