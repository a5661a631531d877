"""Flow backend: dlnflow's batched RODAS4 (``dlnflow.rosenbrock``), each run its own step."""

from __future__ import annotations

from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

from .. import rosenbrock
from ..problem import Params
from ..program_cache import cached_program
from ..status import stats
from ..systems import AbstractFlow
from ..trajectory import Trajectory
from .maps import progress_tick as tick_for
from .options import SaveAt, Solver, Stop
from .records import compact_records, flow_statuses, unflatten_np


@cached_program
def _rodas_batch(system, flat0, t1, thr, fstar, rtol, atol, ts, max_steps, has_threshold, dt0,
                 save_steps, diverge_factor, progress_tick):
    problem = system.state_problem

    def field(v):
        return system.vector_field_flat(0.0, v)

    event = None
    if has_threshold:
        def event(vb):
            return jax.vmap(problem.loss_flat)(vb) - fstar - thr

    loss_b = jax.vmap(problem.loss_flat)
    limit = diverge_factor * jnp.maximum(1.0, jnp.abs(loss_b(flat0)))

    def blowup(vb):
        loss = loss_b(vb)
        return ~jnp.isfinite(loss) | (jnp.abs(loss) > limit)

    out = rosenbrock.solve_batch(field, flat0, t1, rtol, atol, ts, max_steps, event, dt0,
                                 save_steps, blowup, progress_tick)
    out["loss0"], out["loss_final"] = loss_b(flat0), loss_b(out["y"])
    out["loss_saved"] = jax.vmap(loss_b)(jnp.nan_to_num(out["saved"]))
    out["loss_steps"] = jax.vmap(loss_b)(jnp.nan_to_num(out["step_y"]))
    return out


def solve(system: AbstractFlow, params, t1: float, solver: Solver, stop: Stop, save: SaveAt,
          fstar: float, max_steps: int) -> Trajectory:
    """Run the batch ``params`` with RODAS4 (the flow is autonomous: the front door checks)."""
    problem = system.state_problem
    ts = save.times(t1)
    has_threshold = stop.loss is not None
    flat0 = jax.vmap(problem.flatten)(params)
    dt0 = None if solver.dt0 is None else jnp.asarray(solver.dt0)
    out = jax.device_get(_rodas_batch(
        system, flat0, jnp.asarray(t1), jnp.asarray(stop.threshold), jnp.asarray(fstar),
        jnp.asarray(solver.rtol), jnp.asarray(solver.atol), jnp.asarray(ts), max_steps,
        has_threshold, dt0, save.steps, jnp.asarray(stop.diverge_factor),
        tick_for(float(flat0.shape[0]) * max_steps * flat0.shape[1] ** 2)))
    B = flat0.shape[0]
    t_final, y_final, code = np.asarray(out["t"]), np.asarray(out["y"]), np.asarray(out["code"])
    saved = np.swapaxes(np.asarray(out["saved"]), 0, 1)                      # (B, N, P)
    saved_ok = np.asarray(out["saved_ok"]).T & (ts[None, :] > 0) & (ts[None, :] < t_final[:, None])
    parts_t = [np.zeros((B, 1)), np.broadcast_to(ts, (B, ts.shape[0]))]
    parts_y = [np.asarray(flat0)[:, None], np.nan_to_num(saved)]
    parts_ok = [np.ones((B, 1), bool), saved_ok]
    loss0, loss_final = np.asarray(out["loss0"]), np.asarray(out["loss_final"])
    parts_loss = [loss0[:, None], np.asarray(out["loss_saved"]).T]
    if save.steps:
        step_t = np.asarray(out["step_t"]).T                                   # (B, S)
        parts_t.append(step_t)
        parts_y.append(np.swapaxes(np.asarray(out["step_y"]), 0, 1))
        parts_ok.append(np.isfinite(step_t) & (step_t < t_final[:, None]))
        parts_loss.append(np.asarray(out["loss_steps"]).T)
    t_rec = np.concatenate([*parts_t, t_final[:, None]], axis=1)
    flat_rec = np.concatenate([*parts_y, y_final[:, None]], axis=1)
    valid = np.concatenate([*parts_ok, np.ones((B, 1), bool)], axis=1)
    losses = np.concatenate([*parts_loss, loss_final[:, None]], axis=1)
    if save.steps:                                      # time order: saved ts and steps mixed
        order = np.argsort(np.where(valid, t_rec, np.inf), axis=1, kind="stable")
        t_rec, valid, losses = (np.take_along_axis(a, order, 1) for a in (t_rec, valid, losses))
        flat_rec = np.take_along_axis(flat_rec, order[:, :, None], 1)
    status, messages = flow_statuses(
        loss0, loss_final, t_final, code == rosenbrock.EVENT, code == rosenbrock.COMPLETED,
        code == rosenbrock.CAPPED, stop, fstar, t1, max_steps, "rodas4")
    final = unflatten_np(problem, y_final)
    tt, loss_rec, rec, valid = compact_records(t_rec, losses, unflatten_np(problem, flat_rec),
                                               valid, final)
    accepted, rejected = np.asarray(out["accepted"]), np.asarray(out["rejected"])
    attempts = accepted + rejected
    return Trajectory(
        problem=problem, kind="flow", t=tt, loss=loss_rec, params=rec, valid=valid,
        status=status, messages=messages, t_final=t_final, loss_final=loss_final,
        params_final=cast(Params, final), steps=accepted,
        stats=stats(B, accepted_steps=accepted, rejected_steps=rejected,
                    field_evals=np.asarray(out["field_evals"]), jacobian_evals=attempts,
                    lu_factorisations=attempts, iterations=0),
        metadata={"backend": "rodas4", "solver": "rodas4", "rtol": solver.rtol,
                  "atol": solver.atol, "t1": float(t1), "max_steps": max_steps},
    )
