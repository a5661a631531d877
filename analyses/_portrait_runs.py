"""Shared compute step of the portrait figures: flow runs from every start, GD from some."""

from __future__ import annotations

import numpy as np


def flow_and_gd_runs(prob, config: dict):
    """Flow from every start in config["starts"] (saved at n_save times up to t1) and GD with
    step eta from the starts indexed by config["gd_starts"] over the same horizon t = k eta.

    Returns (starts, flow Trajectory, gd Trajectory, eta).
    """
    import dlnflow as dl

    starts = np.asarray(config["starts"], dtype=float)
    t1 = float(config["t1"])
    ts = np.linspace(0.0, t1, int(config["n_save"]))
    flow = dl.simulate(dl.GradientFlow(prob), prob.scalar_params(starts), t1=t1,
                       solver=dl.Solver(config["solver"], rtol=config["rtol"],
                                        atol=config["atol"]),
                       save=dl.SaveAt(ts=ts))
    eta = float(config["eta"])
    gd_idx = list(config["gd_starts"])
    gd = dl.simulate(dl.GradientDescent(prob, eta), prob.scalar_params(starts[gd_idx]),
                     stop=dl.Stop(max_steps=int(np.ceil(t1 / eta))), save=dl.SaveAt(every=1))
    return starts, flow, gd, eta
