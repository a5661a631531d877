"""simulate(system, params0, ...) -> Trajectory, for flows (diffrax or scipy) and maps (jitted).

Flows: diffrax ``diffeqsolve`` vmapped over the batch, an implicit stiff solver (Kvaerno5) by
default, explicit ones (Tsit5, Dopri5, Dopri8) on request, or scipy's ``solve_ivp`` (Radau, BDF,
LSODA, RK45, DOP853) run by run as an independent cross-check. A loss threshold is an event
(root-found crossing time). Maps: one ``lax.while_loop`` over the whole batch where every run
stops on its own (threshold, divergence, fixed point) and iterates are recorded at a stride.
"""

from __future__ import annotations

import importlib.metadata
import math
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
import scipy.integrate

from . import rosenbrock
from .errors import InputError, check_finite, check_positive, check_positive_int
from .problem import Params, Problem
from .trajectory import Trajectory

DIFFRAX_SOLVERS = {
    "kvaerno5": diffrax.Kvaerno5, "kvaerno4": diffrax.Kvaerno4, "kvaerno3": diffrax.Kvaerno3,
    "tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8,
}
SCIPY_SOLVERS = ("Radau", "BDF", "LSODA", "RK45", "DOP853")
JAX_SOLVERS = ("rodas4",)
IMPLICIT = {"kvaerno5", "kvaerno4", "kvaerno3", "Radau", "BDF", "LSODA", "rodas4"}
DEFAULT_SOLVER = {"diffrax": "kvaerno5", "scipy": "Radau", "jax": "rodas4"}
BACKEND_SOLVERS = {"diffrax": tuple(DIFFRAX_SOLVERS), "scipy": SCIPY_SOLVERS, "jax": JAX_SOLVERS}


def backend_of(solver: str) -> str:
    """The backend that provides ``solver`` (diffrax, scipy, or dlnflow's own JAX solvers)."""
    for backend, names in BACKEND_SOLVERS.items():
        if solver in names:
            return backend
    every = [n for names in BACKEND_SOLVERS.values() for n in names]
    raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(every)}")

_CONVERGED, _COMPLETED, _MAX_STEPS, _STALLED, _DIVERGED, _FAILED = range(6)
_STATUS_NAMES = ("converged", "completed", "max_steps", "stalled", "diverged", "solver_failed")


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("dlnflow", "jax", "diffrax", "equinox", "numpy", "scipy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _batched(problem: Problem, params0: Any) -> tuple[Params, bool]:
    params, batch = problem.check_params(params0, name="params0")
    if batch is None:
        return tuple(W[None] for W in params), False
    return params, True


def _threshold(problem: Problem, stop_at_loss: float | None) -> float:
    if stop_at_loss is None:
        return -math.inf
    return check_finite("stop_at_loss", stop_at_loss)


def simulate(
    system: Any,
    params0: Any,
    *,
    t1: float | None = None,
    max_steps: int | None = None,
    stop_at_loss: float | None = None,
    solver: str | None = None,
    backend: str | None = None,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    dt0: float | None = None,
    save_at: Any | None = None,
    save_steps: bool = False,
    record_every: int | None = None,
    diverge_factor: float = 1e12,
    stall_tol: float = 0.0,
) -> Trajectory:
    """Run ``system`` from ``params0`` (one start, or a batch with a leading axis).

    Flows need ``t1``; they stop early when the excess loss F - F* falls to ``stop_at_loss``
    (event with root-found crossing time). ``save_at`` lists times to record (t = 0 and the final
    state are always kept); ``save_steps`` records every accepted step (diffrax; buffer of
    ``max_steps``). Maps run at most ``max_steps`` iterations (or ``t1 / eta``), record every
    ``record_every`` iterations, stop per run at the threshold, at divergence (non-finite loss or
    loss > ``diverge_factor`` * max(1, F(0))) or at a fixed point (step of size <= ``stall_tol``).
    """
    problem: Problem = system.problem
    params, batched = _batched(problem, params0)
    thr = _threshold(problem, stop_at_loss)
    fstar = float(problem.optimal_loss or 0.0)
    rtol, atol = check_positive("rtol", rtol), check_positive("atol", atol)
    if system.kind == "map":
        if max_steps is None:
            if t1 is None:
                raise InputError("a map needs max_steps or t1")
            max_steps = int(math.ceil(check_positive("t1", t1) / system.eta))
        max_steps = check_positive_int("max_steps", max_steps, minimum=0)
        stride = max(1, max_steps // 1000) if record_every is None else check_positive_int(
            "record_every", record_every)
        traj = _iterate_map(system, params, max_steps, stride, thr, fstar,
                            check_positive("diverge_factor", diverge_factor),
                            check_finite("stall_tol", stall_tol), stop_at_loss is not None)
    else:
        if t1 is None:
            raise InputError("a flow needs t1 (the time horizon)")
        t1 = check_positive("t1", t1)
        max_steps = 100_000 if max_steps is None else check_positive_int("max_steps", max_steps)
        ts = _check_save_at(save_at, t1)
        if backend is not None and backend not in BACKEND_SOLVERS:
            raise InputError(f"backend must be one of {', '.join(BACKEND_SOLVERS)}, "
                             f"got {backend!r}")
        if solver is None:
            solver = DEFAULT_SOLVER[backend or "diffrax"]
        provider = backend_of(solver)
        if backend is not None and backend != provider:
            raise InputError(f"solver {solver!r} belongs to backend {provider!r}, not "
                             f"{backend!r}; choose one of {', '.join(BACKEND_SOLVERS[backend])}")
        if provider == "diffrax":
            traj = _flow_diffrax(system, params, t1, thr, fstar, solver, rtol, atol, dt0, ts,
                                 save_steps, max_steps, stop_at_loss is not None)
        elif provider == "scipy":
            traj = _flow_scipy(system, params, t1, thr, fstar, solver, rtol, atol, ts,
                               stop_at_loss is not None)
        else:
            if save_steps:
                raise InputError(f"solver {solver!r} records at save_at times (dense output), "
                                 "not every step: pass save_at, or use a diffrax solver")
            traj = _flow_rodas(system, params, t1, thr, fstar, rtol, atol, ts, max_steps,
                               stop_at_loss is not None)
    meta = dict(traj.metadata)
    meta.update({"problem": problem.describe(), **system.describe(),
                 "stop_at_loss": stop_at_loss, "optimal_loss": problem.optimal_loss,
                 "versions": _versions()})
    import dataclasses

    return dataclasses.replace(traj, metadata=meta, batched=batched)


def _check_save_at(save_at: Any, t1: float) -> np.ndarray:
    if save_at is None:
        return np.zeros(0)
    ts = np.asarray(save_at, dtype=float).ravel()
    if not np.all(np.isfinite(ts)) or np.any(ts < 0) or np.any(ts > t1):
        raise InputError(f"save_at times must lie in [0, t1={t1}], got {ts.min()}..{ts.max()}")
    if np.any(np.diff(ts) < 0):
        raise InputError("save_at times must be increasing")
    return ts


# ---------------------------------------------------------------------------------- maps


MAX_BLOCK = 32
"""Longest run of map steps taken without the full per-step bookkeeping (see ``_map_loop``)."""


def block_size(stride: int, exact_stall: bool) -> int:
    """Steps per block: the largest divisor of the recording stride <= MAX_BLOCK (records fall on
    block ends), or 1 when a positive stall tolerance needs the full check at every step."""
    if exact_stall:
        return 1
    return max(k for k in range(1, min(stride, MAX_BLOCK) + 1) if stride % k == 0)


def _loss_and_step(system):
    """params -> (F(params), map(params)) for one run."""
    if hasattr(system, "loss_and_step"):
        return system.loss_and_step
    return lambda p: (system.problem.loss(p), system.step(p))


def _select(mask: jax.Array, a: Params, b: Params) -> Params:
    """Per run (leading axis): a where mask else b."""
    return tuple(jnp.where(mask[:, None, None], u, v) for u, v in zip(a, b, strict=True))


def _all_finite(p: Params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(W), axis=(1, 2)) for W in p]), axis=0)


def _max_move(a: Params, b: Params) -> jax.Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(u - v), axis=(1, 2))
                              for u, v in zip(a, b, strict=True)]), axis=0)


def map_devices(batch: int) -> int:
    """How many devices share a batch of ``batch`` map runs: every CPU device (one per core, see
    ``dlnflow._config``) when JAX runs on the CPU and there are at least two runs, else 1."""
    if batch < 2 or jax.default_backend() != "cpu":
        return 1
    return min(jax.device_count(), batch)


@eqx.filter_jit
def _map_loop(system, params, max_steps, stride, block, devices, thr, fstar, diverge_factor,
              stall_tol):
    """``_map_loop_one`` on one device, or with the runs split evenly over ``devices`` CPU devices
    (shard_map; the batch is padded by repeating its last run). Each device's loop stops on its
    own; runs never interact, so the results do not depend on the split."""
    args = (max_steps, stride, block, thr, fstar, diverge_factor, stall_tol)
    if devices == 1:
        return _map_loop_one(system, params, *args)
    B = params[0].shape[0]
    pad = -B % devices
    if pad:
        params = tuple(jnp.concatenate([W, jnp.repeat(W[-1:], pad, axis=0)]) for W in params)
    dynamic, static = eqx.partition(system, eqx.is_array)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:devices]), ("runs",))
    runs, rep = jax.sharding.PartitionSpec("runs"), jax.sharding.PartitionSpec()
    recs = jax.sharding.PartitionSpec(None, "runs")

    def local(dynamic, params, thr, fstar, diverge_factor, stall_tol):
        out = _map_loop_one(eqx.combine(dynamic, static), params, max_steps, stride, block, thr,
                            fstar, diverge_factor, stall_tol)
        return (out[0][None], *out[1:])

    out = jax.shard_map(local, mesh=mesh, in_specs=(rep, runs, rep, rep, rep, rep),
                        out_specs=(runs, runs, runs, runs, runs, runs, recs, recs),
                        check_vma=False)(dynamic, params, thr, fstar, diverge_factor, stall_tol)
    k, x, loss, done, code, iters, rec_x, rec_loss = out
    return (jnp.max(k), tuple(W[:B] for W in x), loss[:B], done[:B], code[:B], iters[:B],
            tuple(R[:, :B] for R in rec_x), rec_loss[:, :B])


def _map_loop_one(system, params, max_steps, stride, block, thr, fstar, diverge_factor,
                  stall_tol):
    """Iterate the map over the batch (leading axis of every W_l), each run stopping on its own.

    A fully checked step (non-finite or exploded state -> diverged, keeping the last finite
    iterate; excess loss <= thr -> converged) costs as much as the step itself, so the loop
    advances in blocks of ``block`` light steps: each takes the loss from the same value_and_grad
    pass as the step and freezes a run the moment its loss reaches the threshold, exactly as the
    checked step would. A block in which a run's loss becomes non-finite or explodes is discarded
    and redone with checked steps (``redo_until``), so divergence is reported exactly too.
    Fixed points (a step moving no weight by more than stall_tol) are looked for at block starts,
    iterations k = 0, block, 2 block, ... (exact fixed points persist, so none is missed): a run
    whose iterate x_k is one stops there with iteration k. Positive stall tolerances use blocks
    of 1. The results do not depend on the batch or its split over devices.
    """
    problem = system.problem
    loss_step_b = jax.vmap(_loss_and_step(system))
    loss_b = jax.vmap(problem.loss)
    B = params[0].shape[0]
    n_rec = max_steps // stride + 1
    loss0 = loss_b(params)
    limit = diverge_factor * jnp.maximum(1.0, jnp.abs(loss0))
    at_min_tol = jnp.maximum(thr, 1e-12 * jnp.maximum(1.0, jnp.abs(loss0)))
    done0 = loss0 - fstar <= thr
    code0 = jnp.where(done0, _CONVERGED, -1)
    rec_x = tuple(jnp.zeros((n_rec, *W.shape)).at[0].set(W) for W in params)
    rec_loss = jnp.full((n_rec, B), jnp.nan).at[0].set(loss0)
    carry = (jnp.asarray(0), params, loss0, done0, code0, jnp.zeros(B, dtype=jnp.int64),
             rec_x, rec_loss)

    def record(k, x, loss, rec_x, rec_loss):
        def write(bufs):
            rx, rl = bufs
            j = k // stride
            return tuple(R.at[j].set(W) for R, W in zip(rx, x, strict=True)), rl.at[j].set(loss)

        return jax.lax.cond(k % stride == 0, write, lambda b: b, (rec_x, rec_loss))

    def checked_step(carry):
        k, x, loss, done, code, iters, rec_x, rec_loss = carry
        _, new = loss_step_b(x)
        new_loss = loss_b(new)
        bad = ~(jnp.isfinite(new_loss) & _all_finite(new)) | (new_loss > limit)
        active = ~done
        # x (iteration k) is a fixed point: the step does not move it; looked for at block ends
        fixed = active & ~bad & (k % block == 0) & (_max_move(new, x) <= stall_tol)
        fixed_conv = fixed & (loss - fstar <= at_min_tol)
        accept = active & ~bad & ~fixed
        conv = accept & (new_loss - fstar <= thr)
        x = _select(accept, new, x)
        loss = jnp.where(accept, new_loss, loss)
        iters = jnp.where(accept, k + 1, iters)
        code = jnp.where(active & bad, _DIVERGED, code)
        code = jnp.where(conv | fixed_conv, _CONVERGED, code)
        code = jnp.where(fixed & ~fixed_conv, _STALLED, code)
        done = done | (active & (bad | conv | fixed))
        k = k + 1
        rec_x, rec_loss = record(k, x, loss, rec_x, rec_loss)
        return k, x, loss, done, code, iters, rec_x, rec_loss

    def light_block(carry):
        k, x, loss, done, code, iters, rec_x, rec_loss, redo_until = carry
        active = ~done
        first_loss, first = loss_step_b(x)          # x passed its checks when it was accepted
        fixed = active & (_max_move(first, x) <= stall_tol)
        moving = active & ~fixed

        def light_step(i, s):
            y, stop_at = s                          # stop_at < 0: the run is still moving
            y_loss, y_new = loss_step_b(y)          # y_loss = F(y), y at iteration k + i
            alarm = ~((y_loss - fstar > thr) & (y_loss <= limit))
            stop_at = jnp.where((stop_at < 0) & alarm, i, stop_at)
            return _select(stop_at < 0, y_new, y), stop_at

        y, stop_at = jax.lax.fori_loop(1, block, light_step,
                                       (_select(moving, first, x), jnp.where(moving, -1, block)))
        y_loss = loss_b(y)                          # stopped runs: the loss where they stopped
        ok = (y_loss - fstar > thr) & (y_loss <= limit) & _all_finite(y)
        stop_at = jnp.where((stop_at < 0) & ~ok, block, stop_at)
        stopped = moving & (stop_at >= 0)
        converged = stopped & (y_loss - fstar <= thr) & (y_loss <= limit)

        # A run that diverged inside the block: discard the block, redo it with checked steps.
        redo = jnp.any(stopped & ~converged)
        take, fixed, stopped = moving & ~redo, fixed & ~redo, stopped & ~redo
        fixed_conv = fixed & (loss - fstar <= at_min_tol)
        code = jnp.where(stopped | fixed_conv, _CONVERGED, jnp.where(fixed, _STALLED, code))
        x = _select(take, y, x)
        loss = jnp.where(take, y_loss, loss)
        iters = jnp.where(stopped, k + stop_at, jnp.where(take, k + block, iters))
        k_end = k + block
        k = jnp.where(redo, k, k_end)
        rec_x, rec_loss = record(k, x, loss, rec_x, rec_loss)
        return (k, x, loss, done | stopped | fixed, code, iters, rec_x, rec_loss,
                jnp.where(redo, k_end, redo_until))

    def cond(carry):
        k, _, _, done, *_ = carry
        return (k < max_steps) & jnp.any(~done)

    def checked_step_carry(carry):
        return (*checked_step(carry[:-1]), carry[-1])

    def body(carry):
        k, redo_until = carry[0], carry[-1]
        if block == 1:
            return checked_step_carry(carry)
        return jax.lax.cond((k < redo_until) | (k + block > max_steps), checked_step_carry,
                            light_block, carry)

    return jax.lax.while_loop(cond, body, (*carry, jnp.asarray(0)))[:-1]


def _iterate_map(system, params, max_steps, stride, thr, fstar, diverge_factor, stall_tol,
                 has_threshold) -> Trajectory:
    block = block_size(stride, exact_stall=stall_tol > 0)
    devices = map_devices(int(params[0].shape[0]))
    out = _map_loop(system, params, max_steps, stride, block, devices, jnp.asarray(thr),
                    jnp.asarray(fstar), jnp.asarray(diverge_factor), jnp.asarray(stall_tol))
    k, final, loss, done, code, iters, rec_params, rec_loss = jax.device_get(out)
    final = tuple(np.asarray(W) for W in final)
    code = np.array(code)
    iters = np.array(iters)
    open_runs = code < 0
    code[open_runs] = _MAX_STEPS if has_threshold else _COMPLETED
    n_rec = rec_loss.shape[0]
    kgrid = np.arange(n_rec)[None, :] * stride                    # (1, N)
    valid = kgrid <= iters[:, None]
    eta = system.eta
    t = np.where(valid, kgrid * eta, np.nan)
    rec_loss = np.where(valid, np.asarray(rec_loss).T, np.nan)
    rec = tuple(np.where(valid[:, :, None, None], np.swapaxes(np.asarray(R), 0, 1), Wf[:, None])
                for R, Wf in zip(rec_params, final, strict=True))
    messages = []
    for c, it in zip(code, iters, strict=True):
        if c == _DIVERGED:
            messages.append(f"loss became non-finite or exploded at iteration {it + 1}; "
                            f"state is the last finite iterate (iteration {it})")
        elif c == _STALLED:
            messages.append(f"fixed point of the map reached at iteration {it}")
        else:
            messages.append("")
    return Trajectory(
        problem=system.problem, kind="map", t=t, loss=rec_loss, params=rec, valid=valid,
        status=[_STATUS_NAMES[c] for c in code], messages=messages,
        t_final=iters * eta, loss_final=np.asarray(loss), params_final=final,
        steps=iters, stats={"iterations": iters},
        metadata={"backend": "jax", "record_every": stride, "max_steps": max_steps,
                  "block": block, "devices": devices},
    )


# ---------------------------------------------------------------------------------- flows


def _make_solver(name: str, rtol: float, atol: float):
    cls = DIFFRAX_SOLVERS[name]
    if name in IMPLICIT:
        return cls(root_finder=optx.Chord(rtol=rtol / 10, atol=atol / 10))
    return cls()


@eqx.filter_jit
def _diffrax_batch(system, params, t1, thr, fstar, solver_name, rtol, atol, dt0, ts,
                   save_steps, max_steps, has_threshold):
    problem = system.problem
    term = diffrax.ODETerm(lambda t, y, args: system.vector_field(t, y))
    solver = _make_solver(solver_name, rtol, atol)
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    if has_threshold:
        def cond_fn(t, y, args, **kwargs):
            return problem.loss(y) - fstar - thr

        event = diffrax.Event(cond_fn, root_finder=optx.Newton(rtol=1e-12, atol=1e-14))
    else:
        event = None
    if save_steps:
        saveat = diffrax.SaveAt(t0=True, t1=True, steps=True)
    else:
        saveat = diffrax.SaveAt(t0=True, ts=ts if ts.shape[0] else None, t1=True)

    def one(y0):
        sol = diffrax.diffeqsolve(
            term, solver, 0.0, t1, dt0, y0, saveat=saveat, stepsize_controller=controller,
            event=event, max_steps=max_steps, throw=False)
        ok = sol.result == diffrax.RESULTS.successful
        ev = sol.result == diffrax.RESULTS.event_occurred
        cap = sol.result == diffrax.RESULTS.max_steps_reached
        losses = jax.vmap(problem.loss)(sol.ys)
        return (sol.ts, sol.ys, losses, ok, ev, cap, sol.stats["num_steps"],
                sol.stats["num_accepted_steps"], sol.stats["num_rejected_steps"])

    return jax.vmap(one)(params)


def _flow_diffrax(system, params, t1, thr, fstar, solver, rtol, atol, dt0, ts, save_steps,
                  max_steps, has_threshold) -> Trajectory:
    problem = system.problem
    loss0 = np.asarray(jax.vmap(problem.loss)(params))
    out = _diffrax_batch(system, params, jnp.asarray(t1), jnp.asarray(thr), jnp.asarray(fstar),
                         solver, jnp.asarray(rtol), jnp.asarray(atol), dt0, jnp.asarray(ts),
                         save_steps, max_steps, has_threshold)
    t, ys, losses, ok, ev, cap, nsteps, nacc, nrej = jax.device_get(out)
    t, losses = np.asarray(t), np.asarray(losses)
    finite_t = np.isfinite(t)
    # The last saved entry is the final state (t1 or the event time); records past the end of a
    # run (ts after the event, unused step slots) are inf in diffrax.
    last = np.array([np.flatnonzero(row)[-1] for row in finite_t])
    bidx = np.arange(t.shape[0])
    t_final = t[bidx, last]
    loss_final = losses[bidx, last]
    params_final = tuple(np.asarray(Y)[bidx, last] for Y in ys)
    status, messages = _flow_statuses(loss0, loss_final, t_final, ev, ok, cap, thr, fstar, t1,
                                      max_steps, has_threshold, f"diffrax {solver}")
    # Keep only the records strictly before the final one, then the final one itself, so that
    # padding sits at the end of each row.
    valid = finite_t.copy()
    valid[:, 1:] &= t[:, 1:] != t[:, :-1]          # t0 or t1 also listed in save_at
    tt, loss_rec, rec, valid = _compact_records(t, losses, tuple(np.asarray(Y) for Y in ys),
                                                valid, params_final)
    return Trajectory(
        problem=problem, kind="flow", t=tt, loss=loss_rec, params=rec, valid=valid,
        status=status, messages=messages, t_final=t_final, loss_final=loss_final,
        params_final=params_final, steps=np.asarray(nsteps),
        stats={"num_accepted_steps": np.asarray(nacc), "num_rejected_steps": np.asarray(nrej)},
        metadata={"backend": "diffrax", "solver": solver, "rtol": rtol, "atol": atol,
                  "t1": float(t1), "max_steps": max_steps},
    )


@eqx.filter_jit
def _rodas_batch(system, flat0, t1, thr, fstar, rtol, atol, ts, max_steps, has_threshold):
    problem = system.problem

    def field(v):
        return problem.flatten(system.vector_field(0.0, problem.unflatten(v)))

    event = None
    if has_threshold:
        def event(vb):
            return jax.vmap(problem.loss_flat)(vb) - fstar - thr

    out = rosenbrock.solve_batch(field, flat0, t1, rtol, atol, ts, max_steps, event)
    loss_b = jax.vmap(problem.loss_flat)
    out["loss0"], out["loss_final"] = loss_b(flat0), loss_b(out["y"])
    out["loss_saved"] = jax.vmap(loss_b)(jnp.nan_to_num(out["saved"]))
    return out


def _flow_rodas(system, params, t1, thr, fstar, rtol, atol, ts, max_steps,
                has_threshold) -> Trajectory:
    """dlnflow's batched RODAS4 (``rosenbrock.py``): each run its own step size."""
    problem = system.problem
    flat0 = jax.vmap(problem.flatten)(params)
    out = jax.device_get(_rodas_batch(system, flat0, jnp.asarray(t1), jnp.asarray(thr),
                                      jnp.asarray(fstar), jnp.asarray(rtol), jnp.asarray(atol),
                                      jnp.asarray(ts), max_steps, has_threshold))
    B = flat0.shape[0]
    t_final, y_final, code = np.asarray(out["t"]), np.asarray(out["y"]), np.asarray(out["code"])
    saved = np.swapaxes(np.asarray(out["saved"]), 0, 1)                      # (B, N, P)
    saved_ok = np.asarray(out["saved_ok"]).T & (ts[None, :] > 0) & (ts[None, :] < t_final[:, None])
    flat_rec = np.concatenate([np.asarray(flat0)[:, None], np.nan_to_num(saved),
                               y_final[:, None]], axis=1)
    t_rec = np.concatenate([np.zeros((B, 1)), np.broadcast_to(ts, (B, ts.shape[0])),
                            t_final[:, None]], axis=1)
    valid = np.concatenate([np.ones((B, 1), bool), saved_ok, np.ones((B, 1), bool)], axis=1)
    loss0, loss_final = np.asarray(out["loss0"]), np.asarray(out["loss_final"])
    losses = np.concatenate([loss0[:, None], np.asarray(out["loss_saved"]).T,
                             loss_final[:, None]], axis=1)
    status, messages = _flow_statuses(
        loss0, loss_final, t_final, code == rosenbrock.EVENT, code == rosenbrock.COMPLETED,
        code == rosenbrock.CAPPED, thr, fstar, t1, max_steps, has_threshold, "rodas4")
    final = _unflatten_np(problem, y_final)
    tt, loss_rec, rec, valid = _compact_records(t_rec, losses, _unflatten_np(problem, flat_rec),
                                                valid, final)
    accepted, rejected = np.asarray(out["accepted"]), np.asarray(out["rejected"])
    return Trajectory(
        problem=problem, kind="flow", t=tt, loss=loss_rec, params=rec, valid=valid,
        status=status, messages=messages, t_final=t_final, loss_final=loss_final,
        params_final=final, steps=accepted + rejected,
        stats={"num_accepted_steps": accepted, "num_rejected_steps": rejected},
        metadata={"backend": "jax", "solver": "rodas4", "rtol": rtol, "atol": atol,
                  "t1": float(t1), "max_steps": max_steps},
    )


def _unflatten_np(problem: Problem, flat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split (..., P) flattened states into layers (..., d_l, d_(l-1)) (flatten's order)."""
    out, i = [], 0
    for a, b in problem.layer_shapes:
        out.append(flat[..., i:i + a * b].reshape(*flat.shape[:-1], a, b))
        i += a * b
    return tuple(out)


def _flow_statuses(loss0, loss_final, t_final, event, completed, capped, thr, fstar, t1,
                   max_steps, has_threshold, solver_label):
    """Status and message per flow run from the solver's outcome flags (event, horizon reached,
    step cap; none of them: the solver failed)."""
    status, messages = [], []
    for i in range(len(loss_final)):
        if has_threshold and loss0[i] - fstar <= thr:
            status.append("converged")
            messages.append("start already below the loss threshold")
        elif not np.isfinite(loss_final[i]):
            status.append("diverged")
            messages.append("the loss became non-finite")
        elif event[i]:
            status.append("converged")
            messages.append("")
        elif completed[i]:
            status.append("max_steps" if has_threshold else "completed")
            messages.append(f"horizon t1={float(t1):g} reached before the loss threshold"
                            if has_threshold else "")
        elif capped[i]:
            status.append("max_steps")
            messages.append(f"solver step cap max_steps={max_steps} reached at t={t_final[i]:g}")
        else:
            status.append("solver_failed")
            messages.append(f"{solver_label} failed at t={t_final[i]:g} (step size collapsed "
                            "or non-finite state)")
    return status, messages


def _compact_records(t, loss, params, valid, final):
    """Invalid records become NaN (times, losses) or the final state (weights), then compact."""
    t = np.where(valid, t, np.nan)
    loss = np.where(valid, loss, np.nan)
    params = tuple(np.where(valid[:, :, None, None], R, Wf[:, None])
                   for R, Wf in zip(params, final, strict=True))
    return _compact(t, loss, params, valid)


def _compact(t, loss, params, valid):
    """Move the valid records of every row to the front (padding after), keep order."""
    order = np.argsort(~valid, axis=1, kind="stable")
    take = np.take_along_axis
    t = take(t, order, axis=1)
    loss = take(loss, order, axis=1)
    valid = take(valid, order, axis=1)
    params = tuple(take(W, order[:, :, None, None], axis=1) for W in params)
    # Drop columns that are padding in every row.
    keep = valid.any(axis=0)
    return t[:, keep], loss[:, keep], tuple(W[:, keep] for W in params), valid[:, keep]


def _flow_scipy(system, params, t1, thr, fstar, solver, rtol, atol, ts,
                has_threshold) -> Trajectory:
    problem = system.problem
    flat0 = jax.vmap(problem.flatten)(params)

    @jax.jit
    def field(t, v):
        return problem.flatten(system.vector_field(t, problem.unflatten(v)))

    @jax.jit
    def jac(t, v):
        return jax.jacfwd(lambda u: field(t, u))(v)

    loss_flat = jax.jit(lambda v: problem.loss_flat(v))
    fun = lambda t, v: np.asarray(field(t, v))            # noqa: E731
    jac_np = lambda t, v: np.asarray(jac(t, v))           # noqa: E731

    def event(t, v):
        return float(loss_flat(v)) - fstar - thr

    event.terminal = True
    event.direction = -1
    B = flat0.shape[0]
    all_t = np.unique(np.concatenate([[0.0], ts]))
    rows_t, rows_y, status, messages, t_final, steps, nfev, njev = [], [], [], [], [], [], [], []
    for i in range(B):
        v0 = np.asarray(flat0[i])
        kwargs = {"jac": jac_np} if solver in ("Radau", "BDF", "LSODA") else {}
        if has_threshold and event(0.0, v0) <= 0:
            sol = None
            tf, yf = 0.0, v0
            status.append("converged")
            messages.append("start already below the loss threshold")
            n_steps = 0
            row_t = np.array([0.0])
            row_y = v0[None]
            nfev.append(0)
            njev.append(0)
        else:
            sol = scipy.integrate.solve_ivp(
                fun, (0.0, t1), v0, method=solver, rtol=rtol, atol=atol, dense_output=True,
                events=event if has_threshold else None, **kwargs)
            tf = float(sol.t[-1])
            yf = sol.y[:, -1]
            n_steps = len(sol.t) - 1
            nfev.append(sol.nfev)
            njev.append(sol.njev)
            if sol.status == 1:
                status.append("converged")
                messages.append("")
            elif sol.status == 0:
                status.append("max_steps" if has_threshold else "completed")
                messages.append(f"horizon t1={t1:g} reached before the loss threshold"
                                if has_threshold else "")
            else:
                status.append("solver_failed")
                messages.append(f"scipy {solver}: {sol.message}")
            keep = all_t[all_t < tf]
            row_t = np.concatenate([keep, [tf]])
            row_y = np.concatenate([sol.sol(keep).T if keep.size else np.zeros((0, v0.size)),
                                    yf[None]])
        rows_t.append(row_t)
        rows_y.append(row_y)
        t_final.append(tf)
        steps.append(n_steps)
    N = max(len(r) for r in rows_t)
    P = flat0.shape[1]
    t = np.full((B, N), np.nan)
    Y = np.zeros((B, N, P))
    valid = np.zeros((B, N), bool)
    for i, (rt, ry) in enumerate(zip(rows_t, rows_y, strict=True)):
        t[i, :len(rt)] = rt
        Y[i, :len(rt)] = ry
        Y[i, len(rt):] = ry[-1]
        valid[i, :len(rt)] = True
    rec = jax.vmap(jax.vmap(problem.unflatten))(jnp.asarray(Y))
    loss = np.asarray(jax.vmap(jax.vmap(problem.loss))(rec))
    loss = np.where(valid, loss, np.nan)
    final = tuple(np.asarray(W) for W in
                  jax.vmap(problem.unflatten)(jnp.asarray(Y[np.arange(B), valid.sum(1) - 1])))
    loss_final = np.asarray(jax.vmap(problem.loss)(final))
    for i in range(B):
        if not np.isfinite(loss_final[i]):
            status[i] = "diverged"
            messages[i] = "the loss became non-finite"
    return Trajectory(
        problem=problem, kind="flow", t=t, loss=loss, params=tuple(np.asarray(W) for W in rec),
        valid=valid, status=status, messages=messages, t_final=np.asarray(t_final),
        loss_final=loss_final, params_final=final, steps=np.asarray(steps),
        stats={"nfev": np.asarray(nfev), "njev": np.asarray(njev)},
        metadata={"backend": "scipy", "solver": solver, "rtol": rtol, "atol": atol,
                  "t1": float(t1)},
    )
