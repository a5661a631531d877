"""Process-wide numerical settings, applied on import before any JAX array exists.

* float64 everywhere (JAX x64 on).
* One JAX CPU device per available core (at most 16; ``DLNFLOW_CPU_DEVICES=N`` overrides, 1
  turns it off), so batched maps spread their runs over the cores (``simulate``). Skipped when
  the caller has already set ``jax_num_cpu_devices`` or started a JAX backend.
"""

import os

import jax

jax.config.update("jax_enable_x64", True)


def _wanted_cpu_devices() -> int:
    env = os.environ.get("DLNFLOW_CPU_DEVICES", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"DLNFLOW_CPU_DEVICES must be a positive integer, got {env!r}")
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                      # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 16))


def _one_cpu_device_per_core() -> bool:
    """Ask JAX for one CPU device per core; False when the caller chose already or JAX runs."""
    if jax.config.jax_num_cpu_devices != -1:
        return False
    try:
        jax.config.update("jax_num_cpu_devices", _wanted_cpu_devices())
    except RuntimeError:                        # a backend is already running: keep its devices
        return False
    return True


CPU_DEVICES_SET = _one_cpu_device_per_core()
