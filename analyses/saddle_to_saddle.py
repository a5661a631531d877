"""Saddle-to-saddle dynamics of a two-layer network from small starts of decreasing scale.

f = 0.5 ||W_2 W_1 - diag(s)||^2, s_1 > s_2 > ... > 0, start alpha * (Gaussian draw, fixed seed).
The loss sits on plateaus at the critical sets S = {1..k}, F_k = 0.5 sum_{i>k} s_i^2, then drops.

Expected plateau lengths. Near W = 0 the flow is linear: the (u_i, v_i) component of each hidden
unit grows like e^(s_i t), so mode i's strength is u_i(t) ~ c_i alpha^2 e^(2 s_i t) (c_i fixed by
the draw) until it saturates, and, from Saxe's u(t) = s e^(2st) / (e^(2st) - 1 + s/u0) with
u0 = c_i alpha^2, mode i is learnt at t_i = ln(s_i / (c_i alpha^2)) / (2 s_i) + O(1) =
ln(1/alpha) / s_i + const. Plateau 0 lasts until t_1 and plateau k >= 1 from t_k to t_(k+1), so
d(length_k) / d ln(1/alpha) = 1/s_1 for k = 0 and 1/s_(k+1) - 1/s_k for k >= 1.

Plateaus are detected without the predicted levels: maximal runs of saved states with relative
loss rate ||grad F||^2 / F < rate_tol (for gradient flow dF/dt = -||grad F||^2), at least
min_samples long; the plateau loss is F where the rate is least. The itinerary of critical sets
comes from dlnflow.critical (connection_graph, saddle_itinerary; on every itinerary_every-th saved
state) and is checked to be a path of the graph. Scales too large for a plateau k to form (its
run of slow states absent) are left out of that plateau's fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from networkx.readwrite import json_graph

from ._plateaus import plateau_levels, run_plateaus

NAME = "saddle_to_saddle"
TITLE = "Saddle-to-saddle: plateau losses, plateau length vs log(1/scale), itinerary of saddles"
CONFIG = {"s": [3.0, 2.0, 1.0], "alphas": [1e-2, 1e-3, 1e-4, 1e-6, 1e-8, 1e-10], "seed": 0,
          "t1": 30.0, "n_save": 3001, "rate_tol": 5e-2, "min_samples": 5, "rtol": 1e-10,
          "atol": 1e-20, "itinerary_every": 4}
QUICK = {"s": [3.0, 2.0, 1.0], "alphas": [1e-3, 1e-5, 1e-7, 1e-9], "seed": 0, "t1": 26.0,
         "n_save": 1001, "rate_tol": 5e-2, "min_samples": 5, "rtol": 1e-10, "atol": 1e-20,
         "itinerary_every": 4}


def predicted_slopes(s: np.ndarray) -> np.ndarray:
    """d(plateau length k)/d ln(1/alpha): 1/s_1 (k = 0), 1/s_(k+1) - 1/s_k (k >= 1)."""
    inv = 1.0 / np.asarray(s, float)
    return np.concatenate([[inv[0]], np.diff(inv)])


def compute(config: dict) -> dict:
    """Run every scale in one batch, detect plateaus, fit lengths, build the itinerary."""

    import dlnflow as dl
    from dlnflow.critical import connection_graph, critical_sets, graph_to_json, saddle_itinerary

    s = np.asarray(config["s"], float)
    alphas = np.asarray(config["alphas"], float)
    problem = dl.Problem.target_matrix(np.diag(s), depth=2, width=len(s))
    base = dl.init.gaussian(problem, int(config["seed"]))
    params0 = tuple(np.stack([a * np.asarray(W) for a in alphas]) for W in base)
    t1 = float(config["t1"])
    traj = dl.simulate(dl.GradientFlow(problem), params0, t1=t1,
                       solver=dl.Solver("tsit5", rtol=float(config["rtol"]),
                                        atol=float(config["atol"])),
                       save=dl.SaveAt(ts=np.linspace(0.0, t1, int(config["n_save"]))))

    runs = []
    for b, a in enumerate(alphas):
        t, loss, _, rate, plats = run_plateaus(problem, traj, b, float(config["rate_tol"]),
                                               int(config["min_samples"]))
        runs.append({"alpha": float(a), "status": str(traj.status[b]), "t": t, "loss": loss,
                     "rate": rate, "plateaus": plats})

    levels = plateau_levels(s)
    pred = predicted_slopes(s)
    x = np.log(1.0 / alphas)
    fits = []
    for k in range(len(s)):
        lengths = [r["plateaus"][k]["length"] if len(r["plateaus"]) > k else np.nan for r in runs]
        losses = [r["plateaus"][k]["loss"] if len(r["plateaus"]) > k else np.nan for r in runs]
        ok = np.isfinite(lengths)
        slope, icpt = (np.polyfit(x[ok], np.asarray(lengths)[ok], 1) if ok.sum() >= 2
                       else (np.nan, np.nan))
        fits.append({"k": k, "level": float(levels[k]), "losses": losses, "lengths": lengths,
                     "slope": float(slope), "intercept": float(icpt),
                     "predicted_slope": float(pred[k]),
                     "slope_rel_error": float(abs(slope - pred[k]) / pred[k]),
                     "loss_rel_error": float(np.nanmax(np.abs(np.asarray(losses) - levels[k]))
                                             / levels[k])})

    sets = critical_sets(problem)
    graph = connection_graph(problem, sets)
    global_min = [n for n, d in graph.nodes(data=True) if d["kind"] == "global_min"]
    itineraries = []
    k = int(config["itinerary_every"])
    coarse = dataclasses.replace(traj, t=traj.t[:, ::k], loss=traj.loss[:, ::k],
                                 valid=traj.valid[:, ::k],
                                 params=tuple(P[:, ::k] for P in traj.params))
    for b in range(len(alphas)):
        it = saddle_itinerary(problem, coarse, graph, sets, run=b)
        it["edges_in_graph"] = [graph.has_edge(u, v)
                                for u, v in zip(it["nodes"][:-1], it["nodes"][1:], strict=True)]
        it["ends_at_global_min"] = bool(it["nodes"]) and it["nodes"][-1] in global_min
        itineraries.append(it)
    return {"config": dict(config), "problem": problem.describe(), "s": s, "alphas": alphas,
            "levels": levels, "runs": runs, "fits": fits, "graph": graph_to_json(graph),
            "global_min": global_min, "itineraries": itineraries}


def render(data: dict, config: dict):
    """Loss curves with plateau levels; plateau length vs ln(1/alpha); itinerary on the graph."""
    import networkx as nx

    from dlnflow.plot.graph import draw_connection_graph, layout_by_loss
    from dlnflow.plot.style import PALETTE, figure, paper_style
    from dlnflow.plot.trajectories import plateau_losses

    levels = np.asarray(data["levels"], float)
    with paper_style():
        fig, (ax0, ax1, ax2) = figure(columns=2, aspect=0.36, ncols=3)
        plateau_losses(ax0, data["runs"], [rf"$\alpha$ = {r['alpha']:.0e}" for r in data["runs"]],
                       levels, bottom=1e-10)
        ax0.set_title(r"plateaus at $\frac{1}{2}\sum_{i>k} s_i^2$")
        ax0.legend(frameon=False, fontsize=6)

        x = np.log(1.0 / np.asarray(data["alphas"], float))
        xx = np.linspace(0.0, x.max() * 1.05, 2)
        for f in data["fits"]:
            col = PALETTE[f["k"] % len(PALETTE)]
            y = np.asarray([np.nan if v is None else v for v in f["lengths"]], float)
            ax1.plot(x, y, "o", color=col, ms=3)
            if f["slope"] is None or not np.isfinite(f["slope"]):
                continue
            ax1.plot(xx, f["intercept"] + f["slope"] * xx, color=col, lw=1.0,
                     label=f"k={f['k']}: {f['slope']:.3f} (pred. {f['predicted_slope']:.3f})")
        ax1.set_xlabel(r"$\ln(1/\alpha)$")
        ax1.set_ylabel("plateau length")
        ax1.set_title("slope vs prediction")
        ax1.legend(frameon=False, fontsize=6)

        graph = json_graph.node_link_graph(data["graph"], edges="edges")
        draw_connection_graph(ax2, graph)
        path = data["itineraries"][-1]["nodes"]
        pos = layout_by_loss(graph)
        nx.draw_networkx_edges(graph, pos, edgelist=list(zip(path[:-1], path[1:], strict=True)),
                               ax=ax2, edge_color=PALETTE[1], width=2.0, arrows=True,
                               arrowsize=10, node_size=60)
        ax2.legend(loc="lower left", frameon=False, fontsize=6)
        ax2.set_title(r"itinerary (smallest $\alpha$) in the graph")
    return fig


def agreement(data: dict) -> list[dict]:
    """Saxe-type theory (Saxe et al. 2014; Jacot et al. 2021): plateau k sits at the saddle level
    0.5 sum_(i>k) s_i^2 and lasts ln(1/alpha) times (1/s_1 for the first, 1/s_(k+1) - 1/s_k
    after); the saddles visited form a path of the connection graph."""
    rows = []
    for f in data["fits"]:
        level, ours = float(f["level"]), float(f["losses"][-1])      # smallest alpha
        rows.append({"quantity": f"plateau {f['k']}: loss level", "paper": level, "ours": ours,
                     "agreement": f"rel. diff {abs(ours / level - 1):.1e}"})
        rows.append({"quantity": f"plateau {f['k']}: length per ln(1/alpha)",
                     "paper": float(f["predicted_slope"]), "ours": float(f["slope"]),
                     "agreement": f"rel. diff {abs(f['slope'] / f['predicted_slope'] - 1):.1e}"})
    last = data["itineraries"][-1]
    rows.append({"quantity": "saddles visited (smallest alpha)",
                 "paper": "a path of the connection graph", "ours": " -> ".join(last["nodes"]),
                 "agreement": "a path" if last["is_path"] else "not a path"})
    return rows
