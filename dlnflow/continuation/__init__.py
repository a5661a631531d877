"""Continuation of fixed points and periodic orbits of maps (gradient descent) in the step size.

families (the maps and their multipliers), branch (data), corrector (Newton), bifurcations
(period doubling and fold: detection, location, branch switching), palc (pseudo-arclength),
cascade (branch switching up to a period), gd (gradient descent on a problem from its start).
"""

from .branch import Branch, BranchPoint, ContinuationOptions
from .cascade import Diagram, continue_cascade, continue_orbit
from .families import FunctionFamily, GDFamily, MapFamily, Subspace, balanced_line, multipliers
from .gd import balanced_minimum, gd_continuation
from .palc import continue_branch, point_at

__all__ = ["Branch", "BranchPoint", "ContinuationOptions", "Diagram", "FunctionFamily",
           "GDFamily", "MapFamily", "Subspace", "balanced_line", "balanced_minimum",
           "continue_branch", "continue_cascade", "continue_orbit", "gd_continuation",
           "multipliers", "point_at"]
