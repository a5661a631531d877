"""saddle_to_saddle: small starts visit S = {}, {1}, {1,2}, ... with plateau losses
0.5 sum_{i>k} s_i^2 and plateau lengths growing like ln(1/alpha) with slope 1/s_1 (k = 0) and
1/s_(k+1) - 1/s_k (k >= 1), and the itinerary is a path of the connection graph."""

import json

import networkx as nx
import numpy as np
from networkx.readwrite import json_graph

import dlnflow.analyses.saddle_to_saddle as m
from dlnflow.io import dumps


def test_saddle_to_saddle_plateaus_slopes_itinerary():
    cfg = m.QUICK
    data = m.compute(cfg)
    s = np.asarray(cfg["s"], float)
    alphas = np.asarray(cfg["alphas"], float)
    levels = [0.5 * np.sum(s[k:] ** 2) for k in range(len(s))]
    slopes = [1 / s[0]] + [1 / s[k] - 1 / s[k - 1] for k in range(1, len(s))]
    assert all(r["status"] == "completed" for r in data["runs"])

    # every detected plateau sits at its level (k-th plateau of a run <-> S = {1..k})
    for r in data["runs"]:
        assert 1 <= len(r["plateaus"]) <= len(s)
        for k, p in enumerate(r["plateaus"]):
            assert abs(p["loss"] - levels[k]) < 0.01 * levels[k], (r["alpha"], k, p)
    # the smallest scale shows every plateau
    assert len(data["runs"][-1]["plateaus"]) == len(s)

    # plateau lengths vs ln(1/alpha): refit from the lengths, compare with the Saxe prediction
    x = np.log(1 / alphas)
    for k in range(len(s)):
        pts = [(xi, r["plateaus"][k]["length"]) for xi, r in zip(x, data["runs"], strict=True)
               if len(r["plateaus"]) > k]
        assert len(pts) >= 3, k
        slope = np.polyfit(*np.asarray(pts).T, 1)[0]
        assert abs(slope - slopes[k]) < 0.15 * slopes[k], (k, slope, slopes[k])
        assert abs(data["fits"][k]["slope"] - slope) < 1e-9

    # itinerary: a path of the graph from S = {} (loss 0.5 |s|^2) to the global minimum,
    # through the saddles S = {1..k} in order for the smallest scale
    graph = json_graph.node_link_graph(json.loads(dumps(data["graph"])), edges="edges")
    for it in data["itineraries"]:
        nodes = it["nodes"]
        assert graph.nodes[nodes[-1]]["kind"] == "global_min"
        assert abs(graph.nodes[nodes[0]]["loss"] - levels[0]) < 1e-9
        assert all(nx.has_path(graph, u, v) for u, v in zip(nodes[:-1], nodes[1:], strict=True))
    last = data["itineraries"][-1]["nodes"]
    assert all(graph.has_edge(u, v) for u, v in zip(last[:-1], last[1:], strict=True))
    assert np.allclose([graph.nodes[n]["loss"] for n in last], levels + [0.0], atol=1e-9)
    assert data["itineraries"][-1]["is_path"]

    fig = m.render(json.loads(dumps(data)), cfg)
    assert len(fig.axes) == 3
