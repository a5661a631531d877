"""portrait_deep: trajectories stay on the surface w2 = w3 = w4 and keep w1^2 - w2^2."""

import json

import numpy as np

import dlnflow.analyses.portrait_deep as m
from dlnflow.io import dumps


def test_portrait_deep_invariant_surface_and_render():
    data = m.compute(m.QUICK)
    w = np.asarray(data["flow_w"])
    ok = np.isfinite(np.asarray(data["flow_t"]))
    for i in range(w.shape[0]):
        wi = w[i][ok[i]]
        inv = wi[:, 0] ** 2 - wi[:, 1] ** 2
        assert np.max(np.abs(inv - inv[0])) < 1e-8
        # all imbalances w_j^2 - w_2^2 conserved (here 0: the surface is invariant)
        assert np.max(np.abs(wi[:, 2:] ** 2 - wi[:, 1:2] ** 2)) < 1e-8
    # GD keeps equal weights exactly equal (same gradients)
    g = np.asarray(data["gd_w"])
    assert np.array_equal(g[..., 1], g[..., 2]) and np.array_equal(g[..., 1], g[..., 3])
    # flow starts with |w2| >= 0.25 on the surface reach the minimum set p = 1
    wf = w[0][ok[0]][-1]
    assert abs(np.prod(wf) - 1.0) < 1e-6
    # the figure draws every flow run and every GD run in the reduced coordinates (w1, w2)
    fig = m.render(json.loads(dumps(data)), m.QUICK)
    drawn = [line.get_xydata() for line in fig.axes[0].lines]
    gd_valid = np.asarray(data["gd_valid"], bool)
    runs = [w[i][ok[i]][:, :2] for i in range(w.shape[0])] + \
        [g[i][gd_valid[i]][:, :2] for i in range(g.shape[0])]
    for run in runs:
        assert any(xy.shape == run.shape and np.allclose(xy, run, rtol=0, atol=1e-12)
                   for xy in drawn)
