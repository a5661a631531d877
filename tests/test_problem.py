"""Problem: losses, the layer-gradient formula, Hessian, optimal loss, input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnflow as dl
from dlnflow import init
from dlnflow.simulate import Solver


def chain(mats):
    out = mats[0]
    for M in mats[1:]:
        out = M @ out
    return out


def closed_form_layer_grads(prob, params):
    """dF/dW_l = (W_L...W_(l+1))^T grad f(W) (W_(l-1)...W_1)^T (DESIGN.md)."""
    G = prob.grad_f(prob.end_to_end(params))
    out = []
    L = len(params)
    for l in range(L):
        left = chain(list(params[l + 1:])) if l + 1 < L else jnp.eye(G.shape[0])
        right = chain(list(params[:l])) if l > 0 else jnp.eye(params[0].shape[1])
        out.append(left.T @ G @ right.T)
    return out


@settings(max_examples=15, deadline=None)
@given(widths=st.lists(st.integers(1, 4), min_size=2, max_size=5),
       seed=st.integers(0, 2**31 - 1))
def test_layer_gradient_formula_matches_autodiff(widths, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(widths[0], 7))
    Y = rng.normal(size=(widths[-1], 7))
    prob = dl.Problem.regression(X, Y, widths=widths)
    params = init.gaussian(prob, seed)
    auto = prob.grad(params)
    ref = closed_form_layer_grads(prob, params)
    for a, b in zip(auto, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_scalar_chain_loss_and_gradient():
    prob = dl.Problem.scalar_chain(depth=4, target=-0.5)
    w = np.array([0.3, -1.2, 0.8, 2.0])
    params = prob.scalar_params(w)
    p = np.prod(w)
    assert float(prob.loss(params)) == pytest.approx(0.5 * (p + 0.5) ** 2, rel=1e-14)
    g = np.asarray(prob.scalar_weights(prob.grad(params)))
    np.testing.assert_allclose(g, (p + 0.5) * p / w, rtol=1e-13)


def test_lp_and_custom_losses():
    w = np.array([0.7, 1.1, -0.9])
    p = np.prod(w)
    lp = dl.Problem.scalar_chain(3, target=0.4, loss="lp", power=4)
    assert float(lp.loss(lp.scalar_params(w))) == pytest.approx((p - 0.4) ** 4 / 4, rel=1e-13)
    cu = dl.Problem.scalar_chain(3, target=0.0, loss=lambda q: jnp.log(1 + jnp.exp(-q)),
                                 optimal_loss=0.0)
    assert float(cu.loss(cu.scalar_params(w))) == pytest.approx(np.log1p(np.exp(-p)), rel=1e-13)
    with pytest.raises(dl.InputError, match="power must be even"):
        dl.Problem.scalar_chain(3, loss="lp", power=3)


def test_scalar_chain_hessian_at_minimum_is_rank_one():
    # On p = y the Hessian is g g^T with g_i = prod_{j != i} w_j: eigenvalue sum_i (y/w_i)^2.
    y = 2.0
    w = np.array([0.5, 2.0, 2.0])
    prob = dl.Problem.scalar_chain(3, target=y)
    H = np.asarray(prob.hessian(prob.scalar_params(w)))
    g = y / w
    np.testing.assert_allclose(H, np.outer(g, g), atol=1e-12)
    ev = np.linalg.eigvalsh(H)
    assert ev[-1] == pytest.approx(np.sum((y / w) ** 2), rel=1e-12)
    assert np.sum(np.abs(ev) < 1e-10) == 2


def test_optimal_loss_rank_constrained_target_matches_flow():
    # Eckart-Young value 0.5 sum_{i>r} s_i^2 against a converged gradient flow.
    rng = np.random.default_rng(1)
    U, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    V, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    s = np.array([3.0, 2.0, 0.5])
    prob = dl.Problem.target_matrix(U @ np.diag(s) @ V.T, widths=[3, 2, 3])
    assert prob.optimal_loss == pytest.approx(0.5 * 0.25, rel=1e-12)
    params = init.gaussian(prob, 3)
    traj = dl.simulate(dl.GradientFlow(prob), params, t1=200.0,
                       solver=Solver("tsit5", rtol=1e-10, atol=1e-12))
    assert traj.loss_final[0] == pytest.approx(prob.optimal_loss, rel=1e-7)


def test_optimal_loss_regression_matches_least_squares():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3, 10))
    Y = rng.normal(size=(2, 10))
    prob = dl.Problem.regression(X, Y, widths=[3, 4, 2])   # full rank reachable
    W_ls = np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T
    ref = 0.5 / 10 * np.sum((W_ls @ X - Y) ** 2)
    assert prob.optimal_loss == pytest.approx(ref, rel=1e-10)


def test_residual_form_end_to_end():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(3, 2)), rng.normal(size=(1, 3))
    prob = dl.Problem.residual(2, A, B, target=np.array([[1.0, -1.0]]))
    W1, W2 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    ref = B @ (np.eye(3) + W2) @ (np.eye(3) + W1) @ A
    np.testing.assert_allclose(prob.end_to_end((W1, W2)), ref, rtol=1e-13)
    # W = 0 start of Zou et al.: product B A
    np.testing.assert_allclose(prob.end_to_end(init.zeros(prob)), B @ A, rtol=1e-13)


@pytest.mark.parametrize("bad, match", [
    (dict(depth=0), "depth must be an integer >= 1, got 0"),
    (dict(depth=2.5), "depth must be an integer >= 1, got 2.5"),
    (dict(depth=3, target=float("nan")), "target must be finite, got an entry .*nan"),
    (dict(depth=3, target=float("inf")), "target must be finite, got an entry .*inf"),
])
def test_bad_problem_arguments(bad, match):
    with pytest.raises(dl.InputError, match=match):
        dl.Problem.scalar_chain(**bad)


def test_bad_params_are_named():
    prob = dl.Problem.scalar_chain(3)
    with pytest.raises(dl.InputError, match="a start must have 3 weights"):
        prob.scalar_params([1.0, 2.0])
    with pytest.raises(dl.InputError, match="W_2 must be finite"):
        prob.check_params((np.ones((1, 1)), np.full((1, 1), np.nan), np.ones((1, 1))))
    mat = dl.Problem.target_matrix(np.eye(2), depth=2)
    with pytest.raises(dl.InputError, match=r"W_1 must have shape \(2, 2\)"):
        mat.check_params((np.ones((3, 2)), np.ones((2, 2))))
    with pytest.raises(dl.InputError, match="X and Y must have the same number of columns"):
        dl.Problem.regression(np.ones((2, 3)), np.ones((1, 4)), depth=2)


def test_jit_and_vmap_compatible():
    prob = dl.Problem.scalar_chain(5, target=1.0)
    params = init.gaussian(prob, 0, batch=4)
    losses = jax.jit(jax.vmap(prob.loss))(params)
    ref = 0.5 * (np.prod(np.asarray(prob.scalar_weights(params)), axis=1) - 1.0) ** 2
    np.testing.assert_allclose(losses, ref, rtol=1e-13)
