"""Products of small matrices (``architecture.matmul``: contractions of 4 or 5 terms summed as
outer products) and the plain network's pullback (``Plain.end_to_end_vjp``) against numpy; the
batched GD loop that uses them against a numpy GD loop with plain matmuls, every iterate."""

import numpy as np
import pytest

import dlnflow as dl
from dlnflow import init
from dlnflow.architecture import UNROLLED_CONTRACTIONS, Plain, Residual, matmul
from dlnflow.simulate import SaveAt, Stop
from dlnflow.simulate.steppers import state_layout


@pytest.mark.parametrize("k", [1, 3, 4, 5, 6])
def test_matmul_equals_numpy(k):
    """Batched, broadcast (one side unbatched) and rectangular: numpy's product to round-off
    (k terms of size ~1: 1e-15 absolute)."""
    rng = np.random.default_rng(k)
    A, B = rng.normal(size=(7, 3, k)), rng.normal(size=(7, k, 5))
    for a, b in ((A, B), (A[0], B), (A, B[0]), (A[0], B[0])):
        np.testing.assert_allclose(matmul(a, b), a @ b, rtol=0, atol=1e-14)
    assert 4 in UNROLLED_CONTRACTIONS                  # the summed form is the one checked


def numpy_pullback(Ws, G, c):
    """dF/dW_l = c (W_L...W_(l+1))^T G (W_(l-1)...W_1)^T, products in numpy, batch axis 0."""
    out = []
    for l in range(len(Ws)):
        left = np.eye(Ws[l].shape[-2])[None]
        for M in Ws[l + 1:]:
            left = M @ left
        right = np.eye(Ws[0].shape[-1])[None]
        for M in Ws[:l]:
            right = M @ right
        out.append(c * np.swapaxes(left, -1, -2) @ G @ np.swapaxes(right, -1, -2))
    return out


@pytest.mark.parametrize("widths,c", [((3, 4, 5, 4, 2), 1.0), ((4, 4, 4), 0.5),
                                      ((2, 6, 3), 2.0), ((6, 8, 7, 6), 1.0), ((7, 6, 9), 0.5)])
def test_pullback_equals_the_layer_gradient_formula(widths, c):
    rng = np.random.default_rng(len(widths))
    arch = Plain(widths, output_scale=c)
    Ws = [rng.normal(size=(6, *s)) for s in arch.layer_shapes]
    G = rng.normal(size=(6, widths[-1], widths[0]))
    W, pullback = arch.end_to_end_vjp(tuple(Ws))
    end = Ws[0]
    for M in Ws[1:]:
        end = M @ end
    np.testing.assert_allclose(W, c * end, rtol=0, atol=1e-13)
    for a, b in zip(pullback(G), numpy_pullback(Ws, G, c), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_residual_pullback_equals_the_layer_gradient_formula():
    """The default pullback (autodiff of ``end_to_end``) on W = B (I + W_L)...(I + W_1) A:
    dF/dW_l = (B (I + W_L)...(I + W_(l+1)))^T G ((I + W_(l-1))...(I + W_1) A)^T."""
    rng = np.random.default_rng(5)
    A, Bm = rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
    arch = Residual(3, A, Bm)
    Ws = [rng.normal(size=(6, 4, 4)) for _ in range(3)]
    G = rng.normal(size=(6, 2, 3))
    F = [np.eye(4) + W for W in Ws]
    _, pullback = arch.end_to_end_vjp(tuple(Ws))
    for l, got in enumerate(pullback(G)):
        left, right = Bm[None], A[None]
        for M in F[l + 1:][::-1]:
            left = left @ M
        for M in F[:l]:
            right = M @ right
        want = np.swapaxes(left, -1, -2) @ G @ np.swapaxes(right, -1, -2)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def numpy_gd(phi, Ws, eta, steps):
    """Every iterate of GD on 0.5 ||W_L...W_1 - Phi||^2 with numpy matmuls, and its loss."""
    Ws, out, losses = [np.array(W) for W in Ws], [], []
    for _ in range(steps + 1):
        out.append([W.copy() for W in Ws])
        end = Ws[0]
        for M in Ws[1:]:
            end = M @ end
        losses.append(0.5 * np.sum((end - phi) ** 2, axis=(-2, -1)))
        grads = numpy_pullback(Ws, end - phi, 1.0)
        Ws = [W - eta * g for W, g in zip(Ws, grads, strict=True)]
    return out, np.stack(losses, axis=1)


@pytest.mark.parametrize("widths,layout,runs", [
    ((4, 4, 4, 4, 4), "params", 6), ((2, 4, 3, 4), "params", 6), ((4, 5, 2), "params", 6),
    ((6, 8, 7, 6), "transposed", 6), ((7, 7, 7), "transposed", 6), ((6, 8, 7, 6), "transposed", 1),
    ((4, 5, 2), "params", 1)])
def test_batched_gd_iterates_equal_a_numpy_loop(widths, layout, runs):
    """The batched GD step (f's pullback, then the products' pullback by ``matmul``; for widths
    above 5 on the layers' transposes, a single run too) against a plain numpy loop, all 60
    iterates of 6 runs (or 1): equal to round-off accumulated over the steps (each step rounds
    at 1e-16 relative; 1e-12 allows the growth over 60 of them)."""
    phi = np.diag(np.linspace(1.0, 2.0, min(widths[0], widths[-1])))
    phi = np.pad(phi, ((0, widths[-1] - phi.shape[0]), (0, widths[0] - phi.shape[1])))
    prob = dl.Problem.target_matrix(phi, widths=widths)
    params = init.glorot_normal(prob, 3, batch=runs)
    eta, steps = 0.05, 60
    assert state_layout(dl.GradientDescent(prob, eta)) == layout        # the path checked
    traj = dl.simulate(dl.GradientDescent(prob, eta), params,
                       stop=Stop(max_steps=steps, stall_tol=None), save=SaveAt(every=1))
    assert traj.status == ["completed"] * runs
    ref, losses = numpy_gd(phi, params, eta, steps)
    for layer, rec in enumerate(traj.params):
        want = np.stack([it[layer] for it in ref], axis=1)            # (runs, steps + 1, ...)
        np.testing.assert_allclose(rec, want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(traj.loss, losses, rtol=1e-12, atol=1e-15)
    assert np.all(losses[:, -1] < 0.5 * losses[:, 0])       # the runs move: not a trivial match
