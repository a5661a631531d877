"""dlnflow: training of deep linear networks as a dynamical system.

Problem -> system -> simulate -> Trajectory -> analyses -> figures. Public API:

* problems: Problem (an architecture, ``Plain`` or ``Residual``, and a loss from ``losses``),
  init (the literature's starts)
* systems: GradientFlow, ModifiedFlow, EndToEndFlow, CentralFlow (flows); GradientDescent,
  AlignedGD (maps)
* running: simulate with its options Solver, Stop, SaveAt, Track; Trajectory; Status
* analysis: invariants, critical, rates, bounds
* pictures: plot
* errors: InputError

Further modules are imported by name: ``dlnflow.closed_forms`` and ``dlnflow.scalar_chain``
(exact references), ``dlnflow.fitting`` (growth laws), ``dlnflow.papers`` (step-size rules),
``dlnflow.pipeline`` (the figure pipeline of ``dlnflow figures``), ``dlnflow.sharpness``
(top Hessian eigenpairs), ``dlnflow.observables`` (what ``Track`` samples).
"""

import importlib
import sys
import types

from . import _config  # noqa: F401  (float64 before anything else)

_SUBMODULES = ("bounds", "critical", "init", "invariants", "losses", "plot", "rates")
_NAMES = {
    "AlignedGD": "agd", "Plain": "architecture", "Residual": "architecture",
    "InputError": "errors", "Problem": "problem", "SaveAt": "simulate", "Solver": "simulate",
    "Stop": "simulate", "Track": "simulate", "simulate": "simulate", "Status": "status",
    "EndToEndFlow": "systems", "GradientDescent": "systems", "GradientFlow": "systems",
    "ModifiedFlow": "systems", "CentralFlow": "systems", "Trajectory": "trajectory",
}
"""Public name -> the module that defines it. Names and submodules are imported on first use
(PEP 562), so ``import dlnflow`` costs little more than JAX itself; scipy's optimisers,
matplotlib and the like load only with the modules that use them."""


def __getattr__(name: str):
    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``dlnflow.simulate`` is the front-door function, as with eager imports: importing the
    subpackage ``dlnflow.simulate`` (which sets the attribute to the package) keeps the
    function."""

    def __setattr__(self, name: str, value) -> None:
        if name == "simulate" and isinstance(value, types.ModuleType):
            value = value.simulate
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__version__ = "0.1.0"

__all__ = [
    "AlignedGD",
    "CentralFlow",
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
