"""Shamir (COLT 2019): gradient descent needs exp(Omega(L)) iterations on deep scalar chains.

Scalar chains F(w) = 0.5 (w_L ... w_1 - y)^2, gradient descent with a fixed step eta, iterations
until the excess loss falls to ``threshold``, many seeds per depth (one batched run per depth):

* gaussian:       w_i ~ N(0, 1), y = +1 (Shamir's Theorem 1 setting)
* near_id_neg:    w_i = 1 + noise N(0, 1), y = -1 (the least weight must cross 0: slow)
* near_id_pos:    same starts, y = +1 (control: fast, depth-independent)
* matrix_d<k>:    k x k layers, Xavier start N(0, 1/k), target I_k (Shamir's empirical section)
* flow:           gradient flow from the Gaussian starts with an adaptive stiff solver (Radau):
                  flow time to the threshold (grows like the GD count times eta) and the
                  number of solver steps (stays small: the plateau is crossed in few steps).

Runs that hit the step cap or diverge are censored (count = +inf, reported per depth); fits use
per-depth medians with a bootstrap interval (dlnflow.fitting).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import dlnflow as dl
from dlnflow import fitting, sweep
from dlnflow.plot.style import PALETTE, figure

NAME = "shamir_depth_scaling"
TITLE = "Shamir: GD iterations to a loss threshold grow exponentially with depth"

CONFIG = {
    "eta": 0.05,
    "threshold": 1e-3,
    "max_steps": 100_000,
    "seeds": 128,
    "gaussian_depths": [2, 4, 6, 8, 10, 12, 14, 16],
    "near_identity_depths": [2, 4, 6, 8, 10, 12],
    "near_identity_noise": 0.1,
    "matrix_widths": [2, 3],
    "matrix_depths": [2, 4, 6, 8, 10],
    "matrix_seeds": 64,
    "flow_depths": [2, 4, 6, 8, 10, 12, 14, 16],
    "flow_seeds": 16,
    "flow_solver": "Radau",
    "flow_rtol": 1e-6,
    "flow_atol": 1e-9,
    "flow_t1": 1e12,
    "seed": 0,
}

QUICK = {
    "eta": 0.05,
    "threshold": 1e-3,
    "max_steps": 20_000,
    "seeds": 48,
    "gaussian_depths": [4, 7, 10],
    "near_identity_depths": [4, 7, 10],
    "near_identity_noise": 0.1,
    "matrix_widths": [2],
    "matrix_depths": [2, 6],
    "matrix_seeds": 32,
    "flow_depths": [4, 10],
    "flow_seeds": 8,
    "flow_solver": "Radau",
    "flow_rtol": 1e-6,
    "flow_atol": 1e-9,
    "flow_t1": 1e12,
    "seed": 0,
}


def _family(cfg: dict, family: str, L: int) -> tuple[dl.Problem, Any]:
    """The problem and the batched starts of one start family at depth L."""
    seed = cfg["seed"]
    if family == "gaussian":
        prob = dl.Problem.scalar_chain(L, 1.0)
        return prob, dl.init.gaussian(prob, seed + L, batch=cfg["seeds"])
    if family in ("near_id_neg", "near_id_pos"):
        prob = dl.Problem.scalar_chain(L, -1.0 if family == "near_id_neg" else 1.0)
        return prob, dl.init.near_identity(prob, seed + 100 + L, batch=cfg["seeds"],
                                           noise=cfg["near_identity_noise"])
    k = int(family.removeprefix("matrix_d"))
    prob = dl.Problem.target_matrix(np.eye(k), depth=L, width=k)
    return prob, dl.init.gaussian(prob, seed + 1000 * k + L, batch=cfg["matrix_seeds"])


def _gd_cell(cell: dict, cfg: dict) -> dict[str, Any]:
    """One sweep cell: one batched GD run of all seeds of a family at one depth."""
    prob, params0 = _family(cfg, cfg["family"], cell["depth"])
    traj = dl.simulate(dl.GradientDescent(prob, cfg["eta"]), params0,
                       stop=dl.Stop(loss=cfg["threshold"], max_steps=cfg["max_steps"]),
                       save=dl.SaveAt(every=cfg["max_steps"]))
    return {"steps": np.asarray(traj.steps, dtype=int),
            "status": np.asarray([str(s) for s in traj.status])}


def _flow_cell(cell: dict, cfg: dict) -> dict[str, Any]:
    """One sweep cell: the flow from the first ``flow_seeds`` Gaussian starts at one depth."""
    prob, w0 = _family(cfg, "gaussian", cell["depth"])
    w0 = tuple(W[: cfg["flow_seeds"]] for W in w0)       # the first GD seeds of this depth
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=cfg["flow_t1"],
                       solver=dl.Solver(cfg["flow_solver"], rtol=cfg["flow_rtol"],
                                        atol=cfg["flow_atol"]),
                       stop=dl.Stop(loss=cfg["threshold"]))
    return {"t_final": np.asarray(traj.t_final), "steps": np.asarray(traj.steps, dtype=int),
            "status": np.asarray([str(s) for s in traj.status])}


def _gd_runs(steps: np.ndarray, status: np.ndarray) -> dict[str, Any]:
    """Counts, statuses and quartiles of one depth's runs (censored = +inf)."""
    counts = fitting.censored_counts(steps, status)
    q = fitting.quantiles(counts)
    return {"steps": np.asarray(steps, dtype=int).tolist(),
            "converged": np.isfinite(counts).tolist(),
            "status_counts": fitting.status_counts(status),
            "quartiles": [float(v) if np.isfinite(v) else None for v in q]}


def _series(result: sweep.SweepResult, cfg: dict) -> dict[str, Any]:
    depths = [c["depth"] for c in result.cells]
    per_depth = [_gd_runs(k, s) for k, s in zip(result.column("steps"), result.column("status"),
                                                 strict=True)]
    runs = [fitting.censored_counts(r["steps"], ["converged" if c else "censored"
                                                 for c in r["converged"]]) for r in per_depth]
    fit = fitting.fit_growth(depths, runs, "exponential", seed=cfg["seed"])
    return {"depths": list(depths), "runs": per_depth, "fit": fit,
            "censored": [int(np.sum(~np.isfinite(r))) for r in runs]}


def _families(cfg: dict) -> dict[str, list[int]]:
    """Each GD start family and its depths."""
    out = {"gaussian": cfg["gaussian_depths"], "near_id_neg": cfg["near_identity_depths"],
           "near_id_pos": cfg["near_identity_depths"]}
    out.update({f"matrix_d{k}": cfg["matrix_depths"] for k in cfg["matrix_widths"]})
    return out


def compute(config: dict) -> dict:
    """GD counts against depth for every start family, fitted rates, and the flow's times.
    Every (family, depth) cell is one cell of a sweep; all cells go to the executor at once
    (local, or the Dask cluster of ``dlnflow figures --executor dask``)."""
    cfg = dict(config)
    fams = _families(cfg)
    specs = [sweep.SweepSpec.of(_gd_cell, {"depth": d}, {**cfg, "family": f})
             for f, d in fams.items()]
    specs.append(sweep.SweepSpec.of(_flow_cell, {"depth": cfg["flow_depths"]}, cfg))
    *gd, fl = sweep.run_sweeps(specs, desc=NAME)
    out: dict[str, Any] = {"config": cfg, "series": {}}
    for f, res in zip(fams, gd, strict=True):
        out["series"][f] = _series(res, cfg)
    flow = {"depths": list(cfg["flow_depths"]),
            "t_final": [np.asarray(t).tolist() for t in fl.column("t_final")],
            "steps": [np.asarray(k, dtype=int).tolist() for k in fl.column("steps")],
            "status": [[str(s) for s in st] for st in fl.column("status")]}
    tf = [fitting.censored_counts(t, s) for t, s in zip(flow["t_final"], flow["status"],
                                                         strict=True)]
    flow["time_fit"] = fitting.fit_growth(cfg["flow_depths"], tf, "exponential",
                                          seed=cfg["seed"])
    flow["median_time"] = [float(np.median(t)) for t in flow["t_final"]]
    flow["median_steps"] = [float(np.median(s)) for s in flow["steps"]]
    out["flow"] = flow
    return out


LABELS = {
    "gaussian": "Gaussian start, y = +1",
    "near_id_neg": "near-identity, y = -1",
    "near_id_pos": "near-identity, y = +1",
}


def render(data: dict, config: dict):
    """Left: median GD iterations (quartile bars, censored runs counted) against depth with the
    fitted exponential law. Right: gradient-flow time to the threshold and Radau steps."""
    fig, (ax, bx) = figure(columns=2, aspect=0.38, ncols=2)
    series = data["series"]
    cap = data["config"]["max_steps"]
    for i, (name, s) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        d = np.asarray(s["depths"], dtype=float)
        q = np.array([[np.nan if v is None else v for v in r["quartiles"]] for r in s["runs"]],
                     dtype=float)
        q = np.where(np.isnan(q), cap, q)           # censored quartile: drawn at the cap
        label = LABELS.get(name, name.replace("matrix_d", "matrix layers, width "))
        fit = s["fit"]
        if np.isfinite(fit["slope"]):
            label += f": rate {fit['slope']:.2f} [{fit['ci'][0]:.2f}, {fit['ci'][1]:.2f}]"
            dd = np.asarray(fit["used"], dtype=float)
            ax.plot(dd, np.exp(fit["intercept"] + fit["slope"] * dd), ls=":", color=color)
        ax.errorbar(d, q[:, 1], yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], marker="o",
                    ls="-", color=color, label=label, capsize=2)
        cens = np.asarray(s["censored"])
        for dx, c in zip(d, cens, strict=True):
            if c:
                ax.annotate(f"{c}c", (dx, cap), xytext=(0, 2 + 6 * i),       # one row a series
                            textcoords="offset points", fontsize=5, color=color, ha="center")
    ax.axhline(cap, color="0.6", lw=0.6, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel("GD iterations to threshold (median, IQR)")
    ax.legend(fontsize=5, loc="upper left")
    flow = data["flow"]
    d = np.asarray(flow["depths"], dtype=float)
    bx.plot(d, np.asarray(flow["median_time"]) / data["config"]["eta"], marker="o",
            color=PALETTE[0], label="flow time / eta (median)")
    g = series["gaussian"]
    gd_med = {float(L): r["quartiles"][1] for L, r in zip(g["depths"], g["runs"], strict=True)}
    common = [x for x in d if x in gd_med and gd_med[x] is not None]
    bx.plot(common, [gd_med[x] for x in common], marker="s", ls="--", color=PALETTE[1],
            label="GD iterations (median)")
    bx.plot(d, flow["median_steps"], marker="^", color=PALETTE[2],
            label=f"{data['config']['flow_solver']} solver steps (median)")
    bx.set_yscale("log")
    bx.set_xlabel("depth L")
    bx.set_ylabel("count")
    bx.legend(fontsize=5, loc="upper left")
    bx.set_title("Gaussian starts, y = +1", fontsize=7)
    return fig


def agreement(data: dict) -> list[dict]:
    """Each GD family's fitted growth of the median iteration count in L against Shamir's
    exp(Omega(L)) (Theorem 1 for Gaussian scalar starts; his experiments for matrices; the
    y = +1 near-identity start is the control, fast at every depth), and the flow time to the
    threshold against eta times GD's count from the same start (t = k eta), per flow depth."""
    expect = {"gaussian": "exp(Omega(L)), Theorem 1", "near_id_neg": "exp(Omega(L))",
              "near_id_pos": "no growth (control)", "matrix": "exp(Omega(L)), experiments"}
    rows = []
    for name, s in data["series"].items():
        fit = s["fit"]
        lo, hi = fit["ci"]
        grows = fit["law"] == "exponential" and lo > 0
        control = name == "near_id_pos"
        ok = (not grows) if control else grows
        rows.append({"quantity": f"{LABELS.get(name, name)}: GD iterations vs L = {s['depths']}, "
                     f"censored {s['censored']}",
                     "paper": expect["matrix" if name.startswith("matrix") else name],
                     "ours": f"{fit['law']}, slope {fit['slope']:.3g} [{lo:.3g}, {hi:.3g}]",
                     "agreement": "agrees" if ok else "differs"})
    flow, eta = data["flow"], float(data["config"]["eta"])
    gauss = data["series"]["gaussian"]
    for i, L in enumerate(flow["depths"]):
        if L not in gauss["depths"]:
            continue
        steps = np.asarray(gauss["runs"][gauss["depths"].index(L)]["steps"], float)
        t = np.asarray(flow["t_final"][i], float)
        ratio = float(np.median(t / (eta * steps[:t.size])))
        rows.append({"quantity": f"L={L}: flow time to threshold / (eta x GD iterations), "
                     f"median over {t.size} starts", "paper": 1.0, "ours": ratio,
                     "agreement": f"rel. diff {abs(ratio - 1):.1e}"})
    return rows
