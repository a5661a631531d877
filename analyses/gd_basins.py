"""Basins of gradient descent on the two-layer chain F = 0.5 (w2 w1 - y)^2, two step sizes.

The balanced minimum w1 = w2 = sqrt(y) has lambda_max(H) = 2|y|, the smallest on the minimum
set (there lambda_max = w1^2 + w2^2 >= 2|w1 w2|), so eta* = 1/|y|: below it, GD converges to a
branch of the hyperbola from most starts; above it no minimum is stable and GD settles on
period-2 orbits (or diverges). The anti-diagonal w1 = -w2 is the saddle's stable set.
"""

from __future__ import annotations

import numpy as np

NAME = "gd_basins"
TITLE = "GD basins on the two-layer chain: minimum branches, saddle, period-2 orbits, divergence"
CONFIG = {"target": 1.0, "etas": [0.6, 1.08], "grid": 200, "extent": [-2.0, 2.0, -2.0, 2.0],
          "max_steps": 3000, "tol": 1e-20}
QUICK = {**CONFIG, "grid": 32, "max_steps": 1000}


def compute(config: dict) -> dict:
    import dlnflow as dl
    from dlnflow.basins import gd_basins

    prob = dl.Problem.scalar_chain(2, target=config["target"])
    results = [gd_basins(prob, eta, grid=int(config["grid"]), extent=config["extent"],
                         max_steps=int(config["max_steps"]), tol=float(config["tol"]))
               for eta in config["etas"]]
    y = float(config["target"])
    return {"target": y, "threshold": 1.0 / abs(y), "results": results}


def render(data: dict, config: dict):
    from dlnflow.plot import basins, style

    res = data["results"]
    fig, axes = style.figure(columns=2, aspect=0.8, nrows=2, ncols=len(res))
    axes = np.asarray(axes).reshape(2, len(res))
    for j, r in enumerate(res):
        basins.plot_basins(axes[0, j], r, show="outcome")
        basins.plot_basins(axes[1, j], r, show="iterations")
        rel = "<" if float(r["eta"]) < float(data["threshold"]) else ">"
        axes[0, j].set_title(f"GD, $\\eta = {float(r['eta']):g}$ {rel} "
                             f"$\\eta^* = 1/|y| = {float(data['threshold']):g}$")
        axes[1, j].set_title("iterations to settle")
    return fig


def agreement(data: dict) -> list[dict]:
    """Against the stability threshold eta* = 1/|y| (2 / lambda_max of the balanced minimum):
    below it most starts reach a minimum, above it none does (period-2 orbits or divergence)."""
    rows = []
    for r in data["results"]:
        out = np.asarray(r["outcome"])
        frac = float(np.mean(out <= 1))          # outcomes 0, 1: a minimum (w1 > 0, w1 < 0)
        below = float(r["eta"]) < float(data["threshold"])
        ok = frac > 0.5 if below else frac == 0.0
        rows.append({"quantity": f"eta = {r['eta']}: fraction of starts reaching a minimum",
                     "paper": "most (eta < 1/|y|)" if below else "none (eta > 1/|y|)",
                     "ours": frac, "agreement": "agrees" if ok else "differs"})
    return rows
