"""portrait_two_layer: every flow run keeps w1^2 - w2^2; the plateau start stays on w1 = -w2."""

import json

import numpy as np

import dlnflow.analyses.portrait_two_layer as m
from dlnflow.io import dumps


def test_portrait_two_layer_invariants_and_render():
    data = m.compute(m.QUICK)
    w = np.asarray(data["flow_w"])
    ok = np.isfinite(np.asarray(data["flow_t"]))
    inv = w[..., 0] ** 2 - w[..., 1] ** 2
    for i in range(w.shape[0]):
        drift = np.max(np.abs(inv[i][ok[i]] - inv[i, 0]))
        assert drift < 1e-8, (i, drift)
    # (1, -1) lies on the saddle's stable line w1 = -w2: the flow goes to the origin (loss 1/2)
    assert abs(data["flow_loss"][0][ok[0]][-1] - 0.5) < 1e-8
    # the generic starts reach the minimum hyperbola w1 w2 = 1 on their own invariant curve
    for i in (2, 3):
        wf = w[i][ok[i]][-1]
        assert abs(wf[0] * wf[1] - 1.0) < 1e-6
        assert abs(wf[0] ** 2 - wf[1] ** 2 - inv[i, 0]) < 1e-8
    fig = m.render(json.loads(dumps(data)), m.QUICK)
    # one axis; lines: the saddle marker at the origin, then per flow run (line, start square),
    # then per GD run (thin line, iterate dots, start square)
    assert len(fig.axes) == 1
    lines = fig.axes[0].get_lines()
    n_flow, n_gd = w.shape[0], len(data["gd_starts"])
    assert len(lines) == 1 + 2 * n_flow + 3 * n_gd
    np.testing.assert_array_equal(lines[0].get_xydata(), [[0.0, 0.0]])
    for i in range(n_flow):
        drawn = lines[1 + 2 * i]
        np.testing.assert_allclose(drawn.get_xydata(), w[i][ok[i]], rtol=0, atol=0)
        np.testing.assert_allclose(lines[2 + 2 * i].get_xydata(), w[i, :1], rtol=0, atol=0)
    gd_w = np.asarray(data["gd_w"])
    gd_ok = np.asarray(data["gd_valid"], dtype=bool)
    for j in range(n_gd):
        base = 1 + 2 * n_flow + 3 * j
        np.testing.assert_allclose(lines[base].get_xydata(), gd_w[j][gd_ok[j]], rtol=0, atol=0)
        np.testing.assert_allclose(lines[base + 1].get_xydata(), gd_w[j][gd_ok[j]],
                                   rtol=0, atol=0)
        np.testing.assert_allclose(lines[base + 2].get_xydata(), gd_w[j][:1], rtol=0, atol=0)
