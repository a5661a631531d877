"""AGD (seed 001, Algorithm 1): exact error identities, Theorem 1's contraction, and the claim
that AGD's loss stays below shallow GD's (true on the paper's examples, false in general)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnflow as dl
from dlnflow import init
from dlnflow.agd import AlignedGD, agd_run, error_vector, filled_loss, shallow_gd_loss
from dlnflow.errors import InputError

RNG = np.random.default_rng(7)


def _problem(d=3, n=5, depth=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(d, n)) * rng.uniform(0.2, 2.0, size=(d, 1))
    Y = rng.uniform(-1, 1, size=(1, n))
    return dl.Problem.regression(X, Y, widths=[d] + [1] * depth), X, Y


def test_layer_identities_exact():
    prob, X, Y = _problem()
    n = X.shape[1]
    sysm = AlignedGD(prob, eta=0.3)
    # a generic point (not the AGD start): identities hold for any params with P != 0
    params = (jnp.asarray(RNG.normal(size=(1, 3))), jnp.asarray([[1.3]]), jnp.asarray([[-0.7]]))
    E = np.asarray(error_vector(prob, params))
    p1 = sysm.layer_update(params, 0)
    E1 = np.asarray(error_vector(prob, p1))
    np.testing.assert_allclose(E1, (np.eye(n) - 0.3 / n * X.T @ X) @ E, atol=1e-13)
    Ecur, pcur = E1, p1
    for layer in (1, 2):
        Yhat = Y[0] - Ecur
        pcur = sysm.layer_update(pcur, layer)
        Enew = np.asarray(error_vector(prob, pcur))
        np.testing.assert_allclose(Enew, (np.eye(n) - np.outer(Yhat, Yhat) / (2 * n)) @ Ecur,
                                   atol=1e-13)
        Ecur = Enew
    # the full step is the round robin of the three sub-steps
    full = sysm.step(params)
    for a, b in zip(full, pcur, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-14)


def test_agd_loss_and_step_sizes_match_algorithm():
    """Layer 1 step eta/P^2 on grad = P (Yhat - Y) X^T / n, layer l step 0.5 Theta_l^2."""
    prob, X, Y = _problem(depth=2)
    n = X.shape[1]
    W1, th = RNG.normal(size=(1, 3)), 0.8
    params = (jnp.asarray(W1), jnp.asarray([[th]]))
    out = AlignedGD(prob, eta=0.2).step(params)
    r = th * W1 @ X - Y                                      # residual, shape (1, n)
    W1_new = W1 - 0.2 / th**2 * (th * r @ X.T / n)
    r2 = th * W1_new @ X - Y
    th_new = th - 0.5 * th**2 * float(((W1_new @ X) @ r2.T)[0, 0]) / n
    np.testing.assert_allclose(out[0], W1_new, atol=1e-14)
    np.testing.assert_allclose(out[1][0, 0], th_new, atol=1e-14)


def test_depth_one_is_gradient_descent_and_bad_input():
    prob, X, Y = _problem(depth=1)
    p0 = (jnp.asarray(RNG.normal(size=(1, 3))),)
    a = AlignedGD(prob, 0.1).step(p0)
    g = dl.GradientDescent(prob, 0.1).step(p0)
    np.testing.assert_allclose(a[0], g[0], atol=1e-15)
    with pytest.raises(InputError, match="widths"):
        AlignedGD(dl.Problem.regression(X, Y, widths=[3, 2, 1]), 0.1)
    with pytest.raises(InputError, match="eta"):
        AlignedGD(prob, -1.0)


@eqx.filter_jit
def _agd_errors(system, params, steps):
    """E after every sub-step: (steps, depth + 1, n) with E_t at index 0."""
    depth = system.problem.depth

    def body(p, _):
        Es = [error_vector(system.problem, p)]
        for layer in range(depth):
            p = system.layer_update(p, layer)
            Es.append(error_vector(system.problem, p))
        return p, jnp.stack(Es)

    return jax.lax.scan(body, params, None, length=steps)[1]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), shape=st.sampled_from([(3, 5), (4, 3)]),
       frac=st.sampled_from([0.5, 1.9]), spread=st.floats(0.05, 1.0))
def test_theorem1_contraction_random_data(seed, shape, frac, spread):
    """Theorem 1 on random data (|y_i| <= 1, full rank X, eta stable for shallow GD):
    eq. (5) ||E1/L_sol|| <= rho_eff ||E_sol||, eq. (7) each later layer does not increase it,
    eq. (8) ||E_{t+1}^sol|| <= rho_eff ||E_t^sol||; also eqs. (4) and (6) along the run."""
    d, n = shape
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(d, n)) * np.geomspace(1.0, spread, d)[:, None]
    X = X / np.sqrt(np.linalg.eigvalsh(X.T @ X / n).max())        # lambda_max(X^T X / n) = 1
    Y = rng.uniform(-1, 1, size=(1, n))
    eta, depth = frac, 3
    prob = dl.Problem.regression(X, Y, widths=[d] + [1] * depth)
    Es = np.asarray(_agd_errors(AlignedGD(prob, eta), init.zero_first(prob), 30))
    lam = np.linalg.eigvalsh(X.T @ X / n)
    rho = np.max(np.abs(1 - eta * lam[lam > 1e-12]))
    proj = X.T @ np.linalg.pinv(X.T)                                # onto range(X^T)
    Esol = Es - (Y[0] - Y[0] @ proj.T)                              # Y_sol - Yhat
    norms = np.linalg.norm(Esol, axis=-1)
    tol = 1e-12
    assert np.all(norms[:, 1] <= rho * norms[:, 0] + tol)            # (5)
    assert np.all(np.diff(norms[:, 1:], axis=1) <= tol)              # (7)
    assert np.all(norms[1:, 0] <= rho * norms[:-1, 0] + tol)         # (8)
    A = np.eye(n) - eta / n * X.T @ X
    np.testing.assert_allclose(Es[:, 1], Es[:, 0] @ A.T, atol=1e-12)  # (4)
    Yhat = Y[0] - Es[:, 1]
    E2 = Es[:, 1] - Yhat * np.sum(Yhat * Es[:, 1], axis=1, keepdims=True) / (2 * n)
    np.testing.assert_allclose(Es[:, 2], E2, atol=1e-12)              # (6)


PAPER_X = np.array([[np.sqrt(2), 0.0], [0.0, np.sqrt(2 * 0.01)]])
UNWHITENED_X = np.array([[np.sqrt(2), 0.0], [0.0, np.sqrt(2) * 0.02]])


@pytest.mark.parametrize("X, eta, depth", [
    (np.array([[1.0]]), 0.1, 2),                      # plateau example, x = 1, y = 1
    (PAPER_X, 2 / 1.01, 2), (PAPER_X, 0.1, 2), (PAPER_X, 1e-3, 2),
    (PAPER_X, 0.1, 4), (PAPER_X, 0.1, 8),
    (UNWHITENED_X, 0.1, 2),
])
def test_agd_below_shallow_gd_on_paper_examples(X, eta, depth):
    Y = np.ones((1, X.shape[1]))
    steps = 300
    agd = filled_loss(agd_run(X, Y, eta, depth, steps))[0]
    gd = shallow_gd_loss(X, Y, eta, steps)
    assert np.all(agd <= gd * (1 + 1e-12) + 1e-15)
    assert agd[-1] < gd[-1]


def test_claim_fails_on_a_rotated_dataset():
    """Disagreement with the paper's instance-wise claim: with X^T X / n = R diag(1, 1/3) R^T
    (R a rotation by pi/6), y = (1, 1) and eta = 1.9 / lambda_max, two-layer AGD's loss exceeds
    shallow GD's at iteration 3 (by about 1e-3), although Theorem 1's bound (8) still holds."""
    th = np.pi / 6
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    X = np.sqrt(2) * np.diag([1.0, 1 / np.sqrt(3)]) @ R
    Y = np.ones((1, 2))
    eta = 1.9 / np.linalg.eigvalsh(X.T @ X / 2).max()
    agd = filled_loss(agd_run(X, Y, eta, 2, 20))[0]
    gd = shallow_gd_loss(X, Y, eta, 20)
    assert agd[3] > gd[3] + 5e-4
    assert agd[-1] < gd[-1]
