import json

import numpy as np

from dlnflow.agd import shallow_gd_loss
from dlnflow.analyses import agd_real_data as mod
from dlnflow.io import dumps


def test_agd_real_data_quick():
    data = mod.compute(mod.QUICK)
    for name, e in data["datasets"].items():
        Xtr, Ytr, _, _ = mod.load(name, mod.QUICK["test_size"], mod.QUICK["seed"])
        # simulated shallow GD against Proposition 1's closed form; tuned step is the grid's best
        closed = shallow_gd_loss(Xtr, Ytr, e["eta"], mod.QUICK["steps"])
        np.testing.assert_allclose(e["gd_train"], closed[e["iterations"]], rtol=1e-9)
        assert e["eta"] == e["eta_grid"][int(np.argmin(e["gd_final_by_eta"]))]
        for a in e["agd"]:
            assert a["train"][-1] < e["gd_train"][-1]
            assert a["train"][-1] >= e["optimal_train_loss"] - 1e-12
        assert all(data["agd_train_below_gd"][name])
    mod.render(json.loads(dumps(data)), mod.QUICK)
