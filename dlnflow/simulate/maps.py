"""Maps (gradient descent and its variants): one jitted ``lax.while_loop`` over the batch where
every run stops on its own (threshold, divergence, fixed point), iterates recorded at a stride,
the runs split over one JAX CPU device per core.
"""

from __future__ import annotations

from typing import cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..problem import Params
from ..status import BY_CODE, stats
from ..status import COMPLETED as _COMPLETED
from ..status import CONVERGED as _CONVERGED
from ..status import DIVERGED as _DIVERGED
from ..status import MAX_STEPS as _MAX_STEPS
from ..status import STALLED as _STALLED
from ..systems import AbstractMap
from ..trajectory import Trajectory
from . import progress
from .options import SaveAt, Stop
from .records import unflatten_np

MAX_BLOCK = 32
"""Longest run of map steps taken without the full per-step bookkeeping (see ``_map_loop``)."""


def block_size(stride: int, exact_stall: bool) -> int:
    """Steps per block: MAX_BLOCK (records inside a block are written by its light steps, so
    the recording stride does not constrain it), or 1 when a positive stall tolerance needs
    the full check at every step."""
    return 1 if exact_stall else MAX_BLOCK



def _rest(W: jax.Array) -> tuple[int, ...]:
    return tuple(range(1, W.ndim))


def _select(mask: jax.Array, a: Params, b: Params) -> Params:
    """Per run (leading axis): a where mask else b."""
    return tuple(jnp.where(mask.reshape(-1, *(1,) * (u.ndim - 1)), u, v)
                 for u, v in zip(a, b, strict=True))


def _all_finite(p: Params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(W), axis=_rest(W)) for W in p]), axis=0)


def _max_move(a: Params, b: Params) -> jax.Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(u - v), axis=_rest(u))
                              for u, v in zip(a, b, strict=True)]), axis=0)


def _steppers(system: AbstractMap, flat: bool):
    """Batched (loss, step) and loss on the loop's state: the params tuple, or a 1-tuple of the
    flattened parameters for scalar chains (a graph that does not grow with the depth)."""
    problem = system.state_problem
    if not flat:
        return jax.vmap(system.loss_and_step), jax.vmap(problem.loss)

    def loss_and_step(s):
        loss, v = system.loss_and_step_flat(s[0])
        return loss, (v,)

    return jax.vmap(loss_and_step), jax.vmap(lambda s: problem.loss_flat(s[0]))


def map_devices(batch: int) -> int:
    """How many devices share a batch of ``batch`` map runs: every CPU device (one per core, see
    ``dlnflow._config``) when JAX runs on the CPU and there are at least two runs, else 1."""
    if batch < 2 or jax.default_backend() != "cpu":
        return 1
    return min(jax.device_count(), batch)


@eqx.filter_jit
def _map_loop(system, params, max_steps, stride, block, devices, thr, fstar, diverge_factor,
              stall_tol, tick=None, pstride=None):
    """``_map_loop_one`` on one device, or with the runs split evenly over ``devices`` CPU devices
    (shard_map; the batch is padded by repeating its last run). Each device's loop stops on its
    own; runs never interact, so the results do not depend on the split. ``pstride``: the
    iterations between parameter records (None: ``stride``)."""
    pstride = stride if pstride is None else pstride
    args = (max_steps, stride, pstride, block, thr, fstar, diverge_factor, stall_tol)
    if devices == 1:
        return _map_loop_one(system, params, *args, tick)
    B = params[0].shape[0]
    pad = -B % devices
    if pad:
        params = tuple(jnp.concatenate([W, jnp.repeat(W[-1:], pad, axis=0)]) for W in params)
    dynamic, static = eqx.partition(system, eqx.is_array)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:devices]), ("runs",))
    runs, rep = jax.sharding.PartitionSpec("runs"), jax.sharding.PartitionSpec()
    recs = jax.sharding.PartitionSpec(None, "runs")

    def local(dynamic, params, thr, fstar, diverge_factor, stall_tol):
        out = _map_loop_one(eqx.combine(dynamic, static), params, max_steps, stride, pstride,
                            block, thr, fstar, diverge_factor, stall_tol, tick)
        return (out[0][None], *out[1:])

    out = jax.shard_map(local, mesh=mesh, in_specs=(rep, runs, rep, rep, rep, rep),
                        out_specs=(runs, runs, runs, runs, runs, runs, recs, recs),
                        check_vma=False)(dynamic, params, thr, fstar, diverge_factor, stall_tol)
    k, x, loss, done, code, iters, rec_x, rec_loss = out
    return (jnp.max(k), tuple(W[:B] for W in x), loss[:B], done[:B], code[:B], iters[:B],
            tuple(R[:, :B] for R in rec_x), rec_loss[:, :B])


def _map_loop_one(system, params, max_steps, stride, pstride, block, thr, fstar,
                  diverge_factor, stall_tol, tick=None):
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
    of 1. The results do not depend on the batch or its split over devices. Losses are
    recorded at iterations k = 0, stride, 2 stride, ..., parameters at k = 0, pstride, ...
    (pstride a multiple of stride).
    """
    loss_step_b, loss_b = _steppers(system, len(params) == 1 and params[0].ndim == 2)
    B = params[0].shape[0]
    n_rec = max_steps // stride + 1
    n_par = max_steps // pstride + 1
    loss0 = loss_b(params)
    limit = diverge_factor * jnp.maximum(1.0, jnp.abs(loss0))
    at_min_tol = jnp.maximum(thr, 1e-12 * jnp.maximum(1.0, jnp.abs(loss0)))
    done0 = loss0 - fstar <= thr
    code0 = jnp.where(done0, _CONVERGED, -1)
    rec_x = tuple(jnp.zeros((n_par, *W.shape)).at[0].set(W) for W in params)
    rec_loss = jnp.full((n_rec, B), jnp.nan).at[0].set(loss0)
    carry = (jnp.asarray(0), params, loss0, done0, code0, jnp.zeros(B, dtype=jnp.int64),
             rec_x, rec_loss)

    def record(k, x, loss, rec_x, rec_loss):
        def write(bufs):
            rx, rl = bufs
            j = k // stride
            return tuple(R.at[j].set(W) for R, W in zip(rx, x, strict=True)), rl.at[j].set(loss)

        if pstride == stride:
            return jax.lax.cond(k % stride == 0, write, lambda b: b, (rec_x, rec_loss))
        rec_loss = jax.lax.cond(k % stride == 0, lambda rl: rl.at[k // stride].set(loss),
                                lambda rl: rl, rec_loss)
        rec_x = jax.lax.cond(k % pstride == 0, lambda rx: tuple(
            R.at[k // pstride].set(W) for R, W in zip(rx, x, strict=True)), lambda rx: rx, rec_x)
        return rec_x, rec_loss

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
            y, stop_at, rx, rl = s                  # stop_at < 0: the run is still moving
            y_loss, y_new = loss_step_b(y)          # y_loss = F(y), y at iteration k + i
            rx, rl = record(k + i, y, y_loss, rx, rl)
            alarm = ~((y_loss - fstar > thr) & (y_loss <= limit))
            stop_at = jnp.where((stop_at < 0) & alarm, i, stop_at)
            return _select(stop_at < 0, y_new, y), stop_at, rx, rl

        y, stop_at, rec_x, rec_loss = jax.lax.fori_loop(
            1, block, light_step,
            (_select(moving, first, x), jnp.where(moving, -1, block), rec_x, rec_loss))
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

    def advance(carry):
        k, redo_until = carry[0], carry[-1]
        if block == 1:
            return checked_step_carry(carry)
        return jax.lax.cond((k < redo_until) | (k + block > max_steps), checked_step_carry,
                            light_block, carry)

    def body(carry):
        carry = advance(carry)
        if tick is not None:
            k, done, iters = carry[0], carry[3], carry[5]
            jax.lax.cond(k % (progress.EVERY * block) < block,
                         lambda: jax.debug.callback(tick, k, iters, done), lambda: None)
        return carry

    return jax.lax.while_loop(cond, body, (*carry, jnp.asarray(0)))[:-1]




QUICK_WORK = 5e6
"""Work (runs x steps x parameters x width) per second of ``progress.PERIOD`` below which a
run ends well before progress would be reported: such runs are compiled without the progress
callback, whose host callback would keep the loop out of JAX's persistent compilation cache."""


def progress_tick(work: float):
    """The progress callback to compile into a loop of about ``work`` operations, or None."""
    return progress.tick if progress.active() and work > QUICK_WORK * progress.PERIOD else None


def record_stride(save: SaveAt, max_steps: int) -> int:
    """Iterations between records: SaveAt.every, else about 1,000 records in all."""
    return save.every if save.every is not None else max(1, max_steps // 1000)


def params_stride(save: SaveAt, max_steps: int) -> int:
    """Iterations between parameter records: SaveAt.params_every, else the record stride."""
    return save.params_every if save.params_every is not None else record_stride(save, max_steps)


def iterate_map(system: AbstractMap, params: Params, max_steps: int, stop: Stop, save: SaveAt,
                fstar: float) -> Trajectory:
    """Run the map from the batch ``params`` for at most ``max_steps`` iterations."""
    stride, pstride = record_stride(save, max_steps), params_stride(save, max_steps)
    thr, has_threshold = stop.threshold, stop.loss is not None
    block = block_size(stride, exact_stall=stop.stall_tol > 0)
    devices = map_devices(int(params[0].shape[0]))
    problem = system.state_problem
    flat = problem.is_scalar_chain          # the loop carries (B, L): see ``_steppers``
    state = (jax.vmap(problem.flatten)(params),) if flat else params
    out = _map_loop(system, state, max_steps, stride, block, devices, jnp.asarray(thr),
                    jnp.asarray(fstar), jnp.asarray(stop.diverge_factor),
                    jnp.asarray(stop.stall_tol),
                    progress_tick(float(params[0].shape[0]) * max_steps * problem.num_params
                                  * max(problem.widths)), pstride=pstride)
    k, final, loss, done, code, iters, rec_params, rec_loss = jax.device_get(out)
    if flat:
        final = unflatten_np(problem, np.asarray(final[0]))
        rec_params = unflatten_np(problem, np.asarray(rec_params[0]))
    final = tuple(np.asarray(W) for W in final)
    code = np.array(code)
    iters = np.array(iters)
    code[code < 0] = _MAX_STEPS if has_threshold else _COMPLETED
    n_rec = rec_loss.shape[0]
    kgrid = np.arange(n_rec)[None, :] * stride                    # (1, N)
    valid = kgrid <= iters[:, None]
    eta = system.eta
    t = np.where(valid, kgrid * eta, np.nan)
    rec_loss = np.where(valid, np.asarray(rec_loss).T, np.nan)
    pvalid = np.arange(rec_params[0].shape[0])[None, :] * pstride <= iters[:, None]
    rec = tuple(np.where(pvalid[:, :, None, None], np.swapaxes(np.asarray(R), 0, 1), Wf[:, None])
                for R, Wf in zip(rec_params, final, strict=True))
    messages = []
    for c, it in zip(code, iters, strict=True):
        if c == _DIVERGED:
            messages.append(f"loss became non-finite or exploded at iteration {it + 1}; "
                            f"state is the last finite iterate (iteration {it})")
        elif c == _STALLED:
            messages.append(f"fixed point of the map reached at iteration {it}")
        elif c == _MAX_STEPS:
            messages.append(f"iteration budget max_steps={max_steps} spent before the loss "
                            "threshold")
        else:
            messages.append("")
    B = len(code)
    return Trajectory(
        problem=system.state_problem, kind="map", t=t, loss=rec_loss, params=cast(Params, rec),
        valid=valid,
        status=[BY_CODE[c] for c in code], messages=messages, params_stride=pstride // stride,
        t_final=iters * eta, loss_final=np.asarray(loss), params_final=cast(Params, final),
        steps=iters, stats=stats(B, iterations=iters, accepted_steps=iters, rejected_steps=0,
                                 jacobian_evals=0, lu_factorisations=0),
        metadata={"backend": "maps", "record_every": stride, "max_steps": max_steps,
                  "block": block, "devices": devices,
                  **({"params_every": pstride} if pstride != stride else {})},
    )
