import json

import numpy as np
import pytest

from dlnflow.analyses import gd_flow_distance as an
from dlnflow.io import dumps


def test_gd_flow_distance_quick():
    data = an.compute(an.QUICK)
    # Elkabetz-Cohen: O(eta); backward error analysis: O(eta^2) (within 10%)
    assert data["slope_plain"] == pytest.approx(1.0, rel=0.1)
    assert data["slope_modified"] == pytest.approx(2.0, rel=0.1)
    assert np.all(data["modified"] < data["plain"])
    for c in data["curves"]:
        assert c["plain"][0] == 0.0 and c["modified"][0] == 0.0
        assert c["t"][-1] == pytest.approx(an.QUICK["horizon"])
        assert len(c["t"]) == round(an.QUICK["horizon"] / c["eta"]) + 1
    fig = an.render(json.loads(dumps(data)), an.QUICK)
    assert len(fig.axes) == 2
