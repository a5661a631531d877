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

import dlnflow as dl
from dlnflow import init
from dlnflow.invariants import gd_imbalance_change, imbalance
from dlnflow.losses import MatrixCompletion, MatrixSensing

RNG = np.random.default_rng(14)
LOW_RANK = np.outer([1.0, -2.0, 0.5], [0.8, 0.3, -1.0])          # rank 1, 3x3
MASK = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float)


def completion_problem():
    return dl.Problem(dl.Plain([3, 3, 2, 3]), MatrixCompletion(LOW_RANK, MASK))


def sensing_problem():
    return dl.Problem(dl.Plain([3, 4, 3]), MatrixSensing.gaussian(LOW_RANK, 6, seed=2))


CASES = {"completion": completion_problem, "sensing": sensing_problem}


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
