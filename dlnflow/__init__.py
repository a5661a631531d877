"""dlnflow: training of deep linear networks as a dynamical system.

Problem -> system -> simulate -> Trajectory -> analyses -> figures. Public API:

* problems: Problem (an architecture, ``Plain`` or ``Residual``, and a loss from ``losses``),
  init (the literature's starts)
* systems: GradientFlow, ModifiedFlow, EndToEndFlow (flows); GradientDescent, AlignedGD (maps)
* running: simulate with its options Solver, Stop, SaveAt, Track; Trajectory; Status
* analysis: invariants, critical, rates, bounds
* pictures: plot
* errors: InputError

Further modules are imported by name: ``dlnflow.closed_forms`` and ``dlnflow.scalar_chain``
(exact references), ``dlnflow.fitting`` (growth laws), ``dlnflow.papers`` (step-size rules),
``dlnflow.pipeline`` (the figure pipeline of ``dlnflow figures``), ``dlnflow.sharpness``
(top Hessian eigenpairs), ``dlnflow.observables`` (what ``Track`` samples).
"""

from . import (
    _config,  # noqa: F401  (float64 before anything else)
    bounds,
    critical,
    init,
    invariants,
    losses,
    plot,
    rates,
)
from .agd import AlignedGD
from .architecture import Plain, Residual
from .errors import InputError
from .problem import Problem
from .simulate import SaveAt, Solver, Stop, Track, simulate
from .status import Status
from .systems import EndToEndFlow, GradientDescent, GradientFlow, ModifiedFlow
from .trajectory import Trajectory

__version__ = "0.1.0"

__all__ = [
    "AlignedGD",
    "EndToEndFlow",
    "GradientDescent",
    "GradientFlow",
    "InputError",
    "ModifiedFlow",
    "Plain",
    "Problem",
    "Residual",
    "SaveAt",
    "Solver",
    "Status",
    "Stop",
    "Track",
    "Trajectory",
    "bounds",
    "critical",
    "init",
    "invariants",
    "losses",
    "plot",
    "rates",
    "simulate",
]
