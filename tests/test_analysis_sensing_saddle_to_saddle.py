"""sensing_saddle_to_saddle: isometric sensing is the square loss (levels 0.5 sum_{i>k} s_i^2,
itinerary through the enumerated graph); Gaussian sensing plateaus start at f(0) and escape at
rate sigma_1(M0); flow checked against a scipy integration of a numpy field."""

import json

import numpy as np
from scipy.integrate import solve_ivp

import dlnflow as dl
import dlnflow.analyses.sensing_saddle_to_saddle as m
from dlnflow.io import dumps


def _gaussian_operator(s, mm, seed):
    """MatrixSensing.gaussian's documented draw: default_rng(seed), A_i i.i.d. N(0, 1)."""
    n = len(s)
    A = np.random.default_rng(seed).standard_normal((mm, n, n))
    return A, np.tensordot(A, np.diag(s), axes=2)


def test_sensing_saddle_to_saddle_quick():
    cfg = m.QUICK
    data = m.compute(cfg)
    s = np.asarray(cfg["s"])
    levels = [0.5 * np.sum(s[k:] ** 2) for k in range(len(s))]
    iso, gauss = data["operators"]
    assert iso["isometric"] and not gauss["isometric"]

    # isometric operator: f(W) = 1/2 ||W - diag(s)||^2 exactly
    prob = m.operator_problem(s, 0, cfg["seed"])
    W = np.random.default_rng(1).standard_normal((3, 3))
    assert abs(float(prob.f(W)) - 0.5 * np.sum((W - np.diag(s)) ** 2)) < 1e-12
    # ... so its plateaus sit at the square-loss saddle levels, and the itinerary is S={1..k}
    assert len(iso["plateau_losses"]) == 3
    np.testing.assert_allclose(iso["plateau_losses"], levels, rtol=1e-4)
    assert iso["itinerary"]["nodes"] == ["S={}", "S={1}", "S={1,2}", "S={1,2,3}"]
    assert iso["itinerary"]["is_path"]
    np.testing.assert_allclose(iso["itinerary_levels"], levels + [0.0], atol=1e-12)
    assert abs(iso["origin_rate"] - s[0]) < 1e-12
    assert abs(iso["slope0"] - 1 / s[0]) < 0.02 / s[0]

    # Gaussian operator: the closed-form enumeration is refused, plateau 0 is f(0) and the
    # first plateau's length grows like ln(1/alpha) / sigma_1(M0) (numpy from the same draw)
    assert gauss["enumeration"].startswith("refused")
    A, y = _gaussian_operator(s, cfg["measurements"][1], cfg["seed"])
    mm = len(y)
    f0 = 0.5 * np.mean(y ** 2)
    assert abs(gauss["plateau_losses"][0] - f0) < 1e-9 * f0
    M0 = np.tensordot(y, A, axes=1) / mm
    sig = np.linalg.svd(M0, compute_uv=False)
    np.testing.assert_allclose(gauss["singular_values_M0"], sig, rtol=1e-12)
    assert abs(gauss["slope0"] - 1 / sig[0]) < 0.02 / sig[0]
    # plateaus at Gaussian saddles: the deepest one is at a critical point to 1e-6, and the
    # levels differ from the isometric ones by the restricted-isometry error (not 1e-4 small)
    assert gauss["vs_saddle"][-1] < 1e-6
    assert all(d > 1e-2 for d in gauss["vs_isometric_level"])

    # the flow of the smallest alpha against scipy DOP853 on a numpy field
    base = [np.asarray(W) for W in dl.init.gaussian(m.operator_problem(s, mm, cfg["seed"]),
                                                   cfg["seed"])]
    a = cfg["alphas"][-1]
    Amat = A.reshape(mm, -1)

    def field(_, x):
        W1, W2 = x[:9].reshape(3, 3), x[9:].reshape(3, 3)
        G = (Amat.T @ (Amat @ (W2 @ W1).ravel() - y) / mm).reshape(3, 3)
        return -np.concatenate([(W2.T @ G).ravel(), (G @ W1.T).ravel()])

    run = gauss["runs"][-1]
    t = np.asarray(run["t"])
    pick = np.searchsorted(t, [2.0, 6.0, 8.0])
    sol = solve_ivp(field, (0, t[pick[-1]]), a * np.concatenate([b.ravel() for b in base]),
                    method="DOP853", t_eval=t[pick], rtol=1e-12, atol=1e-22)
    ref = []
    for x in sol.y.T:
        W = x[9:].reshape(3, 3) @ x[:9].reshape(3, 3)
        ref.append(0.5 * np.mean((Amat @ W.ravel() - y) ** 2))
    np.testing.assert_allclose(np.asarray(run["loss"])[pick], ref, rtol=1e-6)

    # the gallery table: deviations from the closed-form levels, recomputed
    rows = m.agreement(json.loads(dumps(data)))
    dev = max(abs(p / lv - 1) for p, lv in zip(iso["plateau_losses"], levels, strict=True))
    assert abs(rows[0]["ours"] - dev) < 1e-15 and rows[0]["agreement"] == "agrees"
    assert rows[3]["ours"] == "S={} -> S={1} -> S={1,2} -> S={1,2,3}"
    assert rows[4]["agreement"].startswith("differs")

    fig = m.render(json.loads(dumps(data)), cfg)
    assert len(fig.axes) == 4
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), iso["runs"][-1]["loss"])
