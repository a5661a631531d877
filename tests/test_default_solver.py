"""The default flow solver "auto" (``dlnflow.simulate.auto``): the exact reduction for scalar-chain
gradient flows, rodas4 up to AUTO_STIFF_MAX_PARAMS parameters, tsit5 above; the choice is in the
metadata and the answers are checked against scipy on numpy fields."""

import numpy as np
import pytest
import scipy.integrate

import dlnflow as dl
from dlnflow.simulate.auto import AUTO_STIFF_MAX_PARAMS, auto_solver_name


def _chain_field(t, w, target):
    p = np.prod(w)
    return -(p - target) * np.array([np.prod(np.delete(w, i)) for i in range(w.size)])


def _two_layer_field(shapes, phi):
    """-grad of 0.5 ||W2 W1 - phi||^2 on the flattened (W1, W2)."""
    (a1, b1), (a2, b2) = shapes

    def field(t, y):
        W1, W2 = y[:a1 * b1].reshape(a1, b1), y[a1 * b1:].reshape(a2, b2)
        R = W2 @ W1 - phi
        return -np.concatenate([(W2.T @ R).ravel(), (R @ W1.T).ravel()])

    return field


def test_scalar_chain_gradient_flow_uses_the_reduction():
    prob = dl.Problem.scalar_chain(4, 2.0)
    w0 = np.array([[0.6, 0.9, 1.1, 0.8], [1.2, -0.5, 0.7, -1.0]])
    tr = dl.simulate(dl.GradientFlow(prob), w0, t1=3.0)
    assert tr.metadata["solver"] == "reduction" and tr.metadata["backend"] == "reduction"
    explicit = dl.simulate(dl.GradientFlow(prob), w0, t1=3.0, solver="reduction")
    np.testing.assert_array_equal(tr.scalar_weights(), explicit.scalar_weights())
    for b in range(2):
        ref = scipy.integrate.solve_ivp(_chain_field, (0.0, 3.0), w0[b], method="DOP853",
                                        rtol=1e-12, atol=1e-14, args=(2.0,)).y[:, -1]
        # default tolerances rtol 1e-8, atol 1e-10; 1e-6: 100x rtol
        np.testing.assert_allclose(tr.scalar_weights()[b, -1], ref, rtol=1e-6, atol=1e-8)


def test_small_matrix_flow_uses_rodas4_and_other_flows_are_not_reduced():
    prob = dl.Problem.target_matrix(np.diag([1.0, 0.5]), depth=2, width=2)     # P = 8
    p0 = dl.init.lecun_normal(prob, key=1, batch=2)
    tr = dl.simulate(dl.GradientFlow(prob), p0, t1=2.0)
    assert tr.metadata["solver"] == "rodas4"
    explicit = dl.simulate(dl.GradientFlow(prob), p0, t1=2.0, solver="rodas4")
    for R, E in zip(tr.params_final, explicit.params_final, strict=True):
        np.testing.assert_array_equal(R, E)
    chain = dl.Problem.scalar_chain(3, 1.0)
    assert auto_solver_name(dl.ModifiedFlow(chain, 0.1)) == "rodas4"
    assert auto_solver_name(dl.GradientFlow(chain)) == "reduction"


def test_large_matrix_flow_uses_tsit5():
    phi = np.diag(np.linspace(1.0, 2.0, 6))
    prob = dl.Problem.target_matrix(phi, depth=2, width=6)                       # P = 72
    assert prob.num_params > AUTO_STIFF_MAX_PARAMS
    p0 = dl.init.glorot_normal(prob, 2)
    tr = dl.simulate(dl.GradientFlow(prob), p0, t1=2.0)
    assert tr.metadata["solver"] == "tsit5" and tr.metadata["backend"] == "diffrax"
    y0 = np.concatenate([np.asarray(W).ravel() for W in p0])
    ref = scipy.integrate.solve_ivp(_two_layer_field(prob.layer_shapes, phi), (0.0, 2.0), y0,
                                    method="DOP853", rtol=1e-12, atol=1e-14).y[:, -1]
    got = np.concatenate([np.asarray(W)[0].ravel() for W in tr.params_final])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)
    # tracking with per-step records is checked against the resolved (diffrax) solver
    with pytest.raises(dl.InputError, match=r"diffrax \(tsit5\)"):
        dl.simulate(dl.GradientFlow(prob), p0, t1=2.0, save=dl.SaveAt(steps=True),
                    track=dl.Track(names=("nuclear_norm",), every=1.0))


def test_solver_names():
    assert dl.Solver().name == "auto"
    with pytest.raises(dl.InputError, match="choose one of auto, rodas4"):
        dl.Solver("rk4")
