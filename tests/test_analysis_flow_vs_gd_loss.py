"""flow_vs_gd_loss: flow matches the balanced-chain closed form; GD tracks it at t = k eta."""

import json

import numpy as np

import dlnflow.analyses.flow_vs_gd_loss as m
from dlnflow.closed_forms import balanced_chain_time
from dlnflow.io import dumps


def test_flow_vs_gd_loss_closed_form_and_render():
    data = m.compute(m.QUICK)
    y, p0 = data["target"], data["p0"]
    for r in data["runs"]:
        t = np.asarray(r["flow_t"])
        p = np.asarray(r["flow_p"])
        for k in np.linspace(5, len(t) - 1, 40).astype(int):
            if p0 < p[k] < 0.99 * y:
                assert abs(balanced_chain_time(r["depth"], y, p0, p[k]) - t[k]) < 1e-6
        loss = np.asarray(r["flow_loss"])
        assert np.allclose(loss, 0.5 * (p - y) ** 2, atol=1e-14)
        assert r["gd_status"] in ("completed", "converged")
        # GD at t = k eta is close to the flow (O(eta)) and reaches a small loss as well
        gt, gl = np.asarray(r["gd_t"]), np.asarray(r["gd_loss"])
        assert gl[-1] < 1e-8
        fl = np.interp(gt, t, loss)
        assert np.max(np.abs(gl - fl)) < 0.2
    fig = m.render(json.loads(dumps(data)), m.QUICK)
    # one axis; per run a flow line then a GD line: (t, max(loss, 1e-16)) over finite records
    assert len(fig.axes) == 1
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 * len(data["runs"])
    for i, r in enumerate(data["runs"]):
        for drawn, (tk, lk) in zip(lines[2 * i:2 * i + 2],
                                   (("flow_t", "flow_loss"), ("gd_t", "gd_loss")), strict=True):
            t, loss = np.asarray(r[tk], float), np.asarray(r[lk], float)
            fin = np.isfinite(t) & np.isfinite(loss)
            np.testing.assert_allclose(drawn.get_xdata(), t[fin], rtol=0, atol=0)
            np.testing.assert_allclose(drawn.get_ydata(), np.maximum(loss[fin], 1e-16),
                                       rtol=0, atol=0)
