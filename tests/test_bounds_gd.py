"""Xu, Min, Tarmoun, Mallada, Vidal (TMLR 2025): GD rate bound of two-layer networks and its
step-size rule, checked along GD trajectories from 200 seeded starts."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow import bounds, papers
from dlnflow.errors import InputError

PHI = np.array([[2.0, 0.5], [-0.3, 1.5]])
N = M = 2
H = 5


def _starts(count=200, seed=0):
    """Imbalanced starts W_1 (h, m), W_2 (n, h) with W_2 W_1 = Phi + noise (the paper's Sec. 4
    setting: the target is the start's product plus noise, scaled down to n = m = 2, h = 5)."""
    rng = np.random.default_rng(seed)
    W1s, W2s = [], []
    for _ in range(count):
        W1 = rng.normal(size=(H, M)) * rng.uniform(0.3, 1.5)
        E = PHI + 0.5 * rng.normal(size=(N, M)) * rng.uniform(0, 1)
        P = np.linalg.pinv(W1)
        W2 = E @ P + rng.normal(size=(N, H)) * rng.uniform(0, 1.5) @ (np.eye(H) - W1 @ P)
        W1s.append(W1)
        W2s.append(W2)
    return np.array(W1s), np.array(W2s)


@pytest.fixture(scope="module")
def setting():
    prob = dl.Problem.target_matrix(PHI, widths=[M, H, N])
    W1s, W2s = _starts()
    cs = [bounds.xu_constants(prob, (a, b)) for a, b in zip(W1s, W2s, strict=True)]
    return prob, W1s, W2s, cs, np.array([papers.xu_eta_max(c) for c in cs])


def _gd(prob, W1s, W2s, eta, steps, full=True):
    tr = dl.simulate(dl.GradientDescent(prob, eta), (W1s, W2s), stop=dl.Stop(max_steps=steps),
                     save=dl.SaveAt(every=1))
    assert not full or tr.valid.all()
    return tr


@pytest.mark.parametrize("fraction", [0.3, 0.9])
def test_measured_gd_rate_never_below_theorem_3_2(setting, fraction):
    """Theorem 3.2: for 0 < eta < eta_max, F(k+1) <= rho_bar F(k) at every step. One step eta =
    fraction * (least eta_max of the 200 starts) obeys every start's rule. Measured per-step rate
    -ln(F(k+1)/F(k)) >= -ln rho_bar; rtol 1e-8 covers float64 rounding of rates ~1e-6."""
    prob, W1s, W2s, cs, eta_max = setting
    assert np.all(eta_max > 0) and len(cs) == 200
    eta = fraction * eta_max.min()
    tr = _gd(prob, W1s, W2s, eta, 200)
    e = tr.excess_loss
    measured = -np.log(e[:, 1:] / e[:, :-1])
    bound = np.array([-np.log1p(-bounds.xu_contraction_gap(c, eta)) for c in cs])
    assert np.all(bound > 0)                                   # the bound is not vacuous
    assert np.all(measured >= bound[:, None] * (1 - 1e-8))
    ratio = measured.min(axis=1) / bound
    assert 1.0 <= ratio.min() and np.median(ratio) < 50    # loose, but within two decades


def test_uniform_spectral_bounds_lemma_3_1(setting):
    """Lemma 3.1 along GD (eta < eta_max): alpha_1 + 2 alpha_2 (1 - e^sqrt(eta)) <=
    sigma_min^2(T_t) <= sigma_max^2(T_t) <= alpha_2 e^sqrt(eta), beta_1 <= sigma(W(t)) <= beta_2."""
    prob, W1s, W2s, cs, eta_max = setting
    eta = 0.9 * eta_max.min()
    tr = _gd(prob, W1s, W2s, eta, 100)
    A, G = tr.params[1] @ np.swapaxes(tr.params[1], -1, -2), \
        np.swapaxes(tr.params[0], -1, -2) @ tr.params[0]
    ea, eg = np.linalg.eigvalsh(A), np.linalg.eigvalsh(G)
    smin2, smax2 = ea[..., 0] + eg[..., 0], ea[..., -1] + eg[..., -1]
    sv = np.linalg.svd(tr.params[1] @ tr.params[0], compute_uv=False)
    for i, c in enumerate(cs):
        q = np.exp(np.sqrt(eta))
        assert smin2[i].min() >= c.alpha1 + 2 * c.alpha2 * (1 - q) - 1e-12
        assert smax2[i].max() <= c.alpha2 * q + 1e-12
        assert sv[i, :, -1].min() >= c.beta1 - 1e-12
        assert sv[i, :, 0].max() <= c.beta2 + 1e-12


@pytest.mark.parametrize("eta", [0.01, 0.05])
def test_local_descent_theorem_3_1_beyond_the_rule(setting, eta):
    """Theorem 3.1 holds at any step with eta K_t < 2 (far above eta_max): F(t+1) <= rho(eta, t)
    F(t). Checked where F(t) > 1e-8 (below that, float64 rounding of F, ~1e-16, is no longer
    small against the margin of the inequality)."""
    prob, W1s, W2s, _, _ = setting
    tr = _gd(prob, W1s, W2s, eta, 150, full=False)      # runs stop at the loss threshold
    e = np.where(tr.valid, tr.excess_loss, np.nan)
    loc = bounds.xu_local(prob, (tr.params[0][:, :-1], tr.params[1][:, :-1]), eta)
    ok = tr.valid[:, 1:] & (e[:, :-1] > 1e-8) & np.isfinite(loc.rho)
    assert ok.sum() >= 5000                     # thousands of steps checked
    assert np.all(e[:, 1:][ok] <= loc.rho[ok] * e[:, :-1][ok] * (1 + 1e-9))
    # mu_t is mu sigma_min^2(T_t) = lambda_min of the preconditioner at the iterate
    i, k = 7, 30
    lam = bounds.two_layer_preconditioner_min(tr.params[0][i, k], tr.params[1][i, k])
    assert loc.mu_t[i, k] == pytest.approx(lam, rel=1e-12)


@pytest.mark.parametrize("d", [2.0, 1.01])
def test_eta_max_meets_its_defining_conditions(setting, d):
    """Below eta_max (Theorem E.1 with c = 1/2; d = 2 is Theorem 3.2, d = 1.01 the paper's
    experiments): mu_bar > 0, 0 < rho_bar < 1, eta K_bar_0 <= 1 and 4 K F(0) eta^2 <=
    (1 - e^-sqrt(eta)) (1 - (1 + eta^d) rho_bar) (eq. 109); eta_max is where one of them fails."""
    _, _, _, cs, eta_max = setting
    if d != 2.0:
        eta_max = np.array([papers.xu_eta_max(c, d=d) for c in cs[:40]])
    for c, em in zip(cs[:40], eta_max[:40], strict=True):
        for eta in (0.5 * em, 0.999 * em):
            assert bounds.xu_mu_bar(c, eta) > 0
            assert 0 < bounds.xu_rho_bar(c, eta) < 1
            assert eta * bounds.xu_K_bar0(c, eta) <= 1
            lhs = 4 * c.K * c.loss0 * eta**2
            rhs = (1 - np.exp(-np.sqrt(eta))) * (1 - (1 + eta**d) * bounds.xu_rho_bar(c, eta))
            assert lhs <= rhs * (1 + 1e-9)
        e = 1.001 * em
        fails = (bounds.xu_mu_bar(c, e) <= 0 or e * bounds.xu_K_bar0(c, e) > 1
                 or 4 * c.K * c.loss0 * e**2
                 > (1 - np.exp(-np.sqrt(e))) * (1 - (1 + e**d) * bounds.xu_rho_bar(c, e)))
        assert fails


def test_rate_bound_tends_to_the_flow_bound(setting):
    """As eta_0 -> 0, -ln(rho_bar)/eta_0 -> 2 mu alpha_1 = gamma alpha (MVM Theorem 1, the flow's
    bound): alpha_1 of Table 2 is Min et al.'s two-layer alpha."""
    prob, W1s, W2s, cs, _ = setting
    for i in range(5):
        a = bounds.alpha_two_layer(prob, (W1s[i], W2s[i]))
        assert cs[i].alpha1 == pytest.approx(a, rel=1e-14)
        assert bounds.xu_rate_bound(cs[i], 1e-14) == pytest.approx(2 * a, rel=1e-5)
        assert bounds.xu_rate_bound(cs[i], 1e-3 * papers.xu_eta_max(cs[i])) < 2 * a


def test_vector_layers_closed_form():
    """n = m = 1: D = b b^T - a a^T has eigenvalues lambda_+ > 0 > -lambda_-, Delta_+- = 0,
    Delta = lambda_+ + lambda_- and alpha_1 = sqrt(Delta^2 + 4 beta_1^2); alpha_2 =
    (lambda_+ + sqrt(lambda_+^2 + 4 beta_2^2))/2 + (lambda_- + sqrt(lambda_-^2 + 4 beta_2^2))/2."""
    y = 2.0
    prob = dl.Problem.target_matrix([[y]], widths=[1, 3, 1])
    a, b = np.array([[0.6], [0.2], [-0.1]]), np.array([[0.9, -0.3, 0.4]])
    c = bounds.xu_constants(prob, (a, b))
    p = float((b @ a)[0, 0])
    r = abs(p - y)
    lp_lm = np.linalg.eigvalsh(b.T @ b - a @ a.T)
    lp, lm = lp_lm[-1], -lp_lm[0]
    assert c.beta1 == pytest.approx(y - r) and c.beta2 == pytest.approx(y + r)
    assert c.alpha1 == pytest.approx(np.hypot(lp + lm, 2 * (y - r)), rel=1e-12)
    assert c.alpha2 == pytest.approx((lp + np.hypot(lp, 2 * (y + r))) / 2
                                     + (lm + np.hypot(lm, 2 * (y + r))) / 2, rel=1e-12)
    assert c.loss0 == pytest.approx(0.5 * r**2)


def test_bad_input():
    X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])           # 3 samples of 2 inputs
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0], [1.0, 1.0, 0.0]])   # not W X: F* > 0
    reg = dl.Problem.regression(X, Y, widths=[2, 3, 3])
    with pytest.raises(InputError, match="Assumption 2.2"):
        bounds.xu_constants(reg, (np.ones((3, 2)), np.ones((3, 3))))
    prob = dl.Problem.target_matrix(PHI, widths=[2, 3, 2])
    c = bounds.xu_constants(prob, (np.zeros((3, 2)), np.zeros((2, 3))))    # alpha_1 = 0
    with pytest.raises(InputError, match="alpha_1"):
        papers.xu_eta_max(c)
    with pytest.raises(InputError):
        bounds.xu_rho_bar(c, -1.0)
    chain = dl.Problem.scalar_chain(3, 1.0)
    with pytest.raises(InputError, match="depth-2"):
        bounds.xu_local(chain, chain.scalar_params([1.0, 1.0, 1.0]), 0.1)


def test_adaptive_eta_eq_19(setting):
    """eq. 19: eta_t = min((1 + eta_0^d)^(t/2) eta_0, 1/K_t). At t = 0 it is eta_0 (eta_0 K_0 < 1
    below eta_max); once the growth term is large, 1/K_t binds: eta_t K_t(eta_t) = 1."""
    prob, W1s, W2s, cs, eta_max = setting
    for i in range(3):
        p, eta0 = (W1s[i], W2s[i]), 0.5 * eta_max[i]
        assert papers.xu_adaptive_eta(prob, p, 0, eta0) == eta0
        t = int(2 * np.log(1e3) / np.log1p(eta0**2)) + 1       # growth factor > 1e3
        e = papers.xu_adaptive_eta(prob, p, t, eta0)
        assert e < (1 + eta0**2) ** (t / 2) * eta0
        assert e * float(bounds.xu_local(prob, p, e).K_t) == pytest.approx(1.0, rel=1e-9)
