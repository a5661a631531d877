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


def test_adaptive_schedule_eq_19(data):
    """Replays the adaptive run in numpy with the stored steps: the losses match, every step obeys
    eta_0 <= eta_t <= (1 + eta_0^d)^(t/2) eta_0 and eta_t K_t <= 1 (K_t of eq. 12 written out),
    every step contracts the loss by at most rho_bar(eta_0) (Theorem 3.2), and the schedule needs
    no more iterations than the constant step eta_0 (their Sec. 4.2)."""
    for s in data["starts"]:
        a = s["adaptive"]
        W1, W2 = (np.asarray(W) for W in s["start"])
        Phi = np.asarray(s["target"])
        eta0, d = a["eta0"], a["d"]
        F = [0.5 * np.sum((W2 @ W1 - Phi) ** 2)]
        for t, eta in enumerate(a["etas"]):
            assert eta0 * (1 - 1e-12) <= eta <= (1 + eta0**d) ** (t / 2) * eta0 * (1 + 1e-12)
            G = W2 @ W1 - Phi
            s2 = np.linalg.eigvalsh(W2 @ W2.T)[-1] + np.linalg.eigvalsh(W1.T @ W1)[-1]
            r = np.sqrt(2 * F[-1])
            K_t = (s2 + r + 6 * np.linalg.norm(W2 @ W1, 2) * F[-1] * eta**2
                   + 3 * s2 * r * eta)
            assert eta * K_t <= 1 + 1e-9
            W1, W2 = W1 - eta * W2.T @ G, W2 - eta * G @ W1.T
            F.append(0.5 * np.sum((W2 @ W1 - Phi) ** 2))
        # the run evaluates f as 0.5 tr(W W^T) - tr(W Phi^T) + c0: round-off ~1e-15 F(0) absolute
        np.testing.assert_allclose(F, a["losses"], rtol=1e-10, atol=1e-13 * F[0])
        F = np.asarray(F)
        assert np.all(F[1:] <= a["rho_bar"] * F[:-1])
        assert a["holds"] and a["iterations"] <= a["iterations_constant"]
        assert F[-1] <= an.QUICK["loss_drop"] * F[0] < F[-2]
