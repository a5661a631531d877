"""Reduced phase portrait of a depth-4 scalar chain on the invariant surface w2 = w3 = w4.

The flow conserves every w_i^2 - w_j^2, and GD keeps equal weights equal (equal gradients), so
the surface S = {w3 = w4 = w2} is invariant for both and (w1, w2) are exact coordinates on it.
On S the line w2 = 0 consists of critical points with three or four zero weights: non-strict
saddles (vanishing Hessian), the escape from which is of higher order (Shamir's slow regime).
"""

from __future__ import annotations

from dlnflow.analyses._portrait_runs import flow_and_gd_runs

NAME = "portrait_deep"
TITLE = "Depth-4 scalar chain: exact reduced portrait on the invariant surface w2 = w3 = w4"
CONFIG = {
    "target": 1.0, "depth": 4,
    "starts": [[1.8, 0.25, 0.25, 0.25], [-0.6, 1.3, 1.3, 1.3], [0.3, -1.2, -1.2, -1.2],
               [-1.7, -0.5, -0.5, -0.5]],
    "labels": ["(1.8, 0.25)", "(-0.6, 1.3)", "(0.3, -1.2)", "(-1.7, -0.5)"],
    "t1": 12.0, "n_save": 600, "solver": "DOP853", "rtol": 1e-11,
    "atol": 1e-13, "eta": 0.12, "gd_starts": [1, 2], "extent": [-2.0, 2.0, -2.0, 2.0],
    "grid": 81,
}
QUICK = {**CONFIG, "n_save": 150, "rtol": 1e-10, "atol": 1e-12, "grid": 41}


def compute(config: dict) -> dict:
    import dlnflow as dl

    L = int(config["depth"])
    prob = dl.Problem.scalar_chain(L, target=config["target"])
    starts, flow, gd, eta = flow_and_gd_runs(prob, config)
    return {
        "target": config["target"], "depth": L, "eta": eta, "starts": starts,
        "labels": config["labels"], "flow_t": flow.t, "flow_w": flow.scalar_weights(),
        "flow_loss": flow.loss, "flow_status": [str(s) for s in flow.status],
        "gd_starts": list(config["gd_starts"]),
        "gd_w": gd.scalar_weights(), "gd_valid": gd.valid, "gd_loss": gd.loss,
        "gd_status": [str(s) for s in gd.status], "solver": flow.metadata["solver"],
        "backend": flow.metadata["backend"], "rtol": config["rtol"], "atol": config["atol"],
        "extent": config["extent"], "grid": config["grid"],
    }


def render(data: dict, config: dict):
    import dlnflow as dl
    from dlnflow import portrait as portrait_data
    from dlnflow.analyses.portrait_two_layer import overlays
    from dlnflow.plot import portrait, style

    L = int(data["depth"])
    prob = dl.Problem.scalar_chain(L, target=float(data["target"]))
    fig, ax = style.figure(columns=1, aspect=1.0)
    field = portrait_data.reduced_portrait_data(prob, offsets=[0.0] * (L - 2),
                                                signs=[1.0] * (L - 2), extent=data["extent"],
                                                grid=int(data["grid"]))
    portrait.reduced_portrait(ax, field, portrait_data.overlay_runs(overlays(data)))
    ax.set_title(f"depth {L}, $y = {float(data['target']):g}$, surface "
                 "$w_2 = w_3 = w_4$")
    return fig


def agreement(data: dict) -> list[dict]:
    """Exact facts the reduced portrait rests on: the flow conserves w_1^2 - w_2^2, and GD keeps
    w_2 = w_3 = w_4 (equal gradients), so the surface is invariant for both."""
    import numpy as np

    flow = [np.asarray(w, float) for w in data["flow_w"]]
    drift = max(float(np.max(np.abs((w[:, 0]**2 - w[:, 1]**2) - (w[0, 0]**2 - w[0, 1]**2))))
                for w in flow)
    gd = [np.asarray(w, float)[np.asarray(v, bool)] for w, v in zip(data["gd_w"],
                                                                       data["gd_valid"],
                                                                       strict=True)]
    spread = max(float(np.max(np.ptp(w[:, 1:], axis=1))) for w in gd)
    return [{"quantity": "flow: max drift of w1^2 - w2^2", "paper": 0.0, "ours": drift,
             "agreement": f"solver rtol {data['rtol']}"},
            {"quantity": "GD: max spread of w2, w3, w4", "paper": 0.0, "ours": spread,
             "agreement": "exact" if spread == 0.0 else "rounding"}]
