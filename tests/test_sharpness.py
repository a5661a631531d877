"""Sharpness: closed forms at minima, Lanczos against dense eigh, a finite-difference Hessian,
and the refusal of dense Hessians past DENSE_MAX_PARAMS."""

import numpy as np
import pytest
from fd import fd_hessian

import dlnflow as dl
from dlnflow.sharpness import DENSE_MAX_PARAMS, sharpness, top_eigenpairs


def chain_minimum(y, weights_but_last):
    """A minimum of 0.5 (w_L...w_1 - y)^2: the last weight closes the product to y."""
    w = np.asarray(weights_but_last, dtype=float)
    return np.append(w, y / np.prod(w))


@pytest.mark.parametrize("depth", [2, 3, 5, 8])
@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_scalar_chain_minimum_closed_form(depth, method):
    """At p = y the Hessian is grad p grad p^T, dp/dw_i = y/w_i: sharpness = sum_i (y/w_i)^2."""
    y = 1.7
    prob = dl.Problem.scalar_chain(depth, y)
    rng = np.random.default_rng(depth)
    balanced = np.full(depth, y ** (1 / depth))
    unbalanced = chain_minimum(y, rng.uniform(0.4, 2.5, depth - 1) * rng.choice([-1, 1], depth - 1))
    for w in (balanced, unbalanced):
        expected = float(np.sum((y / w) ** 2))
        assert sharpness(prob, w, method=method) == pytest.approx(expected, rel=1e-9)
    # balanced: sum_i (y / y^(1/L))^2 = L y^(2 - 2/L)
    assert sharpness(prob, balanced, method=method) == pytest.approx(
        depth * y ** (2 - 2 / depth), rel=1e-9)


def test_batch_gives_one_value_per_start():
    y, prob = -0.8, dl.Problem.scalar_chain(4, -0.8)
    starts = np.stack([chain_minimum(y, [0.5, 1.0, 2.0]), chain_minimum(y, [1.5, -0.7, 0.9])])
    expected = np.sum((y / starts) ** 2, axis=1)
    for method in ("dense", "lanczos"):
        out = sharpness(prob, starts, method=method)
        assert out.shape == (2,)
        np.testing.assert_allclose(out, expected, rtol=1e-9)


def random_regression(seed=0, widths=(4, 6, 5, 5)):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((widths[0], 12)), rng.standard_normal((widths[-1], 12))
    prob = dl.Problem.regression(X, Y, widths=widths)
    params = tuple(rng.standard_normal(s) / np.sqrt(s[1]) for s in prob.layer_shapes)
    return prob, params


@pytest.mark.parametrize("seed", [0, 1])
def test_lanczos_matches_dense_eigh(seed):
    """Top-k values to 1e-8 relative, eigenvectors up to sign (the spectrum is simple here)."""
    prob, params = random_regression(seed)
    dv, dvec = top_eigenpairs(prob, params, k=4, method="dense")
    lv, lvec = top_eigenpairs(prob, params, k=4, method="lanczos", tol=1e-12)
    H = np.asarray(prob.hessian(params))
    assert np.all(np.diff(dv) < 0) and np.min(-np.diff(dv)) > 1e-3 * dv[0]   # simple spectrum
    np.testing.assert_allclose(lv, dv, rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(lvec * dvec, axis=0)), 1.0, atol=1e-8)
    # they are eigenpairs of H, in flatten order: H v = lambda v
    np.testing.assert_allclose(H @ lvec, lvec * lv, atol=1e-8 * dv[0])
    assert sharpness(prob, params, method="lanczos") == pytest.approx(dv[0], rel=1e-8)
    # numpy's eigvalsh of the same Hessian agrees with the dense path
    np.testing.assert_allclose(dv, np.linalg.eigvalsh(H)[::-1][:4], rtol=1e-12)


def test_dense_against_finite_difference_hessian():
    """Independent of JAX autodiff: eigenvalues of a central-difference Hessian (h = 1e-4,
    error O(h^2) ~ 1e-8 times fourth derivatives, so 1e-5 absolute)."""
    prob, params = random_regression(3, widths=(2, 3, 2))
    vals, _ = top_eigenpairs(prob, params, k=3, method="dense")
    ref = np.linalg.eigvalsh(fd_hessian(prob, params))[::-1][:3]
    np.testing.assert_allclose(vals, ref, atol=1e-5)


def test_warm_start_converges_to_the_same_pair():
    prob, params = random_regression(4)
    v_dense, vec_dense = top_eigenpairs(prob, params, method="dense")
    v, _ = top_eigenpairs(prob, params, method="lanczos", v0=vec_dense[:, 0] + 0.01)
    assert v[0] == pytest.approx(v_dense[0], rel=1e-8)


def test_lanczos_past_the_dense_limit_closed_form():
    """W_l = a I (a^L = c), target c I: H = J^T J with J(dW_1..dW_L) = a^(L-1) sum_l dW_l, so
    lambda_max = L a^(2L-2) = L c^(2 - 2/L) (the matrix version of the balanced chain)."""
    L, d, c = 5, 46, 2.0
    prob = dl.Problem.target_matrix(c * np.eye(d), depth=L, width=d)
    assert prob.num_params > DENSE_MAX_PARAMS
    params = tuple(c ** (1 / L) * np.eye(d) for _ in range(L))
    assert sharpness(prob, params) == pytest.approx(L * c ** (2 - 2 / L), rel=1e-8)


def test_dense_refused_past_the_limit_with_a_pointer_to_lanczos():
    L, d = 5, 46
    prob = dl.Problem.target_matrix(np.eye(d), depth=L, width=d)
    params = tuple(np.eye(d) for _ in range(L))
    n = prob.num_params
    for call in (lambda: top_eigenpairs(prob, params, method="dense"),
                 lambda: sharpness(prob, params, method="dense"),
                 lambda: prob.hessian(params)):
        with pytest.raises(dl.InputError, match=rf"dense Hessian of {n} parameters .* refused "
                                                rf"past {DENSE_MAX_PARAMS} .*method='lanczos'"):
            call()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "power"}, "method must be one of auto, dense, lanczos, got 'power'"),
    ({"k": 0}, "k must be an integer >= 1, got 0"),
    ({"k": 500}, "k must be an integer <= 79, got 500"),
    ({"tol": -1.0}, "tol must be positive, got -1.0"),
    ({"v0": np.zeros(3)}, r"v0 must be a finite non-zero vector of length 79"),
])
def test_bad_arguments(kwargs, message):
    prob, params = random_regression()
    kwargs = {"method": "lanczos", **kwargs}
    with pytest.raises(dl.InputError, match=message):
        top_eigenpairs(prob, params, **kwargs)


def test_top_eigenpairs_takes_one_start():
    prob = dl.Problem.scalar_chain(3, 1.0)
    with pytest.raises(dl.InputError, match="one start, got a batch of 2"):
        top_eigenpairs(prob, np.ones((2, 3)))
