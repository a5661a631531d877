"""Distance between gradient descent and the flow at the same time t = k eta, against eta.

max_{k eta <= T} ||w_GD(k) - w(k eta)|| is O(eta) for the gradient flow (Elkabetz and Cohen)
and O(eta^2) for the modified flow of F + (eta/4) ||grad F||^2 (backward error analysis,
Barrett and Dherin): slopes 1 and 2 on a log-log plot. Flows solved by DOP853 (dense output)
at tight tolerances, saved exactly at the GD times.
"""

from __future__ import annotations

import numpy as np

NAME = "gd_flow_distance"
TITLE = "max ||w_GD(k) - w(k eta)|| vs eta: slope 1 (gradient flow), slope 2 (modified flow)"
CONFIG = {"depth": 3, "target": 1.0, "start": [0.5, 0.7, 0.9], "horizon": 3.0,
          "etas": [0.08, 0.04, 0.02, 0.01, 0.005, 0.0025], "rtol": 1e-12, "atol": 1e-14}
QUICK = {**CONFIG, "etas": [0.04, 0.02, 0.01]}


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow import fitting, rates

    prob = dl.Problem.scalar_chain(int(config["depth"]), float(config["target"]))
    p0 = prob.scalar_params(np.asarray(config["start"], float))
    etas = np.asarray(config["etas"], float)
    kw = {"horizon": float(config["horizon"]), "rtol": config["rtol"], "atol": config["atol"]}
    plain, modified, curves = [], [], []
    for eta in etas:
        a = rates.gd_flow_distance(prob, p0, float(eta), **kw)
        b = rates.gd_flow_distance(prob, p0, float(eta), modified=True, gd=a["gd"], **kw)
        plain.append(a["max"])
        modified.append(b["max"])
        curves.append({"eta": float(eta), "t": a["t"], "plain": a["distance"],
                       "modified": b["distance"]})
    return {"config": dict(config), "etas": etas, "plain": np.array(plain),
            "modified": np.array(modified),
            "slope_plain": fitting.loglog_slope(etas, plain)["slope"],
            "slope_modified": fitting.loglog_slope(etas, modified)["slope"], "curves": curves}


def render(data: dict, config: dict):
    from dlnflow.plot import style

    etas = np.asarray(data["etas"], float)
    plain, mod = np.asarray(data["plain"], float), np.asarray(data["modified"], float)
    fig, (ax0, ax1) = style.figure(columns=2, aspect=0.4, nrows=1, ncols=2)
    ax0.loglog(etas, plain, "o-", label=f"gradient flow (slope {data['slope_plain']:.3f})")
    ax0.loglog(etas, mod, "s-", label=f"modified flow (slope {data['slope_modified']:.3f})")
    ref = etas / etas[-1]
    ax0.loglog(etas, plain[-1] * ref, "k:", lw=0.7, label=r"$\propto\eta$")
    ax0.loglog(etas, mod[-1] * ref**2, "k--", lw=0.7, label=r"$\propto\eta^2$")
    from matplotlib.ticker import NullFormatter

    ax0.xaxis.set_minor_formatter(NullFormatter())
    ax0.set_xlabel(r"step size $\eta$")
    ax0.set_ylabel(r"$\max_{k\eta\leq T}\|w_{GD}(k) - w(k\eta)\|$")
    ax0.legend(fontsize=6)
    for j, c in enumerate(data["curves"]):
        col = style.PALETTE[j % len(style.PALETTE)]
        t = np.asarray(c["t"], float)
        ax1.semilogy(t[1:], np.asarray(c["plain"], float)[1:], color=col,
                     label=rf"$\eta={float(c['eta']):g}$")
        ax1.semilogy(t[1:], np.asarray(c["modified"], float)[1:], color=col, ls="--")
    ax1.set_xlabel(r"time $t = k\eta$")
    ax1.set_ylabel("distance to GD")
    ax1.set_title("solid: flow, dashed: modified flow")
    ax1.legend(fontsize=6)
    return fig


def agreement(data: dict) -> list[dict]:
    """Log-log slopes of max ||w_GD(k) - w(k eta)|| in eta: 1 against the gradient flow
    (Elkabetz and Cohen), 2 against the modified flow (Barrett and Dherin)."""
    return [{"quantity": f"slope against the {name} flow", "paper": paper,
             "ours": float(data[key]),
             "agreement": "agrees" if abs(float(data[key]) - paper) < 0.1 else "differs"}
            for name, key, paper in (("gradient", "slope_plain", 1.0),
                                     ("modified", "slope_modified", 2.0))]
