"""After a run, the diagnoses every backend shares (one rule each, applied in the front door).

* A flow that ends (horizon reached, or the step budget spent) at a state where the vector
  field vanishes (every component <= ``Stop.stall_tol``, exactly 0 by default) is ``stalled``,
  as a map at a fixed point is.
* A flow that failed is told apart: a non-finite vector field at its last state, or a step size
  that collapsed there with a finite field (a blow-up, or a start too stiff for the horizon).
* A map stalled at a point where the gradient is not 0 has stalled in float64 only (the step
  eta grad F is below the rounding of the weights): its message says so, with the gradient.
* A run that ended on the loss (converged, completed, max_steps) of a problem whose F* is
  unknown or only an infimum (separable cross-entropy: F -> 0 while ||W|| -> infinity) says so
  in its message (``Problem.optimum.note``): "converged" there is the loss reaching the
  threshold, never a limit point, and thresholds with F* unknown measure F itself.
* Scalar chains: a product w_L ... w_1 that is exactly 0 in float64 although no weight is 0 has
  underflowed (the product of L N(0, 1) weights is about e^(-0.635 L)); the run's numbers are
  artefacts, so its status is ``solver_failed`` with the size of the lost product, never a
  silent ``stalled``.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..architecture import Plain
from ..status import Status
from ..systems import AbstractFlow
from ..trajectory import Trajectory
from .options import Stop


@eqx.filter_jit
def _field_size(system: AbstractFlow, params) -> jax.Array:
    """max |f(y)| per run at the batch of states ``params`` (NaN where it is not finite)."""
    def one(p):
        f = system.vector_field(jnp.zeros(()), p)
        m = jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in f]))
        return jnp.where(jnp.isfinite(m), m, jnp.nan)

    return jax.vmap(one)(tuple(jnp.asarray(W) for W in params))


@eqx.filter_jit
def _gradient_size(problem, params) -> jax.Array:
    """max |dF/dW_l| per run at the batch of states ``params``."""
    def one(p):
        return jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in problem.grad(p)]))

    return jax.vmap(one)(tuple(jnp.asarray(W) for W in params))


def _underflow(traj: Trajectory) -> np.ndarray:
    """log10 |prod w_i| per run where a scalar chain's product underflowed, else NaN."""
    problem = traj.problem
    out = np.full(traj.batch_size, np.nan)
    if not problem.is_scalar_chain:
        return out
    w = np.stack([np.asarray(W)[:, 0, 0] for W in traj.params_final], axis=-1)      # (B, L)
    p = cast(Plain, problem.architecture).output_scale * np.prod(w, axis=-1)
    lost = (p == 0) & np.all(w != 0, axis=-1) & np.all(np.isfinite(w), axis=-1)
    with np.errstate(divide="ignore"):
        logs = np.sum(np.log10(np.abs(w)), axis=-1)
    out[lost] = logs[lost]
    return out


def diagnose(system, traj: Trajectory, stop: Stop, note: str | None = None) -> Trajectory:
    """The trajectory with the shared diagnoses above applied to its statuses and messages
    (``note``: ``system.problem.optimum.note`` when the caller has it already)."""
    status, messages = list(traj.status), list(traj.messages)
    if isinstance(system, AbstractFlow):
        # the field can vanish at the end only where it vanished at the start (uniqueness of
        # solutions): look only at runs that never moved, and at failed ones
        still = np.all(np.stack([np.all(np.asarray(W)[:, 0] == np.asarray(F), axis=(1, 2))
                                 for W, F in zip(traj.params, traj.params_final, strict=True)]),
                       axis=0)
        look = [i for i, s in enumerate(status) if s == Status.SOLVER_FAILED or (
            still[i] and s in (Status.MAX_STEPS, Status.COMPLETED))]
        size = np.full(len(status), np.inf)
        if look:
            size[look] = _field_size(system, tuple(np.asarray(W)[look]
                                                   for W in traj.params_final))
        for i in look:
            s = status[i]
            t = float(traj.t_final[i])
            if (s in (Status.MAX_STEPS, Status.COMPLETED) and stop.stall_tol is not None
                    and size[i] <= stop.stall_tol):
                status[i] = Status.STALLED
                messages[i] = (f"the flow is at a critical point (vector field 0) at t={t:g}, "
                               "above the loss threshold" if stop.loss is not None else
                               f"the flow is at a critical point (vector field 0) at t={t:g}")
            elif s == Status.SOLVER_FAILED:
                why = ("the vector field is non-finite there" if not np.isfinite(size[i]) else
                       "the step size fell below 1e-14 t1 there with a finite field "
                       f"(|f| = {size[i]:.3g}: "
                       "a blow-up, or a start too stiff for this horizon and tolerance; a "
                       "scipy solver such as Radau takes smaller steps)")
                messages[i] = f"{messages[i]}; {why}"
    else:
        stalled = [i for i, s in enumerate(status) if s == Status.STALLED]
        if stalled:
            grads = _gradient_size(traj.problem, tuple(np.asarray(W)[stalled]
                                                        for W in traj.params_final))
            for i, g in zip(stalled, grads, strict=True):
                if g > 0:
                    messages[i] += (f"; the gradient there is not 0 (max |dF/dW| = "
                                    f"{g:.3g}) but eta times it is below the rounding "
                                    "of the weights: a fixed point of float64 arithmetic only")
    note = system.problem.optimum.note if note is None else note
    if note:
        for i, s in enumerate(status):
            if s in (Status.CONVERGED, Status.COMPLETED, Status.MAX_STEPS):
                messages[i] = f"{messages[i]}; {note}" if messages[i] else note
    lost = _underflow(traj)
    for i in map(int, np.flatnonzero(np.isfinite(lost))):
        status[i] = Status.SOLVER_FAILED
        messages[i] = (f"float64 underflow: the product of the {traj.problem.depth} weights is "
                       f"about 1e{lost[i]:.0f}, stored as 0 although no weight is 0; the run "
                       "(zero gradient, no progress) is an artefact of the number format")
    return dataclasses.replace(traj, status=status, messages=messages)
