"""norms_can_grow (Razin and Cohen 2020): on the 2x2 completion [[?, 1], [1, 0]] with det W > 0
the unobserved entry obeys |W11| >= (1 - sqrt(2l))^2 / sqrt(2l) and grows, with every norm, as
the loss l falls; checked against a numpy/scipy integration of the layer flow."""

import json

import numpy as np
from scipy.integrate import solve_ivp

import dlnflow.analyses.norms_can_grow as m
from dlnflow.io import dumps

OBS = np.array([[0.0, 1.0], [1.0, 1.0]])
TGT = np.array([[0.0, 1.0], [1.0, 0.0]])


def _numpy_flow(layers0, ts):
    """dW_l/dt = -(W_L..W_(l+1))^T G (W_(l-1)..W_1)^T, G = mask * (W - W*), scipy DOP853."""
    shapes = [w.shape for w in layers0]

    def field(_, y):
        Ws = [y[4 * i:4 * i + 4].reshape(2, 2) for i in range(len(shapes))]
        W = np.linalg.multi_dot(Ws[::-1]) if len(Ws) > 2 else Ws[1] @ Ws[0]
        G = OBS * (W - TGT)
        out = []
        for i in range(len(Ws)):
            left = np.eye(2)
            for Wj in Ws[i + 1:]:
                left = Wj @ left
            right = np.eye(2)
            for Wj in Ws[:i]:
                right = Wj @ right
            out.append(-(left.T @ G @ right.T).ravel())
        return np.concatenate(out)

    sol = solve_ivp(field, (0, ts[-1]), np.concatenate([w.ravel() for w in layers0]),
                    method="DOP853", t_eval=ts, rtol=1e-12, atol=1e-15)
    Ws = [sol.y[4 * i:4 * i + 4].T.reshape(-1, 2, 2) for i in range(len(shapes))]
    W = Ws[0]
    for Wl in Ws[1:]:
        W = Wl @ W
    return W


def _balanced(P, L):
    U, s, Vt = np.linalg.svd(P)
    a = np.diag(s ** (1.0 / L))
    return [a @ Vt] + [a.copy() for _ in range(L - 2)] + [U @ a]


def test_norms_can_grow_quick():
    cfg = m.QUICK
    data = m.compute(cfg)
    runs = {r["depth"]: r for r in data["runs"]}
    r = runs[3]
    assert r["status"] == "converged"
    W = np.asarray(r["W"])
    loss = np.asarray(r["loss"])
    # the recorded loss is f of the recorded W (numpy)
    np.testing.assert_allclose(loss, 0.5 * np.sum(OBS * (W - TGT) ** 2, axis=(1, 2)),
                               rtol=1e-12, atol=1e-300)
    assert loss[-1] <= cfg["stop_at_loss"] * (1 + 1e-6)
    # det W stays positive (from det W(0) > 0) and |W11| sits above the closed-form bound
    assert np.all(np.linalg.det(W) > 0)
    late = loss < 0.1
    r2 = np.sqrt(2 * loss[late])
    assert np.all(np.abs(W[late, 0, 0]) >= (1 - r2) ** 2 / r2)
    assert abs(W[-1, 0, 0]) > 10          # bound at l = 3e-3 is 11.0
    # every norm grows while the loss falls (late phase), effective rank -> 1
    sv = np.linalg.svd(W[late], compute_uv=False)
    for norm in (sv.sum(1), np.sqrt((sv ** 2).sum(1)), sv[:, 0]):
        assert np.all(np.diff(norm) > 0)
    assert np.all(np.diff(loss[late]) < 0)
    p = sv[-1] / sv[-1].sum()
    assert np.exp(-np.sum(p * np.log(p))) < 1.001
    np.testing.assert_allclose(r["effective_rank"][-1], np.exp(-np.sum(p * np.log(p))),
                               rtol=1e-12)

    # independent integration (numpy field, scipy DOP853 at rtol 1e-12) from the same start
    P = cfg["scale"] * np.asarray(cfg["product"])
    t = np.asarray(r["t"])
    pick = np.searchsorted(t, [1.0, 10.0, 30.0, 100.0])
    ref = _numpy_flow(_balanced(P, 3), t[pick])
    # dlnflow ran Radau at rtol 1e-8 through a saddle escape (amplifies by ~1e2)
    np.testing.assert_allclose(W[pick], ref, rtol=1e-5, atol=1e-9)

    # depth 2: det W > 0 in exact arithmetic but it decays exponentially (numpy reference)
    ref2 = _numpy_flow(_balanced(P, 2), np.array([5.0, 20.0, 40.0]))
    d2 = np.linalg.det(ref2)
    assert d2[0] > 1e3 * d2[1] > 0 and d2[1] > 1e3 * abs(d2[2])
    W2 = np.asarray(runs[2]["W"])            # the flow loses the sign to round-off: det W < 0
    assert not runs[2]["det_positive_late"] and np.linalg.det(W2[-1]) < 0
    r2f = np.sqrt(2 * runs[2]["loss"][-1])
    assert abs(W2[-1, 0, 0]) < (1 - r2f) ** 2 / r2f
    assert runs[2]["det_below_round_off_at"] < 60

    # the gallery table: depth 3 agrees, depth 2 differs (sign lost), |W11| as recorded
    rows = m.agreement(json.loads(dumps(data)))
    assert [r["agreement"] == "agrees" for r in rows] == [False, True]
    assert rows[1]["ours"].startswith(f"{abs(W[-1, 0, 0]):.4g} ")

    fig = m.render(json.loads(dumps(data)), cfg)
    ax0 = fig.axes[0]
    lines = ax0.get_lines()
    np.testing.assert_allclose(lines[2].get_ydata(), np.abs(W[:, 0, 0]), rtol=1e-12)
