import json

import numpy as np
import pytest

from dlnflow.analyses import min_rate_bound as an
from dlnflow.io import dumps


@pytest.fixture(scope="module")
def data():
    return an.compute(an.QUICK)


def test_min_rate_bound_quick(data):
    y = data["target"]
    runs = data["runs"]
    assert {r["depth"] for r in runs} == {2, 3, 4, 5}
    tight = 0
    for r in runs:
        assert r["status"] == "completed"
        assert r["rate_min"] >= 2 * r["alpha_star"] * (1 - 1e-9)
        if r["p0"] < y:          # start on |p| = margin: equality at t = 0
            assert r["rate_t0"] == pytest.approx(2 * r["alpha_star"], rel=1e-9)
            tight += 1
        else:                    # overshooting start: bound strict at t = 0
            assert r["rate_t0"] > 2 * r["alpha_star"] * 1.01
        if r["depth"] == 2:
            w = r["start"]
            c = abs(y) - abs(y - np.prod(w))
            assert r["alpha_star"] == pytest.approx(np.hypot(w[0] ** 2 - w[1] ** 2, 2 * c))
        # rate = 2 sum_i prod_{j!=i} w_j^2 at t = 0 (independent of the flow solve)
        w2 = np.asarray(r["start"]) ** 2
        pre = sum(np.prod(np.delete(w2, i)) for i in range(w2.size))
        assert r["rate_t0"] == pytest.approx(2 * pre, rel=1e-10)
    assert tight >= 4


def test_matrix_rows_against_independent_bounds(data):
    """Vector layers: alpha = sqrt(Delta^2 + 4 c^2) with Delta = lambda_+ + lambda_- of D and
    c = y - |y - p(0)|, rate(0) = 2 (|a|^2 + |b|^2), equality when 0 < p(0) < y. 2 x 2 rows:
    rate(0) >= 2 lambda_min(T(0)) >= 2 alpha. Deep homogeneous rows: alpha = sqrt(prod d~^2 +
    (L nu^(2-2/L))^2) recomputed from the stored layers. Every row: least rate >= 2 alpha."""
    y = data["target"]
    fams = {r["family"] for r in data["matrix_runs"]}
    assert len(fams) == 3
    for r in data["matrix_runs"]:
        assert r["status"] == "completed"
        assert r["rate_min"] >= 2 * r["alpha"] * (1 - 1e-8)
        layers = [np.asarray(W) for W in r["start"]]
        if r["family"].startswith("two-layer, n=m=1"):
            a, b = layers
            p0 = float((b @ a)[0, 0])
            ev = np.linalg.eigvalsh(b.T @ b - a @ a.T)
            c = max(y - abs(y - p0), 0.0)
            assert r["alpha"] == pytest.approx(np.hypot(ev[-1] - ev[0], 2 * c), rel=1e-10)
            assert r["rate_t0"] == pytest.approx(2 * (np.sum(a**2) + np.sum(b**2)), rel=1e-9)
            if 0 < p0 < y:
                assert r["rate_t0"] == pytest.approx(2 * r["alpha"], rel=1e-9)
        elif r["family"].startswith("two-layer, 2x2"):
            W1, W2 = layers
            lam = np.linalg.eigvalsh(W2 @ W2.T)[0] + np.linalg.eigvalsh(W1.T @ W1)[0]
            assert r["lambda_min_T0"] == pytest.approx(lam, rel=1e-12)
            assert r["rate_t0"] >= 2 * lam * (1 - 1e-9) and lam >= r["alpha"] * (1 - 1e-12)
        else:
            V = layers[::-1]                       # paper orientation, V_1 = output layer
            L = len(V)
            d = []
            for l in range(L - 1):
                D = V[l].T @ V[l] - V[l + 1] @ V[l + 1].T
                assert np.allclose(D, D[0, 0] * np.eye(2), atol=1e-12)
                d.append(D[0, 0])
            lstar = next((i + 1 for i in range(L - 1) if d[i] < 0), L)
            dt = [sum(-d[j] for j in range(lstar - 1, i + 1)) if i + 1 >= lstar
                  else sum(d[j] for j in range(i, lstar - 1)) for i in range(L - 1)]
            W = V[0] @ V[1] @ V[2]
            Phi = np.asarray(r["target"])
            nu = max(np.linalg.svd(Phi, compute_uv=False)[-1] - np.linalg.norm(W - Phi), 0)
            assert nu > 0
            assert r["alpha"] == pytest.approx(np.hypot(np.prod(dt), L * nu ** (2 - 2 / L)),
                                               rel=1e-10)
    agr = data["agreement"]
    assert all(v["holds"] for k, v in agr.items() if k != "summary")
    assert agr["two-layer, n=m=1, h=3"]["ratio_min"] == pytest.approx(1.0, abs=1e-9)
    assert agr["two-layer, 2x2, h=3"]["ratio_min"] > 1.05          # loose: margin is 0 there


def test_render_draws_the_data(data):
    d = json.loads(dumps(data))
    fig = an.render(d, an.QUICK)
    assert len(fig.axes) == 3
    fam = {r["family"] for r in d["matrix_runs"]}
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    for f in fam:
        sel = [r for r in d["matrix_runs"] if r["family"] == f]
        np.testing.assert_allclose(lines[f].get_xdata(), [2 * r["alpha"] for r in sel])
        np.testing.assert_allclose(lines[f].get_ydata(), [r["rate_min"] for r in sel])
    curves = fig.axes[2].get_lines()[: len(d["matrix_runs"])]
    for ln, r in zip(curves, d["matrix_runs"], strict=True):
        np.testing.assert_allclose(ln.get_ydata(), np.asarray(r["rate"]) / (2 * r["alpha"]))
