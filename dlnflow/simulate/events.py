"""Loss-threshold events located to solver accuracy, shared by the flow backends.

The time T at which the excess loss g = F - F* - eps crosses 0 is ill-conditioned for small
eps: an error d in the state moves it by about d / (||W - W*|| lambda), ||W - W*|| ~ r(eps) the
distance to the minimiser at excess loss eps (``AbstractLoss.residual_norm``). Two measures make
T as exact as the tolerances promise:

1. ``event_solver``: when a threshold is asked, the local tolerances are tightened by the factor
   K r(eps) (K = ``EVENT_TOLERANCE_GAIN``, at most 1, never below ``EVENT_RTOL_FLOOR``), so the
   state's error stays small next to r(eps).
2. ``newton_landing``: the crossing found on a solver's interpolant is refined on a solver state
   (a step end at the located time): Newton steps on t with dg/dt = grad F . y' and a
   second-order Taylor step of the flow, so the reported loss equals the threshold.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ..losses import AbstractLoss
from ..problem import Problem
from .options import Solver

EVENT_TOLERANCE_GAIN = 10.0
"""K in rtol_event = rtol * min(1, K r(eps))."""

EVENT_RTOL_FLOOR = 1e-13
"""No tolerance is tightened below this (float64 round-off of the state)."""


def event_solver(solver: Solver, objective: AbstractLoss, threshold: float) -> Solver:
    """The solver with tolerances tightened for a loss threshold ``threshold`` (see above)."""
    factor = min(1.0, EVENT_TOLERANCE_GAIN * objective.residual_norm(threshold))
    rtol = max(solver.rtol * factor, min(solver.rtol, EVENT_RTOL_FLOOR))
    atol = max(solver.atol * factor, min(solver.atol, EVENT_RTOL_FLOOR))
    return dataclasses.replace(solver, rtol=rtol, atol=atol)


def newton_landing(system, problem: Problem, t: jax.Array, flat: jax.Array, target: jax.Array,
                   iterations: int = 2) -> tuple[jax.Array, jax.Array]:
    """Refine one run's crossing of F = target from a solver state (t, flat) near it.

    Each iteration: delta = -(F(y) - target) / (grad F . f(y)), y <- y + delta f + delta^2/2
    (Df f), t <- t + delta. Returns (t, flat).
    """
    def field(v):
        return system.vector_field_flat(t, v)

    def one(_, state):
        tt, y = state
        fy = field(y)
        g, dg = jax.jvp(problem.loss_flat, (y,), (fy,))
        ok = jnp.isfinite(dg) & (dg < 0)
        delta = jnp.where(ok, -(g - target) / jnp.where(ok, dg, -1.0), 0.0)
        _, dfy = jax.jvp(field, (y,), (fy,))
        return tt + delta, y + delta * fy + 0.5 * delta**2 * dfy

    return jax.lax.fori_loop(0, iterations, one, (t, flat))
