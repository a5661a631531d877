"""CentralFlow against independent references: gradient flow below the threshold, sharpness held
at 2/eta on the edge, grad S by finite differences of eigvalsh, the authors' Euler substep."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dlnflow as dl
from dlnflow.systems import CentralFlow, GradientFlow

START = np.array([0.2, 0.3, 1.5])      # GF sharpness rises from 1.05 to 3.70 (y = 1)


@pytest.fixture(scope="module")
def chain():
    prob = dl.Problem.scalar_chain(3, 1.0)
    return prob, prob.scalar_params(START)


def top_eig_numpy(prob, x):
    """Top eigenvalue of the Hessian at flat x: numpy eigvalsh of the JAX Hessian matrix."""
    H = np.asarray(jax.hessian(prob.loss_flat)(jnp.asarray(x)))
    return np.linalg.eigvalsh(H)[-1]


def test_equals_gradient_flow_below_threshold(chain):
    prob, p0 = chain
    eta = 0.05                                   # 2/eta = 40, ten times the flow's sharpness
    solver = dl.Solver("DOP853", rtol=1e-10, atol=1e-12)
    ts = np.linspace(0, 5, 11)
    cf = dl.simulate(CentralFlow(prob, eta), p0, t1=5.0, solver=solver, save=dl.SaveAt(ts=ts))
    gf = dl.simulate(GradientFlow(prob), p0, t1=5.0, solver=solver, save=dl.SaveAt(ts=ts))
    # sigma^2 = 0 everywhere: the same field, bit for bit, so the same solver path
    np.testing.assert_array_equal(np.asarray(cf.params[0]), np.asarray(gf.params[0]))
    x = prob.flatten(p0)
    assert float(CentralFlow(prob, eta).terms_flat(x)["sigma2"]) == 0.0


def test_grad_sharpness_and_field_match_independent_formulas(chain):
    prob, _ = chain
    x = np.array([0.5, 0.6, 1.8])                # the flow sharpens here: <grad S, grad F> < 0
    eta = 2 * 0.97 / top_eig_numpy(prob, x)      # S = 0.97 * 2/eta: inside the kappa layer
    cf = CentralFlow(prob, eta)
    terms = cf.terms_flat(jnp.asarray(x))
    S = top_eig_numpy(prob, x)
    assert float(terms["sharpness"]) == pytest.approx(S, rel=1e-12)
    # grad S by central differences of numpy's top eigenvalue (Danskin: u^T dH u)
    h = 1e-5
    fd = np.array([(top_eig_numpy(prob, x + h * e) - top_eig_numpy(prob, x - h * e)) / (2 * h)
                   for e in np.eye(3)])
    np.testing.assert_allclose(np.asarray(terms["grad_sharpness"]), fd, rtol=1e-7, atol=1e-8)
    # the authors' Euler substep (central_flows/minimal.py, one eigenvalue), dt in steps:
    # X solves 0 <= X _|_ 2/eta - (S + dt dS_stable) - dt dS_X X >= 0, w' = w + dt eta (...)
    g = np.asarray(jax.grad(prob.loss_flat)(jnp.asarray(x)))
    dt = 1 / cf.substeps
    dw_stable, dw_x = -eta * g, -0.5 * eta * fd
    resid, slope = 2 / eta - (S + dt * fd @ dw_stable), -dt * fd @ dw_x
    assert fd @ g < 0 and slope > 0
    X = max(0.0, -resid / slope)
    assert X > 0                                  # the constraint is active here
    step = dt * (dw_stable + dw_x * X)           # w_next - w over dt steps = dt * eta time
    np.testing.assert_allclose(np.asarray(terms["field"]) * dt * eta, step, rtol=1e-7)
    assert float(terms["sigma2"]) == pytest.approx(X, rel=1e-7)


def test_sharpness_held_at_threshold_on_the_edge(chain):
    prob, p0 = chain
    eta = 0.7                                     # 2/eta = 2.857 inside (1.05, 3.70)
    ts = np.linspace(0, 20, 41)
    cf = dl.simulate(CentralFlow(prob, eta), p0, t1=20.0,
                     solver=dl.Solver("DOP853", rtol=1e-10, atol=1e-12), save=dl.SaveAt(ts=ts))
    assert cf.status[0] == "completed"
    x = np.stack([np.asarray(W[0, :, 0, 0]) for W in cf.params], axis=1)
    S = np.array([top_eig_numpy(prob, xi) for xi in x])
    # reaches the edge (t ~ 1.4 + a few 1/kappa), then stays on it to solver accuracy
    assert np.all(S <= 2 / eta * (1 + 1e-7))
    on = ts >= 5.0
    np.testing.assert_allclose(S[on] * eta / 2, 1.0, rtol=1e-7)
    # while the gradient flow leaves it (sharpness 3.70 at its minimum)
    gf = dl.simulate(GradientFlow(prob), p0, t1=20.0,
                     solver=dl.Solver("DOP853", rtol=1e-10, atol=1e-12))
    xg = np.array([float(W[0, 0, 0]) for W in gf.params_final])
    assert top_eig_numpy(prob, xg) > 1.25 * 2 / eta
    # the loss still falls along the edge
    assert np.all(np.diff(cf.loss[0][on]) < 0)
    # diffrax's Tsit5 (vmapped, jitted field) solves the same ODE: the same states
    tr = dl.simulate(CentralFlow(prob, eta), p0, t1=20.0,
                     solver=dl.Solver("tsit5", rtol=1e-10, atol=1e-12), save=dl.SaveAt(ts=ts))
    np.testing.assert_allclose(np.asarray(tr.params[0]), np.asarray(cf.params[0]), atol=1e-8)


def test_lanczos_path_matches_dense(chain):
    """The Lanczos eigenpair (host callback into dlnflow.sharpness) gives the dense field."""
    prob, _ = chain
    x = jnp.asarray([0.5, 0.6, 1.8])
    eta = 2 * 0.97 / top_eig_numpy(prob, np.asarray(x))
    dense = CentralFlow(prob, eta, method="dense").terms_flat(x)
    lanczos = CentralFlow(prob, eta, method="lanczos").terms_flat(x)
    assert float(dense["sigma2"]) > 0
    np.testing.assert_allclose(np.asarray(lanczos["field"]), np.asarray(dense["field"]),
                               rtol=1e-9)


def test_predicted_loss_and_misuse(chain):
    prob, p0 = chain
    cf = CentralFlow(prob, 0.7)
    x = jnp.asarray([0.35, 0.55, 1.9])
    t = cf.terms_flat(x)
    params = prob.unflatten(x)
    assert float(cf.predicted_loss(params)) == pytest.approx(
        float(prob.loss(params)) + float(t["sigma2"]) / 0.7, rel=1e-14)
    with pytest.raises(dl.InputError, match="eta"):
        CentralFlow(prob, -1.0)
    with pytest.raises(dl.InputError, match="substeps"):
        CentralFlow(prob, 0.1, substeps=0)
    with pytest.raises(dl.InputError, match="method"):
        CentralFlow(prob, 0.1, method="power")
    big = dl.Problem.target_matrix(np.eye(60), depth=3)          # 10,800 parameters
    with pytest.raises(dl.InputError, match="dense Hessian"):
        CentralFlow(big, 0.1, method="dense")
    with pytest.raises(dl.InputError, match="Problem"):
        CentralFlow("chain", 0.1)
