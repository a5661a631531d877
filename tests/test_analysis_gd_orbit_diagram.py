"""gd_orbit_diagram: first period doubling at eta* = 2 / (L |y|^(2-2/L)) within the grid step."""

import json

import numpy as np

import dlnflow.analyses.gd_orbit_diagram as m
from dlnflow.io import dumps


def test_orbit_diagram_threshold_and_render():
    data = m.compute(m.QUICK)
    y = data["target"]
    for d in data["panels"]:
        L = d["depth"]
        thr = 2.0 / (L * abs(y) ** (2 - 2 / L))
        assert abs(d["first_doubling"] - thr) <= 1.5 * d["eta_step"], (L, d["first_doubling"])
        # Hessian at the limit reached agrees with the closed form, and the run is stable
        assert abs(d["lambda_max_limit"] - L * abs(y) ** (2 - 2 / L)) < 1e-4
        assert d["limit_eta"] * d["lambda_max_limit"] < 2
        # a period-2 orbit just above the threshold: two distinct values, p_{k+2} = p_k
        p = np.asarray(d["p"])
        eta = np.asarray(d["eta"])
        i = int(np.searchsorted(eta, 1.1 * thr))
        assert np.max(np.abs(p[i, 2:] - p[i, :-2])) < 1e-8
        assert abs(p[i, 1] - p[i, 0]) > 1e-2
        # below: a single value, y
        j = int(np.searchsorted(eta, 0.9 * thr))
        assert np.max(np.abs(p[j] - y)) < 1e-8
    fig = m.render(json.loads(dumps(data)), m.QUICK)
    assert fig.axes
