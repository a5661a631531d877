"""Losses of the end-to-end matrix (issue 14): completion, sensing, cross-entropy, l_p
regression, custom f. Values against plain numpy, gradients against finite differences, F* and
W* against lstsq / dense search / scipy.optimize, the conservation laws of the flow and the
exact GD identity on every loss, and clear InputErrors for shapes that do not fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.special
from loss_cases import CASES, LOW_RANK, MASK, X_CLS, X_LP, Y_CLS, Y_LP

import dlnflow as dl
from dlnflow import init
from dlnflow.invariants import gd_imbalance_change, imbalance
from dlnflow.losses import CrossEntropy, LpRegression, MatrixCompletion, MatrixSensing

RNG = np.random.default_rng(14)


def fd_gradient(problem, params, h=1e-6):
    """Central differences of F in flattened coordinates (independent of autodiff)."""
    f = jax.jit(lambda x: problem.loss_flat(x))
    x0 = np.asarray(problem.flatten(params))
    g = np.zeros_like(x0)
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e[i] = h
        g[i] = (float(f(x0 + e)) - float(f(x0 - e))) / (2 * h)
    return g


# ---------------------------------------------------------------- values and gradients
def test_completion_value_and_pairs_against_numpy():
    W = RNG.normal(size=(3, 3))
    ref = 0.5 * sum((W[i, j] - LOW_RANK[i, j]) ** 2 for i, j in zip(*np.nonzero(MASK),
                                                                       strict=True))
    pairs = np.argwhere(MASK == 1)[::-1]                  # same Omega, other order
    for loss in (MatrixCompletion(LOW_RANK, MASK), MatrixCompletion(LOW_RANK, pairs.tolist())):
        assert float(loss.f(jnp.asarray(W))) == pytest.approx(ref, rel=1e-14)
    # unknown (NaN) entries off Omega are allowed; then no ground truth
    T = np.where(MASK == 1, LOW_RANK, np.nan)
    loss = MatrixCompletion(T, MASK)
    assert float(loss.f(jnp.asarray(W))) == pytest.approx(ref, rel=1e-14)
    assert loss.ground_truth is None


def test_sensing_value_against_numpy():
    loss = MatrixSensing.gaussian(LOW_RANK, 7, seed=5)
    A = np.random.default_rng(5).standard_normal((7, 3, 3))      # the documented draw
    np.testing.assert_array_equal(np.asarray(loss.A), A)
    W = RNG.normal(size=(3, 3))
    y = np.array([np.sum(Ai * LOW_RANK) for Ai in A])
    ref = sum((np.sum(Ai * W) - yi) ** 2 for Ai, yi in zip(A, y, strict=True)) / (2 * 7)
    assert float(loss.f(jnp.asarray(W))) == pytest.approx(ref, rel=1e-13)


def test_gaussian_sensing_is_isometric_on_average():
    """E <A, D>^2 = ||D||_F^2 for N(0, 1) entries: f(W) ~ 0.5 ||W - W*||^2 for many
    measurements (m = 40000: relative standard deviation sqrt(2/m) = 0.7%, 5 sigma)."""
    loss = MatrixSensing.gaussian(LOW_RANK, 40000, seed=0)
    W = LOW_RANK + RNG.normal(size=(3, 3))
    expected = 0.5 * np.sum((W - LOW_RANK) ** 2)
    assert float(loss.f(jnp.asarray(W))) == pytest.approx(expected, rel=5 * np.sqrt(2 / 40000))


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_against_finite_differences(case):
    prob = CASES[case]()
    params = init.gaussian(prob, 3)
    auto = np.asarray(prob.flatten(prob.grad(params)))
    # central differences: error h^2 |F'''| / 6 ~ 1e-12 plus rounding 1e-16 / h ~ 1e-10
    np.testing.assert_allclose(auto, fd_gradient(prob, params), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- F* and W*
def test_completion_optimum():
    """Rank-1 W* on a width-1 bottleneck: F* = 0 (W* reachable); the least-norm minimiser
    over all matrices is W* on Omega and 0 elsewhere; a rank-2 W* on a width-1 network: the
    rank bound binds, F* has no closed form (None), and a deep width-3 network reaches it."""
    loss = MatrixCompletion(LOW_RANK, MASK)
    assert dl.Problem(dl.Plain([3, 1, 3]), loss).optimal_loss == 0.0
    np.testing.assert_array_equal(loss.minimiser(), MASK * LOW_RANK)
    T2 = LOW_RANK + np.outer([0.0, 1.0, 1.0], [1.0, 0.0, 2.0])
    full = MASK.copy()
    full[0, 2] = full[1, 0] = 1.0                       # 7 of 9 observed
    assert dl.Problem(dl.Plain([3, 1, 3]), MatrixCompletion(T2, full)).optimal_loss is None
    assert dl.Problem(dl.Plain([3, 3, 3]), MatrixCompletion(T2, full)).optimal_loss == 0.0


def test_completion_optimum_residual_against_minimize():
    """A residual network with a rank-1 input map: W ranges over W = P_out M P_in (rank 1
    here, two observed entries per row); F* by dense lstsq against scipy's BFGS on M."""
    A = np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 1.5])
    prob = dl.Problem.residual(2, A, np.eye(3), target=np.eye(3))
    loss = MatrixCompletion(LOW_RANK + np.eye(3), MASK)
    prob = dl.Problem(prob.architecture, loss)
    p_out, p_in, _ = prob.architecture.reachable()
    f = lambda m: float(loss.f(jnp.asarray(p_out @ m.reshape(3, 3) @ p_in)))   # noqa: E731
    best = scipy.optimize.minimize(f, np.zeros(9), method="BFGS", options={"gtol": 1e-12})
    assert best.fun > 1e-3                              # the subspace does not fit Omega
    assert prob.optimal_loss == pytest.approx(best.fun, rel=1e-8)


def test_sensing_optimum():
    """Gaussian sensing of a rank-1 W* on a width-1 network: F* = 0; user y without W*: F* by
    lstsq (against scipy's BFGS on the quadratic), the least-norm minimiser of a consistent
    system recovers W* when m >= d_out d_in; inconsistent y on a width-1 bottleneck whose
    lstsq minimiser has rank 2: unknown (None)."""
    loss = MatrixSensing.gaussian(LOW_RANK, 5, seed=1)
    assert dl.Problem(dl.Plain([3, 1, 3]), loss).optimal_loss == 0.0
    over = MatrixSensing.gaussian(LOW_RANK, 12, seed=1)
    user = MatrixSensing(over.A, np.asarray(over.y))          # no target given
    np.testing.assert_allclose(user.minimiser(), LOW_RANK, atol=1e-12)
    assert dl.Problem(dl.Plain([3, 1, 3]), user).optimal_loss == 0.0   # lstsq W has rank 1
    noisy = MatrixSensing(over.A, np.asarray(over.y) + RNG.normal(size=12))
    f = lambda w: float(noisy.f(jnp.asarray(w.reshape(3, 3))))  # noqa: E731
    best = scipy.optimize.minimize(f, np.zeros(9), method="BFGS", options={"gtol": 1e-12})
    assert dl.Problem(dl.Plain([3, 3, 3]), noisy).optimal_loss == pytest.approx(best.fun,
                                                                                rel=1e-9)
    assert dl.Problem(dl.Plain([3, 1, 3]), noisy).optimal_loss is None


def test_measurement_input_errors():
    with pytest.raises(dl.InputError, match="0 and 1"):
        MatrixCompletion(LOW_RANK, 2 * MASK)
    with pytest.raises(dl.InputError, match="outside the target's shape"):
        MatrixCompletion(LOW_RANK, [[0, 0], [3, 1]])
    with pytest.raises(dl.InputError, match="distinct"):
        MatrixCompletion(LOW_RANK, [[0, 0], [0, 0]])
    with pytest.raises(dl.InputError, match="observes no entry"):
        MatrixCompletion(LOW_RANK, np.zeros((3, 3)))
    with pytest.raises(dl.InputError, match="finite on the observed"):
        MatrixCompletion(np.where(MASK == 1, np.nan, LOW_RANK), MASK)
    with pytest.raises(dl.InputError, match=r"shape \(m, d_out, d_in\)"):
        MatrixSensing(np.ones((4, 3)), np.ones(4))
    with pytest.raises(dl.InputError, match=r"y must have shape \(4,\)"):
        MatrixSensing(np.ones((4, 3, 3)), np.ones(5))
    with pytest.raises(dl.InputError, match="shape"):
        dl.Problem(dl.Plain([2, 3, 3]), MatrixSensing.gaussian(LOW_RANK, 4))


# ---------------------------------------------------------------- conservation laws
@pytest.mark.parametrize("case", sorted(CASES))
def test_gd_imbalance_identity(case):
    """One GD step changes D_l by exactly eta^2 (G_(l+1)^T G_(l+1) - G_l G_l^T)."""
    prob = CASES[case]()
    params = init.gaussian(prob, 4)
    eta = 0.05
    new = dl.GradientDescent(prob, eta).step(params)
    change = [b - a for a, b in zip(imbalance(params), imbalance(new), strict=True)]
    predicted = gd_imbalance_change(prob.grad(params), eta)
    scale = max(1.0, max(float(np.max(np.abs(D))) for D in imbalance(params)))
    for c, p in zip(change, predicted, strict=True):
        assert float(np.max(np.abs(p))) > 1e-6
        np.testing.assert_allclose(c, p, rtol=0, atol=1e-13 * scale)


@pytest.mark.parametrize("case", sorted(CASES))
def test_flow_conserves_imbalance(case):
    """Gradient flow at rtol 1e-10: every D_l stays at its start to 1e-7 (100 rtol on weights
    of size ~10); the loss falls."""
    prob = CASES[case]()
    p0 = init.gaussian(prob, 5)
    tr = dl.simulate(dl.GradientFlow(prob), p0, t1=2.0,
                     solver=dl.Solver("rodas4", rtol=1e-10, atol=1e-12),
                     save=dl.SaveAt(ts=np.linspace(0, 2, 5)))
    assert tr.status == [dl.Status.COMPLETED], tr.messages
    assert np.max(dl.invariants.drift(tr)) < 1e-7
    assert tr.loss_final[0] < tr.loss[0, 0]


# ---------------------------------------------------------------- cross-entropy
def _np_cross_entropy(W, X, y):
    """numpy/scipy reference: mean over samples of logsumexp(W x) - (W x)_y."""
    Z = W @ X
    return float(np.mean(scipy.special.logsumexp(Z, axis=0) - Z[y, np.arange(len(y))]))


def _bfgs(f, n):
    return scipy.optimize.minimize(f, np.zeros(n), method="BFGS", options={"gtol": 1e-10})


def test_cross_entropy_value_and_two_classes_are_logistic():
    X, y = RNG.normal(size=(3, 9)), RNG.integers(0, 4, 9)
    W = RNG.normal(size=(4, 3))
    loss = CrossEntropy(X, y, n_classes=4)
    assert float(loss.f(jnp.asarray(W))) == pytest.approx(_np_cross_entropy(W, X, y), rel=1e-13)
    # two classes: the logistic loss log(1 + exp(-s z)) of the row difference z = (w_1 - w_0) x
    y2 = y % 2
    W2 = W[:2]
    z = (W2[1] - W2[0]) @ X
    logistic = np.mean(np.log1p(np.exp(-np.where(y2 == 1, z, -z))))
    assert float(CrossEntropy(X, y2).f(jnp.asarray(W2))) == pytest.approx(logistic, rel=1e-13)


def test_cross_entropy_non_separable_optimum_and_convergence():
    """F* against scipy's BFGS on the numpy loss; a flow with threshold 1e-6 on F - F*
    converges (no note: the minimum is attained) and its final loss is F* + 1e-6."""
    prob = CASES["cross_entropy"]()
    X, y = np.asarray(prob.objective.X), prob.objective.labels
    best = _bfgs(lambda w: _np_cross_entropy(w.reshape(3, 2), X, y), 6)
    opt = prob.optimum
    assert opt.attained is True and opt.note == ""
    assert opt.value == pytest.approx(best.fun, rel=1e-9)
    tr = dl.simulate(dl.GradientFlow(prob), init.gaussian(prob, 1), t1=1e3,
                     stop=dl.Stop(loss=1e-6))
    assert tr.status == [dl.Status.CONVERGED] and tr.messages == [""]
    assert tr.loss_final[0] - opt.value == pytest.approx(1e-6, rel=1e-4)
    _, rate = dl.rates.local_rate(tr)
    assert np.all(rate[np.isfinite(rate)] > 0)


def test_cross_entropy_separable_is_an_unattained_zero():
    """Separable data: F* = 0, not attained (f(s W_sep) -> 0 along the true separator, checked
    in numpy), where BFGS stops at a positive value (the wrong F* a naive minimiser reports).
    A run reaching the threshold is 'converged' with a note that no limit point exists, its
    weights keep growing; asymptotic rates are refused."""
    X = RNG.normal(size=(2, 16))
    y = (X[0] + 0.3 * X[1] > 0).astype(int)
    prob = dl.Problem.classification(X, y, depth=2)
    assert prob.optimum.value == 0.0 and prob.optimum.attained is False
    sep = np.array([[-1.0, -0.3], [1.0, 0.3]])
    assert _np_cross_entropy(1e4 * sep, X, y) < 1e-12
    naive = _bfgs(lambda w: _np_cross_entropy(w.reshape(2, 2), X, y), 4)
    assert naive.fun > 0
    tr = dl.simulate(dl.GradientDescent(prob, 0.5), init.gaussian(prob, 2),
                     stop=dl.Stop(loss=0.05, max_steps=20000), save=dl.SaveAt(every=50))
    assert tr.status == [dl.Status.CONVERGED]
    assert "not attained" in tr.messages[0] and "no limit point" in tr.messages[0]
    norms = np.linalg.norm(np.asarray(prob.end_to_end(tr.params))[0], axis=(-2, -1))
    assert norms[tr.valid[0]][-1] > 2 * norms[0]
    with pytest.raises(dl.InputError, match="not attained"):
        dl.rates.flow_asymptotic_rate(prob, tr.params_final)


def test_cross_entropy_partially_separable():
    """A bias feature and a far-away third class: the margins of class 2 grow without bound;
    F* = (20/25) x the two-class minimum on the other samples (BFGS on numpy), not attained."""
    X = np.vstack([RNG.normal(size=(2, 25)), np.ones((1, 25))])
    X[:2, 20:] += 8.0
    y = np.concatenate([RNG.integers(0, 2, 20), np.full(5, 2)])
    prob = dl.Problem.classification(X, y, depth=2)
    rest = _bfgs(lambda w: _np_cross_entropy(w.reshape(2, 3), X[:, :20], y[:20]), 6)
    opt = prob.optimum
    assert opt.attained is False and "30 of 50 class margins" in opt.note
    assert opt.value == pytest.approx(20 / 25 * rest.fun, rel=1e-8)


def test_cross_entropy_rank_bound_and_errors():
    """Width 1 with 3 non-separable classes: F* unknown; local rates refuse, statuses say so."""
    prob = dl.Problem(dl.Plain([2, 1, 3]), CrossEntropy(X_CLS, Y_CLS))
    assert prob.optimal_loss is None and "rank bound 1 binds" in prob.optimum.note
    tr = dl.simulate(dl.GradientFlow(prob), init.gaussian(prob, 0), t1=1.0)
    assert tr.status == [dl.Status.COMPLETED] and "F* unknown" in tr.messages[0]
    with pytest.raises(dl.InputError, match="rates divide by F - F"):
        dl.rates.local_rate(tr)
    with pytest.raises(dl.InputError, match="pass X.T"):
        CrossEntropy(X_CLS.T, Y_CLS)
    with pytest.raises(dl.InputError, match="integers"):
        CrossEntropy(X_CLS, Y_CLS + 0.5)
    with pytest.raises(dl.InputError, match=r"lie in 0..1"):
        CrossEntropy(X_CLS, Y_CLS, n_classes=2)


# ---------------------------------------------------------------- l_p regression, custom f
def test_lp_regression_value_and_optimum():
    """Arora-Cohen-Hazan's l_4 regression: value against numpy; F* of inconsistent data against
    BFGS on the numpy loss; consistent data of rank 1: F* = 0 on a width-1 network and W* = the
    least-norm exact fit; a width-1 bottleneck on inconsistent data: unknown."""
    prob = CASES["lp_regression"]()
    X, Y = X_LP, Y_LP
    W = RNG.normal(size=(2, 3))
    assert float(prob.f(jnp.asarray(W))) == pytest.approx(np.sum((W @ X - Y) ** 4) / 40,
                                                          rel=1e-13)
    best = _bfgs(lambda w: np.sum((w.reshape(2, 3) @ X - Y) ** 4) / 40, 6)
    assert prob.optimal_loss == pytest.approx(best.fun, rel=1e-8)
    np.testing.assert_allclose(prob.optimal_product, best.x.reshape(2, 3), atol=1e-5)
    exact = LpRegression(X, np.outer([1.0, 2.0], [1.0, 0.0, -1.0]) @ X)
    one = dl.Problem(dl.Plain([3, 1, 2]), exact)
    assert one.optimal_loss == 0.0
    np.testing.assert_allclose(one.optimal_product, [[1, 0, -1], [2, 0, -2]], atol=1e-12)
    assert dl.Problem(dl.Plain([3, 1, 2]), LpRegression(X, Y)).optimal_loss is None
    with pytest.raises(dl.InputError, match="power must be even"):
        LpRegression(X, Y, power=3)
    with pytest.raises(dl.InputError, match="same number of columns"):
        LpRegression(X, Y[:, :4])


def test_custom_matrix_loss_constructor():
    prob = dl.Problem.custom(lambda W: jnp.sum(jnp.cosh(W)), widths=[3, 2, 2])
    W = RNG.normal(size=(2, 3))
    assert float(prob.f(jnp.asarray(W))) == pytest.approx(np.sum(np.cosh(W)), rel=1e-14)
    assert prob.layer_shapes == ((2, 3), (2, 2)) and prob.optimal_loss is None
    with pytest.raises(dl.InputError, match="widths must be a list"):
        dl.Problem.custom(lambda W: jnp.sum(W), widths=3)
    with pytest.raises(dl.InputError, match="one real scalar"):
        dl.Problem.custom(lambda W: W, widths=[2, 2])


def test_critical_tools_on_measurement_losses():
    """The closed-form enumeration needs a QuadraticLoss (Hessian W -> W C) and refuses
    completion and sensing; the numerical classification applies: W = 0 with grad f(0) != 0 is
    a strict saddle at depth 2 (Hessian eigenvalues +-s_i(grad f(0))) and an order-L non-strict
    saddle at depth L >= 3."""
    from dlnflow import critical

    for prob, kind in ((CASES["sensing"](), "strict_saddle"),
                       (CASES["completion"](), "non_strict_saddle")):
        with pytest.raises(dl.InputError, match="exact enumeration needs"):
            critical.enumerate_critical_sets(prob)
        zero = tuple(jnp.zeros(s) for s in prob.layer_shapes)
        assert critical.classify_point(prob, zero).kind == kind
