"""Gradient descent's convergence rate per unit time as a function of the step size eta.

At a limit point with transverse Hessian eigenvalue lambda the loss contracts by
(1 - eta lambda)^2 per step: rate -2 ln|1 - eta lambda| / eta, which tends to the flow's 2 lambda
as eta -> 0, blows up at eta lambda = 1 (rank-one Hessian: one-step contraction) and falls to 0 at
the stability threshold eta = 2 / lambda. Measured: the average rate ln(e_0 / e_K) / (K eta) to
reach a loss, and the asymptotic rate at GD's own limit (GD moves the imbalance, so its limit and
lambda depend on eta).
"""

from __future__ import annotations

import numpy as np

NAME = "gd_rate_vs_eta"
TITLE = "GD rate vs step size: flow rate as eta -> 0, peak, collapse at eta = 2/lambda_max"
CONFIG = {"depth": 3, "target": 1.0, "start": [0.5, 0.7, 0.9],
          "fractions": [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99,
                        1.05],
          "stop_at_loss": 1e-14, "max_steps": 20000, "rtol": 1e-11, "atol": 1e-13}
QUICK = {**CONFIG, "fractions": [0.02, 0.25, 0.5, 0.8], "max_steps": 4000}


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow import rates

    prob = dl.Problem.scalar_chain(int(config["depth"]), float(config["target"]))
    p0 = prob.scalar_params(np.asarray(config["start"], float))
    stop = float(config["stop_at_loss"])
    flow = dl.simulate(dl.GradientFlow(prob), p0, t1=1e3,
                       solver=dl.Solver("DOP853", rtol=config["rtol"], atol=config["atol"]),
                       stop=dl.Stop(loss=stop * 1e-4))
    lam_flow = float(rates.transverse_eigenvalues(prob, flow.params_final).max())
    threshold = rates.stability_threshold(prob, flow.params_final)
    e0 = float(prob.excess_loss(tuple(W for W in p0)))
    rows = []
    for frac in config["fractions"]:
        eta = float(frac) * threshold
        gd = dl.simulate(dl.GradientDescent(prob, eta), p0,
                         stop=dl.Stop(loss=stop, max_steps=int(config["max_steps"])))
        conv = gd.status[0] == "converged"
        k = int(gd.steps[0])
        lam = (float(rates.transverse_eigenvalues(prob, gd.params_final).max()) if conv
               else float("nan"))
        rows.append({
            "fraction": float(frac), "eta": eta, "status": str(gd.status[0]), "iterations": k,
            "rate_average": float(np.log(e0 / gd.loss_final[0]) / (k * eta)) if conv else 0.0,
            "rate_asymptotic": rates.gd_asymptotic_rate(prob, gd.params_final, eta) if conv
            else 0.0,
            "lambda_limit": lam,
            "limit": np.asarray(prob.scalar_weights(gd.params_final))[0],
        })
    return {"config": dict(config), "lambda_flow": lam_flow, "threshold": threshold,
            "flow_rate": 2 * lam_flow,
            "flow_limit": np.asarray(prob.scalar_weights(flow.params_final))[0],
            "flow_time": float(flow.t_final[0]), "e0": e0,
            "rows": rows}


def render(data: dict, config: dict):
    from dlnflow.plot import style

    lam, thr = float(data["lambda_flow"]), float(data["threshold"])
    rows = data["rows"]
    eta = np.array([float(r["eta"]) for r in rows])
    fig, ax = style.figure(columns=1, aspect=0.8)
    grid = np.linspace(1e-3 * thr, thr, 600)
    with np.errstate(divide="ignore"):
        theory = -2 * np.log(np.abs(1 - grid * lam)) / grid
    ax.plot(grid / thr, np.minimum(theory, 20 * lam), color="black", lw=0.8,
            label=r"$-2\ln|1-\eta\lambda|/\eta$, $\lambda$ of the flow's limit")
    ax.plot(eta / thr, [min(float(r["rate_asymptotic"]), 20 * lam) for r in rows], "o",
            label="GD asymptotic (Hessian at GD's limit)")
    ax.plot(eta / thr, [float(r["rate_average"]) for r in rows], "s",
            label="GD average rate to $F - F^* = {:g}$".format(
                float(data["config"]["stop_at_loss"])))
    ax.axhline(float(data["flow_rate"]), color="gray", ls="--", lw=0.8,
               label=r"flow: $2\lambda$")
    ax.axvline(1.0, color="gray", ls=":", lw=0.8)
    ax.set_xlabel(r"$\eta / (2/\lambda_{\max})$")
    ax.set_ylabel("rate per unit time")
    ax.set_yscale("log")
    ax.legend(fontsize=6)
    return fig


def agreement(data: dict) -> list[dict]:
    """The prediction -2 ln|1 - eta lambda| / eta (lambda of the flow's limit) against GD's
    asymptotic rate at its own limit and its average rate to the threshold, per step size;
    the flow's rate 2 lambda is the eta -> 0 limit."""
    from dlnflow.rates import gd_rate_from_eigenvalues

    lam = float(data["lambda_flow"])
    small = min(data["rows"], key=lambda r: float(r["eta"]))
    near = float(small["rate_asymptotic"])
    rows = [{"quantity": f"GD rate as eta -> 0 (eta = {small['fraction']} x 2/lambda) vs the "
             "flow's 2 lambda", "paper": 2 * lam, "ours": near,
             "agreement": f"rel. diff {abs(near - 2 * lam) / (2 * lam):.1e}"}]
    peak = max(float(r["rate_asymptotic"]) for r in data["rows"])
    for r in data["rows"]:
        eta = float(r["eta"])
        pred = gd_rate_from_eigenvalues([lam], eta)
        ours = float(r["rate_asymptotic"])
        label = (f"GD rate at eta = {r['fraction']} x 2/lambda "
                 f"(average {float(r['rate_average']):.4g})")
        if np.isfinite(pred):
            agree = f"rel. diff {abs(ours - pred) / pred:.1e} ({r['status']})"
        else:                                   # eta lambda = 1: one-step contraction
            agree = "peak of the measured rates" if ours == peak else "differs"
        rows.append({"quantity": label, "paper": pred if np.isfinite(pred) else
                     "unbounded (eta lambda = 1)", "ours": ours, "agreement": agree})
    return rows
