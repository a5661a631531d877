"""Process-wide numerical settings, applied on import before any JAX array exists.

* float64 everywhere (JAX x64 on).
* One JAX CPU device per available core (at most 16; ``DLNFLOW_CPU_DEVICES=N`` overrides, 1
  turns it off), so batched maps spread their runs over the cores (``simulate``). Skipped when
  the caller has already set ``jax_num_cpu_devices`` or started a JAX backend.
* JAX's persistent compilation cache in a per-user folder, so that a new process reuses the
  compiled loops of earlier ones: ``$DLNFLOW_CACHE_DIR/jax``, else
  ``$XDG_CACHE_HOME/dlnflow/jax``, else ``~/.cache/dlnflow/jax`` (created private, mode 0700;
  never a shared temporary folder: JAX trusts what it finds there). Every compilation is cached,
  however short. ``DLNFLOW_COMPILATION_CACHE=0`` turns it off; a cache folder the caller gave
  JAX already (``jax_compilation_cache_dir``) is kept as it is.
* ``EQX_ON_ERROR=nan`` unless set: equinox's run-time checks inside diffrax and optimistix then
  return NaN (reported as the run's status) instead of raising through a host callback, which
  keeps a compiled solve out of the persistent cache (every process would compile each diffrax
  solve again, 3 to 5 s). Set before equinox is imported: a process that imported equinox
  first keeps its own setting.
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
    # jax.config declares its options at run time; its stubs do not list them
    if jax.config.jax_num_cpu_devices != -1:  # type: ignore[attr-defined]
        return False
    try:
        jax.config.update("jax_num_cpu_devices", _wanted_cpu_devices())
    except RuntimeError:                        # a backend is already running: keep its devices
        return False
    return True


def compilation_cache_dir() -> str | None:
    """The folder of the persistent compilation cache, None when DLNFLOW_COMPILATION_CACHE is
    0 (or false, no, off)."""
    if os.environ.get("DLNFLOW_COMPILATION_CACHE", "1").strip().lower() in OFF:
        return None
    base = os.environ.get("DLNFLOW_CACHE_DIR", "").strip()
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = os.path.join(xdg or os.path.join(os.path.expanduser("~"), ".cache"), "dlnflow")
    return os.path.join(base, "jax")


def _use_compilation_cache() -> str | None:
    """Point JAX at the cache folder (see the module docstring); the folder or None."""
    # jax.config declares its options at run time; its stubs do not list them
    if jax.config.jax_compilation_cache_dir or not hasattr(os, "getuid"):  # type: ignore[attr-defined]
        return None
    path = compilation_cache_dir()
    if path is None:
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:                             # read-only home and the like: run uncached
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:      # not ours alone: not trusted
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


OFF = ("0", "false", "no", "off")
os.environ.setdefault("EQX_ON_ERROR", "nan")
CPU_DEVICES_SET = _one_cpu_device_per_core()
COMPILATION_CACHE = _use_compilation_cache()
