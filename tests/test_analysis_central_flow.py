"""central_flow against an independent numpy/scipy implementation of GD, its second-order
midpoints and the three ODEs on the scalar chain w1 w2 w3 (analytic derivatives)."""

import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dlnflow.analyses import central_flow as an
from dlnflow.io import dumps

Y = 1.0


def parts(w):
    """p, grad p, Hessian of p, F, grad F, Hessian of F for 0.5 (w1 w2 w3 - y)^2."""
    a, b, c = w
    p = a * b * c
    dp = np.array([b * c, a * c, a * b])
    d2p = np.array([[0, c, b], [c, 0, a], [b, a, 0]])
    r = p - Y
    return p, dp, d2p, 0.5 * r * r, r * dp, np.outer(dp, dp) + r * d2p


def central_field(w, eta, kappa):
    p, dp, d2p, F, g, H = parts(w)
    lam, U = np.linalg.eigh(H)
    S, u = lam[-1], U[:, -1]
    r = p - Y
    ud = u @ dp                                          # u . grad p
    grad_ud = np.array([u[1] * w[2] + u[2] * w[1], u[0] * w[2] + u[2] * w[0],
                        u[0] * w[1] + u[1] * w[0]])
    quad = u @ d2p @ u
    grad_quad = 2 * np.array([u[1] * u[2], u[0] * u[2], u[0] * u[1]])
    gS = 2 * ud * grad_ud + dp * quad + r * grad_quad   # grad_w (u^T H(w) u), u fixed
    sigma2 = max(0.0, 2 * (-(gS @ g) - kappa * (2 / eta - S)) / (gS @ gS))
    return -(g + 0.5 * sigma2 * gS), F, sigma2


def test_central_flow_quick():
    cfg = an.QUICK
    data = an.compute(cfg)
    case, ccfg = data["cases"][0], cfg["cases"][0]
    eta, T = ccfg["eta"], ccfg["horizon"]
    K = int(round(T / eta))
    w = [np.array(ccfg["chain_start"], float)]
    for _ in range(K):
        w.append(w[-1] - eta * parts(w[-1])[4])
    w = np.array(w)
    f = np.array([parts(x)[3] for x in w])
    mid = (w[:-2] + 2 * w[1:-1] + w[2:]) / 4
    np.testing.assert_allclose(case["gd_loss_mid"], (f[:-2] + 2 * f[1:-1] + f[2:]) / 4,
                               rtol=1e-10)
    ts = np.arange(K + 1) * eta
    kappa = 4 / eta
    fields = {"gradient": lambda t, x: -parts(x)[4],
              "modified": lambda t, x: -(parts(x)[4] + 0.5 * eta * parts(x)[5] @ parts(x)[4]),
              "central": lambda t, x: central_field(x, eta, kappa)[0]}
    for name, fun in fields.items():
        sol = solve_ivp(fun, (0, ts[-1]), w[0], method="DOP853", t_eval=ts, rtol=1e-11,
                        atol=1e-13)
        dist = np.linalg.norm(mid - sol.y.T[1:K], axis=1)
        np.testing.assert_allclose(case["flows"][name]["distance"], dist, rtol=1e-5, atol=1e-7)
        if name == "central":
            sig = np.array([central_field(x, eta, kappa)[2] for x in sol.y.T[1:K]])
            pred = np.array([parts(x)[3] for x in sol.y.T[1:K]]) + sig / eta
            np.testing.assert_allclose(case["flows"]["central"]["predicted_loss"], pred,
                                       rtol=1e-5, atol=1e-8)
    # the claim: on the edge the central flow is several times closer to GD's time average
    a = case["agreement"]
    assert a["mean_distance_ratio_gradient_over_central"] > 3
    assert a["mean_distance_ratio_modified_over_central"] > 3
    assert a["predicted_loss_mean_rel_error"] < 0.5 * a["gradient_flow_loss_mean_rel_error"]
    assert a["central_sharpness_over_threshold"][1] == pytest.approx(1.0, abs=1e-6)
    fig = an.render(json.loads(dumps(data)), cfg)
    bars = fig.axes[2].patches
    np.testing.assert_allclose([b.get_height() for b in bars],
                               [case["summary"][n]["mean"] for n in an.FLOWS], rtol=1e-12)
