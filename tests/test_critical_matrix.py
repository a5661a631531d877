"""Square-loss matrix problems: Achour et al.'s rules, the closed-form critical losses and a
finite-difference Hessian at random points of each family."""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
from fd import fd_hessian

import dlnflow as dl
from dlnflow.critical import classify_point, critical_sets


def achour_kind(S: tuple[int, ...], r_max: int, k: int, depth: int) -> str:
    """Achour, Malgouyres, Gerchinovitz (2024): the class of the balanced point of index set S."""
    r = len(S)
    top = S == tuple(range(r))
    if top and r == min(r_max, k):
        return "global_min"
    if not top or depth == 2:
        return "strict_saddle"
    return "non_strict_saddle"


@pytest.mark.parametrize("depth", [2, 3])
def test_diagonal_target_against_achour(depth):
    s = np.array([3.0, 2.0, 1.0])
    prob = dl.Problem.target_matrix(np.diag(s), depth=depth, width=2)
    sets = critical_sets(prob)
    expected = {tuple(S) for r in range(3) for S in itertools.combinations(range(3), r)}
    assert {tuple(c.invariant["S"]) for c in sets} == expected
    for c in sets:
        S = tuple(c.invariant["S"])
        assert c.kind == achour_kind(S, 2, 3, depth), c.label
        # loss 0.5 (||Phi||^2 - sum_{i in S} s_i^2), evaluated at the representative
        assert c.loss == pytest.approx(0.5 * (np.sum(s ** 2) - np.sum(s[list(S)] ** 2)))
        assert float(prob.loss(c.point)) == pytest.approx(c.loss, abs=1e-12)
        assert np.linalg.norm(prob.flatten(prob.grad(c.point))) < 1e-12
        if c.kind == "non_strict_saddle":
            assert c.escape_order == depth and c.index == 0
    assert not any(c.kind == "local_min" for c in sets)


def test_regression_losses_and_numerical_hessian():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 12))
    Y = rng.standard_normal((2, 12))
    prob = dl.Problem.regression(X, Y, depth=2, width=2)
    n = X.shape[1]
    Sigma = Y @ X.T @ np.linalg.inv(X @ X.T) @ X @ Y.T
    lam = np.sort(np.linalg.eigvalsh(Sigma))[::-1]
    sets = critical_sets(prob)
    assert len(sets) == 4
    for c in sets:
        S = c.invariant["S"]
        assert c.loss == pytest.approx(0.5 / n * (np.sum(Y ** 2) - lam[S].sum()), rel=1e-10)
        assert float(prob.loss(c.point)) == pytest.approx(c.loss, rel=1e-10)
        assert c.kind == achour_kind(tuple(S), 2, 2, 2)
    glob = [c for c in sets if c.kind == "global_min"]
    assert len(glob) == 1 and glob[0].loss == pytest.approx(prob.optimal_loss, rel=1e-10)
    # a random point of every family: still critical; finite-difference Hessian gives the same
    # index and, modulo the family tangent, the same class
    for c in sets:
        q = c.sample(11, scale=0.5)
        assert np.linalg.norm(prob.flatten(prob.grad(q))) < 1e-10
        H = fd_hessian(prob, q)
        cl = classify_point(prob, q)
        assert cl.kind == c.kind
        tol = 1e-5 * np.abs(H).max()
        assert int(np.sum(np.linalg.eigvalsh(H) < -tol)) == cl.index
        assert np.allclose(np.linalg.eigvalsh(H), cl.hessian_eigenvalues, atol=1e-5)


def test_family_points_of_deep_problem_keep_class():
    prob = dl.Problem.target_matrix(np.diag([2.0, 0.5]), depth=3, width=2)
    for c in critical_sets(prob):
        q = c.sample(5, scale=0.3)
        assert np.linalg.norm(prob.flatten(prob.grad(q))) < 1e-10
        cl = classify_point(prob, q)
        assert (cl.kind, cl.index, cl.escape_order) == (c.kind, c.index, c.escape_order)


def test_bad_problem_raises_input_error():
    with pytest.raises(dl.InputError):
        critical_sets(dl.Problem.target_matrix(np.eye(2), depth=2))   # repeated eigenvalues
    X = np.ones((2, 5))
    with pytest.raises(dl.InputError):
        critical_sets(dl.Problem.regression(X, np.ones((1, 5)), depth=2, width=2))


@pytest.mark.parametrize("depth", [5, 6])
def test_zero_point_of_deep_matrix_chain_is_an_order_L_saddle(depth):
    """At W_l = 0 (S = {}) every layer's Hessian block vanishes for L >= 3 and the first non-zero
    derivative of F along a joint move t (V_L, ..., V_1) is the L-th: h^(L)(0) = -L! <V_L...V_1,
    diag(s)>, of either sign, so S = {} is a non-strict saddle of escape order L (it was reported
    a local minimum when the null space outnumbered the sampled directions)."""
    problem = dl.Problem.target_matrix(np.diag([1.0, 2.0, 3.0, 4.0]), depth=depth)
    sets = {c.label: c for c in dl.critical.critical_sets(problem)}
    zero = sets["S={}"]
    assert zero.kind == "non_strict_saddle"
    assert zero.escape_order == depth
    assert zero.normal_nullity == problem.num_params
    # an escape direction really descends, with the t^L law: F(0) - F(t v) = c t^L + O(t^2L)
    v = zero.escape_directions[0]
    drops = [15.0 - float(problem.loss(problem.unflatten(jnp.asarray(t * v))))
             for t in (0.05, 0.1)]
    assert drops[0] > 0
    assert drops[1] / drops[0] == pytest.approx(2.0 ** depth, rel=1e-3)
