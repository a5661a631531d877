"""Losses and architectures: F* in closed form against independent minimisations, W*, the
shape check, and EndToEndFlow run by simulate against the product of a balanced flow."""

from __future__ import annotations

import numpy as np
import pytest

import dlnflow as dl
from dlnflow.losses import CustomLoss, LpTarget, Regression, SquareTarget


def _lstsq_optimum(A, B, X, Y):
    """min over M of 0.5/n ||B M A X - Y||^2 as a linear least-squares problem in vec(M)."""
    n = X.shape[1]
    K = np.kron((A @ X).T, B)                     # vec(B M A X) = ((A X)^T kron B) vec(M)
    m, *_ = np.linalg.lstsq(K, Y.reshape(-1, order="F"), rcond=None)
    r = K @ m - Y.reshape(-1, order="F")
    return 0.5 / n * float(r @ r)


def test_residual_regression_optimum_against_lstsq():
    rng = np.random.default_rng(0)
    m, d0, dL, n = 4, 3, 2, 7
    A = rng.standard_normal((m, d0))
    A[:, 2] = A[:, 0]                                # rank-deficient A: P_in is a projector
    B = rng.standard_normal((dL, m))
    X, Y = rng.standard_normal((d0, n)), rng.standard_normal((dL, n))
    prob = dl.Problem.residual(2, A, B, X=X, Y=Y)
    assert prob.optimal_loss == pytest.approx(_lstsq_optimum(A, B, X, Y), rel=1e-10)


def test_rank_bounded_regression_optimum_against_search():
    """Width-1 bottleneck: F* = min over rank-1 W, checked against a dense search over the
    unit vectors u (W = u v^T with v optimal in closed form for each u)."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 20)), rng.standard_normal((2, 20))
    prob = dl.Problem.regression(X, Y, widths=[3, 1, 2])
    th = np.linspace(0, np.pi, 20001)
    best = np.inf
    C = X @ X.T
    for a in th:
        u = np.array([np.cos(a), np.sin(a)])
        v = np.linalg.solve(C, X @ (Y.T @ u))         # min_v ||u v^T X - Y||^2
        best = min(best, 0.5 / 20 * np.sum((np.outer(u, v) @ X - Y) ** 2))
    assert prob.optimal_loss == pytest.approx(best, rel=1e-7)


def test_target_optimum_is_eckart_young_tail():
    phi = np.diag([3.0, 2.0, 0.5])
    prob = dl.Problem.target_matrix(phi, widths=[3, 2, 3])
    assert prob.optimal_loss == pytest.approx(0.5 * 0.5**2, rel=1e-14)
    np.testing.assert_array_equal(prob.optimal_product, phi)


def test_minimisers_and_degrees():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((3, 9)), rng.standard_normal((2, 9))
    W = Regression(X, Y).minimiser()
    np.testing.assert_allclose(W, np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T, rtol=1e-12)
    assert LpTarget(np.eye(2), 4).degree == 4 and SquareTarget(np.eye(2)).degree == 2
    assert CustomLoss(lambda W: (W**2).sum(), (2, 2)).degree is None
    # residual norm at excess loss e: (q e)^(1/q)
    assert LpTarget(np.eye(2), 4).residual_norm(0.25) == pytest.approx(1.0)
    assert SquareTarget(np.eye(2)).residual_norm(0.5) == pytest.approx(1.0)


def test_shape_mismatch_is_an_input_error():
    with pytest.raises(dl.InputError, match="shape"):
        dl.Problem(dl.Plain([3, 2, 2]), SquareTarget(np.eye(3)))


def test_custom_matrix_loss_trains():
    """A user f of a matrix network: f(W) = 0.5 ||W - Phi||^2 written by hand gives the same
    flow as the built-in square loss."""
    phi = np.array([[2.0, 0.3], [0.1, 1.0]])
    custom = dl.Problem(dl.Plain([2, 2, 2]),
                        CustomLoss(lambda W: 0.5 * ((W - phi) ** 2).sum(), (2, 2), 0.0))
    square = dl.Problem.target_matrix(phi, depth=2)
    p0 = dl.init.gaussian(square, key=0)
    a = dl.simulate(dl.GradientFlow(custom), p0, t1=2.0)
    b = dl.simulate(dl.GradientFlow(square), p0, t1=2.0)
    for x, y in zip(a.params_final, b.params_final, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)


def test_end_to_end_flow_matches_balanced_product():
    """Arora et al.: from a balanced start the product of the layers obeys the end-to-end
    flow; simulate runs it with W as the state (rtol 1e-10: agreement to 1e-8)."""
    phi = np.array([[3.0, 0.5], [0.0, 2.0]])
    prob = dl.Problem.target_matrix(phi, depth=3)
    W0 = np.array([[0.3, 0.1], [0.0, 0.2]])
    save = dl.SaveAt(ts=[0.5, 1.0])
    solver = dl.Solver("rodas4", rtol=1e-10, atol=1e-12)
    e2e = dl.simulate(dl.EndToEndFlow(prob), W0, t1=2.0, save=save, solver=solver)
    deep = dl.simulate(dl.GradientFlow(prob), dl.init.balanced(prob, product=W0), t1=2.0,
                       save=save, solver=solver)
    assert e2e.status == deep.status == [dl.Status.COMPLETED]
    np.testing.assert_allclose(e2e.params[0][0], np.asarray(prob.end_to_end(deep.params))[0],
                               rtol=0, atol=1e-8)
    np.testing.assert_allclose(e2e.loss, deep.loss, rtol=1e-8, atol=1e-14)
    assert e2e.problem.depth == 1 and e2e.optimal_loss == prob.optimal_loss


def test_unknown_optimum_is_said_not_assumed():
    """A custom f without F*: statuses say thresholds measure F itself and rates refuse to
    divide by F - 0; given F*, the same run carries no note and its local rate is
    ||grad F||^2 / (F - F*) (checked at the start against the chain's closed form)."""
    f = lambda p: 0.5 * (p - 1.0) ** 2 + 0.25            # noqa: E731  (F* = 0.25)
    w0 = np.array([0.5, 0.8])
    unknown = dl.Problem.scalar_chain(2, loss=f)
    assert unknown.optimum.value is None and unknown.optimum.attained is None
    tr = dl.simulate(dl.GradientFlow(unknown), w0, t1=1.0)
    assert tr.status == [dl.Status.COMPLETED] and "F* unknown" in tr.messages[0]
    with pytest.raises(dl.InputError, match="rates divide by F - F"):
        dl.rates.local_rate(tr)
    known = dl.Problem.scalar_chain(2, loss=f, optimal_loss=0.25)
    tr = dl.simulate(dl.GradientFlow(known), w0, t1=1.0)
    assert tr.messages == [""]
    _, r = dl.rates.local_rate(tr)
    p = 0.4                                              # rate = (p - 1)^2 (w1^2 + w2^2) / e
    assert r[0, 0] == pytest.approx((p - 1) ** 2 * 0.89 / (0.5 * (p - 1) ** 2), rel=1e-12)
