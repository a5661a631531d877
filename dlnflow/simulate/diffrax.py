"""Flow backend: diffrax ``diffeqsolve`` vmapped over the batch (Kvaerno3/4/5, Tsit5, Dopri5/8).

A loss threshold is a diffrax ``Event`` root-found on the solver's interpolant; since the
implicit solvers interpolate with a cubic Hermite polynomial, the runs that hit it are integrated
again to the located time (so the final state is a step end) and refined by ``newton_landing``;
the steps of that second pass are in ``metadata["landing_steps"]``, not in the statistics.
diffrax and optimistix are imported where a solve is traced: a solve found in the program cache
(``dlnflow.program_cache``) runs without them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ..program_cache import cached_program
from ..rosenbrock import MIN_STEP
from ..status import stats
from ..systems import AbstractFlow
from ..trajectory import Trajectory
from .events import newton_landing
from .options import SaveAt, Solver, Stop
from .records import compact_records, flow_statuses
from .split import across_devices, run_devices

SOLVERS = {"kvaerno5": "Kvaerno5", "kvaerno4": "Kvaerno4", "kvaerno3": "Kvaerno3",
           "tsit5": "Tsit5", "dopri5": "Dopri5", "dopri8": "Dopri8"}
"""dlnflow's names of the diffrax solvers: their diffrax classes."""
IMPLICIT = ("kvaerno5", "kvaerno4", "kvaerno3")


def _make_solver(name: str, rtol, atol):
    import diffrax
    import optimistix as optx

    cls = getattr(diffrax, SOLVERS[name])
    if name in IMPLICIT:
        return cls(root_finder=optx.Chord(rtol=rtol / 10, atol=atol / 10))
    return cls()


@cached_program
def _batch(system, params, t_end, target, name, rtol, atol, dt0, ts, save_steps, max_steps,
           has_event, diverge_factor):
    """One diffeqsolve per run to its own t_end (vmapped): a root-found event at F = target if
    asked, and a stop at the step end where |F| exceeds diverge_factor max(1, |F(0)|)."""
    import diffrax
    import optimistix as optx

    problem = system.state_problem
    term = diffrax.ODETerm(lambda t, y, args: system.vector_field(t, y))
    solver = _make_solver(name, rtol, atol)
    # a step that would need to be smaller than dtmin fails the run (step size collapse: a
    # non-finite field or a blow-up) instead of spending the step budget on rejections
    controller = diffrax.PIDController(rtol=rtol, atol=atol, dtmin=MIN_STEP * jnp.max(t_end),
                                       force_dtmin=False)

    def blowup(t, y, args, **kwargs):
        loss = problem.loss(y)
        return ~jnp.isfinite(loss) | (jnp.abs(loss) > args)

    conds = (blowup,)
    if has_event:
        def cond_fn(t, y, args, **kwargs):
            return problem.loss(y) - target

        conds = (blowup, cond_fn)
    event = diffrax.Event(conds, root_finder=optx.Newton(rtol=1e-12, atol=1e-12) if has_event
                          else None)     # the blow-up test is boolean: nothing to root-find
    if save_steps:
        saveat = diffrax.SaveAt(t0=True, t1=True, steps=True)
    else:
        saveat = diffrax.SaveAt(t0=True, ts=ts if ts.shape[0] else None, t1=True)

    def one(y0, t1):
        limit = diverge_factor * jnp.maximum(1.0, jnp.abs(problem.loss(y0)))
        sol = diffrax.diffeqsolve(
            term, solver, 0.0, t1, dt0, y0, args=limit, saveat=saveat,
            stepsize_controller=controller, event=event, max_steps=max_steps, throw=False)
        R = diffrax.RESULTS
        # an event that happened counts even if its root find on the interpolant did not
        # converge: the crossing is landed again afterwards
        hit = sol.event_mask[1] if has_event else jnp.zeros((), bool)
        flags = (sol.result == R.successful, hit, sol.result == R.max_steps_reached)
        return (sol.ts, sol.ys, jax.vmap(problem.loss)(sol.ys), *flags,
                sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"])

    return jax.vmap(one)(params, t_end)


@eqx.filter_jit
def _land(system, params, t_event, target, name, rtol, atol, dt0, max_steps):
    """Integrate each run to its located event time (no event), then Newton-refine."""
    problem = system.state_problem
    out = _batch(system, params, t_event, target, name, rtol, atol, dt0, jnp.zeros(0), False,
                 max_steps, False, jnp.inf)
    ts, ys = out[0], out[1]
    last = jax.tree_util.tree_map(lambda Y: Y[:, -1], ys)
    flat = jax.vmap(problem.flatten)(last)
    t, flat = jax.vmap(lambda t, y: newton_landing(system, problem, t, y, target))(ts[:, -1],
                                                                                    flat)
    return t, jax.vmap(problem.unflatten)(flat), out[-2], out[-1]


def solve(system: AbstractFlow, params, t1: float, solver: Solver, stop: Stop, save: SaveAt,
          fstar: float, max_steps: int) -> Trajectory:
    """Run the batch ``params`` with a diffrax solver."""
    if save.steps and len(save.times(t1)):
        raise InputError(f"SaveAt.steps with SaveAt.ts: diffrax ({solver.name}) records the "
                         "solver steps or given times, not both; use rodas4 or a scipy solver")
    problem = system.state_problem
    has_threshold = stop.loss is not None
    target = jnp.asarray(fstar + stop.threshold if has_threshold else 0.0)
    B = params[0].shape[0]
    rtol, atol = jnp.asarray(solver.rtol), jnp.asarray(solver.atol)
    loss0 = np.asarray(jax.vmap(problem.loss)(params))
    settings = (target, solver.name, rtol, atol, solver.dt0, jnp.asarray(save.times(t1)),
                save.steps, max_steps, has_threshold, jnp.asarray(stop.diverge_factor))
    out = across_devices(lambda runs, system: _batch(system, *runs, *settings), run_devices(B),
                         (params, np.full(B, float(t1))), system)
    t, ys, losses, ok, ev, cap, nacc, nrej = out
    t, losses, ys = np.array(t), np.array(losses), tuple(np.array(Y) for Y in ys)
    finite_t = np.isfinite(t)
    last = np.array([np.flatnonzero(row)[-1] for row in finite_t])
    bidx = np.arange(B)
    t_final = t[bidx, last]
    loss_final = losses[bidx, last]
    params_final = tuple(Y[bidx, last].copy() for Y in ys)
    nacc, nrej = np.asarray(nacc).copy(), np.asarray(nrej).copy()
    hit = np.asarray(ev) & (loss0 - fstar > stop.threshold)
    landing = np.zeros(B, dtype=np.int64)     # steps of the second pass (not in the records)
    if hit.any():
        idx = np.flatnonzero(hit)
        t_l, p_l, acc_l, rej_l = jax.device_get(_land(
            system, tuple(jnp.asarray(W)[idx] for W in params), jnp.asarray(t_final[idx]),
            target, solver.name, rtol, atol, solver.dt0, max_steps))
        t_final[idx] = np.asarray(t_l)
        for Pf, Pl in zip(params_final, p_l, strict=True):
            Pf[idx] = np.asarray(Pl)
        loss_final[idx] = np.asarray(jax.vmap(problem.loss)(tuple(jnp.asarray(P) for P in p_l)))
        landing[idx] = np.asarray(acc_l) + np.asarray(rej_l)
        t[idx, last[idx]] = t_final[idx]
        losses[idx, last[idx]] = loss_final[idx]
        for Y, Pf in zip(ys, params_final, strict=True):
            Y[idx, last[idx]] = Pf[idx]
    status, messages = flow_statuses(loss0, loss_final, t_final, ev, ok, cap, stop, fstar, t1,
                                     max_steps, f"diffrax {solver.name}")
    valid = finite_t.copy()
    valid[:, 1:] &= t[:, 1:] != t[:, :-1]          # t0 or t1 also listed in save_at
    tt, loss_rec, rec, valid = compact_records(t, losses, ys, valid, params_final)
    return Trajectory(
        problem=problem, kind="flow", t=tt, loss=loss_rec, params=rec, valid=valid,
        status=status, messages=messages, t_final=t_final, loss_final=loss_final,
        params_final=params_final, steps=nacc,
        stats=stats(B, accepted_steps=nacc, rejected_steps=nrej, iterations=0),
        metadata={"backend": "diffrax", "solver": solver.name, "rtol": solver.rtol,
                  "atol": solver.atol, "t1": float(t1), "max_steps": max_steps,
                  "landing_steps": landing.tolist()},
    )
