import json

import numpy as np
import pytest

from dlnflow.analyses import rate_bounds_flow_vs_gd as an
from dlnflow.io import dumps


@pytest.fixture(scope="module")
def data():
    return an.compute(an.QUICK)


def _alpha_numpy(W1, W2, Phi):
    """MVM Theorem 1 / Xu et al. Table 2 (n = m), written out independently with numpy."""
    n = Phi.shape[0]
    D = W2.T @ W2 - W1 @ W1.T
    ev = np.sort(np.linalg.eigvalsh(D))[::-1]
    evn = np.sort(np.linalg.eigvalsh(-D))[::-1]
    pos = lambda x: max(x, 0.0)  # noqa: E731
    dp, dm = pos(ev[0]) - pos(ev[n - 1]), pos(evn[0]) - pos(evn[n - 1])
    d = pos(ev[n - 1]) + pos(evn[n - 1])
    b1 = pos(np.linalg.svd(Phi, compute_uv=False)[-1] - np.linalg.norm(W2 @ W1 - Phi))
    return 0.5 * (-dp + np.sqrt((dp + d) ** 2 + 4 * b1**2) - dm + np.sqrt((dm + d) ** 2
                                                                           + 4 * b1**2))


def test_flow_rate_and_its_bound(data):
    for s in data["starts"]:
        W1, W2 = (np.asarray(W) for W in s["start"])
        Phi = np.asarray(s["target"])
        assert s["alpha"] == pytest.approx(_alpha_numpy(W1, W2, Phi), rel=1e-12)
        assert s["flow_status"] == "completed"
        assert s["flow_rate_min"] >= 2 * s["alpha"] * (1 - 1e-8)
        # the first record is t = 0: rate = ||grad F||^2 / F with grad_W1 = W2^T G, grad_W2 = G W1^T
        G = W2 @ W1 - Phi
        g2 = np.sum((W2.T @ G) ** 2) + np.sum((G @ W1.T) ** 2)
        assert s["flow_t"][0] == 0.0
        assert s["flow_rate"][0] == pytest.approx(g2 / (0.5 * np.sum(G**2)), rel=1e-9)
        assert s["loss0"] == pytest.approx(0.5 * np.sum(G**2), rel=1e-12)


def test_gd_rates_and_xu_bounds(data):
    for s in data["starts"]:
        W1, W2 = (np.asarray(W) for W in s["start"])
        Phi = np.asarray(s["target"])
        kinds = [g["kind"] for g in s["gd"]]
        assert kinds.count("rule") == len(an.QUICK["eta_fractions"]) and "beyond" in kinds
        for g in s["gd"]:
            assert g["status"] == "converged" and g["local_holds"]
            assert g["local_ratio_min"] >= 1 - 1e-9
            # first GD step in numpy: the first measured rate
            G = W2 @ W1 - Phi
            V1, V2 = W1 - g["eta"] * W2.T @ G, W2 - g["eta"] * G @ W1.T
            F0, F1 = 0.5 * np.sum(G**2), 0.5 * np.sum((V2 @ V1 - Phi) ** 2)
            assert g["rate"][0] == pytest.approx(-np.log(F1 / F0) / g["eta"], rel=1e-9)
            if g["kind"] != "rule":
                assert g["bound"] is None and g["eta"] > s["eta_max"]
                continue
            eta = g["eta"]
            assert eta == pytest.approx(g["fraction"] * s["eta_max"], rel=1e-14)
            # Theorem 3.2's rho_bar from Table 2's constants, written out
            mub = s["alpha"] + 2 * s["alpha2"] * (1 - np.exp(np.sqrt(eta)))
            r = np.sqrt(2 * s["loss0"])
            Kb = (r + 6 * s["beta2"] * s["loss0"] * eta**2
                  + np.exp(np.sqrt(eta)) * s["alpha2"] * (1 + 3 * r * eta))
            rho = 1 - 2 * mub * eta + mub * Kb * eta**2
            assert 0 < rho < 1 and eta * Kb <= 1
            assert g["bound"] == pytest.approx(-np.log(rho) / eta, rel=1e-9)
            assert g["rate_min"] >= g["bound"] * (1 - 1e-8)
            assert g["ratio"] == pytest.approx(g["rate_min"] / g["bound"])
        # small steps: GD's bound approaches the flow bound, and GD's rate the flow's
        small = min((g for g in s["gd"] if g["kind"] == "rule"), key=lambda g: g["eta"])
        assert small["bound"] > 0.8 * 2 * s["alpha"]
        assert small["rate_min"] == pytest.approx(s["flow_rate_min"], rel=0.05)
    agr = data["agreement"]
    assert agr["holds"]
    assert all(v["min"] >= 1 - 1e-9 for v in agr["gd_local_ratio"].values())
    flow_ratio = [s["flow_rate_min"] / s["flow_bound"] for s in data["starts"]]
    assert agr["flow_ratio"]["min"] == pytest.approx(min(flow_ratio))


def test_render_draws_the_data(data):
    d = json.loads(dumps(data))
    fig = an.render(d, an.QUICK)
    ax0, ax1 = fig.axes
    s0 = d["starts"][0]
    flow = ax0.get_lines()[0]
    np.testing.assert_allclose(flow.get_xdata(), s0["flow_t"])
    np.testing.assert_allclose(flow.get_ydata(), s0["flow_rate"])
    xu = ax1.get_lines()[0]
    np.testing.assert_allclose(xu.get_xdata(), s0["xu_curve_eta"])
    np.testing.assert_allclose(xu.get_ydata(), s0["xu_curve_rate"])
    rule = ax1.get_lines()[1]
    np.testing.assert_allclose(rule.get_ydata(),
                               [g["rate_min"] for g in s0["gd"] if g["kind"] == "rule"])
