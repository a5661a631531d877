"""Conservation, measured: imbalance drift of every flow solver and of gradient descent.

D_l = W_(l+1)^T W_(l+1) - W_l W_l^T is conserved exactly by gradient flow, so its drift
max_t |D_l(t) - D_l(0)| measures a solver's error; it should fall with the tolerance. One GD
step changes D_l by exactly eta^2 (G_(l+1)^T G_(l+1) - G_l G_l^T) (dlnflow.invariants.
gd_imbalance_change): a log-log slope 2 in eta per step, and about slope 1 over a fixed time
horizon T (T / eta steps). Problems: a scalar chain and a chain of 2 x 2 matrix layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import dlnflow as dl
from dlnflow import fitting
from dlnflow.invariants import gd_imbalance_change, imbalance, max_abs_difference
from dlnflow.plot.style import PALETTE, figure

NAME = "imbalance_drift"
TITLE = "Imbalance drift of every flow solver against tolerance, and of GD against eta"

CONFIG = {
    "scalar_depth": 3,
    "matrix_depth": 3,
    "matrix_width": 2,
    "t1": 4.0,
    "diffrax_solvers": ["kvaerno5", "kvaerno3", "tsit5", "dopri5", "dopri8"],
    "diffrax_problems": ["scalar"],
    "diffrax_rtols": [1e-4, 1e-7, 1e-10],
    "scipy_solvers": ["Radau", "BDF", "LSODA", "RK45", "DOP853"],
    "scipy_problems": ["scalar", "matrix"],
    "scipy_rtols": [1e-4, 1e-6, 1e-8, 1e-10],
    "etas": [0.0025, 0.005, 0.01, 0.02, 0.04],
    "gd_horizon": 2.0,
    "seed": 0,
}

QUICK = {
    "scalar_depth": 3,
    "matrix_depth": 3,
    "matrix_width": 2,
    "t1": 4.0,
    "diffrax_solvers": [],              # a diffrax solve traces and compiles for seconds
    "diffrax_problems": ["scalar"],
    "diffrax_rtols": [1e-4, 1e-9],
    "scipy_solvers": ["RK45", "Radau"],
    "scipy_problems": ["scalar", "matrix"],
    "scipy_rtols": [1e-4, 1e-9],
    "etas": [0.01, 0.02, 0.04],         # one compiled GD loop per eta and problem
    "gd_horizon": 1.0,
    "seed": 0,
}


def _problems(cfg: dict) -> dict[str, tuple]:
    L = cfg["scalar_depth"]
    sc = dl.Problem.scalar_chain(L, 1.5)
    w = np.linspace(0.6, 1.1, L)                  # unbalanced start, D_l != 0
    k = cfg["matrix_width"]
    rng = np.random.default_rng(cfg["seed"])
    mat = dl.Problem.target_matrix(rng.standard_normal((k, k)), depth=cfg["matrix_depth"])
    return {"scalar": (sc, sc.scalar_params(w[None])),
            "matrix": (mat, dl.init.gaussian(mat, cfg["seed"], batch=1))}


def _flow_drift(prob, p0, solver, rtol, cfg) -> dict[str, Any]:
    traj = dl.simulate(dl.GradientFlow(prob), p0, t1=cfg["t1"],
                       solver=dl.Solver(solver, rtol=rtol, atol=rtol * 1e-2),
                       save=dl.SaveAt(ts=np.linspace(0, cfg["t1"], 9)))
    return {"drift": float(dl.invariants.drift(traj)[0]), "steps": int(traj.steps[0]),
            "status": str(traj.status[0])}


def _gd(prob, p0, cfg) -> dict[str, Any]:
    g = prob.grad(tuple(W[0] for W in p0))
    one = tuple(W[0] for W in p0)
    D0 = imbalance(one)
    per_step, exact_err, horizon = [], [], []
    for eta in cfg["etas"]:
        stepped = dl.GradientDescent(prob, eta).step(one)
        change = float(max_abs_difference(imbalance(stepped), D0))
        pred = gd_imbalance_change(g, eta)
        diff = tuple(a - b for a, b in zip(imbalance(stepped), D0, strict=True))
        err = float(max_abs_difference(diff, pred)) / max(change, 1e-300)
        per_step.append(change)
        exact_err.append(err)
        steps = int(round(cfg["gd_horizon"] / eta))
        traj = dl.simulate(dl.GradientDescent(prob, eta), p0, stop=dl.Stop(max_steps=steps),
                           save=dl.SaveAt(every=1))
        horizon.append(float(dl.invariants.drift(traj)[0]))
    return {"per_step": per_step, "exact_rel_err": exact_err, "horizon": horizon,
            "slope_per_step": fitting.loglog_slope(cfg["etas"], per_step),
            "slope_horizon": fitting.loglog_slope(cfg["etas"], horizon)}


def compute(config: dict) -> dict:
    """Drift per (problem, backend, solver, rtol) and GD drift per eta with fitted slopes."""
    cfg = dict(config)
    probs = _problems(cfg)
    flows: list[dict[str, Any]] = []
    for backend, solvers, rtols, names in (
            ("diffrax", cfg["diffrax_solvers"], cfg["diffrax_rtols"], cfg["diffrax_problems"]),
            ("scipy", cfg["scipy_solvers"], cfg["scipy_rtols"], cfg["scipy_problems"])):
        for pname in names:
            prob, p0 = probs[pname]
            for solver in solvers:
                rows = [_flow_drift(prob, p0, solver, r, cfg) for r in rtols]
                flows.append({"problem": pname, "backend": backend, "solver": solver,
                              "rtols": list(rtols), "drift": [r["drift"] for r in rows],
                              "steps": [r["steps"] for r in rows],
                              "status": [r["status"] for r in rows]})
    gd = {name: _gd(*probs[name], cfg) for name in ("scalar", "matrix")}
    return {"config": cfg, "flows": flows, "gd": gd}


def render(data: dict, config: dict):
    """Left: flow drift against rtol per solver (solid scalar, dashed matrix). Right: GD drift
    per step and over a fixed horizon against eta, with fitted log-log slopes."""
    fig, (ax, bx) = figure(columns=2, aspect=0.38, ncols=2)
    solvers = sorted({f["solver"] for f in data["flows"]})
    for f in data["flows"]:
        i = solvers.index(f["solver"])
        ax.loglog(f["rtols"], np.maximum(np.asarray(f["drift"], dtype=float), 1e-17),
                  marker="o", ls="-" if f["problem"] == "scalar" else "--",
                  color=PALETTE[i % len(PALETTE)],
                  label=f"{f['solver']} ({f['problem']})")
    ax.set_xlabel("rtol (atol = rtol / 100)")
    ax.set_ylabel("max |D_l(t) - D_l(0)|")
    ax.legend(fontsize=4.5, ncol=2)
    etas = np.asarray(data["config"]["etas"], dtype=float)
    for j, (name, g) in enumerate(data["gd"].items()):
        bx.loglog(etas, g["per_step"], marker="o", color=PALETTE[j],
                  label=f"{name}, one step: slope {g['slope_per_step']['slope']:.3f}")
        bx.loglog(etas, g["horizon"], marker="s", ls="--", color=PALETTE[j],
                  label=f"{name}, horizon T: slope {g['slope_horizon']['slope']:.2f}")
    bx.set_xlabel("step size eta")
    bx.set_ylabel("imbalance drift of GD")
    bx.legend(fontsize=5)
    return fig


def agreement(data: dict) -> list[dict]:
    """GD: the exact identity eta^2 (G_(l+1)^T G_(l+1) - G_l G_l^T) per step (log-log slope 2
    in eta), about slope 1 over a fixed horizon; flows: the drift falls with the tolerance."""
    rows = []
    for name, g in sorted(data["gd"].items()):
        rows.append({"quantity": f"GD {name}: slope of the per-step change in eta",
                     "paper": 2.0, "ours": float(g["slope_per_step"]["slope"]),
                     "agreement": f"identity to rel. {max(g['exact_rel_err']):.1e}"})
        rows.append({"quantity": f"GD {name}: slope over the horizon", "paper": 1.0,
                     "ours": float(g["slope_horizon"]["slope"]), "agreement": "about 1"
                     if abs(float(g["slope_horizon"]["slope"]) - 1) < 0.2 else "differs"})
    for f in data["flows"]:
        d = [float(x) for x in f["drift"]]
        rows.append({"quantity": f"{f['solver']} ({f['problem']}): drift at rtol "
                     + ", ".join(f"{r:g}" for r in f["rtols"]), "paper": "falls with rtol",
                     "ours": ", ".join(f"{x:.1e}" for x in d),
                     "agreement": "agrees" if np.all(np.diff(d) < 0) else "differs"})
    return rows
