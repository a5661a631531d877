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
    assert fig.axes
