"""Orbit diagram of GD in the step size for balanced scalar chains F = 0.5 (w_L...w_1 - y)^2.

A balanced start stays balanced under GD and converges to w_i = y^(1/L) while
eta lambda_max < 2, lambda_max = L |y|^(2 - 2/L) (checked against problem.hessian at the limit
reached); past eta* = 2/lambda_max the fixed point period-doubles, then chaos and divergence.
"""

from __future__ import annotations

import numpy as np

NAME = "gd_orbit_diagram"
TITLE = "GD orbit diagram in eta: stable up to 2/lambda_max of the minimum reached, then doubling"
CONFIG = {"target": 1.0, "depths": [2, 4], "start_scale": 0.5, "eta_range": [0.5, 2.0],
          "n_eta": 1400, "transient": 4000, "keep": 96, "spread_tol": 1e-3}
QUICK = {**CONFIG, "n_eta": 300, "transient": 2000, "keep": 48}


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow import orbits, rates

    y = float(config["target"])
    panels = []
    for L in config["depths"]:
        prob = dl.Problem.scalar_chain(int(L), target=y)
        lam = rates.balanced_lambda_max(int(L), y)
        thr = 2.0 / lam
        lo, hi = config["eta_range"]
        etas = np.linspace(lo * thr, hi * thr, int(config["n_eta"]))
        w0 = np.full(int(L), float(config["start_scale"]) * abs(y) ** (1.0 / L))
        d = orbits.orbit_diagram(prob, etas, w0, transient=int(config["transient"]),
                                 keep=int(config["keep"]))
        # Hessian at the limit reached by the last stable run below the first doubling (past
        # the cascade, runs may also settle near the non-strict saddle at the origin).
        first = orbits.first_doubling(etas, d["p"], config["spread_tol"])
        spread = orbits.orbit_spread(d["p"])
        stable = np.isfinite(spread) & (spread <= config["spread_tol"]) & (etas < first)
        i_last = int(np.flatnonzero(stable)[-1]) if np.any(stable) else 0
        lam_limit = rates.lambda_max_at(prob, d["final_w"][i_last])
        d.update({"depth": int(L), "lambda_max_balanced": lam, "threshold": thr,
                  "first_doubling": first,
                  "lambda_max_limit": lam_limit, "limit_eta": float(etas[i_last]),
                  "eta_step": float(etas[1] - etas[0])})
        panels.append(d)
    return {"target": y, "panels": panels, "spread_tol": config["spread_tol"]}


def render(data: dict, config: dict):
    from dlnflow.plot import orbits, style

    panels = data["panels"]
    fig, axes = style.figure(columns=2, aspect=0.38, ncols=len(panels))
    for ax, d, color in zip(np.atleast_1d(axes), panels, style.PALETTE, strict=False):
        orbits.plot_orbit_diagram(ax, d, threshold=float(d["threshold"]), color=color)
        ax.set_title(f"depth $L = {d['depth']}$, $y = {float(data['target']):g}$: "
                     f"$\\lambda_{{\\max}} = L|y|^{{2-2/L}} = {float(d['lambda_max_balanced']):g}$")
        ax.legend(loc="upper left", fontsize=5.5)
    return fig
