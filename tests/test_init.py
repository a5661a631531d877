"""Initialisations: shapes, seeds, the exact properties each one promises."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow import init


@pytest.fixture
def mat():
    return dl.Problem.regression(np.ones((3, 5)), np.ones((2, 5)), widths=[3, 4, 4, 2])


def test_shapes_and_batch(mat):
    for kind in ("xavier", "near_identity", "orthogonal", "balanced", "identity", "zero_first"):
        params = init.by_name(kind, mat, key=1, batch=6)
        assert [W.shape for W in params] == [(6, 4, 3), (6, 4, 4), (6, 2, 4)]
        mat.check_params(params)


def test_xavier_variance_and_seed(mat):
    a = init.lecun_normal(mat, 7, batch=4000)
    b = init.lecun_normal(mat, 7, batch=4000)
    np.testing.assert_array_equal(a[0], b[0])
    # entries N(0, 1/d_in): sample variance within 3% of 1/3, 1/4
    assert np.var(np.asarray(a[0])) == pytest.approx(1 / 3, rel=0.03)
    assert np.var(np.asarray(a[1])) == pytest.approx(1 / 4, rel=0.03)
    scalars = init.lecun_normal(dl.Problem.scalar_chain(3), 0, batch=20000)
    assert np.var(np.asarray(scalars[0])) == pytest.approx(1.0, rel=0.03)


def test_balanced_start_has_zero_imbalance(mat):
    params = init.balanced(mat, 3, batch=5)
    for D in dl.invariants.imbalance(params):
        assert np.max(np.abs(D)) < 1e-12
    A = np.random.default_rng(0).normal(size=(2, 3))
    params = init.balanced(mat, product=A)
    np.testing.assert_allclose(mat.end_to_end(params), A, atol=1e-12)
    with pytest.raises(dl.InputError, match="rank above the least width"):
        init.balanced(dl.Problem.target_matrix(np.eye(3), widths=[3, 1, 3]), product=np.eye(3))


def test_orthogonal_rows_or_columns(mat):
    W1, W2, W3 = init.orthogonal(mat, 4)
    np.testing.assert_allclose(W1.T @ W1, np.eye(3), atol=1e-12)    # (4, 3): orthonormal columns
    np.testing.assert_allclose(W2 @ W2.T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(W3 @ W3.T, np.eye(2), atol=1e-12)    # (2, 4): orthonormal rows


def test_zero_first_and_scaled():
    prob = dl.Problem.scalar_chain(4)
    w = np.asarray(prob.scalar_weights(init.zero_first(prob)))
    np.testing.assert_array_equal(w, [0.0, 1.0, 1.0, 1.0])
    small = init.scaled(init.identity(prob), 0.1)
    assert float(prob.end_to_end(small)[0, 0]) == pytest.approx(1e-4, rel=1e-12)


def test_explicit_and_unknown():
    prob = dl.Problem.scalar_chain(2)
    with pytest.raises(dl.InputError, match="unknown initialisation 'he'"):
        init.by_name("he", prob)
    with pytest.raises(dl.InputError, match="a start must have 2 weights"):
        init.explicit(prob, np.ones(3))


@pytest.mark.parametrize("kind", ["lecun_normal", "glorot_normal", "he_normal", "gaussian",
                                  "near_identity", "orthogonal", "balanced", "identity"])
def test_end_to_end_scale_every_scheme(mat, kind):
    """||W_L W_(L-1) W_1|| equals the asked norm in every run (numpy norms, Frobenius and
    spectral), every layer is multiplied by the same factor c^(1/L), c = norm / ||W(0)||."""
    L = mat.depth
    raw = init.by_name(kind, mat, key=2, batch=4)
    for norm, ord_, np_ord in ((1e-3, "fro", "fro"), (2.5, "spectral", 2)):
        spec = init.EndToEndScale(norm, ord_)
        params = init.by_name(kind, mat, key=2, batch=4, end_to_end=spec)
        for b in range(4):
            W0 = np.asarray(raw[2][b] @ raw[1][b] @ raw[0][b])
            W = np.asarray(params[2][b] @ params[1][b] @ params[0][b])
            assert np.linalg.norm(W, np_ord) == pytest.approx(norm, rel=1e-12)
            c = norm / np.linalg.norm(W0, np_ord)
            for new, old in zip(params, raw, strict=True):
                np.testing.assert_allclose(np.asarray(new[b]), c ** (1 / L) * np.asarray(old[b]),
                                           rtol=1e-13, atol=0)


def test_end_to_end_scale_keeps_balance_and_refuses_bad_starts(mat):
    params = init.end_to_end_scaled(mat, init.balanced(mat, 3, batch=2), 1e-4)
    for D in dl.invariants.imbalance(params):
        assert np.max(np.abs(D)) < 1e-15
    # a float is the Frobenius norm
    W = np.asarray(mat.end_to_end(params))
    np.testing.assert_allclose(np.linalg.norm(W, axis=(-2, -1)), 1e-4, rtol=1e-12)
    with pytest.raises(dl.InputError, match="non-zero product"):
        init.by_name("zero_first", mat, end_to_end=1e-3)
    with pytest.raises(dl.InputError, match="EndToEndScale.ord"):
        init.EndToEndScale(1.0, "nuclear")
    with pytest.raises(dl.InputError, match="EndToEndScale.norm must be positive"):
        init.EndToEndScale(-1.0)
    res = dl.Problem.residual(2, np.eye(2), np.eye(2), target=np.eye(2))
    with pytest.raises(dl.InputError, match="plain form"):
        init.by_name("gaussian", res, end_to_end=1e-3)
