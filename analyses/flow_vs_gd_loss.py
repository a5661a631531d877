"""Loss against time for gradient flow and GD (t = k eta) on balanced scalar chains of depths
2, 4, 8 from a small start: plateau, then a sudden drop, deeper chains later; GD tracks the flow.

Reference: the balanced chain obeys p' = L p^(2-2/L) (y - p), so the flow time to reach p is
int_{p0}^{p} dq / (L q^(2-2/L) (y - q)) (checked in the test).
"""

from __future__ import annotations

import numpy as np

NAME = "flow_vs_gd_loss"
TITLE = "Loss vs time, flow and GD (t = k eta), balanced scalar chains of depth 2, 4, 8"
CONFIG = {"target": 1.0, "depths": [2, 4, 8], "p0": 0.01, "t1": 14.0, "eta": 0.05,
          "n_save": 800, "solver": "DOP853", "rtol": 1e-11, "atol": 1e-14}
QUICK = {**CONFIG, "n_save": 200, "eta": 0.1, "rtol": 1e-10, "atol": 1e-13}


def compute(config: dict) -> dict:
    import dlnflow as dl

    y = float(config["target"])
    t1 = float(config["t1"])
    eta = float(config["eta"])
    ts = np.linspace(0.0, t1, int(config["n_save"]))
    solver = dl.Solver(config["solver"], rtol=config["rtol"], atol=config["atol"])
    runs = []
    for L in config["depths"]:
        L = int(L)
        prob = dl.Problem.scalar_chain(L, target=y)
        w0 = np.full(L, float(config["p0"]) ** (1.0 / L))
        flow = dl.simulate(dl.GradientFlow(prob), prob.scalar_params(w0), t1=t1,
                           solver=solver, save=dl.SaveAt(ts=ts))
        gd = dl.simulate(dl.GradientDescent(prob, eta), prob.scalar_params(w0),
                         stop=dl.Stop(max_steps=int(np.ceil(t1 / eta))),
                         save=dl.SaveAt(every=1))
        ok_f, ok_g = flow.valid[0], gd.valid[0]
        runs.append({"depth": L, "w0": w0, "flow_t": flow.t[0][ok_f],
                     "flow_loss": flow.loss[0][ok_f], "flow_p": np.prod(
                         flow.scalar_weights()[0][ok_f], axis=-1),
                     "gd_t": gd.t[0][ok_g], "gd_loss": gd.loss[0][ok_g],
                     "flow_status": str(flow.status[0]), "gd_status": str(gd.status[0])})
    return {"target": y, "eta": eta, "p0": config["p0"], "solver": config["solver"],
            "backend": solver.backend, "rtol": config["rtol"], "atol": config["atol"],
            "runs": runs}


def render(data: dict, config: dict):
    from dlnflow.plot import style, trajectories

    fig, ax = style.figure(columns=1, aspect=0.75)
    curves = []
    for i, r in enumerate(data["runs"]):
        c = style.PALETTE[i % len(style.PALETTE)]
        curves.append({"t": r["flow_t"], "loss": r["flow_loss"], "kind": "flow", "color": c,
                       "label": f"flow, $L={r['depth']}$"})
        curves.append({"t": r["gd_t"], "loss": r["gd_loss"], "kind": "gd", "color": c,
                       "label": f"GD $\\eta={float(data['eta']):g}$, $L={r['depth']}$"})
    trajectories.loss_curves(ax, curves, floor=1e-16)
    ax.set_ylim(1e-16, 1.0)
    ax.legend(fontsize=5.5, ncol=2, loc="lower left")
    ax.set_title(f"balanced start, $p(0) = {float(data['p0']):g}$, $y = {float(data['target']):g}$")
    return fig


def agreement(data: dict) -> list[dict]:
    """Against the closed form of the balanced chain (p' = L p^(2-2/L) (y - p)): the flow time at
    which the product reaches y/2, and GD's loss against the flow's at t = k eta."""
    from dlnflow.closed_forms import balanced_chain_time

    y, p0 = float(data["target"]), float(data["p0"])
    rows = []
    for r in data["runs"]:
        t, p = np.asarray(r["flow_t"], float), np.asarray(r["flow_p"], float)
        exact = balanced_chain_time(int(r["depth"]), y, p0, y / 2)
        i = int(np.argmax(p >= y / 2))
        ours = float(np.interp(y / 2, p[i - 1:i + 1], t[i - 1:i + 1])) if i > 0 else float("nan")
        gap = float(np.max(np.abs(np.asarray(r["gd_loss"], float) - np.interp(
            r["gd_t"], t, np.asarray(r["flow_loss"], float)))))
        rows.append({"quantity": f"L={r['depth']}: time to p = y/2 (flow)", "paper": exact,
                     "ours": ours, "agreement": f"rel. diff {abs(ours - exact) / exact:.1e}"})
        rows.append({"quantity": f"L={r['depth']}: max |GD loss - flow loss| at t = k eta",
                     "paper": "O(eta)", "ours": gap, "agreement": f"eta = {data['eta']}"})
    return rows
