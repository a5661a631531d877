"""dlnflow: training of deep linear networks as a dynamical system.

Problem -> system -> simulate -> Trajectory -> analyses -> figures. Public API:

* problems and starts: Problem, init
* systems: GradientFlow, GradientDescent, ModifiedFlow, EndToEndFlow, AlignedGD
* running: simulate, Trajectory, STATUSES, rosenbrock (the batched rodas4 solver)
* analysis: invariants, critical, rates, bounds, closed_forms, scalar_chain, fitting
* pictures and papers: plot, pipeline
* errors: InputError
"""

from . import (
    _config,  # noqa: F401  (float64 before anything else)
    bounds,
    closed_forms,
    critical,
    fitting,
    init,
    invariants,
    pipeline,
    plot,
    rates,
    rosenbrock,
    scalar_chain,
)
from .agd import AlignedGD
from .errors import InputError
from .problem import Problem
from .simulate import simulate
from .systems import EndToEndFlow, GradientDescent, GradientFlow, ModifiedFlow
from .trajectory import STATUSES, Trajectory

__version__ = "0.1.0"

__all__ = [
    "STATUSES",
    "AlignedGD",
    "EndToEndFlow",
    "GradientDescent",
    "GradientFlow",
    "InputError",
    "ModifiedFlow",
    "Problem",
    "Trajectory",
    "bounds",
    "closed_forms",
    "critical",
    "fitting",
    "init",
    "invariants",
    "pipeline",
    "plot",
    "rates",
    "rosenbrock",
    "scalar_chain",
    "simulate",
]
