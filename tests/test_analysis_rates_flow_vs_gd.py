import json

import numpy as np
import pytest

from dlnflow.analyses import rates_flow_vs_gd as an
from dlnflow.io import dumps


def test_rates_flow_vs_gd_quick():
    data = an.compute(an.QUICK)
    y = an.QUICK["target"]
    a = data["alpha_star"]
    fr = data["flow_rate"][np.isfinite(data["flow_rate"])]
    # 0 < p(0) < y: the start is tight for the bound; the rate never drops below 2 alpha*
    assert fr[0] == pytest.approx(2 * a, rel=1e-10)
    assert fr.min() >= 2 * a * (1 - 1e-10)
    # flow limit: rate 2 lambda with lambda = sum_i (y / w_i)^2 (rank-one Hessian on p = y)
    lam = np.sum((y / data["flow_limit"]) ** 2)
    assert fr[-1] == pytest.approx(2 * lam, rel=1e-6)
    assert data["flow_rate_asymptotic"] == pytest.approx(2 * lam, rel=1e-6)
    for g in data["gd"]:
        assert g["status"] == "converged"
        lam_g = np.sum((y / g["limit"]) ** 2)
        pred = -2 * np.log(abs(1 - g["eta"] * lam_g)) / g["eta"]
        assert g["rate"][-1] == pytest.approx(pred, rel=1e-3)
        assert g["rate_asymptotic"] == pytest.approx(pred, rel=1e-8)
    fig = an.render(json.loads(dumps(data)), an.QUICK)
    # one axis; lines: flow rate, 2 alpha*, flow asymptote, then per GD run (rate dots, asymptote)
    assert len(fig.axes) == 1
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3 + 2 * len(data["gd"])
    ok = np.isfinite(data["flow_rate"])
    np.testing.assert_allclose(lines[0].get_xdata(), np.asarray(data["flow_t"])[ok], rtol=0,
                               atol=0)
    np.testing.assert_allclose(lines[0].get_ydata(), data["flow_rate"][ok], rtol=0, atol=0)
    np.testing.assert_allclose(lines[1].get_ydata(), [2 * a, 2 * a], rtol=0, atol=0)
    np.testing.assert_allclose(lines[2].get_ydata(), [data["flow_rate_asymptotic"]] * 2,
                               rtol=0, atol=0)
    for j, g in enumerate(data["gd"]):
        np.testing.assert_allclose(lines[3 + 2 * j].get_xdata(), g["t"], rtol=0, atol=0)
        np.testing.assert_allclose(lines[3 + 2 * j].get_ydata(), g["rate"], rtol=0, atol=0)
        np.testing.assert_allclose(lines[4 + 2 * j].get_ydata(), [g["rate_asymptotic"]] * 2,
                                   rtol=0, atol=0)
