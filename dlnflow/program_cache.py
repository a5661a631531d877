"""Persistent program cache: a jitted function's traced program kept on disk (``jax.export``),
so that a new process runs it without tracing and lowering it again.

JAX's persistent compilation cache skips XLA's compilation, not the tracing and lowering that
come before it; for a diffrax solve or the map loop these take 0.2 to 1.5 s in every process.
``cached_program(fn)`` behaves like ``equinox.filter_jit(fn)`` (array leaves are traced, every
other leaf is static) and keeps one exported program per distinct call in
``$DLNFLOW_CACHE_DIR/programs`` (next to the compilation cache, ``dlnflow._config``), under

    key = (fn, the source of dlnflow, the versions of JAX and its libraries, JAX's numerical
           settings, the EQX_* variables, the devices, the static leaves and every pytree node
           with its class and static fields, the shape, dtype and weak type of each array).

A call is cached only when all of this prints the same in every process: a function of dlnflow,
pytree nodes of
dlnflow, diffrax, equinox, optimistix, lineax, jax or builtins and static leaves that are None,
bool, int, float, complex or str. Any other call (a user's own loss class, a progress callback,
a program JAX cannot export) runs through ``filter_jit`` as before. Same switch as the
compilation cache (``DLNFLOW_COMPILATION_CACHE=0`` turns both off, ``DLNFLOW_PROGRAM_CACHE=0``
this one alone) and the same trust rule: a
folder private to the user, since the programs found there are run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from . import _config

TRUSTED_MODULES = ("dlnflow.", "diffrax.", "equinox.", "optimistix.", "lineax.", "jax.",
                   "jaxlib.", "builtins", "collections")
"""Pytree node classes from these packages print the same in every process (the source of
dlnflow is in the key; the others by their versions)."""
LIBRARIES = ("jax", "jaxlib", "equinox", "diffrax", "optimistix", "lineax", "numpy")
STATIC_LEAVES = (type(None), bool, int, float, complex, str)
SETTINGS = ("jax_enable_x64", "jax_default_matmul_precision", "jax_numpy_rank_promotion",
            "jax_numpy_dtype_promotion", "jax_default_prng_impl", "jax_debug_nans")


def program_dir() -> Path | None:
    """``<cache base>/programs`` (created private), or None when caching is off or the folder
    is not the user's alone."""
    jax_dir = _config.compilation_cache_dir()
    off = os.environ.get("DLNFLOW_PROGRAM_CACHE", "1").strip().lower() in _config.OFF
    if jax_dir is None or off or not hasattr(os, "getuid"):
        return None
    path = Path(jax_dir).parent / "programs"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return path


@functools.cache
def _context() -> str:
    """What every key shares: dlnflow's source, library versions, settings, devices."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for file in sorted(root.rglob("*.py")):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}=-")
    return "\n".join([digest.hexdigest(), *versions, _devices()])


def _devices() -> str:
    devices = jax.devices()
    return f"{jax.default_backend()} {len(devices)} {devices[0].device_kind}"


def _settings() -> str:
    values = [f"{name}={getattr(jax.config, name, None)!r}" for name in SETTINGS]
    values += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("EQX_"))
    return "\n".join(values)


def _describe(treedef, out: list[str]) -> bool:
    """Append one line per pytree node (class and static fields); False when a class is not
    from a trusted module or a static field prints with an address."""
    data = treedef.node_data()
    if data is not None:
        cls, aux = data
        module = cls.__module__
        if not (module == "builtins" or module.startswith(TRUSTED_MODULES)):
            return False
        text = f"{module}.{cls.__qualname__}{aux!r}"
        if " at 0x" in text:
            return False
        out.append(text)
    return all(_describe(child, out) for child in treedef.children())


def _placement(x) -> str:
    """How an array lies over several devices ("" on one: the program is the same on each)."""
    sharding = getattr(x, "sharding", None)
    if sharding is None or len(sharding.device_set) < 2:
        return ""
    mesh = getattr(sharding, "mesh", None)
    return f" {getattr(sharding, 'spec', sharding)} {dict(mesh.shape) if mesh else ''}"


def _key(fn: Callable, args: tuple, kwargs: dict) -> tuple[str | None, list, Any, Any]:
    """(key or None when this call cannot be cached, array leaves, the arrays' treedef, the
    static part of (args, kwargs))."""
    dynamic, static = eqx.partition((args, kwargs), eqx.is_array)
    leaves, dyn_tree = jax.tree_util.tree_flatten(dynamic)
    static_leaves, static_tree = jax.tree_util.tree_flatten(static)
    lines = [f"{fn.__module__}.{fn.__qualname__}"]
    if (not fn.__module__.startswith("dlnflow.")        # its source is not in the key
            or not all(type(x) in STATIC_LEAVES for x in static_leaves)
            or not (_describe(static_tree, lines) and _describe(dyn_tree, lines))):
        return None, leaves, dyn_tree, static
    lines += [_context(), _settings(), repr(static_leaves)]
    lines += [f"{x.shape} {x.dtype} {getattr(x, 'weak_type', False)}{_placement(x)}"
              for x in leaves]
    return "\n".join(lines), leaves, dyn_tree, static


@functools.cache
def accepted_options(options: tuple[tuple[str, Any], ...]) -> dict[str, Any] | None:
    """The XLA compiler options as a dict when this JAX and XLA take them (a probe compile of
    the identity), else None: options come and go between XLA versions."""
    if not options:
        return None
    try:
        jax.jit(lambda x: x, compiler_options=dict(options)).lower(np.zeros(1)).compile()
    except Exception:                       # an unknown option, or jax.jit without the keyword
        return None
    return dict(options)


class _Cached:
    """``cached_program(fn)``: see the module docstring."""

    def __init__(self, fn: Callable, compiler_options: dict[str, Any] | None = None):
        self.fn = fn
        self.options = tuple(sorted((compiler_options or {}).items()))
        self.programs: dict[str, Callable | None] = {}
        self.lock = threading.Lock()            # callers on several threads export once
        functools.update_wrapper(self, fn)

    @functools.cached_property
    def _options(self) -> dict[str, Any]:
        """``jax.jit``'s keywords: the compiler options this XLA takes (probed at first use)."""
        options = accepted_options(self.options)
        return {} if options is None else {"compiler_options": options}

    def jit(self, fn: Callable) -> Callable:
        return jax.jit(fn, **self._options)

    @functools.cached_property
    def fallback(self) -> Callable:
        return eqx.filter_jit(self.fn, **self._options)

    def __call__(self, *args, **kwargs):
        folder = program_dir()
        if folder is None:
            return self.fallback(*args, **kwargs)
        key, leaves, dyn_tree, static = _key(self.fn, args, kwargs)
        if key is None or any(isinstance(x, jax.core.Tracer) for x in leaves):  # in a trace
            return self.fallback(*args, **kwargs)
        with self.lock:
            if key not in self.programs:
                self.programs[key] = self._load_or_export(folder, key, leaves, dyn_tree,
                                                          static)
            run = self.programs[key]
        if run is None:
            return self.fallback(*args, **kwargs)
        return run(*leaves)

    def _load_or_export(self, folder: Path, key: str, leaves, dyn_tree, static):
        from jax import export

        path = folder / (hashlib.sha256(key.encode()).hexdigest() + ".jaxexport")
        if path.exists():
            try:
                return self.jit(export.deserialize(bytearray(path.read_bytes())).call)
            except Exception:               # a damaged or foreign file: export it again
                path.unlink(missing_ok=True)

        def flat(*arrays):
            a, kw = eqx.combine(jax.tree_util.tree_unflatten(dyn_tree, arrays), static)
            return self.fn(*a, **kw)

        try:
            exported = export.export(jax.jit(flat))(*leaves)
            blob = exported.serialize()
        except Exception:                   # callbacks, custom output nodes, ...
            return None
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_bytes(blob)
            os.replace(tmp, path)
        except OSError:                     # a full disk: run it uncached
            tmp.unlink(missing_ok=True)
        return self.jit(exported.call)


def cached_program(fn: Callable, compiler_options: dict[str, Any] | None = None) -> Callable:
    """``equinox.filter_jit(fn)`` whose traced programs persist across processes (module
    docstring); ``compiler_options``: XLA's options for compiling them (``jax.jit``'s)."""
    return _Cached(fn, compiler_options)
