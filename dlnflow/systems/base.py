"""The kinds of dynamical system built from a Problem: flows (an ODE) and maps (a step).

A flow has ``vector_field(t, y) -> y'`` on its state (the layers, a tuple shaped like the params,
unless the flow says otherwise through ``state_problem``); ``autonomous`` says whether the field
ignores t (solvers rely on it only when it is True by construction). A map has ``step(y)``, a
step size ``eta`` (iteration k is compared with flow time t = k eta) and ``loss_and_step``.
All are frozen equinox modules, so they pass through jit and vmap.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax

from ..errors import InputError
from ..problem import Params, Problem


class AbstractSystem(eqx.Module):
    """A dynamical system on the parameters of ``problem``."""

    problem: eqx.AbstractVar[Problem]

    def __check_init__(self):
        if not isinstance(self.problem, Problem):
            raise InputError(f"{type(self).__name__} needs a dlnflow.Problem, got "
                             f"{type(self.problem).__name__}")

    @property
    def state_problem(self) -> Problem:
        """The problem whose parameters are this system's state (its loss is the state's loss);
        the network's own problem unless the state is something else (EndToEndFlow: W)."""
        return self.problem

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (provenance)."""
        return {"system": type(self).__name__}


class AbstractFlow(AbstractSystem):
    """dy/dt = vector_field(t, y)."""

    autonomous: ClassVar[bool] = True

    @abc.abstractmethod
    def vector_field(self, t: jax.Array, y: Params) -> Params:
        """The time derivative of the state."""

    def vector_field_flat(self, t: jax.Array, v: jax.Array) -> jax.Array:
        """``vector_field`` on the flattened state (``Problem.flatten`` order)."""
        problem = self.state_problem
        return problem.flatten(self.vector_field(t, problem.unflatten(v)))


class AbstractMap(AbstractSystem):
    """y_(k+1) = step(y_k), compared with a flow at t = k eta."""

    eta: eqx.AbstractVar[float]

    @abc.abstractmethod
    def step(self, y: Params) -> Params:
        """One iteration of the map."""

    def loss_and_step(self, y: Params) -> tuple[jax.Array, Params]:
        """(F(y), step(y)); maps that get the loss for free from their gradient override it."""
        return self.state_problem.loss(y), self.step(y)

    def loss_and_step_flat(self, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``loss_and_step`` on the flattened state (``Problem.flatten`` order)."""
        problem = self.state_problem
        loss, new = self.loss_and_step(problem.unflatten(v))
        return loss, problem.flatten(new)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "eta": self.eta}
