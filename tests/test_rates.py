"""Rate estimators, asymptotic rates, time to a loss, GD-flow distance scaling."""

import jax
import numpy as np
import pytest

import dlnflow as dl
from dlnflow import fitting, rates
from dlnflow.errors import InputError
from dlnflow.simulate import SaveAt, Solver, Stop

Y = 1.0
PROB3 = dl.Problem.scalar_chain(3, Y)
W3 = np.array([0.5, 0.7, 0.9])


def _flow(prob, w, t1, n=201):
    return dl.simulate(dl.GradientFlow(prob), prob.scalar_params(w), t1=t1,
                       save=SaveAt(ts=np.linspace(0, t1, n)[1:-1]),
                       solver=Solver("DOP853", rtol=1e-12, atol=1e-14))


def test_flow_local_rate_matches_loss_derivative_and_hessian_limit():
    tr = _flow(PROB3, W3, 6.0, n=601)
    t, r = rates.local_rate(tr)
    # independent: centred differences of ln(F - F*) from the recorded losses
    e = tr.excess_loss[0]
    fd = -(np.log(e[2:]) - np.log(e[:-2])) / (t[0, 2:] - t[0, :-2])
    np.testing.assert_allclose(r[0, 1:-1], fd, rtol=2e-4)
    # late rate -> 2 lambda, lambda = sum_i (y / w_i)^2 the Hessian's nonzero eigenvalue on p = y
    w_inf = tr.scalar_weights()[0, -1]
    lam = np.sum((Y / w_inf) ** 2)
    assert rates.flow_asymptotic_rate(PROB3, PROB3.scalar_params(w_inf)) == pytest.approx(
        2 * lam, rel=1e-6)
    assert r[0, -1] == pytest.approx(2 * lam, rel=1e-5)


def test_time_to_loss_balanced_two_layer_closed_form():
    """Balanced L = 2: p' = 2 p (y - p), so t(p0 -> p1) = ln(p1 (y - p0) / (p0 (y - p1))) / (2y)."""
    prob = dl.Problem.scalar_chain(2, 2.0)
    p0 = 0.25
    tr = _flow(prob, [0.5, 0.5], 6.0, n=601)
    level = 1e-6
    p1 = 2.0 - np.sqrt(2 * level)
    exact = np.log(p1 * (2.0 - p0) / (p0 * (2.0 - p1))) / 4.0
    assert rates.time_to_loss(tr, level)[0] == pytest.approx(exact, rel=1e-4)
    assert np.isnan(rates.time_to_loss(tr, 1e-300)[0])


@pytest.mark.parametrize("eta", [0.1, 0.45])
def test_gd_asymptotic_rate_matches_measured(eta):
    """Near the limit e_(k+1)/e_k -> (1 - eta lambda)^2: rate -2 ln|1 - eta lambda| / eta (factor
    2 for the loss; eta = 0.45 has eta lambda > 1, oscillating convergence)."""
    gd = dl.simulate(dl.GradientDescent(PROB3, eta), PROB3.scalar_params(W3),
                     stop=Stop(loss=1e-22, max_steps=4000), save=SaveAt(every=1))
    assert gd.status[0] == "converged"
    _, r = rates.local_rate(gd)
    measured = r[0][np.isfinite(r[0])][-1]
    w_inf = np.asarray(PROB3.scalar_weights(gd.params_final))[0]
    lam = np.sum((Y / w_inf) ** 2)
    predicted = -2 * np.log(abs(1 - eta * lam)) / eta
    assert rates.gd_asymptotic_rate(PROB3, gd.params_final, eta) == pytest.approx(predicted,
                                                                                 rel=1e-6)
    assert measured == pytest.approx(predicted, rel=1e-4)
    # Half the factor would be wrong by a factor 2:
    assert abs(measured / (predicted / 2) - 1) > 0.5
    if eta * lam > 1:
        e = gd.excess_loss[0][np.isfinite(gd.loss[0])]
        p = np.prod(gd.scalar_weights()[0], axis=-1)[: e.size]
        assert np.any(np.diff(np.sign(p[-20:] - Y)) != 0)   # overshoots: 1 - eta lambda < 0
    # iterations to the threshold agree with time_to_loss / eta
    assert rates.time_to_loss(gd, 1e-22)[0] / eta == pytest.approx(gd.steps[0])


def test_gd_rate_formula_limits():
    lam = [0.5, 3.0]
    assert rates.gd_rate_from_eigenvalues(lam, 1e-6) == pytest.approx(2 * 0.5, rel=1e-5)
    assert rates.gd_rate_from_eigenvalues(lam, 2 / 3.0) == 0.0          # threshold 2/lambda_max
    assert rates.gd_rate_from_eigenvalues(lam, 0.8) == 0.0
    # peak of min(-2 ln|1 - eta l|)/eta where 1 - eta 0.5 = eta 3 - 1: eta = 2/3.5
    etas = np.linspace(0.05, 0.66, 400)
    vals = [rates.gd_rate_from_eigenvalues(lam, e) for e in etas]
    assert etas[int(np.argmax(vals))] == pytest.approx(2 / 3.5, abs=2e-3)
    with pytest.raises(InputError):
        rates.gd_rate_from_eigenvalues(lam, -0.1)


def test_gd_flow_distance_single_step_exact():
    """One GD step vs the flow at t = eta: w1 - w(eta) = (eta^2/2) H grad F + O(eta^3) (Taylor
    of the flow: w'' = H grad F); the slope-1/slope-2 ladders are in test_analysis_gd_flow_distance.
    """
    eta = 0.04
    w0 = PROB3.scalar_params(W3)
    out = rates.gd_flow_distance(PROB3, w0, eta, horizon=3.0)
    g = np.asarray(PROB3.flatten(PROB3.grad(w0)))
    H = np.asarray(jax.jit(jax.hessian(PROB3.loss_flat))(PROB3.flatten(w0)))
    assert out["distance"][0] == 0.0
    assert out["distance"][1] == pytest.approx(0.5 * eta**2 * np.linalg.norm(H @ g), rel=0.1)


def test_bad_input():
    with pytest.raises(InputError):
        fitting.loglog_slope([1, 2], [0, 1])
    with pytest.raises(InputError):
        rates.gd_flow_distance(PROB3, PROB3.scalar_params(W3), 0.5, horizon=0.1)
