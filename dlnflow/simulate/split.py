"""A batch of independent runs dealt out to the CPU devices (one per core, ``_config``).

``over_devices(fn, devices, batched, shared)`` calls ``fn(part, shared)`` once per device on
an equal share of the runs (axis ``in_axis`` of every leaf of ``batched``; the batch is padded
to a multiple of ``devices`` by repeating its last run), every part's arguments placed on its
device, each call from a thread of its own, so that the devices compile (once per device: a CPU
executable belongs to its device), load and run at once; the outputs are joined in numpy along
their run axes and the padding is cut. Runs never interact, so the
answers do not depend on the split, and each device stops when its own runs are done. The
compiled program is the same on every device (one trace, one entry in each cache).
"""

from __future__ import annotations

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


def over_devices(fn: Callable, devices: int, batched, shared, in_axis: int = 0,
                 out_axes: int | Sequence[int | None] = 0):
    """``fn(part, shared)`` per device, joined (module docstring); numpy outputs.

    ``out_axes``: the run axis of every leaf of the output, or one per element of an output
    tuple (None: an element that is not per run, taken from the first device)."""
    if devices == 1:
        return jax.device_get(fn(batched, shared))
    batched = jax.device_get(batched)
    B = jax.tree_util.tree_leaves(batched)[0].shape[in_axis]
    size = -(-B // devices)

    def pad(X):
        last = np.take(X, [B - 1], axis=in_axis)
        return np.concatenate([X, np.repeat(last, size * devices - B, in_axis)], in_axis)

    batched = jax.tree_util.tree_map(pad, batched)
    dynamic, static = eqx.partition(shared, eqx.is_array)

    def run(i: int):
        part = jax.tree_util.tree_map(
            lambda X: np.take(X, np.arange(i * size, (i + 1) * size), axis=in_axis), batched)
        args = jax.device_put((part, dynamic), jax.devices()[i])
        return jax.device_get(fn(args[0], eqx.combine(args[1], static)))

    with ThreadPoolExecutor(devices) as pool:
        outs = list(pool.map(run, range(devices)))

    def join(axis, *parts):
        if axis is None:
            return parts[0]
        return jax.tree_util.tree_map(
            lambda *Xs: np.take(np.concatenate(Xs, axis), np.arange(B), axis=axis), *parts)

    if isinstance(out_axes, int):
        return join(out_axes, *outs)
    return tuple(join(a, *parts) for a, parts in zip(out_axes, zip(*outs, strict=True),
                                                     strict=True))
