import json

import numpy as np
import pytest

from dlnflow.analyses import min_rate_bound as an
from dlnflow.io import dumps


def test_min_rate_bound_quick():
    data = an.compute(an.QUICK)
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
    fig = an.render(json.loads(dumps(data)), an.QUICK)
    assert len(fig.axes) == 2
