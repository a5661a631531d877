"""Quick run of the imbalance-drift analysis: flow drift falls with tolerance, GD slope 2."""

import json

import matplotlib
import numpy as np
import pytest

from dlnflow import fitting
from dlnflow.analyses import imbalance_drift as mod
from dlnflow.io import dumps


@pytest.fixture(scope="module")
def data():
    return mod.compute(mod.QUICK)


def test_flow_drift_decreases_with_tolerance(data):
    q = mod.QUICK
    assert len(data["flows"]) == (len(q["diffrax_solvers"]) * len(q["diffrax_problems"])
                                  + len(q["scipy_solvers"]) * len(q["scipy_problems"])) == 4
    assert {(f["solver"], f["problem"]) for f in data["flows"]} == {
        (s, p) for s in ("RK45", "Radau") for p in ("scalar", "matrix")}
    for f in data["flows"]:
        assert all(s == "completed" for s in f["status"])
        d = np.asarray(f["drift"])
        assert d[-1] < 1e-2 * d[0], f            # rtol 1e-4 -> 1e-9
        assert d[-1] < 1e-8


def test_gd_drift_slope_two_and_exact_identity(data):
    for g in data["gd"].values():
        assert g["slope_per_step"]["slope"] == pytest.approx(2.0, rel=0.05)
        assert max(g["exact_rel_err"]) < 1e-9     # invariants.gd_imbalance_change is exact
        # over a fixed horizon T the T/eta steps add up to O(eta)
        assert g["slope_horizon"]["slope"] == pytest.approx(1.0, abs=0.2)


def test_loglog_slope_on_power_law():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert fitting.loglog_slope(x, 3 * x**2.5)["slope"] == pytest.approx(2.5, rel=1e-12)


def test_render(data):
    fig = mod.render(json.loads(dumps(data)), mod.QUICK)
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)
