import json

import numpy as np

from dlnflow.agd import paper_dataset, shallow_gd_run
from dlnflow.analyses import agd_instance_speedup as mod
from dlnflow.io import dumps


def test_agd_instance_speedup_quick():
    data = mod.compute(mod.QUICK)
    X, Y = paper_dataset()
    for r in data["runs"]:
        la, lg = np.asarray(r["loss_agd"]), np.asarray(r["loss_gd"])
        assert r["agd_below_gd_everywhere"]
        assert np.all(la <= lg * (1 + 1e-12) + 1e-15) and la[-1] < lg[-1]
    # the closed-form GD curve against an actual GD run (eta = 0.1)
    gd = shallow_gd_run(X, Y, 0.1, mod.QUICK["steps"]).loss[0]
    np.testing.assert_allclose(gd, data["runs"][1]["loss_gd"], rtol=1e-10)
    # at GD's optimal step AGD reaches the threshold, GD (rate 0.98) does not in 300 steps
    assert data["runs"][0]["iterations_agd"] is not None
    assert data["runs"][0]["iterations_gd"] is None
    mod.render(json.loads(dumps(data)), mod.QUICK)
