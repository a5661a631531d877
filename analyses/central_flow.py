"""The central flow tracks gradient descent at the edge of stability; the flow and the modified
flow do not.

Cohen, Damian, Talwalkar, Kolter and Lee, "Understanding optimization in deep learning with
central flows" (ICLR 2025): at the edge of stability GD's time-averaged iterates follow
dw/dt = -(grad F + sigma^2 grad S / 2), sigma^2 holding the sharpness S at 2/eta
(``dlnflow.systems.CentralFlow``), and GD's time-averaged loss is F + sigma^2 / eta. GD's time
average is the authors' second-order midpoint w*_k = (w_(k-1) + 2 w_k + w_(k+1)) / 4
(locuslab/central_flows, ``MidpointProcess``), its loss averaged the same way. On the setting
of ``_eos_setting`` we run GD at eta, the gradient flow, the modified flow
(F + (eta/4) ||grad F||^2) and the central flow, compare them at t = k eta, and report the
distances to w*_k on the window where the central flow is on the edge (sigma^2 > 0).
"""

from __future__ import annotations

import numpy as np

from ._eos_setting import SETTING, problem_and_start

NAME = "central_flow"
TITLE = "Distance to GD's time-averaged iterates: central flow vs gradient flow vs modified flow"
CHAIN = {"name": "scalar chain L=3", "chain_start": [0.2, 0.3, 1.5], "target": 1.0, "eta": 0.7,
         "horizon": 60.0}
DLN = {"name": "DLN L=6, d=3", **SETTING, "eta": 0.052, "horizon": 10.0}
CONFIG = {"cases": [CHAIN, DLN], "rtol": 1e-9, "atol": 1e-11}
QUICK = {**CONFIG, "cases": [{**CHAIN, "horizon": 30.0}]}
FLOWS = ("gradient", "modified", "central")


def _flat_records(prob, traj) -> np.ndarray:
    """(N, P) flat states of run 0's valid records."""
    import jax

    valid = np.asarray(traj.valid[0], bool)
    layers = tuple(np.asarray(W[0])[valid] for W in traj.params)
    return np.asarray(jax.vmap(prob.flatten)(layers))


def compute(config: dict) -> dict:
    cases = [_case({**case, "rtol": config["rtol"], "atol": config["atol"]})
             for case in config["cases"]]
    return {"config": dict(config), "cases": cases}


def _case(config: dict) -> dict:
    import jax

    import dlnflow as dl
    from dlnflow.systems import CentralFlow

    prob, p0 = problem_and_start(config)
    eta, T = float(config["eta"]), float(config["horizon"])
    N = int(round(T / eta))
    gd = dl.simulate(dl.GradientDescent(prob, eta), p0, stop=dl.Stop(max_steps=N),
                     save=dl.SaveAt(every=1))
    w = _flat_records(prob, gd)
    f = np.asarray(gd.loss[0], float)[np.asarray(gd.valid[0], bool)]
    K = w.shape[0] - 1                                   # iterates w_0 .. w_K
    mid = (w[:-2] + 2 * w[1:-1] + w[2:]) / 4             # w*_k, k = 1 .. K-1
    f_mid = (f[:-2] + 2 * f[1:-1] + f[2:]) / 4
    t = np.arange(1, K) * eta
    ts = np.arange(K + 1) * eta
    solver = dl.Solver("DOP853", rtol=config["rtol"], atol=config["atol"])
    central = CentralFlow(prob, eta)
    systems = {"gradient": dl.GradientFlow(prob), "modified": dl.ModifiedFlow(prob, eta),
               "central": central}
    out, status = {}, {}
    for name, system in systems.items():
        traj = dl.simulate(system, p0, t1=float(ts[-1]), solver=solver, save=dl.SaveAt(ts=ts))
        status[name] = str(traj.status[0])
        x = _flat_records(prob, traj)
        out[name] = {"distance": np.linalg.norm(mid - x[1:K], axis=1),
                     "loss": np.asarray(jax.vmap(prob.loss_flat)(x[1:K]))}
        if name == "central":
            terms = jax.vmap(central.terms_flat)(x[1:K])
            sigma2 = np.asarray(terms["sigma2"])
            out[name]["sharpness"] = np.asarray(terms["sharpness"])
            out[name]["sigma2"] = sigma2
            out[name]["predicted_loss"] = out[name]["loss"] + sigma2 / eta
    edge = np.flatnonzero(out["central"]["sigma2"] > 0)
    k0 = int(edge[0]) if edge.size else len(t)
    window = slice(k0, len(t))
    summary = {}
    for name in FLOWS:
        dist = out[name]["distance"][window]
        summary[name] = {"mean": float(dist.mean()) if dist.size else None,
                         "max": float(dist.max()) if dist.size else None,
                         "final": float(out[name]["distance"][-1])}
    pred = out["central"]["predicted_loss"][window]
    rel = np.abs(pred / f_mid[window] - 1) if pred.size else np.array([np.nan])
    rel_gf = np.abs(out["gradient"]["loss"][window] / f_mid[window] - 1) if pred.size else rel
    c = summary["central"]["mean"]
    agreement = {
        "t_edge": float(t[k0]) if edge.size else None,
        "mean_distance_ratio_gradient_over_central":
            summary["gradient"]["mean"] / c if c else None,
        "mean_distance_ratio_modified_over_central":
            summary["modified"]["mean"] / c if c else None,
        "predicted_loss_mean_rel_error": float(np.mean(rel)),
        "gradient_flow_loss_mean_rel_error": float(np.mean(rel_gf)),
        "central_sharpness_over_threshold": [float(np.min(out["central"]["sharpness"][window])
                                                   * eta / 2) if pred.size else None,
                                             float(np.max(out["central"]["sharpness"][window])
                                                   * eta / 2) if pred.size else None],
        "paper": "Cohen et al. (2025) report the central flow tracking GD's time-averaged "
                 "trajectory and loss with high numerical accuracy on real networks; on this "
                 "deep linear network we measure by how much it beats the flow and the modified "
                 "flow (ratios above) and the error of its loss prediction.",
    }
    return {"name": config["name"], "eta": eta, "t": t, "gd_loss": f[1:K], "gd_loss_mid": f_mid,
            "flows": out, "status": status, "summary": summary, "agreement": agreement}


def render(data: dict, config: dict):
    from dlnflow.plot import style

    fig, axes = style.figure(columns=2, aspect=0.4, nrows=1, ncols=3)
    _draw_case(data["cases"][0], axes[0], axes[1], style)
    ax2 = axes[2]
    width = 0.8 / len(FLOWS)
    names = [c["name"] for c in data["cases"]]
    for j, name in enumerate(FLOWS):
        means = [float(c["summary"][name]["mean"]) for c in data["cases"]]
        ax2.bar(np.arange(len(names)) + (j - 1) * width, means, width,
                color=style.PALETTE[j], label=LABELS[name])
    ax2.set_yscale("log")
    top = max(float(c["summary"][n]["mean"]) for c in data["cases"] for n in FLOWS)
    ax2.set_ylim(top=6 * top)
    ax2.set_xticks(np.arange(len(names)), names, fontsize=6)
    ax2.set_ylabel("mean distance on the edge", fontsize=7)
    ax2.legend(fontsize=6, loc="upper left")
    return fig


LABELS = {"gradient": "gradient flow", "modified": "modified flow", "central": "central flow"}


def _draw_case(data: dict, ax0, ax1, style) -> None:
    t = np.asarray(data["t"], float)
    ax0.semilogy(t, data["gd_loss"], color="0.75", lw=0.5, label="GD")
    ax0.semilogy(t, data["gd_loss_mid"], color="black", lw=1.0, label="GD, time-averaged")
    for j, name in enumerate(FLOWS):
        fl = data["flows"][name]
        col = style.PALETTE[j]
        ax0.semilogy(t, fl["loss"], color=col, lw=0.9, label=LABELS[name])
        ax1.semilogy(t, fl["distance"], color=col, lw=0.9, label=LABELS[name])
    ax0.semilogy(t, data["flows"]["central"]["predicted_loss"], color=style.PALETTE[2],
                 ls="--", lw=0.9, label=r"central flow: $F + \sigma^2/\eta$")
    te = data["agreement"]["t_edge"]
    if te is not None:
        for ax in (ax0, ax1):
            ax.axvline(float(te), color="gray", ls=":", lw=0.7)
    low = min(np.min(data["gd_loss_mid"]), np.min(data["flows"]["central"]["loss"]))
    ax0.set_ylim(0.1 * low, 3 * max(np.max(data["gd_loss"]), np.max(data["gd_loss_mid"])))
    ax0.set_xlabel(r"time $t = k\eta$")
    ax0.set_ylabel("training loss")
    ax0.legend(fontsize=5, loc="lower left", ncol=2)
    ax1.set_xlabel(r"time $t = k\eta$")
    ax1.set_ylabel(r"$\|w^*_k - w(k\eta)\|$ (GD time average)")
    ax0.set_title(f"{data['name']}, $\\eta = {float(data['eta']):g}$", fontsize=8)
    ax1.set_title(r"dotted: central flow reaches $S = 2/\eta$", fontsize=8)
    ax1.legend(fontsize=6, loc="lower right")


def agreement(data: dict) -> list[dict]:
    """Per case, on the window where the central flow is on the edge (sigma^2 > 0): its mean
    distance to GD's time-averaged iterates against the flow's and the modified flow's (Cohen et
    al. 2025: the central flow tracks the time average), its loss prediction F + sigma^2/eta
    against GD's time-averaged loss, and its sharpness held at 2/eta."""
    rows = []
    for case in data["cases"]:
        name, s, a = case["name"], case["summary"], case["agreement"]
        c = s["central"]["mean"]
        if c is None:
            rows.append({"quantity": f"{name}: edge of stability", "paper": "reached",
                         "ours": "not reached", "agreement": "no window to compare"})
            continue
        rows.append({"quantity": f"{name}: mean distance to GD's time average, t >= "
                     f"{a['t_edge']:g}", "paper": "central flow closest", "ours": c,
                     "agreement": f"gradient flow x{s['gradient']['mean'] / c:.3g}, modified "
                     f"flow x{s['modified']['mean'] / c:.3g} farther"})
        rows.append({"quantity": f"{name}: GD's time-averaged loss vs F + sigma^2/eta, mean "
                     "rel. error", "paper": "accurate", "ours": a["predicted_loss_mean_rel_error"],
                     "agreement": f"gradient flow's loss: "
                     f"{a['gradient_flow_loss_mean_rel_error']:.3g}"})
        lo, hi = a["central_sharpness_over_threshold"]
        rows.append({"quantity": f"{name}: central flow's sharpness x eta/2 on the edge",
                     "paper": 1.0, "ours": f"[{lo:.4g}, {hi:.4g}]",
                     "agreement": ("held at 2/eta (within 5%)"
                                   if abs(lo - 1) < 0.05 and abs(hi - 1) < 0.05
                                   else "off the edge part of the window")})
    return rows
