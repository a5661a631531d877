"""Maps (gradient descent and its variants): the batch iterated by one compiled loop
(``map_loop``) where every run stops on its own (threshold, divergence, fixed point), iterates
recorded at a stride, the runs split over one JAX CPU device per core; here the loop's settings
and its results as a Trajectory.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import equinox as eqx
import jax
import numpy as np

from ..problem import Params
from ..status import BY_CODE, stats
from ..status import COMPLETED as _COMPLETED
from ..status import DIVERGED as _DIVERGED
from ..status import MAX_STEPS as _MAX_STEPS
from ..status import STALLED as _STALLED
from ..systems import AbstractMap
from ..trajectory import Trajectory
from . import progress
from .map_loop import map_loop, record_rows
from .options import SaveAt, Stop
from .records import unflatten_np
from .split import over_devices, run_devices
from .steppers import state_layout

MAX_BLOCK = 32
"""Map steps per block of the compiled loop (see ``map_loop``): every step is checked, the loop
looks at whether any run is still going once per block."""


def traced_settings(system: AbstractMap) -> AbstractMap:
    """The map with its own float settings (step size, ...) as 0-d arrays, so that the compiled
    loop takes them as inputs: a new step size reuses the loop compiled for another."""
    names = [f.name for f in dataclasses.fields(system)
             if f.name != "problem" and not f.metadata.get("static", False)
             and isinstance(getattr(system, f.name), float)]
    if not names:
        return system
    return eqx.tree_at(lambda s: [getattr(s, n) for n in names], system,
                       [np.asarray(getattr(system, n), dtype=np.float64) for n in names])


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


def stall_tol(stop: Stop) -> float | None | np.ndarray:
    """The loop's fixed-point test: None (off), 0.0 (no weight moves; compiled in) or a traced
    tolerance."""
    tol = stop.stall_tol
    return tol if tol is None or tol == 0.0 else np.asarray(tol, float)


def iterate_map(system: AbstractMap, params: Params, max_steps: int, stop: Stop, save: SaveAt,
                fstar: float) -> Trajectory:
    """Run the map from the batch ``params`` for at most ``max_steps`` iterations."""
    stride, pstride = record_stride(save, max_steps), params_stride(save, max_steps)
    has_threshold = stop.loss is not None
    block = MAX_BLOCK
    B = int(params[0].shape[0])
    devices = run_devices(B)
    problem = system.state_problem
    layout = state_layout(system)           # how the loop carries the batch (``LAYOUTS``)
    flat = layout == "chain"
    # a chain's (L, B) weights and transposed layers made in numpy (no per-shape compiles)
    state: tuple[np.ndarray | jax.Array, ...]
    if flat:
        state = (np.concatenate([np.asarray(W).reshape(B, -1) for W in params], 1).T,)
    elif layout == "transposed":
        state = tuple(np.swapaxes(np.asarray(W), -1, -2) for W in params)
    else:
        state = params
    n_rec, n_par = max_steps // stride + 1, max_steps // pstride + 1
    axis = 1 if flat else 0
    settings = (layout, record_rows(n_rec), record_rows(n_par), block, pstride >= block,
                np.asarray(max_steps), np.asarray(stride), np.asarray(pstride),
                np.asarray(stop.threshold, float), np.asarray(fstar, float),
                np.asarray(stop.diverge_factor, float), stall_tol(stop),
                progress_tick(float(B) * max_steps * problem.num_params * max(problem.widths)))
    out = over_devices(lambda state, system: map_loop(system, state, *settings), devices, state,
                       traced_settings(system), in_axis=axis,
                       out_axes=(None, axis, 0, 0, 0, axis + 1, 1))
    _, final, loss, code, iters, rec_params, rec_loss = out
    rec_loss = np.asarray(rec_loss)[:n_rec]
    rec_params = tuple(np.asarray(R)[:n_par] for R in rec_params)
    if flat:
        final = unflatten_np(problem, np.asarray(final[0]).T)
        rec_params = unflatten_np(problem, np.swapaxes(rec_params[0], 1, 2))
    elif layout == "transposed":
        final = tuple(np.swapaxes(np.asarray(S), -1, -2) for S in final)
        rec_params = tuple(np.swapaxes(R, -1, -2) for R in rec_params)
    final = tuple(np.asarray(W) for W in final)
    code = np.array(code)
    iters = np.array(iters)
    code[code < 0] = _MAX_STEPS if has_threshold else _COMPLETED
    kgrid = np.arange(n_rec)[None, :] * stride                    # (1, N)
    valid = kgrid <= iters[:, None]
    eta = system.eta
    t = np.where(valid, kgrid * eta, np.nan)
    rec_loss = np.where(valid, rec_loss.T, np.nan)
    pvalid = np.arange(n_par)[None, :] * pstride <= iters[:, None]
    rec = tuple(np.where(pvalid[:, :, None, None], np.swapaxes(R, 0, 1), Wf[:, None])
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
