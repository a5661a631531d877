import json

import numpy as np

from dlnflow.analyses import agd_plateau as mod
from dlnflow.io import dumps


def test_agd_plateau_quick():
    data = mod.compute(mod.QUICK)
    lp, ls, la = (np.asarray(data[k]) for k in ("loss_plateau_gd", "loss_sigmoid_gd", "loss_agd"))
    # GD from (1, -1): exact antisymmetry and the closed-form recursion, plateau at 0.5 y^2
    np.testing.assert_array_equal(data["plateau_w2"], -np.asarray(data["plateau_w1"]))
    np.testing.assert_allclose(lp, data["plateau_recursion"], rtol=1e-12, atol=1e-15)
    assert abs(lp[-1] - 0.5) < 1e-6
    assert np.all(la[1:] < lp[1:]) and np.all(la[1:] < ls[1:])
    assert la[-1] < 1e-6 and ls[20] > 0.49
    assert "Agrees" in data["agreement"]
    mod.render(json.loads(dumps(data)), mod.QUICK)
