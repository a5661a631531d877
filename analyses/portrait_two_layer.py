"""Phase portrait of the two-layer scalar chain F = 0.5 (w2 w1 - y)^2 in the (w1, w2) plane.

Starts: the AGD paper's plateau start (1, -1) for y = 1 (on the stable manifold w1 = -w2 of the
saddle at the origin: flow and GD both go to the saddle), a start just off it (plateau, then
escape), and generic starts. Flow (scipy DOP853 at tight tolerance) as lines, GD as dots.
"""

from __future__ import annotations

import numpy as np

from dlnflow.analyses._portrait_runs import flow_and_gd_runs

NAME = "portrait_two_layer"
TITLE = "Two-layer scalar chain: (w1, w2) phase portrait, invariant hyperbolas, flow and GD runs"
CONFIG = {
    "target": 1.0,
    "starts": [[1.0, -1.0], [1.0, -0.97], [0.15, 1.7], [-1.6, 0.35]],
    "labels": ["plateau start (1, -1)", "(1, -0.97)", "generic (0.15, 1.7)",
               "generic (-1.6, 0.35)"],
    "t1": 12.0, "n_save": 600, "solver": "DOP853", "rtol": 1e-11,
    "atol": 1e-13, "eta": 0.3, "gd_starts": [1, 2, 3], "extent": [-2.0, 2.0, -2.0, 2.0],
    "grid": 81,
}
QUICK = {**CONFIG, "n_save": 150, "rtol": 1e-10, "atol": 1e-12, "grid": 41}


def compute(config: dict) -> dict:
    import dlnflow as dl

    prob = dl.Problem.scalar_chain(2, target=config["target"])
    starts, flow, gd, eta = flow_and_gd_runs(prob, config)
    return {
        "target": config["target"], "eta": eta, "starts": starts, "labels": config["labels"],
        "flow_t": flow.t, "flow_w": flow.scalar_weights(), "flow_loss": flow.loss,
        "flow_status": [str(s) for s in flow.status], "gd_starts": list(config["gd_starts"]),
        "gd_w": gd.scalar_weights(),
        "gd_valid": gd.valid, "gd_loss": gd.loss, "gd_status": [str(s) for s in gd.status],
        "solver": flow.metadata["solver"], "backend": flow.metadata["backend"],
        "rtol": config["rtol"], "atol": config["atol"], "extent": config["extent"],
        "grid": config["grid"],
    }


def overlays(data: dict) -> list[dict]:
    """Flow lines and GD dots (valid records only) as overlay dicts for the portrait."""
    flow_w = np.asarray(data["flow_w"], dtype=float)
    flow_t = np.asarray(data["flow_t"], dtype=float)
    runs = []
    for i, lab in enumerate(data["labels"]):
        ok = np.isfinite(flow_t[i])
        runs.append({"w": flow_w[i][ok], "kind": "flow", "label": f"flow, {lab}",
                     "color": None})
    gd_w = np.asarray(data["gd_w"], dtype=float)
    gd_valid = np.asarray(data["gd_valid"], dtype=bool)
    for j in range(len(data["gd_starts"])):
        runs.append({"w": gd_w[j][gd_valid[j]], "kind": "gd",
                     "label": f"GD $\\eta={data['eta']:g}$" if j == 0 else None})
    from dlnflow.plot.style import PALETTE
    for k, run in enumerate(runs):
        idx = k if run["kind"] == "flow" else data["gd_starts"][k - len(data["labels"])]
        run["color"] = PALETTE[idx % len(PALETTE)]
    return runs


def render(data: dict, config: dict):
    import dlnflow as dl
    from dlnflow import portrait as portrait_data
    from dlnflow.plot import portrait, style

    prob = dl.Problem.scalar_chain(2, target=float(data["target"]))
    fig, ax = style.figure(columns=1, aspect=1.0)
    field = portrait_data.phase_portrait_data(prob, extent=data["extent"],
                                              grid=int(data["grid"]))
    portrait.phase_portrait(ax, field, portrait_data.overlay_runs(overlays(data)))
    ax.set_title(f"$F = (w_2 w_1 - {data['target']:g})^2 / 2$: flow and GD")
    return fig


def agreement(data: dict) -> list[dict]:
    """The AGD paper's plateau start (1, -1) lies on the saddle's stable line w1 = -w2: the flow
    stays on it and its loss tends to the saddle's 0.5 y^2; every flow keeps w1^2 - w2^2."""
    y = float(data["target"])
    w = [np.asarray(x, float) for x in data["flow_w"]]
    drift = max(float(np.max(np.abs((v[:, 0]**2 - v[:, 1]**2) - (v[0, 0]**2 - v[0, 1]**2))))
                for v in w)
    off_line = float(np.max(np.abs(w[0][:, 0] + w[0][:, 1])))
    last = float(data["flow_loss"][0][-1])
    return [{"quantity": "plateau start: flow loss at the end", "paper": 0.5 * y**2,
             "ours": last, "agreement": "approaches" if abs(last - 0.5 * y**2) <
             abs(float(data["flow_loss"][0][0]) - 0.5 * y**2) else "differs"},
            {"quantity": "plateau start: max |w1 + w2| along the flow", "paper": 0.0,
             "ours": off_line, "agreement": "agrees" if off_line < 1e-8 else "differs"},
            {"quantity": "max drift of w1^2 - w2^2 (all flows)", "paper": 0.0, "ours": drift,
             "agreement": f"solver rtol {data['rtol']}"}]
