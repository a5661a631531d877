"""gd_vs_flow_classification (Elkabetz and Cohen 2021): GD and the flow of a linear network
with two hidden layers on digits with cross-entropy, checked against numpy GD and a scipy
integration of a numpy field; the GD-flow gap is first order in eta."""

import json

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import softmax

import dlnflow.analyses.gd_vs_flow_classification as m
from dlnflow.io import dumps


def _grads(Ws, X, Y):
    """Cross-entropy 1/n sum [logsumexp(W x) - (W x)_y] of W = W_3 W_2 W_1: layer gradients."""
    acts = [X]
    for W in Ws:
        acts.append(W @ acts[-1])
    G = (softmax(acts[-1], axis=0) - Y) / X.shape[1]         # dF/dZ
    out = [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        out[i] = G @ acts[i].T
        G = Ws[i].T @ G
    return out


def _loss(Ws, X, Y):
    Z = np.linalg.multi_dot([*Ws[::-1], X])
    Zm = Z.max(0)
    return float(np.mean(Zm + np.log(np.exp(Z - Zm).sum(0)) - (Y * Z).sum(0)))


def test_gd_vs_flow_classification_quick():
    cfg = m.QUICK
    data = m.compute(cfg)
    prob, p0 = m.problem_and_start(cfg)
    X, labels = m.digits(cfg["samples"])
    Y = np.eye(10)[:, labels]
    W0 = [np.asarray(W) for W in p0]
    shapes = [W.shape for W in W0]
    t = np.asarray(data["t"])
    rec = cfg["steps0"] // cfg["records"]

    # GD at eta0 and eta0/10 in numpy, same start: the losses at the records
    gd_theta = {}
    for r in (data["runs"][0], data["runs"][-1]):
        Ws = [W.copy() for W in W0]
        losses = []
        for k in range(r["steps"] + 1):
            if k % (rec * r["divisor"]) == 0:
                losses.append(_loss(Ws, X, Y))
            if k < r["steps"]:
                Ws = [W - r["eta"] * g for W, g in zip(Ws, _grads(Ws, X, Y), strict=True)]
        np.testing.assert_allclose(r["loss"], losses, rtol=1e-10)
        gd_theta[r["divisor"]] = np.concatenate([W.ravel() for W in Ws])

    # the flow: scipy DOP853 on the numpy field (tighter than the analysis' 1e-10)
    def field(_, y):
        Ws, i = [], 0
        for a, b in shapes:
            Ws.append(y[i:i + a * b].reshape(a, b))
            i += a * b
        return -np.concatenate([g.ravel() for g in _grads(Ws, X, Y)])

    y0 = np.concatenate([W.ravel() for W in W0])
    sol = solve_ivp(field, (0, t[-1]), y0, method="DOP853", t_eval=t, rtol=1e-12, atol=1e-14)
    ref_loss = []
    for y in sol.y.T:
        Ws, i = [], 0
        for a, b in shapes:
            Ws.append(y[i:i + a * b].reshape(a, b))
            i += a * b
        ref_loss.append(_loss(Ws, X, Y))
    np.testing.assert_allclose(data["loss_flow"], ref_loss, rtol=1e-8)
    theta_T = sol.y[:, -1]
    for r in (data["runs"][0], data["runs"][-1]):
        d = np.linalg.norm(gd_theta[r["divisor"]] - theta_T) / np.linalg.norm(theta_T)
        np.testing.assert_allclose(r["distance_final"], d, rtol=1e-4)

    # larger steps: numpy GD at the first stress step lands at the reported distance; below
    # the stability threshold 2 / sharpness GD stays within 10%, beyond it it diverges
    st = data["stress"]
    Ws = [W.copy() for W in W0]
    for _ in range(st[0]["steps"]):
        Ws = [W - st[0]["eta"] * g for W, g in zip(Ws, _grads(Ws, X, Y), strict=True)]
    th = np.concatenate([W.ravel() for W in Ws])
    np.testing.assert_allclose(st[0]["distance_final"],
                               np.linalg.norm(th - theta_T) / np.linalg.norm(theta_T), rtol=1e-4)
    for r in st:
        if r["eta_sharpness"] < 2:
            assert r["status"] == "completed" and r["distance_final"] < 0.1
        else:
            assert r["status"] == "diverged"
    assert any(r["eta_sharpness"] > 2 for r in st)

    # Euler's global error is first order: distance / eta constant, slope 1
    per_eta = [r["distance_final"] / r["eta"] for r in data["runs"]]
    assert max(per_eta) / min(per_eta) < 1.02
    assert abs(data["order_in_eta"] - 1) < 0.01
    # close to the flow at eta0 (relative distance below 1%)
    assert data["runs"][0]["distance_max"] < 1e-2
    assert data["flow_status"] == "completed"

    # the gallery table: slope refitted from the (numpy-checked) distances at T
    rows = m.agreement(json.loads(dumps(data)))
    etas = [r["eta"] for r in data["runs"]]
    slope = np.polyfit(np.log(etas), np.log([r["distance_final"] for r in data["runs"]]), 1)[0]
    assert abs(rows[1]["ours"] - slope) < 1e-12 and rows[1]["agreement"] == "agrees"
    assert rows[-1]["agreement"].startswith("claim fails")

    fig = m.render(json.loads(dumps(data)), cfg)
    ax2 = fig.axes[2]
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(),
                               [r["distance_final"] for r in data["runs"]])
