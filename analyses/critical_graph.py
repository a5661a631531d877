"""Connection graph of the critical sets of 0.5 ||W_L...W_1 - diag(s)||^2, and the
saddle-to-saddle itinerary of a small start, drawn by loss level.

Nodes: critical sets (index sets S, loss 0.5 (||s||^2 - sum_{i in S} s_i^2)); edges: flow
connections found from each saddle's escape directions; the itinerary of a trajectory from a
small start visits S = {}, {1}, {1,2}, ... (modes learnt in order of decreasing s).
"""

from __future__ import annotations

import numpy as np
from networkx.readwrite import json_graph

NAME = "critical_graph"
TITLE = "Critical sets of a diagonal target: flow connection graph and saddle-to-saddle path"
CONFIG = {"target_diag": [3.0, 2.0, 1.0], "depth": 2, "width": 3, "small_start": 1e-4,
          "t1": 30.0, "seed": 0, "n_save": 600, "solver": "tsit5"}
QUICK = {"target_diag": [3.0, 1.0], "depth": 2, "width": 2, "small_start": 1e-3,
         "t1": 20.0, "seed": 1, "n_save": 200, "solver": "DOP853"}


def compute(config: dict) -> dict:
    """Enumerate and classify the critical sets, build the graph, run one small start."""
    import dlnflow as dl
    from dlnflow.critical import connection_graph, critical_sets, graph_to_json, saddle_itinerary

    s = [float(x) for x in config["target_diag"]]
    problem = dl.Problem.target_matrix(np.diag(s), depth=int(config["depth"]),
                                       width=int(config["width"]))
    sets = critical_sets(problem)
    solver = str(config["solver"])       # QUICK: DOP853 (scipy), no diffrax compile
    graph = connection_graph(problem, sets, solver=solver)
    w0 = dl.init.scaled(dl.init.gaussian(problem, int(config["seed"])),
                        float(config["small_start"]))
    t1 = float(config["t1"])
    traj = dl.simulate(dl.GradientFlow(problem), w0, t1=t1, solver=solver,
                       save=dl.SaveAt(ts=np.linspace(0.0, t1, int(config["n_save"]))))
    itin = saddle_itinerary(problem, traj, graph, sets)
    valid = np.asarray(traj.valid[0])
    return {
        "config": dict(config),
        "problem": problem.describe(),
        "graph": graph_to_json(graph),
        "sets": [{k: v for k, v in c.to_dict().items() if k != "invariant"} for c in sets],
        "itinerary": itin,
        "t": np.asarray(traj.t[0])[valid],
        "loss": np.asarray(traj.loss[0])[valid],
    }


def render(data: dict, config: dict):
    """Left: the graph laid out by loss; right: the small start's loss with plateau levels."""
    from dlnflow.plot.graph import draw_connection_graph
    from dlnflow.plot.style import figure, paper_style

    graph = json_graph.node_link_graph(data["graph"], edges="edges")
    with paper_style():
        fig, (ax0, ax1) = figure(columns=2, aspect=0.42, ncols=2)
        draw_connection_graph(ax0, graph)
        ax0.set_title("flow connections between critical sets")
        t, loss = np.asarray(data["t"], float), np.asarray(data["loss"], float)
        ax1.plot(t, loss, color="#0072B2")
        losses = {n["id"]: n["loss"] for n in data["graph"]["nodes"]}
        for lab, t0 in zip(data["itinerary"]["nodes"], data["itinerary"]["times"], strict=True):
            ax1.axhline(losses[lab], color="#999999", lw=0.6, ls=":")
            ax1.annotate(lab, (t0, losses[lab]), fontsize=6, va="bottom")
        ax1.set_xlabel("t")
        ax1.set_ylabel("loss")
        ax1.set_title("saddle-to-saddle itinerary of a small start")
    return fig


def agreement(data: dict) -> list[dict]:
    """Against the closed forms: a set S of learnt modes has loss 0.5 (||s||^2 - sum_{i in S}
    s_i^2), and a small start learns the modes in order of decreasing s (Saxe et al. 2014;
    the saddle-to-saddle picture)."""
    s = np.asarray(data["config"]["target_diag"], float)

    def modes(label: str) -> list[int]:
        inner = label.split("{", 1)[1].rstrip("}")
        return [int(i) for i in inner.split(",") if i]

    err = max(abs(c["loss"] - 0.5 * (np.sum(s**2) - sum(s[i - 1] ** 2 for i in modes(c["label"]))))
              for c in data["sets"])
    order = [int(i) + 1 for i in np.argsort(-s)]
    expected = ["S={}"] + ["S={" + ",".join(map(str, sorted(order[:k]))) + "}"
                           for k in range(1, len(s) + 1)]
    nodes = data["itinerary"]["nodes"]
    return [
        {"quantity": "critical-set losses, max |ours - closed form|", "paper": 0.0,
         "ours": err, "agreement": "agrees" if err < 1e-9 else "differs"},
        {"quantity": "itinerary of a small start", "paper": " -> ".join(expected),
         "ours": " -> ".join(nodes), "agreement": "agrees" if nodes == expected else "differs"},
    ]
