"""Progressive sharpening and the edge of stability in a deep linear network.

Cohen, Kaur, Li, Kolter and Talwalkar, "Gradient descent on neural networks typically occurs at
the edge of stability" (ICLR 2021): along gradient flow the sharpness (top Hessian eigenvalue)
rises (progressive sharpening); GD with step eta follows until the sharpness reaches 2/eta, then
hovers there while the loss keeps falling, non-monotonically. Setting: ``_eos_setting`` (their
deep-linear construction, scaled down). Per eta: the time t = k eta at which the sharpness first
reaches 2/eta, the mean and spread of sharpness / (2/eta) after that, the fraction of steps at
which the loss rose, the final loss beside the flow's. Sharpness by ``dlnflow.sharpness``
(dense eigh), sampled with ``simulate(..., track=Track(...))``.
"""

from __future__ import annotations

import numpy as np

from ._eos_setting import SETTING, first_crossing, problem_and_start

NAME = "edge_of_stability"
TITLE = "Deep linear network: progressive sharpening (flow) and GD at the edge of stability"
CONFIG = {**SETTING, "horizon": 30.0, "etas": [0.045, 0.049, 0.05, 0.051, 0.052],
          "samples": 150, "rtol": 1e-9, "atol": 1e-11}
QUICK = {**CONFIG, "horizon": 12.0, "etas": [0.045, 0.05, 0.052], "samples": 40}


def compute(config: dict) -> dict:
    import dlnflow as dl

    prob, p0 = problem_and_start(config)
    T = float(config["horizon"])
    n_samp = int(config["samples"])
    flow = dl.simulate(dl.GradientFlow(prob), p0, t1=T,
                       solver=dl.Solver("DOP853", rtol=config["rtol"], atol=config["atol"]),
                       save=dl.SaveAt(ts=np.linspace(0, T, 201)),
                       track=dl.Track(every=T / n_samp))
    fs = flow.tracked["sharpness"].run(0)
    valid = np.asarray(flow.valid[0], bool)
    runs = []
    for eta in config["etas"]:
        eta = float(eta)
        N = int(round(T / eta))
        gd = dl.simulate(dl.GradientDescent(prob, eta), p0, stop=dl.Stop(max_steps=N),
                         save=dl.SaveAt(every=1), track=dl.Track(every=max(1, N // n_samp)))
        tr = gd.tracked["sharpness"].run(0)
        t_s, s = np.asarray(tr.times[0], float), np.asarray(tr.values[0], float)
        loss = np.asarray(gd.loss[0], float)[np.asarray(gd.valid[0], bool)]
        thr = 2.0 / eta
        i = first_crossing(t_s, s, thr)
        ratio = s[i:] / thr if i is not None else np.array([])
        k0 = 0 if i is None else int(round(t_s[i] / eta))
        runs.append({
            "eta": eta, "threshold": thr, "status": str(gd.status[0]),
            "t_cross": None if i is None else float(t_s[i]),
            "ratio_mean": float(ratio.mean()) if ratio.size else None,
            "ratio_std": float(ratio.std()) if ratio.size else None,
            "loss_rose_fraction": float(np.mean(np.diff(loss) > 0)),
            "loss_rose_fraction_after": (float(np.mean(np.diff(loss[k0:]) > 0))
                                         if i is not None else None),
            "loss_final": float(loss[-1]),
            "t": list(np.arange(loss.size) * eta), "loss": loss,
            "t_sharpness": t_s, "sharpness": s,
        })
    reached = [r for r in runs if r["t_cross"] is not None]
    flow_max = float(np.nanmax(fs.values[0]))
    agreement = {
        "progressive_sharpening_flow": {"sharpness_start": float(fs.values[0][0]),
                                        "sharpness_max": flow_max},
        "threshold_over_flow_max": [r["threshold"] / flow_max for r in runs],
        "reached_2_over_eta": [r["t_cross"] is not None for r in runs],
        "hover_mean_ratio": [r["ratio_mean"] for r in reached],
        "paper": "Cohen et al.: sharpness rises to 2/eta and hovers just above it while the "
                 "loss keeps falling non-monotonically. Here (DLN L=6, d=3): the flow sharpens "
                 "20-fold (saddle escape, then slowly); GD reaches 2/eta whenever 2/eta is "
                 "below the flow's peak and its time-mean sharpness/(2/eta) is within a few "
                 "percent of 1 (agrees). The eta window is narrow (2/eta in about [38, 41]): at "
                 "the larger etas GD settles into a period-2 oscillation whose two phases "
                 "straddle 2/eta (spread 0.15-0.25), the loss rises at almost half the steps "
                 "and ends above the flow's (partly agrees: non-monotone, but slower), beyond it "
                 "GD leaves the basin or cycles (no edge of stability).",
    }
    return {"config": dict(config), "flow": {
        "t": np.asarray(flow.t[0], float)[valid], "loss": np.asarray(flow.loss[0])[valid],
        "t_sharpness": np.asarray(fs.times[0], float), "sharpness": np.asarray(fs.values[0]),
        "loss_final": float(flow.loss_final[0])}, "runs": runs, "agreement": agreement}


def render(data: dict, config: dict):
    from dlnflow.plot import style

    fig, (ax0, ax1) = style.figure(columns=2, aspect=0.45, nrows=1, ncols=2)
    fl = data["flow"]
    ax0.semilogy(fl["t"], fl["loss"], color="black", lw=1.2, label="gradient flow")
    ax1.plot(fl["t_sharpness"], fl["sharpness"], color="black", lw=1.2, label="gradient flow")
    for j, r in enumerate(data["runs"]):
        col = style.PALETTE[j % len(style.PALETTE)]
        lab = rf"GD $\eta={float(r['eta']):g}$"
        ax0.semilogy(r["t"], r["loss"], color=col, lw=0.6, label=lab)
        ax1.plot(r["t_sharpness"], r["sharpness"], ".", color=col, ms=1.8, label=lab)
        ax1.axhline(float(r["threshold"]), color=col, ls=":", lw=0.8)
    ax0.set_xlabel(r"time $t = k\eta$")
    ax0.set_ylabel("training loss")
    ax0.legend(fontsize=6, loc="upper right")
    ax1.set_xlabel(r"time $t = k\eta$")
    ax1.set_ylabel(r"sharpness $\lambda_{\max}(\nabla^2 F)$ (dotted: $2/\eta$)")
    ax1.legend(fontsize=6, loc="lower right", markerscale=4)
    ax1.set_title("dots: samples (period-2 oscillation shows as two bands)", fontsize=7)
    return fig
