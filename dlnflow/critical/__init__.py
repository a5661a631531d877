"""Critical points of deep linear networks: enumerate, find, classify, GD map, connection graph.

Public names: critical_sets, enumerate_critical_sets, CriticalSet, classify_point,
find_critical_sets, gd_fixed_point, period_two_orbits, connection_graph, saddle_itinerary,
export_graph (drawing: dlnflow.plot.graph).
"""

from .classify import Classification, classify_point, higher_order_test
from .discrete import PeriodTwoOrbit, gd_fixed_point, gd_multipliers, period_two_orbits
from .enumerate import critical_sets, enumerate_critical_sets
from .find import FindResult, find_critical_points, find_critical_sets, match_point
from .graph import connection_graph, export_graph, graph_to_json, saddle_itinerary
from .sets import CriticalSet, orbit_tangent

__all__ = [
    "Classification",
    "CriticalSet",
    "FindResult",
    "PeriodTwoOrbit",
    "classify_point",
    "connection_graph",
    "critical_sets",
    "enumerate_critical_sets",
    "export_graph",
    "find_critical_points",
    "find_critical_sets",
    "gd_fixed_point",
    "gd_multipliers",
    "graph_to_json",
    "higher_order_test",
    "match_point",
    "orbit_tangent",
    "period_two_orbits",
    "saddle_itinerary",
]
