"""analyses/critical_graph: closed-form node losses and the saddle-to-saddle itinerary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlnflow.analyses import critical_graph
from dlnflow.io import dumps


def test_compute_quick_and_render():
    cfg = critical_graph.QUICK
    data = critical_graph.compute(cfg)
    s = np.array(cfg["target_diag"])
    losses = {n["id"]: n["loss"] for n in data["graph"]["nodes"]}
    # 0.5 (||s||^2 - sum_{i in S} s_i^2) for S = {}, {1}, {2}, {1,2}
    assert losses["S={}"] == pytest.approx(0.5 * np.sum(s ** 2))
    assert losses["S={1}"] == pytest.approx(0.5 * s[1] ** 2)
    assert losses["S={2}"] == pytest.approx(0.5 * s[0] ** 2)
    assert losses["S={1,2}"] == pytest.approx(0.0, abs=1e-12)
    # Saxe et al.: modes learnt in order of decreasing s
    assert data["itinerary"]["nodes"] == ["S={}", "S={1}", "S={1,2}"]
    assert data["itinerary"]["is_path"]
    fig = critical_graph.render(json.loads(dumps(data)), cfg)
    assert len(fig.axes) >= 2
