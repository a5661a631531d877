"""A batch of independent runs dealt out to the CPU devices (one per core, ``_config``), in one
of two ways.

``over_devices(fn, devices, batched, shared)`` calls ``fn(part, shared)`` once per device on
an equal share of the runs (axis ``in_axis`` of every leaf of ``batched``; the batch is padded
to a multiple of ``devices`` by repeating its last run), every part's arguments placed on its
device, each call from a thread of its own, so that the devices compile (once per device: a CPU
executable belongs to its device), load and run at once; the outputs are joined in numpy along
their run axes and the padding is cut. Runs never interact, so the answers do not depend on the
split, and each device stops when its own runs are done. The map loop runs this way (its
compiles are short; each device leaves its loop when its own runs stop).

``across_devices(fn, devices, batched, shared)`` calls ``fn`` once on the whole padded batch,
sharded over the devices: XLA partitions the one program (GSPMD), so it is compiled once for all
devices, and the devices step together. diffrax solves run this way: their compile (1.5 to 3 s)
is most of a first solve, and compiling it once per device cost more than the devices gained.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import equinox as eqx
import jax
import numpy as np


def run_devices(batch: int) -> int:
    """How many devices share a batch of ``batch`` runs: every CPU device when JAX runs on the
    CPU and there are at least two runs, else 1."""
    if batch < 2 or jax.default_backend() != "cpu":
        return 1
    return min(jax.device_count(), batch)


def _padded(batched, devices: int, axis: int):
    """(the runs in numpy, padded to a multiple of ``devices`` by repeating the last, the number
    of runs, the runs per device)."""
    batched = jax.device_get(batched)
    B = jax.tree_util.tree_leaves(batched)[0].shape[axis]
    size = -(-B // devices)

    if size * devices == B:
        return batched, B, size

    def pad(X):
        last = np.take(X, [B - 1], axis=axis)
        return np.concatenate([X, np.repeat(last, size * devices - B, axis)], axis)

    return jax.tree_util.tree_map(pad, batched), B, size


def _runs(X: np.ndarray, start: int, stop: int, axis: int) -> np.ndarray:
    """Runs start..stop-1 of X (along ``axis``), a view."""
    return X[(slice(None),) * axis + (slice(start, stop),)]


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """The threads that call the devices, kept between calls (one per device; a forked child
    makes its own: the parent's threads do not exist there)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(jax.device_count(), thread_name_prefix="dlnflow-device")
    return _POOL


def _forget_pool() -> None:
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)


def over_devices(fn: Callable, devices: int, batched, shared, in_axis: int = 0,
                 out_axes: int | Sequence[int | None] = 0):
    """``fn(part, shared)`` per device, joined (module docstring); numpy outputs.

    ``out_axes``: the run axis of every leaf of the output, or one per element of an output
    tuple (None: an element that is not per run, taken from the first device)."""
    if devices == 1:
        return jax.device_get(fn(batched, shared))
    batched, B, size = _padded(batched, devices, in_axis)
    dynamic, static = eqx.partition(shared, eqx.is_array)

    def run(i: int):
        part = jax.tree_util.tree_map(
            lambda X: _runs(np.asarray(X), i * size, (i + 1) * size, in_axis), batched)
        args = jax.device_put((part, dynamic), jax.devices()[i])
        return jax.device_get(fn(args[0], eqx.combine(args[1], static)))

    outs = list(_pool().map(run, range(devices)))

    def join(axis, *parts):
        if axis is None:
            return parts[0]
        return jax.tree_util.tree_map(
            lambda *Xs: _runs(np.concatenate(Xs, axis), 0, B, axis), *parts)

    if isinstance(out_axes, int):
        return join(out_axes, *outs)
    return tuple(join(a, *parts) for a, parts in zip(out_axes, zip(*outs, strict=True),
                                                     strict=True))


def across_devices(fn: Callable, devices: int, batched, shared):
    """``fn(batched, shared)`` called once with its runs (axis 0 of every leaf of ``batched`` and
    of the output) sharded over ``devices`` CPU devices: XLA partitions the one program (GSPMD),
    so a single compile serves every device, where ``over_devices`` compiles once per device;
    the devices then step together (the loop ends when the last run does). Numpy outputs, the
    padding cut."""
    if devices == 1:
        return jax.device_get(fn(batched, shared))
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    batched, B, _ = _padded(batched, devices, 0)
    mesh = Mesh(np.array(jax.devices()[:devices]), ("runs",))
    batched = jax.device_put(batched, NamedSharding(mesh, PartitionSpec("runs")))
    dynamic, static = eqx.partition(shared, eqx.is_array)
    dynamic = jax.device_put(dynamic, NamedSharding(mesh, PartitionSpec()))
    out = jax.device_get(fn(batched, eqx.combine(dynamic, static)))
    return jax.tree_util.tree_map(lambda X: np.asarray(X)[:B], out)
