"""The compiled loop of the maps: every run of a batch iterated until it stops on its own.

One ``lax.while_loop`` over blocks of ``block`` steps (a ``fori_loop``); each step takes the
loss F(y_i) of the iterate it starts from out of the same pass as the step, keeps it in the
block's buffer, and stops the run the step its iterate first

* reaches the loss threshold, F(y_i) - F* <= thr: converged, iteration i;
* is a fixed point, max |step(y_i) - y_i| <= stall_tol: stalled (converged when F(y_i) is within
  round-off of F*), iteration i;
* has a non-finite or exploded loss (F(y_i) > diverge_factor max(1, |F(y_0)|)): diverged,
  keeping the last finite iterate y_(i-1) (the block is run again from its start with that run
  stopped there), iteration i - 1.

Every step is checked, so the statuses and iterations do not depend on the block, the recording
stride, the batch or its split over CPU devices. Where no per-step fixed-point test is needed
(matrix states test at the block's end, ``Stop(stall_tol=None)``) a block first runs unchecked,
every run stepped with no per-step selection of the state, and is run again checked from its
start only when a run stops in it. Chains with the exact test (``stall_tol`` 0.0) run unchecked
too, keeping per weight the last step that moved it: a fixed point persists, so a run is fixed
from the step after its last move on, and only a threshold or a divergence calls for the
checked repeat. After a block its buffers are scattered into
the records: iteration k goes to row k // stride when k is on the stride, else to a spare last
row. Step size, iteration budget and strides are traced values, so a new step size or budget
reuses the compiled loop; only the number of record rows (rounded up by ``record_rows``), the
block and the batch shape are compiled in.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..program_cache import cached_program
from ..status import CONVERGED, DIVERGED, STALLED
from . import progress
from .steppers import steppers

QUICK, EXACT, CHECKED = 0, 1, 2
"""Passes over a block: unchecked with chain GD's zero-free step (NaN at a zero weight);
unchecked with the exact step; checked, every step (the repeat that takes the stops)."""

ROW_STEPS = 8
"""Record buffers come in ``ROW_STEPS`` sizes per octave (a changed budget rarely recompiles,
and a buffer is at most 1/8 larger than its records)."""


def record_rows(n: int) -> int:
    """Rows of a record buffer holding ``n`` records: n rounded up to a multiple of
    2^floor(log2 n) / ROW_STEPS (at least 1)."""
    q = max(1, (1 << (max(n, 1).bit_length() - 1)) // ROW_STEPS)
    return -(-n // q) * q


def _select(mask: jax.Array, a, b, axis: int = 0):
    """Per run (``axis`` of every leaf is the batch): a where mask else b."""
    def pick(u, v):
        shape = [1] * u.ndim
        shape[axis] = -1
        return jnp.where(mask.reshape(shape), u, v)
    return tuple(pick(u, v) for u, v in zip(a, b, strict=True))


def _unmoved(a, b, axis: int) -> jax.Array:
    """Per run: every weight of a equals b's (cheaper to reduce than the largest move)."""
    def one(u, v):
        return jnp.all(u == v, axis=tuple(d for d in range(u.ndim) if d != axis))
    return functools.reduce(jnp.logical_and, [one(u, v) for u, v in zip(a, b, strict=True)])


def _max_move(a, b, axis: int) -> jax.Array:
    """Per run (``axis``): max over the weights of |a - b|."""
    def one(u, v):
        return jnp.max(jnp.abs(u - v), axis=tuple(d for d in range(u.ndim) if d != axis))
    return jnp.max(jnp.stack([one(u, v) for u, v in zip(a, b, strict=True)]), axis=0)


def map_loop_one(system, state, layout, rows, prows, block, sparse_params, max_steps, stride,
                 pstride, thr, fstar, diverge_factor, stall_tol, tick=None):
    """Iterate the map over the batch, each run stopping on its own (module docstring).

    ``stall_tol``: None (no fixed-point check), 0.0 (a step leaving every weight unchanged),
    or a traced positive tolerance. A block in which a run diverges is run again from its
    start with that run limited to its last finite iterate (the other runs repeat their
    steps exactly); so is one whose last iterate is a fixed point of a run tested only there.
    Returns (k, final state, final loss, code (-1: still running), iterations,
    parameter records (prows + 1, ...), loss records (rows + 1, B)); records hold iterations
    0, stride, ... (parameters 0, pstride, ...) up to each run's end, the last row is spare."""
    from ..systems import GradientDescent
    flat = layout == "chain"
    axis = 1 if flat else 0
    B = state[0].shape[axis]
    loss_and_step, loss_state, _ = steppers(system, layout, B)
    loss0 = loss_state(state)
    limit = diverge_factor * jnp.maximum(1.0, jnp.abs(loss0))
    at_min_tol = jnp.maximum(thr, 1e-12 * jnp.maximum(1.0, jnp.abs(loss0)))

    def bad_loss(v):
        return ~jnp.isfinite(v) | (v > limit)

    def stops(v):                                       # diverged or at the threshold
        return bad_loss(v) | (v - fstar <= thr)

    def fixed(new, y):                                  # the step moves no weight (> stall_tol)
        if stall_tol is None:
            return jnp.zeros(B, bool)
        if isinstance(stall_tol, float) and stall_tol == 0.0:
            return _unmoved(new, y, axis)
        return _max_move(new, y, axis) <= stall_tol

    # Chains test every step for a fixed point (one small reduction). Wider states test whether
    # the block's last step moved a weight and, when a run turned out fixed there, repeat the
    # block testing every step: a fixed point persists, so it was reached inside.
    gated = not flat and stall_tol is not None

    def fresh(y):
        """A block's start: (stop index -1 per run, loss buffer, iterate buffers)."""
        pbuf = () if sparse_params else tuple(jnp.zeros((block + 1, *W.shape), W.dtype)
                                              for W in y)
        return jnp.full(B, -1, jnp.int32), jnp.zeros((block + 1, B)), pbuf

    def record(buf, pbuf, i, y_loss, y):
        """F(y_i) and, unless ``sparse_params``, y_i into row i of the block's buffers."""
        buf = jax.lax.dynamic_update_index_in_dim(buf, y_loss, i, 0)
        if not sparse_params:
            pbuf = tuple(jax.lax.dynamic_update_index_in_dim(P, W, i, 0)
                         for P, W in zip(pbuf, y, strict=True))
        return buf, pbuf

    def light(y, n, steps):
        """Up to n[b] steps of run b from y (iteration k), each checked, then a probe step from
        the last iterate: (y, stop index or -1, F(y_i) for i <= steps, the iterates y_i unless
        ``sparse_params``, whether the last iterate is a fixed point)."""
        def one(i, c):
            y, stop_at, buf, pbuf, _ = c
            y_loss, new = loss_and_step(y)                  # F(y_i), y_(i+1)
            buf, pbuf = record(buf, pbuf, i, y_loss, y)
            still = fixed(new, y)
            going = (stop_at < 0) & (i < n)
            alarm = stops(y_loss) | still
            stop_at = jnp.where(going & alarm, i, stop_at)
            return _select(going & ~alarm, new, y, axis), stop_at, buf, pbuf, still
        return jax.lax.fori_loop(0, steps + 1, one, (y, *fresh(y), jnp.zeros(B, bool)))

    # Without a per-step fixed-point test a block first runs unchecked (no per-step select of
    # the state): when a run hits a threshold or diverges in it, or a gated run turns out fixed
    # at its end, the block is repeated from its start with every step checked (``light``).
    # Chains testing exactly for a fixed point (``stall_tol`` 0.0) run unchecked too: a step
    # that leaves every weight unchanged does so forever after, so the first fixed iterate
    # follows from the last step that moved a weight, and only a threshold or a divergence
    # calls for the checked repeat.
    tracked = flat and isinstance(stall_tol, float) and stall_tol == 0.0
    unchecked = gated or stall_tol is None or tracked
    # chain GD: a first pass with the zero-free step (NaN at a zero weight, else the same bits)
    quick = unchecked and flat and isinstance(system, GradientDescent)
    quick_step = steppers(system, layout, B, exact_zeros=False)[0] if quick else loss_and_step
    first_mode = QUICK if quick else EXACT

    def fast(y, n, steps, loss_and_step=loss_and_step):
        """``light`` without taking the stops: (y, first alarm or -1, buffers, fixed at end).
        ``tracked``: the alarm is also a fixed point, found from the last step that moved a
        weight (a fixed point persists, so the run sat still from the step after it on)."""
        def one(i, c):
            y, stop_at, buf, pbuf, last = c
            i = jnp.asarray(i, jnp.int32)
            y_loss, new = loss_and_step(y)
            buf, pbuf = record(buf, pbuf, i, y_loss, y)
            alarm = (stop_at < 0) & (i < n) & stops(y_loss)
            if tracked:                 # elementwise: the last step that moved each weight
                last = tuple(jnp.where(u != v, i, m) for u, v, m in zip(new, y, last,
                                                                         strict=True))
            return new, jnp.where(alarm, i, stop_at), buf, pbuf, last
        moves = tuple(jnp.full(W.shape, -1, jnp.int32) for W in y) if tracked else ()
        if tracked:                     # two steps a turn: the loop's copies of the state and
            c = jax.lax.fori_loop(      # of the last moves once per two steps (15% faster;
                0, steps // 2,          # slower where nothing is tracked)
                lambda j, c: one(2 * j + 1, one(2 * j, c)), (y, *fresh(y), moves))
            c = jax.lax.cond(steps % 2 == 1, lambda c: one(steps - 1, c), lambda c: c, c)
        elif gated:                     # the last step apart: is y_(steps-1) a fixed point?
            c = jax.lax.fori_loop(0, steps - 1, one, (y, *fresh(y), moves))
            y_last = c[0]
            c = one(steps - 1, c)
        else:
            c = jax.lax.fori_loop(0, steps, one, (y, *fresh(y), moves))
        y_end, stop_at, buf, pbuf, moves = c
        y_loss = loss_and_step(y_end)[0]                    # F(y_steps) (the step unused)
        buf, pbuf = record(buf, pbuf, steps, y_loss, y_end)
        # a fixed point first reached at y_steps is taken in the next block (a run cannot stop
        # at a block's last iterate, in a checked repeat either)
        still = fixed(y_end, y_last) if gated else jnp.zeros(B, bool)
        if tracked:                     # y_(m+1) is the first fixed iterate, m the last move
            m = functools.reduce(jnp.maximum, [
                jnp.max(M, axis=tuple(d for d in range(M.ndim) if d != axis)) for M in moves])
            at = jnp.where((m + 1 < steps) & (n > 0), m + 1, -1)
            stop_at = jnp.where((stop_at >= 0) & ((at < 0) | (stop_at <= at)), stop_at, at)
        return _select(n > 0, y_end, y, axis), stop_at, buf, pbuf, still

    def body(c):
        k, y, loss, code, iters, rec_x, rec_loss, lim, pending, mode = c
        again = mode == CHECKED
        running = code < 0
        steps = jnp.minimum(block, max_steps - k)
        if sparse_params:               # blocks end on the parameter records
            r = -k % pstride
            steps = jnp.where(r > 0, jnp.minimum(steps, r), steps)
        n_block = jnp.where(running, steps, 0)
        n = jnp.where(pending, lim, n_block)
        if quick:
            y1, stop_at, buf, pbuf, still = jax.lax.switch(mode, [
                lambda: fast(y, n, steps, quick_step), lambda: fast(y, n, steps),
                lambda: light(y, n, steps)])
        elif unchecked:
            y1, stop_at, buf, pbuf, still = jax.lax.cond(
                again, lambda: light(y, n, steps), lambda: fast(y, n, steps))
        else:
            y1, stop_at, buf, pbuf, still = light(y, n, steps)
        end_loss = jnp.take_along_axis(buf, jnp.minimum(n, steps)[None], 0)[0]   # F(y_n)
        stopped = (stop_at >= 0) & ~pending
        at_stop = jnp.take_along_axis(buf, jnp.maximum(stop_at, 0)[None], 0)[0]
        diverged = ~again & ((stopped & bad_loss(at_stop))
                             | (~stopped & running & bad_loss(end_loss)))
        fixed_end = ~again & ~stopped & running & still if gated else jnp.zeros(B, bool)
        # a bad loss in the zero-free pass (a zero weight's NaN, or a divergence): the block
        # again with the exact step, which tells the two apart
        careful = (mode == QUICK) & jnp.any(diverged)
        diverged = diverged & ~careful
        redo = jnp.any(diverged) | jnp.any(fixed_end) | careful
        if unchecked:                   # a stop found unchecked is taken in a checked repeat
            alarmed = stopped & stops(at_stop) if tracked else stopped   # not a fixed point
            redo = redo | (~again & jnp.any(alarmed))
        first_bad = jnp.where(stop_at >= 0, stop_at, n)
        kind = jnp.where(at_stop - fstar <= at_min_tol, CONVERGED, STALLED)
        kind = jnp.where(at_stop - fstar <= thr, CONVERGED, kind)
        new_code = jnp.where(pending, DIVERGED, jnp.where(stopped, kind, code))
        new_iters = jnp.where(stopped, k + stop_at, jnp.where(running, k + n, iters))
        new_loss = jnp.where(stopped, at_stop, jnp.where(running, end_loss, loss))
        # records: iteration k + i from row i of the block (none from a pass to be repeated)
        its = k + jnp.arange(block + 1)
        on = ~redo & (jnp.arange(block + 1) < steps)
        j = jnp.where(on & (its % stride == 0), its // stride, rows)
        rec_loss = rec_loss.at[j].set(buf, mode="drop")
        if sparse_params:       # pstride >= block: a record at most at the block's start
            jp = jnp.where(~redo & (k % pstride == 0), k // pstride, prows)
            rec_x = tuple(jax.lax.dynamic_update_index_in_dim(R, W, jp, 0)
                          for R, W in zip(rec_x, y, strict=True))
        else:
            jp = jnp.where(on[:block] & (its[:block] % pstride == 0), its[:block] // pstride,
                           prows)
            rec_x = tuple(R.at[jp].set(P[:block], mode="drop")
                          for R, P in zip(rec_x, pbuf, strict=True))
        keep = lambda a, b: jnp.where(redo, a, b)       # noqa: E731
        k_next = keep(k, k + steps)
        out = (k_next, _select(jnp.full(B, redo), y, y1, axis), keep(loss, new_loss),
               keep(code, new_code), keep(iters, new_iters), rec_x, rec_loss,
               jnp.where(diverged, first_bad - 1, n_block).astype(jnp.int32), diverged,
               jnp.where(careful, EXACT, jnp.where(redo, CHECKED, first_mode)).astype(jnp.int32))
        if tick is not None:
            jax.lax.cond(k_next % (progress.EVERY * block) < block,
                         lambda: jax.debug.callback(tick, k_next, out[4], out[3] >= 0),
                         lambda: None)
        return out

    def cond(c):
        return ((c[0] < max_steps) & jnp.any(c[3] < 0)) | (c[9] != first_mode)

    code0 = jnp.where(~jnp.isfinite(loss0), DIVERGED, -1).astype(jnp.int32)
    rec_x = tuple(jnp.zeros((prows + 1, *W.shape), W.dtype) for W in state)
    rec_loss = jnp.zeros((rows + 1, B))
    init = (jnp.asarray(0, dtype=jnp.int64), state, loss0, code0, jnp.zeros(B, jnp.int64),
            rec_x, rec_loss, jnp.zeros(B, jnp.int32), jnp.zeros(B, bool),
            jnp.asarray(first_mode, jnp.int32))
    k, y, loss, code, iters, rec_x, rec_loss, *_ = jax.lax.while_loop(cond, body, init)
    # the last iterate of the runs still going (iteration k): records
    j = jnp.where(k % stride == 0, k // stride, rows)
    rec_loss = jax.lax.dynamic_update_index_in_dim(rec_loss, loss, j, 0)
    jp = jnp.where(k % pstride == 0, k // pstride, prows)
    rec_x = tuple(jax.lax.dynamic_update_index_in_dim(R, W, jp, 0)
                  for R, W in zip(rec_x, y, strict=True))
    return k, y, loss, code, iters, rec_x, rec_loss


COMPILER_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True,
                    "xla_cpu_multi_thread_eigen": False}
"""XLA options of the map loop: copy insertion by region analysis drops the copy of every layer
that XLA CPU otherwise makes at the top of each step; no intra-op threads for dots, as every
CPU device runs its own share of the runs on its own core (with them two devices ran a width-16
step 10% slower than one). The results are the same bits."""

map_loop = cached_program(map_loop_one, COMPILER_OPTIONS)
"""``map_loop_one`` compiled; its traced program is kept in the program cache."""
