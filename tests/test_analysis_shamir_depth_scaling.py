"""Quick run of the Shamir depth-scaling analysis, checked against independent facts."""

import json

import matplotlib
import numpy as np
import pytest

from dlnflow.analyses import shamir_depth_scaling as mod
from dlnflow.io import dumps


@pytest.fixture(scope="module")
def data():
    return mod.compute(mod.QUICK)


def test_gaussian_rate_positive(data):
    fit = data["series"]["gaussian"]["fit"]
    assert fit["slope"] > 0
    assert fit["ci"][0] > 0, fit          # bootstrap interval excludes 0
    assert fit["excluded"] == []


def test_near_identity_sign_matters(data):
    neg, pos = data["series"]["near_id_neg"], data["series"]["near_id_pos"]
    for rn, rp in zip(neg["runs"], pos["runs"], strict=True):
        assert rp["status_counts"] == {"converged": mod.QUICK["seeds"]}
        assert rn["quartiles"][1] > 20 * rp["quartiles"][1]
    assert neg["fit"]["ci"][0] > 0
    assert pos["fit"]["slope"] < 0.1       # the control does not slow down with depth


def test_censored_runs_reported(data):
    for s in data["series"].values():
        for r, c in zip(s["runs"], s["censored"], strict=True):
            assert sum(r["status_counts"].values()) == len(r["steps"])
            assert c == len(r["steps"]) - r["status_counts"].get("converged", 0)
            assert c == len(r["steps"]) - sum(r["converged"])


def test_flow_time_matches_gd_time(data):
    # Independent solvers: GD iterations * eta against the Radau flow time, same starts.
    flow, g = data["flow"], data["series"]["gaussian"]
    eta = mod.QUICK["eta"]
    for i, L in enumerate(flow["depths"]):
        j = g["depths"].index(L)
        k = np.asarray(g["runs"][j]["steps"][: mod.QUICK["flow_seeds"]], dtype=float)
        ratio = np.asarray(flow["t_final"][i]) / (k * eta)
        assert 0.9 < np.median(ratio) < 1.1
        assert all(s == "converged" for s in flow["status"][i])
        # the adaptive solver needs far fewer steps than GD needs iterations on slow runs
        assert np.max(flow["steps"][i]) < 200


def test_render_after_json(data):
    fig = mod.render(json.loads(dumps(data)), mod.QUICK)
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)


def test_sweep_cells_land_at_their_depths(data):
    """The grid runs as sweep cells: each depth's counts are those of a direct batched run of
    that family at that depth (cells gathered in grid order, none mixed up)."""
    import dlnflow as dl

    cfg = mod.QUICK
    for family, y, make in (
            ("gaussian", 1.0, lambda p, L: dl.init.gaussian(p, cfg["seed"] + L,
                                                           batch=cfg["seeds"])),
            ("near_id_neg", -1.0, lambda p, L: dl.init.near_identity(
                p, cfg["seed"] + 100 + L, batch=cfg["seeds"], noise=cfg["near_identity_noise"]))):
        s = data["series"][family]
        L = s["depths"][-1]
        prob = dl.Problem.scalar_chain(L, y)
        traj = dl.simulate(dl.GradientDescent(prob, cfg["eta"]), make(prob, L),
                           stop=dl.Stop(loss=cfg["threshold"], max_steps=cfg["max_steps"]),
                           save=dl.SaveAt(every=cfg["max_steps"]))
        assert s["runs"][-1]["steps"] == np.asarray(traj.steps).tolist()
        assert sum(s["runs"][-1]["converged"]) == sum(st == "converged" for st in traj.status)
