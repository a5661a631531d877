"""Min-Vidal-Mallada alpha*, the two-layer matrix bound, deficiency margin, balancedness."""

import numpy as np
import pytest
import scipy.optimize

import dlnflow as dl
from dlnflow import bounds
from dlnflow.errors import InputError
from dlnflow.rates import local_rate
from dlnflow.simulate import SaveAt, Solver


def test_alpha_star_two_layers_closed_form():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(200):
        w = rng.normal(size=2) * 1.5
        y = rng.normal() * 2
        c = abs(y) - abs(y - w[0] * w[1])
        if c <= 1e-3:
            continue
        d = w[0] ** 2 - w[1] ** 2
        assert bounds.alpha_star_scalar(w, y) == pytest.approx(np.sqrt(d**2 + 4 * c**2),
                                                               rel=1e-12)
        assert bounds.alpha_star_two_layer_scalar(d, c) == pytest.approx(np.sqrt(d**2 + 4 * c**2))
        checked += 1
    assert checked > 30


@pytest.mark.parametrize("depth", [3, 4, 5, 7])
def test_alpha_root_solves_defining_equation(depth):
    rng = np.random.default_rng(depth)
    for _ in range(20):
        w = 0.6 + 0.8 * rng.random(depth)
        y = 2.0
        c = bounds.scalar_margin(w, y)
        x = bounds.alpha_star_scalar_root(w, y)
        D = w**2 - np.min(w**2)
        assert x >= 0
        assert np.prod(x + D) == pytest.approx(c**2, rel=1e-12)
        a = bounds.alpha_star_scalar(w, y)
        assert a == pytest.approx(sum(np.prod(np.delete(x + D, i)) for i in range(depth)),
                                  rel=1e-12)


def _brute_force_alpha(w0, y, starts=12, seed=0):
    """min sum_i prod_{j!=i} w_j^2 s.t. w_i^2 - w_(i+1)^2 fixed and p^2 >= c^2 (SLSQP, R^L)."""
    w0 = np.asarray(w0, float)
    c = abs(y) - abs(y - np.prod(w0))
    d = w0[:-1] ** 2 - w0[1:] ** 2
    L = w0.size

    def obj(w):
        return sum(np.prod(np.delete(w**2, i)) for i in range(L))

    cons = [{"type": "eq", "fun": lambda w: w[:-1] ** 2 - w[1:] ** 2 - d},
            {"type": "ineq", "fun": lambda w: np.prod(w) ** 2 - c**2}]
    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(starts):
        start = w0 * rng.uniform(0.5, 2.0, size=L)
        res = scipy.optimize.minimize(obj, start, method="SLSQP", constraints=cons,
                                      options={"ftol": 1e-14, "maxiter": 500})
        ok = (np.max(np.abs(res.x[:-1] ** 2 - res.x[1:] ** 2 - d)) < 1e-8
              and np.prod(res.x) ** 2 >= c**2 * (1 - 1e-8))
        if ok:
            best = min(best, res.fun)
    return best


@pytest.mark.parametrize("w0", [[0.3, 1.0, 1.2], [1.5, 0.4, 0.9], [0.8, 0.8, 1.1],
                                [1.3, -0.5, -1.0]])
def test_alpha_star_depth3_matches_constrained_minimisation(w0):
    y = 1.0
    assert bounds.scalar_margin(w0, y) > 0
    assert bounds.alpha_star_scalar(w0, y) == pytest.approx(_brute_force_alpha(w0, y), rel=1e-6)


def test_nonpositive_margin_raises():
    with pytest.raises(InputError, match="margin"):
        bounds.alpha_star_scalar([1.0, -1.0], 1.0)       # p(0) = -1, c = 1 - 2 < 0
    with pytest.raises(InputError, match="margin"):
        bounds.alpha_star_scalar([0.0, 0.0, 1.0], 1.0)   # c = 0
    with pytest.raises(InputError):
        bounds.alpha_star_scalar([np.nan, 1.0], 1.0)


def test_balanced_two_layer_limit_case():
    """(Depths 2..5, imbalanced starts: tests/test_analysis_min_rate_bound.py.)
    L = 2, balanced (d = 0): alpha* = 2c and the rate 2 (w1^2 + w2^2) = 4 |p| equals 2 alpha*
    at the start, since |p(0)| = c when 0 < p(0) < y."""
    prob = dl.Problem.scalar_chain(2, 2.0)
    w = np.array([0.5, 0.5])
    a = bounds.alpha_star_scalar(w, 2.0)
    assert a == pytest.approx(2 * 0.25)
    tr = dl.simulate(dl.GradientFlow(prob), prob.scalar_params(w), t1=4.0,
                     save=SaveAt(ts=np.linspace(0, 4, 41)),
                     solver=Solver("DOP853", rtol=1e-10, atol=1e-12))
    _, rate = local_rate(tr)
    p = np.prod(tr.scalar_weights()[0], axis=-1)
    np.testing.assert_allclose(rate[0], 4 * np.abs(p), rtol=1e-8)
    assert np.nanmin(rate[0]) == pytest.approx(2 * a, rel=1e-10)


def test_two_layer_matrix_bound_random_draws():
    rng = np.random.default_rng(2)
    for _ in range(300):
        d0, d2 = rng.integers(1, 4, size=2)
        d1 = int(rng.integers(max(d0, d2), 6))
        W1 = rng.normal(size=(d1, d0)) * rng.uniform(0.1, 2)
        W2 = rng.normal(size=(d2, d1)) * rng.uniform(0.1, 2)
        # lambda_min of the operator G -> W2 W2^T G + G W1^T W1, built as a matrix (row-major
        # vec: kron(A, I) + kron(I, B^T)).
        T = np.kron(W2 @ W2.T, np.eye(d0)) + np.kron(np.eye(d2), (W1.T @ W1).T)
        lam = np.linalg.eigvalsh(T)[0]
        assert bounds.two_layer_preconditioner_min(W1, W2) == pytest.approx(lam, abs=1e-10)
        assert lam >= bounds.two_layer_matrix_bound(W1, W2) - 1e-10
    # nontrivial case: W2^T W2 - W1 W1^T = I forces lambda_min >= 1
    W1 = rng.normal(size=(3, 2))
    A = W1 @ W1.T + np.eye(3)
    W2 = np.linalg.cholesky(A).T                    # (3, 3) with W2^T W2 = A
    assert bounds.two_layer_matrix_bound(W1, W2) == pytest.approx(1.0)
    assert bounds.two_layer_preconditioner_min(W1, W2) >= 1.0 - 1e-12


def test_deficiency_margin_and_balancedness():
    Phi = np.diag([2.0, 1.0])
    prob = dl.Problem.target_matrix(Phi, depth=2, width=2)
    W1 = np.diag([1.0, 0.5])
    W2 = np.diag([1.8, 1.0])        # product diag(1.8, 0.5): ||W - Phi||_F = sqrt(0.04 + 0.25)
    c = bounds.deficiency_margin(prob, (W1, W2))
    assert float(c) == pytest.approx(1.0 - np.sqrt(0.29))
    # D_1 = W2^T W2 - W1 W1^T = diag(3.24 - 1, 1 - 0.25)
    assert float(bounds.balancedness(prob, (W1, W2))) == pytest.approx(np.hypot(2.24, 0.75))
    bal = dl.init.balanced(prob, product=np.diag([1.5, 0.7]))
    assert float(bounds.balancedness(prob, bal)) == pytest.approx(0.0, abs=1e-12)
    # regression: Phi is the least-squares solution
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 20))
    Y = Phi @ X
    reg = dl.Problem.regression(X, Y, depth=2, width=2)
    assert float(bounds.deficiency_margin(reg, (W1, W2))) == pytest.approx(1.0 - np.sqrt(0.29))


def test_two_layer_matrix_flow_rate_above_preconditioner_bound():
    """f = 0.5 ||W2 W1 - Phi||^2, Phi invertible (F* = 0): ||grad F||^2 = <G, T(G)> >= lambda_min(T)
    ||G||^2 = 2 lambda_min(T) (F - F*), G = W - Phi; and lambda_min(T) >= the imbalance bound,
    which is conserved along the flow."""
    rng = np.random.default_rng(5)
    Phi = np.array([[2.0, 0.3], [-0.4, 1.0]])
    prob = dl.Problem.target_matrix(Phi, widths=[2, 2, 2])   # hidden width d1 = d0 = d2
    W1 = rng.normal(size=(2, 2)) * 0.3
    W2 = np.array([[1.5, 0.2], [0.1, 1.2]])      # W2^T W2 - W1 W1^T positive definite
    tr = dl.simulate(dl.GradientFlow(prob), (W1, W2), t1=3.0,
                     save=SaveAt(ts=np.linspace(0, 3.0, 31)[1:-1]),
                     solver=Solver("DOP853", rtol=1e-10, atol=1e-12))
    _, rate = local_rate(tr)
    b0 = bounds.two_layer_matrix_bound(W1, W2)
    assert b0 > 0.5
    for k in range(tr.t.shape[1]):
        A, B = tr.params[0][0, k], tr.params[1][0, k]
        lam = bounds.two_layer_preconditioner_min(A, B)
        assert rate[0, k] >= 2 * lam * (1 - 1e-9)
        assert lam >= bounds.two_layer_matrix_bound(A, B) - 1e-9
        assert bounds.two_layer_matrix_bound(A, B) == pytest.approx(b0, rel=1e-6, abs=1e-9)


def test_rate_bound_check_reports_missing_margin():
    """A start with p(0) of the wrong sign has no bound (alpha_star None); a good one holds."""
    prob = dl.Problem.scalar_chain(2, 1.0)
    w = np.array([[0.5, 0.5], [0.8, -0.3]])
    tr = dl.simulate(dl.GradientFlow(prob), prob.scalar_params(w), t1=2.0,
                     save=SaveAt(ts=np.linspace(0, 2.0, 21)[1:-1]),
                     solver=Solver("DOP853", rtol=1e-10, atol=1e-12))
    good, bad = bounds.rate_bound_check(tr)["runs"]
    assert good["holds"] and good["alpha_star"] == pytest.approx(0.5)
    assert bad["alpha_star"] is None and bad["holds"] is None
    with pytest.raises(InputError):
        bounds.rate_bound_check(dl.simulate(
            dl.GradientFlow(dl.Problem.scalar_chain(2, 1.0, loss="lp")),
            prob.scalar_params(w[0]), t1=0.1, solver="DOP853"))
