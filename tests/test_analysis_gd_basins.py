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
    # a 2 x len(results) grid (outcome row, iteration row), a colorbar inset in each iteration
    # panel
    k = len(data["results"])
    assert len(fig.axes) == 2 * k
    assert [len(ax.child_axes) for ax in fig.axes] == [0] * k + [1] * k
    for j, res in enumerate(data["results"]):
        mesh_out = fig.axes[j].collections[0]
        mesh_it = fig.axes[k + j].collections[0]
        np.testing.assert_array_equal(np.asarray(mesh_out.get_array()),
                                      np.asarray(res["outcome"]))
        np.testing.assert_allclose(np.asarray(mesh_it.get_array()),
                                   np.maximum(np.asarray(res["iterations"], float), 1.0),
                                   rtol=0, atol=0)
        # shading="nearest" on the uniform start grid: cell centres are the (w1, w2) starts
        corners = mesh_out.get_coordinates()
        assert corners.shape[:2] == tuple(s + 1 for s in np.asarray(res["outcome"]).shape)
        np.testing.assert_allclose(0.5 * (corners[0, :-1, 0] + corners[0, 1:, 0]), res["w1"],
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(0.5 * (corners[:-1, 0, 1] + corners[1:, 0, 1]), res["w2"],
                                   rtol=0, atol=1e-12)
