"""dlnflow: training of deep linear networks as a dynamical system.

Public API: Problem, init, GradientFlow, GradientDescent, ModifiedFlow, EndToEndFlow,
simulate, Trajectory, invariants, InputError.
"""

from . import (
    _config,  # noqa: F401  (float64 before anything else)
    init,
    invariants,
)
from .errors import InputError
from .problem import Problem
from .simulate import simulate
from .systems import EndToEndFlow, GradientDescent, GradientFlow, ModifiedFlow
from .trajectory import STATUSES, Trajectory

__version__ = "0.1.0"

__all__ = [
    "STATUSES",
    "EndToEndFlow",
    "GradientDescent",
    "GradientFlow",
    "InputError",
    "ModifiedFlow",
    "Problem",
    "Trajectory",
    "init",
    "invariants",
    "simulate",
]
