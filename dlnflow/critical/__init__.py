"""Critical points of deep linear networks: enumerate, find, classify, GD map, connection graph.

Public names: critical_sets, enumerate_critical_sets, chain_critical_sets, CriticalSet,
classify_point, find_critical_sets, gd_fixed_point, period_two_orbits, connection_graph,
saddle_itinerary, export_graph (drawing: dlnflow.plot.graph). Each is imported from its module
on first use (PEP 562): the graph (networkx), the solvers (optimistix) and the closed-form chain
path (numpy only) load only what they need.
"""

import importlib

_NAMES = {
    "Classification": "spectral", "CriticalSet": "sets", "FindResult": "find",
    "PeriodTwoOrbit": "discrete", "chain_critical_sets": "chain",
    "classify_point": "classify", "connection_graph": "graph", "critical_sets": "enumerate",
    "enumerate_critical_sets": "enumerate", "export_graph": "graph",
    "find_critical_points": "find", "find_critical_sets": "find", "gd_fixed_point": "discrete",
    "gd_multipliers": "discrete", "graph_to_json": "graph", "higher_order_test": "classify",
    "match_point": "find", "orbit_tangent": "sets", "period_two_orbits": "discrete",
    "saddle_itinerary": "graph",
}
"""Public name -> the module of this package that defines it."""

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
