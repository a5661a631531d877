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
    assert fig.axes
