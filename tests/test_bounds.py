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


# ---- Min-Vidal-Mallada two-layer matrix bound (Lemma 3, Theorem 1) and deep bound (Theorem 3)

def _lambda_min_T(layers):
    """lambda_min of T(G) = sum_l P_l P_l^T G Q_l^T Q_l, P_l = W_L...W_(l+1), Q_l = W_(l-1)...W_1,
    built as a matrix (row-major vec: kron(A, B^T)) and diagonalised: an independent reference."""
    Ws = [np.asarray(W, float) for W in layers]
    n, m = Ws[-1].shape[0], Ws[0].shape[1]
    T = np.zeros((n * m, n * m))
    for l in range(len(Ws)):
        P, Q = np.eye(n), np.eye(m)
        for W in Ws[l + 1:][::-1]:
            P = P @ W
        for W in Ws[:l]:
            Q = W @ Q
        T += np.kron(P @ P.T, (Q.T @ Q).T)
    return np.linalg.eigvalsh(T)[0]


def test_lemma3_bound_random_draws_and_pairing():
    """Lemma 3 (with s_in paired to Delta_+, s_out to Delta_-) never exceeds lambda_min(T) on 3000
    draws, and is never below Delta (>= the cruder [lambda_min(D)]_+ + [lambda_min(-D)]_+). The
    paper's printed pairing (sigma_n with Delta_+) is violated for n != m: the draw below."""
    rng = np.random.default_rng(11)
    for _ in range(3000):
        n, m = (int(x) for x in rng.integers(1, 4, size=2))
        h = int(rng.integers(max(n, m), 6))
        W1 = rng.normal(size=(h, m)) * rng.uniform(0.1, 2)
        W2 = rng.normal(size=(n, h)) * rng.uniform(0.1, 2)
        lam = _lambda_min_T([W1, W2])
        b = bounds.two_layer_lambda_bound(W1, W2)
        d = bounds.imbalance_gaps(W1, W2)[2]
        assert lam >= b - 1e-9 * max(1.0, lam)
        assert b >= d - 1e-12 and d >= bounds.two_layer_matrix_bound(W1, W2) - 1e-12
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(3, 1)), rng.normal(size=(3, 3))        # n = 3 > m = 1, h = 3
    dp, dm, d = bounds.imbalance_gaps(W1, W2)
    W = W2 @ W1
    s_min2 = float(np.linalg.eigvalsh(W.T @ W)[0])                    # sigma_m(W)^2; sigma_n = 0
    printed = 0.5 * (-dp + np.hypot(dp + d, 0.0) - dm + np.sqrt((dm + d) ** 2 + 4 * s_min2))
    assert printed > _lambda_min_T([W1, W2]) + 0.1
    assert bounds.two_layer_lambda_bound(W1, W2) <= _lambda_min_T([W1, W2]) + 1e-12


def test_lemma3_exact_for_vector_layers():
    """n = m = 1 (W_1 = a, W_2 = b^T): lambda_min(T) = |a|^2 + |b|^2 = sqrt(Delta^2 + 4 p^2),
    since Delta^2 = (|b|^2 - |a|^2)^2 + 4 |a|^2 |b|^2 sin^2, p = |a| |b| cos: Lemma 3 is tight."""
    rng = np.random.default_rng(4)
    for h in (2, 3, 5):
        for _ in range(50):
            a, b = rng.normal(size=(h, 1)), rng.normal(size=(1, h))
            exact = float(np.sum(a**2) + np.sum(b**2))
            assert bounds.two_layer_lambda_bound(a, b) == pytest.approx(exact, rel=1e-10)


def test_alpha_two_layer_reduces_to_scalar_alpha_star():
    """1 x 1 layers, and aligned vector layers (W_1 = w_1 u, W_2 = w_2 u^T), are the scalar chain:
    Theorem 1's alpha equals the exact scalar alpha* = sqrt(d^2 + 4 c^2)."""
    rng = np.random.default_rng(9)
    checked = 0
    for _ in range(100):
        w = rng.normal(size=2) * 1.3
        y = float(rng.normal() * 2)
        if bounds.scalar_margin(w, y) <= 1e-3:
            continue
        ref = bounds.alpha_star_scalar(w, y)
        prob = dl.Problem.target_matrix([[y]], widths=[1, 1, 1])
        assert bounds.alpha_two_layer(prob, ([[w[0]]], [[w[1]]])) == pytest.approx(ref, rel=1e-12)
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        prob3 = dl.Problem.target_matrix([[y]], widths=[1, 3, 1])
        a3 = bounds.alpha_two_layer(prob3, (w[0] * u[:, None], w[1] * u[None, :]))
        assert a3 == pytest.approx(ref, rel=1e-10)
        checked += 1
    assert checked > 30


def _flow_rates(prob, params, t1=3.0, n=61):
    tr = dl.simulate(dl.GradientFlow(prob), params, t1=t1,
                     save=SaveAt(ts=np.linspace(0, t1, n)[1:-1]),
                     solver=Solver("DOP853", rtol=1e-10, atol=1e-12))
    _, rate = local_rate(tr)
    return tr, rate


def test_flow_rate_above_theorem_1_on_random_matrix_starts():
    """40 random imbalanced two-layer starts (n = m = 2, h = 3, square target, gamma = 2): the
    least measured local rate >= 2 alpha (Theorem 1); the bound is not vacuous (alpha > 0) and
    tight where the theory says so: vector layers with 0 < p(0) < y start on |p| = margin."""
    rng = np.random.default_rng(21)
    Phi = np.array([[1.5, 0.4], [-0.2, 1.0]])
    prob = dl.Problem.target_matrix(Phi, widths=[2, 3, 2])
    W1 = rng.normal(size=(40, 3, 2)) * rng.uniform(0.2, 1.5, size=(40, 1, 1))
    W2 = rng.normal(size=(40, 2, 3)) * rng.uniform(0.2, 1.5, size=(40, 1, 1))
    tr, rate = _flow_rates(prob, (W1, W2))
    alphas = np.array([bounds.alpha_two_layer(prob, (W1[i], W2[i])) for i in range(40)])
    assert np.all(alphas > 0)
    rmin = np.nanmin(rate, axis=1)
    assert np.all(rmin >= 2 * alphas * (1 - 1e-8))
    # the imbalance bound is conserved along the flow
    D0 = bounds.imbalance_gaps(W1[3], W2[3])
    D1 = bounds.imbalance_gaps(tr.params[0][3, -1], tr.params[1][3, -1])
    np.testing.assert_allclose(D1, D0, rtol=1e-7, atol=1e-9)
    # equality case: vector layers, 0 < p(0) < y: rate(0) = 2 (|a|^2 + |b|^2) = 2 alpha
    y = 2.0
    pv = dl.Problem.target_matrix([[y]], widths=[1, 3, 1])
    a, b = np.array([[0.6], [0.2], [-0.1]]), np.array([[0.9, -0.3, 0.4]])
    assert 0 < float((b @ a)[0, 0]) < y
    _, rv = _flow_rates(pv, (a, b))
    alpha = bounds.alpha_two_layer(pv, (a, b))
    assert rv[0, 0] == pytest.approx(2 * alpha, rel=1e-10)
    assert np.nanmin(rv) >= 2 * alpha * (1 - 1e-10)


def test_flow_rate_above_theorem_1_regression():
    """Regression 0.5/n ||W X - Y||^2 with X X^T invertible: K != mu, gamma = 2 mu and the margin
    carries sqrt(K/mu) (Lemma B.1); least local rate >= gamma alpha."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2, 8))
    Wt = np.array([[1.2, 0.3], [0.1, 0.9]])
    prob = dl.Problem.regression(X, Wt @ X, widths=[2, 3, 2])
    qc = bounds.quadratic_constants(prob)
    ev = np.linalg.eigvalsh(X @ X.T / 8)
    assert (qc.K, qc.mu) == pytest.approx((ev[-1], ev[0]))
    np.testing.assert_allclose(qc.Wstar, Wt, atol=1e-12)
    W1 = rng.normal(size=(8, 3, 2)) * 0.8
    W2 = rng.normal(size=(8, 2, 3)) * 0.8
    _, rate = _flow_rates(prob, (W1, W2), t1=4.0)
    for i in range(8):
        a = bounds.alpha_two_layer(prob, (W1[i], W2[i]))
        assert a > 0 and np.nanmin(rate[i]) >= 2 * qc.mu * a * (1 - 1e-8)


def _unimodal(rng, L, d, lstar, homogeneous):
    """Paper-orientation layers V_1 (output) ... V_L, unimodal with index l*, returned in our
    order (W_1 = V_L, ..., W_L = V_1): D_l >= 0 for l < l*, D_l <= 0 for l >= l*."""
    def sqrtm(M):
        e, U = np.linalg.eigh(M)
        return U @ np.diag(np.sqrt(np.maximum(e, 0))) @ U.T

    def orth():
        return np.linalg.qr(rng.normal(size=(d, d)))[0]

    def S():
        if homogeneous:
            return rng.uniform(0.05, 1.0) * np.eye(d)
        A = rng.normal(size=(d, d))
        return A @ A.T * rng.uniform(0.05, 0.5)

    V = [None] * (L + 1)                       # 1-based
    V[lstar] = rng.normal(size=(d, d)) * 0.8
    if homogeneous:                            # homogeneous: V_l* = U Sigma U'^T, diagonal Sigma
        V[lstar] = orth() @ np.diag(rng.uniform(0.4, 1.2, size=d)) @ orth()
    for l in range(lstar - 1, 0, -1):          # V_l^T V_l = V_(l+1) V_(l+1)^T + S
        V[l] = orth() @ sqrtm(V[l + 1] @ V[l + 1].T + S())
    for l in range(lstar, L):                  # V_(l+1) V_(l+1)^T = V_l^T V_l + S
        V[l + 1] = sqrtm(V[l].T @ V[l] + S()) @ orth()
    return [V[l] for l in range(L, 0, -1)]


@pytest.mark.parametrize("L", [3, 4])
def test_deep_bound_theorem_3_random_unimodal(L):
    """Theorem 3: lambda_min(T) >= prod d~(i) (18) for unimodal weights, every index l*, and
    >= sqrt(prod^2 + (L sigma_min(W)^(2-2/L))^2) (19) under homogeneous imbalance."""
    rng = np.random.default_rng(L)
    for hom in (False, True):
        for _ in range(60):
            lstar = int(rng.integers(1, L + 1))
            layers = _unimodal(rng, L, 2, lstar, hom)
            assert bounds.is_homogeneous(layers) == hom
            b = bounds.deep_lambda_bound(layers)
            assert b > 0
            assert _lambda_min_T(layers) >= b * (1 - 1e-9)


def test_deep_bound_widths_differ():
    """n = 2 > m = 1, homogeneous D_l = s_l I on the 2-wide hidden layers: (19) would exceed
    lambda_min(T) on some draws, so only (18) = prod d~ applies; it holds on all of them."""
    rng = np.random.default_rng(0)
    exceeded = 0

    def sqrtm(M):
        e, U = np.linalg.eigh(M)
        return U @ np.diag(np.sqrt(np.maximum(e, 0))) @ U.T

    for trial in range(200):
        L = 3 + trial % 2
        V = [None] * (L + 1)
        V[L] = rng.normal(size=(2, 1))
        for l in range(L - 1, 0, -1):
            V[l] = np.linalg.qr(rng.normal(size=(2, 2)))[0] @ sqrtm(
                V[l + 1] @ V[l + 1].T + rng.uniform(0.05, 1) * np.eye(2))
        layers = [V[l] for l in range(L, 0, -1)]
        assert bounds.is_homogeneous(layers)
        _, dt = bounds.cumulative_imbalances(layers)
        b = bounds.deep_lambda_bound(layers)
        assert b == pytest.approx(np.prod(dt), rel=1e-12)
        lam = _lambda_min_T(layers)
        assert lam >= b * (1 - 1e-9)
        W = layers[0]
        for Wl in layers[1:]:
            W = Wl @ W
        s = np.linalg.svd(W, compute_uv=False)[-1]
        exceeded += np.hypot(b, L * s ** (2 - 2 / L)) > 1.2 * lam
    assert exceeded >= 5


def test_cumulative_imbalances_closed_forms():
    """Scalar chains (sorted by |w|): d~(i) = w_(i)^2 - w_min^2. Homogeneous matrix weights with
    D_l = d_l I (paper orientation, l* = L): d~(i) = sum_{l >= i} d_l."""
    w = [0.7, -1.3, 0.9, 1.1]
    layers = [np.array([[x]]) for x in w]
    lstar, dt = bounds.cumulative_imbalances(layers)
    s = np.sort(np.square(w))[::-1]
    np.testing.assert_allclose(dt, s[:-1] - s[-1], rtol=1e-14)
    assert lstar == 4
    rng = np.random.default_rng(2)
    Q = [np.linalg.qr(rng.normal(size=(2, 2)))[0] for _ in range(4)]
    sig2 = [np.array([0.5, 0.8]) + c for c in (0.0, 0.3, 0.7)]   # V_3, V_2, V_1 squared
    V = [Q[i] @ np.diag(np.sqrt(sig2[2 - i])) @ Q[i + 1].T for i in range(3)]   # V_1..V_3
    _, dt = bounds.cumulative_imbalances(V[::-1])
    np.testing.assert_allclose(dt, [0.4 + 0.3, 0.3], rtol=1e-12)


def test_deep_bound_against_scalar_alpha_star():
    """Scalar chains: Corollary 2 equals the exact alpha* for L = 2 and for balanced chains
    (L c^(2-2/L)); for L >= 3 it never exceeds it (alpha* is the minimum over the reachable set)."""
    y = 1.5
    for L in (2, 3, 4, 5):
        prob = dl.Problem.scalar_chain(L, y)
        wb = np.full(L, 0.8)
        c = bounds.scalar_margin(wb, y)
        assert bounds.alpha_deep(prob, prob.scalar_params(wb)) == pytest.approx(
            L * c ** (2 - 2 / L), rel=1e-12)
        assert bounds.alpha_star_scalar(wb, y) == pytest.approx(L * c ** (2 - 2 / L), rel=1e-9)
        rng = np.random.default_rng(L)
        for _ in range(30):
            w = rng.uniform(0.5, 1.4, size=L)
            if bounds.scalar_margin(w, y) <= 0.01:
                continue
            ad = bounds.alpha_deep(prob, prob.scalar_params(w))
            ex = bounds.alpha_star_scalar(w, y)
            if L == 2:
                assert ad == pytest.approx(ex, rel=1e-12)
            assert ad <= ex * (1 + 1e-12)


def test_deep_homogeneous_flow_rate_above_corollary_2():
    """Three 2 x 2 layers with homogeneous imbalance (random orthogonal frames, target not aligned
    with them): least local flow rate >= 2 alpha_L (Corollary 2, with the margin)."""
    rng = np.random.default_rng(8)
    done = 0
    for _ in range(12):
        layers = _unimodal(rng, 3, 2, int(rng.integers(1, 4)), True)
        W = layers[2] @ layers[1] @ layers[0]
        Phi = W + 0.1 * rng.normal(size=(2, 2))
        prob = dl.Problem.target_matrix(Phi, widths=[2, 2, 2, 2])
        if bounds.product_margins(prob, W).min <= 0:
            continue
        a = bounds.alpha_deep(prob, tuple(layers))
        _, rate = _flow_rates(prob, tuple(layers), t1=2.0, n=41)
        assert np.nanmin(rate) >= 2 * a * (1 - 1e-8)
        done += 1
    assert done >= 6


def test_deep_bound_rejects_non_unimodal():
    with pytest.raises(InputError, match="unimodal"):
        bounds.cumulative_imbalances([np.diag([1.0, 0.2]), np.eye(2), np.diag([0.5, 1.5])])
    with pytest.raises(InputError, match="h >= max"):
        bounds.imbalance_gaps(np.ones((1, 2)), np.ones((2, 1)))
