import json

import numpy as np

from dlnflow.analyses import agd_depth as mod
from dlnflow.io import dumps


def test_agd_depth_quick():
    data = mod.compute(mod.QUICK)
    gd = np.asarray(data["loss_gd"])
    # shallow GD closed form: 0.5/n sum_i (1 - eta lambda_i)^(2t) y_i^2, lambda = (1, 0.01)
    t = np.asarray(data["iterations"])
    np.testing.assert_allclose(gd, 0.25 * (0.9 ** (2 * t) + 0.999 ** (2 * t)), rtol=1e-12)
    for r in data["runs"]:
        la = np.asarray(r["loss_agd"])
        assert np.all(la <= gd * (1 + 1e-12) + 1e-15) and la[-1] < 1e-3 < gd[-1]
    its = [r["iterations"] for r in data["runs"]]
    assert its == sorted(its, reverse=True)       # deeper is no slower here
    mod.render(json.loads(dumps(data)), mod.QUICK)
