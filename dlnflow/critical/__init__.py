"""Critical points of deep linear networks: enumerate, find, classify, GD map, connection graph."""

from .classify import Classification, classify_point, higher_order_test
from .enumerate import critical_sets, enumerate_critical_sets
from .sets import CriticalSet, orbit_tangent

__all__ = [
    "Classification",
    "CriticalSet",
    "classify_point",
    "critical_sets",
    "enumerate_critical_sets",
    "higher_order_test",
    "orbit_tangent",
]
