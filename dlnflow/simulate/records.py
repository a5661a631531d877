"""What every flow backend shares: the status ladder of a run and the layout of its records."""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..problem import Params, Problem
from ..status import Status, stats
from ..trajectory import Trajectory


def flow_statuses(loss0, loss_final, t_final, event, completed, capped, stop, fstar, t1,
                  max_steps, solver_label):
    """Status and message per flow run from the solver's outcome flags (event, horizon reached,
    step cap; none of them: the solver failed), the same ladder on every backend: below the
    threshold at the start, diverged (|F| non-finite or above diverge_factor max(1, |F(0)|)),
    event, horizon, step cap, failure."""
    has_threshold, thr = stop.loss is not None, stop.threshold
    limit = stop.diverge_factor * np.maximum(1.0, np.abs(loss0))
    status, messages = [], []
    for i in range(len(loss_final)):
        if has_threshold and loss0[i] - fstar <= thr:
            status.append(Status.CONVERGED)
            messages.append("start already below the loss threshold")
        elif not np.isfinite(loss_final[i]) or abs(loss_final[i]) > limit[i]:
            status.append(Status.DIVERGED)
            messages.append(f"the loss became non-finite or exploded by t={t_final[i]:g}")
        elif event[i]:
            status.append(Status.CONVERGED)
            messages.append("")
        elif completed[i]:
            status.append(Status.MAX_STEPS if has_threshold else Status.COMPLETED)
            messages.append(f"horizon t1={float(t1):g} reached before the loss threshold"
                            if has_threshold else "")
        elif capped[i]:
            status.append(Status.MAX_STEPS)
            messages.append(f"solver step cap max_steps={max_steps} reached at t={t_final[i]:g}")
        else:
            status.append(Status.SOLVER_FAILED)
            messages.append(f"{solver_label} failed at t={t_final[i]:g}")
    return status, messages


def compact_records(t, loss, params, valid, final):
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


def unflatten_np(problem: Problem, flat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split (..., P) flattened states into layers (..., d_l, d_(l-1)) (flatten's order)."""
    out, i = [], 0
    for a, b in problem.layer_shapes:
        out.append(flat[..., i:i + a * b].reshape(*flat.shape[:-1], a, b))
        i += a * b
    return tuple(out)




def run_by_run_trajectory(problem: Problem, t: np.ndarray, Y: np.ndarray, loss: np.ndarray,
                          valid: np.ndarray, codes: list[str], counts: list[dict], stop: Any,
                          fstar: float, t1: float, max_steps: int, label: str,
                          metadata: dict[str, Any]) -> Trajectory:
    """The Trajectory of runs solved one by one (scipy, reduction): records t (B, N), flat
    states Y (B, N, P), losses and valid flags padded past each run's end; per run the outcome
    code ('event', 'horizon', 'cap' or 'failed: why') and its counters (STATS_KEYS)."""
    B = t.shape[0]
    last, rows = valid.sum(1) - 1, np.arange(B)
    t_final, loss_final = t[rows, last], loss[rows, last]
    final = unflatten_np(problem, Y[rows, last])
    code_arr = np.asarray(codes)
    status, messages = flow_statuses(
        loss[:, 0], loss_final, t_final, code_arr == "event", code_arr == "horizon",
        code_arr == "cap", stop, fstar, t1, max_steps, label)
    for i, code in enumerate(codes):
        if status[i] == Status.SOLVER_FAILED:
            messages[i] = f"{label} at t={t_final[i]:g}: {code[len('failed: '):]}"
    tt, loss_rec, rec, valid = compact_records(t, loss, unflatten_np(problem, Y), valid, final)
    per = {k: np.array([c[k] for c in counts]) for k in counts[0]}
    return Trajectory(
        problem=problem, kind="flow", t=tt, loss=loss_rec, params=cast(Params, rec),
        valid=valid, status=status, messages=messages, t_final=t_final, loss_final=loss_final,
        params_final=cast(Params, final), steps=per["accepted_steps"],
        stats=stats(B, **per, iterations=0),
        metadata={**metadata, "t1": float(t1), "max_steps": max_steps})
