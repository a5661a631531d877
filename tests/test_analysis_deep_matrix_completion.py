"""deep_matrix_completion (Arora, Cohen, Hu, Luo 2019): recovery error per depth against a
numpy GD and the closed form of depth 1; deeper recovers better and learns sharper."""

import json

import numpy as np

import dlnflow as dl
import dlnflow.analyses.deep_matrix_completion as m
from dlnflow.io import dumps


def _start(W_star, mask, depth, cfg):
    prob = dl.Problem.completion(W_star, mask, depth=depth, width=W_star.shape[0])
    p0 = dl.init.by_name("gaussian", prob, cfg["seed"],
                         end_to_end=cfg["init_scale"] * np.sqrt(W_star.shape[0]))
    return [np.asarray(W) for W in p0]


def _numpy_gd(layers, W_star, mask, eta, steps, every):
    """GD on 1/2 sum_Omega (W - W*)^2, W = W_L ... W_1, numpy; singular values every k."""
    Ws = [W.copy() for W in layers]
    svs = []
    for k in range(steps):
        prods = [np.eye(W_star.shape[1])]
        for W in Ws:
            prods.append(W @ prods[-1])
        W = prods[-1]
        if k % every == 0:
            svs.append(np.linalg.svd(W, compute_uv=False))
        G = mask * (W - W_star)
        left = np.eye(W_star.shape[0])
        grads = [None] * len(Ws)
        for i in range(len(Ws) - 1, -1, -1):
            grads[i] = left.T @ G @ prods[i].T
            left = left @ Ws[i]
        Ws = [W - eta * g for W, g in zip(Ws, grads, strict=True)]
    W = Ws[0]
    for Wl in Ws[1:]:
        W = Wl @ W
    return W, np.asarray(svs)


def test_deep_matrix_completion_quick():
    cfg = m.QUICK
    data = m.compute(cfg)
    n, r = cfg["n"], cfg["rank"]
    W_star, order = m.ground_truth(n, r, cfg["seed"])
    # paper's normalisation ||W*||_F = n, rank r
    assert abs(np.linalg.norm(W_star) - n) < 1e-12 and np.linalg.matrix_rank(W_star) == r
    np.testing.assert_allclose(data["target_singular_values"],
                               np.linalg.svd(W_star, compute_uv=False)[:r], rtol=1e-12)
    runs = {(x["depth"], x["count"]): x for x in data["runs"]}
    for x in data["runs"]:
        assert x["status"] == "converged", x
        assert x["loss_final"] <= 0.5 * x["count"] * cfg["train_thres"]

    # depth 1, closed form: observed entries W* + (1 - eta)^k (W0 - W*), the rest stay at W0
    for c in cfg["counts"]:
        mask = m.mask_of(order, c, n)
        (W0,) = _start(W_star, mask, 1, cfg)
        x = runs[(1, c)]
        Wk = np.where(mask == 1, W_star + (1 - x["eta"]) ** x["steps"] * (W0 - W_star), W0)
        np.testing.assert_allclose(x["recovery_error"],
                                   np.linalg.norm(Wk - W_star) / np.linalg.norm(W_star),
                                   rtol=1e-10)

    # depth 2 at the spectrum count: numpy GD for the same number of steps
    c = cfg["spectrum_count"]
    mask = m.mask_of(order, c, n)
    x = runs[(2, c)]
    W, svs = _numpy_gd(_start(W_star, mask, 2, cfg), W_star, mask, x["eta"], x["steps"],
                       cfg["every"])
    np.testing.assert_allclose(x["recovery_error"],
                               np.linalg.norm(W - W_star) / np.linalg.norm(W_star), rtol=1e-7)
    sv = np.asarray(x["sv"])
    k = min(len(svs), len(sv) - 1)
    np.testing.assert_allclose(sv[:k, :2 * r], svs[:k, :2 * r], rtol=1e-6, atol=1e-12)

    # the paper's claims on this setting: deeper recovers better; one value at a time, sharper
    for c in cfg["counts"]:
        e = [runs[(L, c)]["recovery_error"] for L in cfg["depths"]]
        assert e[0] > 0.5 and e[0] > e[1] > e[2], (c, e)
    w2, w3 = runs[(2, c)]["transition_widths"], runs[(3, c)]["transition_widths"]
    assert all(b < a for a, b in zip(w2, w3, strict=True))
    for L in (2, 3):
        t = runs[(L, c)]["learning_times"]
        assert t[1] > 1.5 * t[0]
    assert data["agreement"]["deeper_better_at"] == cfg["counts"]

    rows = m.agreement(json.loads(dumps(data)))
    assert [r["agreement"] for r in rows] == ["agrees"] * (len(cfg["counts"]) + 1) + [
        "not compared"]

    fig = m.render(json.loads(dumps(data)), cfg)
    assert len(fig.axes) == 3
    line = fig.axes[0].get_lines()[1]
    np.testing.assert_allclose(line.get_ydata(),
                               [runs[(2, c)]["recovery_error"] for c in cfg["counts"]])
