"""Local convergence rates of gradient flow and of gradient descent on one time axis t = k eta.

Scalar chain F = 0.5 (w_3 w_2 w_1 - y)^2 from an imbalanced start. Flow: the exact local rate
||grad F||^2 / (F - F*) = 2 lambda_min(T_w) (never below 2 alpha*, Min-Vidal-Mallada). GD: the
rate -ln(e_(k+1)/e_k) / eta per unit time; each tends to its Hessian prediction
-2 ln|1 - eta lambda| / eta at its own limit point, the flow's to 2 lambda.
"""

from __future__ import annotations

import numpy as np

NAME = "rates_flow_vs_gd"
TITLE = "Local rates -d ln(F - F*)/dt of gradient flow and of GD (several eta) on t = k eta"
CONFIG = {"depth": 3, "target": 1.0, "start": [0.5, 0.7, 0.9], "etas": [0.02, 0.1, 0.2, 0.3],
          "t1": 8.0, "n_save": 801, "stop_at_loss": 1e-22, "max_steps": 4000,
          "solver": "DOP853", "rtol": 1e-12, "atol": 1e-14}
QUICK = {**CONFIG, "etas": [0.1, 0.45], "n_save": 201}


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow import bounds, rates

    y = float(config["target"])
    prob = dl.Problem.scalar_chain(int(config["depth"]), y)
    w0 = np.asarray(config["start"], dtype=float)
    p0 = prob.scalar_params(w0)
    t1 = float(config["t1"])
    flow = dl.simulate(dl.GradientFlow(prob), p0, t1=t1,
                       solver=dl.Solver(config["solver"], rtol=config["rtol"],
                                        atol=config["atol"]),
                       save=dl.SaveAt(ts=np.linspace(0, t1, int(config["n_save"]))[1:-1]))
    ft, fr = rates.local_rate(flow)
    out = {
        "config": dict(config), "alpha_star": bounds.alpha_star_scalar(w0, y),
        "flow_t": ft[0], "flow_rate": fr[0], "flow_status": str(flow.status[0]),
        "flow_limit": flow.scalar_weights()[0, -1],
        "flow_rate_asymptotic": rates.flow_asymptotic_rate(prob, flow.params_final),
        "gd": [],
    }
    for eta in config["etas"]:
        gd = dl.simulate(dl.GradientDescent(prob, float(eta)), p0,
                         stop=dl.Stop(loss=float(config["stop_at_loss"]),
                                      max_steps=int(config["max_steps"])),
                         save=dl.SaveAt(every=1))
        t, r = rates.local_rate(gd)
        ok = np.isfinite(r[0])
        out["gd"].append({
            "eta": float(eta), "t": t[0][ok], "rate": r[0][ok], "status": str(gd.status[0]),
            "iterations": int(gd.steps[0]),
            "limit": np.asarray(prob.scalar_weights(gd.params_final))[0],
            "rate_asymptotic": rates.gd_asymptotic_rate(prob, gd.params_final, float(eta)),
        })
    return out


def render(data: dict, config: dict):
    from dlnflow.plot import style

    fig, ax = style.figure(columns=1, aspect=0.8)
    ft, fr = np.asarray(data["flow_t"], float), np.asarray(data["flow_rate"], float)
    ok = np.isfinite(fr)
    ax.plot(ft[ok], fr[ok], color="black", label="gradient flow")
    ax.axhline(2 * float(data["alpha_star"]), color="black", ls=":", lw=0.8,
               label=r"$2\alpha^*$ (Min-Vidal-Mallada)")
    ax.axhline(float(data["flow_rate_asymptotic"]), color="black", ls="--", lw=0.8,
               label=r"flow limit $2\lambda$")
    for j, g in enumerate(data["gd"]):
        c = style.PALETTE[j % len(style.PALETTE)]
        ax.plot(np.asarray(g["t"], float), np.asarray(g["rate"], float), ".", ms=2, color=c,
                label=rf"GD $\eta={float(g['eta']):g}$")
        ax.axhline(float(g["rate_asymptotic"]), color=c, ls="--", lw=0.6)
    ax.set_xlabel(style.TIME_LABEL)
    ax.set_ylabel(r"local rate $-\mathrm{d}\ln(F - F^*)/\mathrm{d}t$")
    ax.set_title(f"scalar chain L={data['config']['depth']}, start "
                 f"{tuple(data['config']['start'])}")
    ax.legend(loc="lower right", fontsize=6)
    return fig


def agreement(data: dict) -> list[dict]:
    """Min-Vidal-Mallada: the flow's local rate is never below 2 alpha*; at the limit each local
    rate tends to its Hessian prediction (flow 2 lambda, GD -2 ln|1 - eta lambda| / eta)."""
    bound = 2 * float(data["alpha_star"])
    rmin = float(np.min(data["flow_rate"]))
    rows = [{"quantity": "flow: least local rate / 2 alpha*", "paper": ">= 1",
             "ours": rmin / bound, "agreement": "agrees" if rmin >= bound * (1 - 1e-9)
             else "differs"},
            {"quantity": "flow: last local rate vs asymptotic 2 lambda",
             "paper": float(data["flow_rate_asymptotic"]), "ours": float(data["flow_rate"][-1]),
             "agreement": "tends to it"}]
    for g in data["gd"]:
        pred, last = float(g["rate_asymptotic"]), float(g["rate"][-1])
        rows.append({"quantity": f"GD eta = {g['eta']}: last local rate", "paper": pred,
                     "ours": last, "agreement": f"rel. diff {abs(last - pred) / pred:.1e}"})
    return rows
