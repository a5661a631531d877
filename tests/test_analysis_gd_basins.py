"""gd_basins: converged starts satisfy eta lambda_max(H) < 2 at their limit (problem.hessian)."""

import json

import numpy as np

import dlnflow as dl
import dlnflow.analyses.gd_basins as m
from dlnflow.io import dumps


def test_gd_basins_stability_of_limits_and_render():
    data = m.compute(m.QUICK)
    prob = dl.Problem.scalar_chain(2, target=m.QUICK["target"])
    rng = np.random.default_rng(0)
    below, above = data["results"]
    assert below["eta"] < data["threshold"] < above["eta"]
    for res in data["results"]:
        out = np.asarray(res["outcome"])
        wf = np.asarray(res["final_w"])
        conv = np.argwhere(out <= 1)
        for idx in conv[rng.permutation(len(conv))[:40]]:
            w = wf[tuple(idx)]
            H = np.asarray(prob.hessian(prob.scalar_params(w)))
            lam = np.linalg.eigvalsh(H)[-1]
            assert res["eta"] * lam < 2, (res["eta"], w, lam)
            assert abs(w[0] * w[1] - 1.0) < 1e-9
            assert out[tuple(idx)] == (0 if w[0] > 0 else 1)
    # below threshold most starts converge; above none does (lambda_max >= 2|y| on the minima)
    assert np.mean(np.asarray(below["outcome"]) <= 1) > 0.5
    assert not np.any(np.asarray(above["outcome"]) <= 1)
    assert np.any(np.asarray(above["outcome"]) == 3)
    # the anti-diagonal w1 = -w2 (inside the box where GD stays bounded) goes to the saddle
    w1 = np.asarray(below["w1"])
    n = len(w1)
    anti = [np.asarray(below["outcome"])[n - 1 - i, i] for i in range(n) if abs(w1[i]) < 1]
    assert all(o == 2 for o in anti)
    fig = m.render(json.loads(dumps(data)), m.QUICK)
    assert fig.axes
