import json

import numpy as np
import pytest

from dlnflow.analyses import gd_flatter_minima as an
from dlnflow.io import dumps


def numpy_gd(a, b, phi, eta, tol, max_steps):
    """Plain numpy GD on 0.5 (a.b - phi)^2; returns (a, b, iterations)."""
    a, b = a.copy(), b.copy()
    for k in range(max_steps):
        eps = a @ b - phi
        if 0.5 * eps * eps <= tol:
            return a, b, k
        a, b = a - eta * eps * b, b - eta * eps * a
    return a, b, max_steps


def hessian_top(a, b, phi):
    """Top eigenvalue of the exact (2d x 2d) Hessian of 0.5 (a.b - phi)^2 (numpy eigvalsh)."""
    d = a.size
    eps = a @ b - phi
    g = np.concatenate([b, a])
    H = np.outer(g, g)
    H[:d, d:] += eps * np.eye(d)
    H[d:, :d] += eps * np.eye(d)
    return np.linalg.eigvalsh(H)[-1]


def test_gd_flatter_minima_quick():
    cfg = an.QUICK
    data = an.compute(cfg)
    phi = cfg["target"]
    a0, b0 = an.start(cfg)
    # flow limit: the imbalance a a^T - b b^T is conserved, so its eigenvalue gap Q0 fixes the
    # sharpness sqrt(4 phi^2 + Q0^2) of the minimum reached (independent: eigvalsh of D0)
    mu = np.linalg.eigvalsh(np.outer(a0, a0) - np.outer(b0, b0))
    q0 = mu[-1] - mu[0]
    assert data["imbalance_gap_0"] == pytest.approx(q0, rel=1e-12)
    assert data["flow_sharpness"] == pytest.approx(np.sqrt(4 * phi**2 + q0**2), rel=1e-8)
    for r in data["rows"]:
        assert r["status"] == "converged"
        a, b, k = numpy_gd(a0, b0, phi, r["eta"], cfg["stop_at_loss"], cfg["max_steps"])
        assert k == r["iterations"]
        lam = hessian_top(a, b, phi)
        # the same limit as numpy GD, and the paper's characterisation from GD's residuals
        assert r["sharpness"] == pytest.approx(lam, rel=1e-9)
        assert r["formula"] == pytest.approx(lam, rel=1e-9)
        # flatter than the flow, stable at eta, not below the flattest minimum 2 |phi|
        assert 2 * phi - 1e-9 < r["sharpness"] < data["flow_sharpness"]
        assert r["sharpness"] <= 2 / r["eta"]
    # large steps regularise more: at eta = 0.8 the limit is within 1% of the flattest, at
    # eta = 0.05 within 1% of the flow's; the largest step is the slowest
    by_eta = {r["eta"]: r for r in data["rows"]}
    assert by_eta[0.8]["sharpness"] < 1.01 * 2 * phi
    assert by_eta[0.05]["sharpness"] > 0.99 * data["flow_sharpness"]
    assert data["agreement"]["slowest_eta"] == max(cfg["etas"])
    fig = an.render(json.loads(dumps(data)), cfg)
    ax0 = fig.axes[0]
    measured = [ln for ln in ax0.get_lines() if ln.get_label() == "GD limit (measured)"][0]
    np.testing.assert_allclose(measured.get_ydata(), [r["sharpness"] for r in data["rows"]],
                               rtol=1e-12)
