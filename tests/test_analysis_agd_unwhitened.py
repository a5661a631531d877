import json

import numpy as np

from dlnflow.analyses import agd_unwhitened as mod
from dlnflow.io import dumps


def test_agd_unwhitened_quick():
    data = mod.compute(mod.QUICK)
    np.testing.assert_allclose(data["lambdas"], [1.0, 4e-4], rtol=1e-12)
    th3 = np.asarray(data["theta3_gd"])
    r1 = np.asarray(data["gd_layer1_radius"])
    # GD's layer-1 map is unstable exactly when Theta3^2 > 2 / (eta lambda_1) = 20
    np.testing.assert_array_equal(r1 > 1, th3**2 > 20)
    assert np.any(r1 > 1)
    lg, la = np.asarray(data["loss_gd"]), np.asarray(data["loss_agd"])
    assert np.any(np.diff(lg) > 1e-12)                 # GD's loss spikes
    assert np.all(np.diff(la) <= 1e-15)                # AGD's is monotone
    assert np.all(np.asarray(data["agd_layer2_radius"]) <= 1)
    assert la[-1] < 1e-12 < lg[-1]
    mod.render(json.loads(dumps(data)), mod.QUICK)
