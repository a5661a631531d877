import json

import numpy as np
import pytest

from dlnflow.analyses import gd_rate_vs_eta as an
from dlnflow.io import dumps


def test_gd_rate_vs_eta_quick():
    data = an.compute(an.QUICK)
    y = an.QUICK["target"]
    lam = np.sum((y / data["flow_limit"]) ** 2)        # Hessian eigenvalue on p = y
    assert data["lambda_flow"] == pytest.approx(lam, rel=1e-6)
    assert data["threshold"] == pytest.approx(2 / lam, rel=1e-6)
    rows = data["rows"]
    assert all(r["status"] == "converged" for r in rows)
    for r in rows:
        lam_g = np.sum((y / r["limit"]) ** 2)
        m = abs(1 - r["eta"] * lam_g)
        if m > 0.05:   # near eta lambda = 1 the log amplifies the limit's round-off
            assert r["rate_asymptotic"] == pytest.approx(-2 * np.log(m) / r["eta"], rel=1e-5)
        assert r["eta"] * lam_g < 2
    # eta -> 0: the flow rate 2 lambda (first order in eta)
    assert rows[0]["rate_asymptotic"] == pytest.approx(2 * lam, rel=0.05)
    # peak inside (0, 2/lambda), then collapse towards the threshold
    rates = [r["rate_asymptotic"] for r in rows]
    k = int(np.argmax(rates))
    assert 0 < k < len(rows) - 1
    assert rates[-1] < rates[0]
    fig = an.render(json.loads(dumps(data)), an.QUICK)
    # one axis; lines: theory curve, GD asymptotic rates (capped at 20 lambda), GD average
    # rates, flow rate 2 lambda (horizontal), threshold (vertical at 1)
    assert len(fig.axes) == 1
    lines = fig.axes[0].get_lines()
    assert len(lines) == 5
    thr = data["threshold"]
    etas = np.array([r["eta"] for r in rows])
    np.testing.assert_allclose(lines[1].get_xdata(), etas / thr, rtol=1e-12, atol=0)
    np.testing.assert_allclose(lines[1].get_ydata(), np.minimum(rates, 20 * data["lambda_flow"]),
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(lines[2].get_xdata(), etas / thr, rtol=1e-12, atol=0)
    np.testing.assert_allclose(lines[2].get_ydata(), [r["rate_average"] for r in rows],
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(lines[3].get_ydata(), [data["flow_rate"]] * 2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(lines[4].get_xdata(), [1.0, 1.0], rtol=0, atol=0)
    np.testing.assert_allclose(lines[0].get_xdata()[[0, -1]], [1e-3, 1.0], rtol=1e-12, atol=0)
