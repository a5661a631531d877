"""Connection graph: which critical set the gradient flow reaches from each saddle.

Nodes are critical sets (attributes kind, loss, index, nullity, normal_nullity, escape_order,
dimension). From each saddle the flow dx/dt = -grad F is started at x_s + eps v for its escape
directions v (eigenvectors of negative normal-Hessian eigenvalues, both signs; for non-strict
saddles the descent directions of the higher-order test, with a larger eps since the escape is
slow, ~ t^(q-2)) and integrated (dlnflow.simulate, GradientFlow) until it settles near another
critical set: the first saved state with small gradient whose invariants match a set gives the
edge source -> target. The saddle-to-saddle itinerary of a trajectory is the sequence of sets
it passes near (loss plateau at the set's loss and matching invariants). Drawing:
``dlnflow.plot.graph``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import jax.numpy as jnp
import networkx as nx
import numpy as np
from networkx.readwrite import json_graph

from ..errors import check_problem
from ..io import atomic_write_text
from ..problem import Params, Problem
from ..rates import balanced_lambda_max
from ..simulate import SaveAt, Solver, simulate
from ..systems import GradientFlow
from ..trajectory import Trajectory
from .classify import problem_scale
from .enumerate import critical_sets
from .find import match_point, point_stats
from .sets import CriticalSet

SADDLES = ("strict_saddle", "non_strict_saddle", "max")


def _node_attrs(c: CriticalSet) -> dict[str, Any]:
    return {"kind": c.kind, "loss": float(c.loss), "index": int(c.index),
            "nullity": int(c.nullity), "normal_nullity": int(c.normal_nullity),
            "escape_order": int(c.escape_order or 0), "dimension": int(c.dimension),
            "predicted_kind": c.predicted_kind}


def _settle(problem: Problem, traj: Trajectory, run: int, sets: list[CriticalSet],
            source: str, tol: float, gtol: float) -> tuple[str | None, float]:
    """First saved state of ``run`` near a critical set other than ``source``."""
    idx = np.nonzero(np.asarray(traj.valid[run]))[0]
    X = np.concatenate([np.asarray(P[run][idx]).reshape(len(idx), -1) for P in traj.params], 1)
    gn, fs, Ws = point_stats(problem, X)
    s = problem_scale(problem)
    for j, i in enumerate(idx):
        if gn[j] > gtol:
            continue
        params = tuple(np.asarray(P[run, i]) for P in traj.params)
        hit = match_point(problem, cast(Params, params), sets, tol, loss=float(fs[j]), W=Ws[j],
                          scale=s)
        if hit is not None and hit.label != source:
            return hit.label, float(traj.t[run, i])
    return None, float("nan")


def connection_graph(problem: Problem, sets: list[CriticalSet] | None = None,
                     eps: float = 1e-3, eps_nonstrict: float = 0.2, t1: float | None = None,
                     max_directions: int = 8, n_save: int = 400, solver: str = "tsit5",
                     tol: float = 1e-3) -> nx.DiGraph:
    """DiGraph of flow connections between the critical sets of ``problem`` (module docstring).

    eps and eps_nonstrict are relative to the weight scale a = s^(1/L); t1 defaults to
    400 / (L s^(2 - 2/L)). Edge attribute ``count``: how many escape directions led there.
    """
    check_problem("problem", problem)
    sets = critical_sets(problem) if sets is None else sets
    s = problem_scale(problem)
    L = problem.depth
    a = s ** (1.0 / L)
    G = nx.DiGraph(name=problem.name)
    for c in sets:
        G.add_node(c.label, **_node_attrs(c))
    starts, sources = [], []
    for c in sets:
        if c.kind not in SADDLES or c.escape_directions.shape[0] == 0:
            continue
        V = np.asarray(c.escape_directions)[:max_directions]
        if c.escape_order == 2:
            V = np.concatenate([V, -V])
            e = eps * a
        else:
            e = eps_nonstrict * a
        x0 = np.asarray(problem.flatten(c.point))
        for v in V:
            starts.append(x0 + e * v / np.linalg.norm(v))
            sources.append(c.label)
    if not starts:
        return G
    t1 = 400.0 / balanced_lambda_max(L, s) if t1 is None else t1
    X0 = np.stack(starts)
    params0 = tuple(np.stack([np.asarray(problem.unflatten(jnp.asarray(x))[l]) for x in X0])
                    for l in range(L))
    save_at = np.concatenate([[0.0], np.geomspace(t1 * 1e-4, t1, n_save - 1)])
    traj = simulate(GradientFlow(problem), params0, t1=t1,
                    solver=Solver(solver, rtol=1e-9, atol=1e-12), save=SaveAt(ts=save_at.tolist()))
    gtol = tol * s * s / a
    for run, src in enumerate(sources):
        dst, t_hit = _settle(problem, traj, run, sets, src, tol, gtol)
        if dst is None:
            continue
        if G.has_edge(src, dst):
            G[src][dst]["count"] += 1
            G[src][dst]["time"] = min(G[src][dst]["time"], t_hit)
        else:
            G.add_edge(src, dst, count=1, time=t_hit)
    return G


def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    """node-link JSON data (networkx.readwrite.json_graph)."""
    return json_graph.node_link_data(graph, edges="edges")


def export_graph(graph: nx.DiGraph, stem: str | Path) -> tuple[Path, Path]:
    """Write ``stem``.graphml and ``stem``.json; return both paths."""
    stem = Path(stem)
    gml, js = stem.with_suffix(".graphml"), stem.with_suffix(".json")
    atomic_write_text(gml, "\n".join(nx.generate_graphml(graph)))
    atomic_write_text(js, json.dumps(graph_to_json(graph), sort_keys=True, indent=1))
    return gml, js


def saddle_itinerary(problem: Problem, trajectory: Trajectory, graph: nx.DiGraph,
                     sets: list[CriticalSet] | None = None, run: int = 0, tol: float = 2e-2,
                     min_samples: int = 3) -> dict[str, Any]:
    """Critical sets a trajectory visits, in order (loss plateaus at their loss with matching
    invariants, held for at least ``min_samples`` saved states), as a path in ``graph``.

    Returns {"nodes": [...], "times": [entry time per node], "is_path": every consecutive pair
    is an edge of the graph, "reachable": every consecutive pair is joined by a directed path}.
    """
    check_problem("problem", problem)
    sets = critical_sets(problem) if sets is None else sets
    seq: list[list] = []
    valid = np.nonzero(np.asarray(trajectory.valid[run]))[0]
    X = np.concatenate([np.asarray(P[run][valid]).reshape(len(valid), -1)
                        for P in trajectory.params], 1)
    _, fs, Ws = point_stats(problem, X)
    s = problem_scale(problem)
    for j, i in enumerate(valid):
        params = tuple(np.asarray(P[run, i]) for P in trajectory.params)
        hit = match_point(problem, cast(Params, params), sets, tol, loss=float(fs[j]), W=Ws[j],
                          scale=s)
        label = None if hit is None else hit.label
        if seq and seq[-1][0] == label:
            seq[-1][2] += 1
        else:
            seq.append([label, float(trajectory.t[run, i]), 1])
    visits = [(lab, t) for lab, t, k in seq if lab is not None and k >= min_samples]
    nodes: list[str] = []
    times: list[float] = []
    for lab, t in visits:
        if not nodes or nodes[-1] != lab:
            nodes.append(lab)
            times.append(t)
    pairs = list(zip(nodes[:-1], nodes[1:], strict=True))
    return {"nodes": nodes, "times": times,
            "is_path": all(graph.has_edge(u, v) for u, v in pairs),
            "reachable": all(nx.has_path(graph, u, v) for u, v in pairs)}
