"""Memory limits: a request that cannot fit is refused up front with its estimate and the limit.

The limit is half of this machine's physical memory, or ``DLNFLOW_MEMORY_LIMIT`` (bytes, or a
number with a K, M, G or T suffix). Estimates count float64 arrays: 8 bytes an entry. A long
run of many computations (the figure pipeline) can hand memory back between them
(``release_memory``).

Memory maps: XLA maps the code of every compiled program into the process in pieces, about 4
maps per small function and 150 to 200 per compiled solve or map loop, and keeps them while
JAX keeps the program. Linux caps a process at ``vm.max_map_count`` maps (65,530 by default)
and XLA crashes the process past it (a segmentation fault while compiling or loading a
program): a session that compiles a few hundred programs (the test suite in one process, a
notebook) gets there. ``release_if_crowded`` drops JAX's compiled programs when the maps pass
half the cap; ``simulate`` calls it.
"""

from __future__ import annotations

import os

from .errors import InputError

_SUFFIX = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_limit() -> int:
    """Bytes a single request may use (see the module docstring)."""
    text = os.environ.get("DLNFLOW_MEMORY_LIMIT", "").strip().upper().removesuffix("B")
    if text:
        try:
            if text[-1] in _SUFFIX:
                return int(float(text[:-1]) * _SUFFIX[text[-1]])
            return int(float(text))
        except ValueError:
            raise InputError(f"DLNFLOW_MEMORY_LIMIT must be a size such as 8G, got "
                             f"{os.environ['DLNFLOW_MEMORY_LIMIT']!r}") from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def size_text(nbytes: float) -> str:
    """A byte count in words: '2.4 GB'."""
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"


def check_memory(what: str, entries: float) -> None:
    """Raise InputError when ``entries`` float64 numbers (``what``, in words) exceed the limit."""
    need, limit = 8.0 * float(entries), memory_limit()
    if need > limit:
        raise InputError(f"{what} needs about {size_text(need)}, above the limit of "
                         f"{size_text(limit)} (half this machine's memory; set "
                         "DLNFLOW_MEMORY_LIMIT to change it)")


MAPS_SHARE = 0.5
"""Share of ``vm.max_map_count`` above which ``release_if_crowded`` releases."""
CHECK_EVERY = 0.5
"""Seconds between two counts of the maps (a count reads /proc/self/maps: 1 to 10 ms)."""
_last_check = [-float("inf")]


def memory_maps() -> tuple[int, int] | None:
    """(this process's memory maps, the system's cap ``vm.max_map_count``), None off Linux."""
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            cap = int(f.read())
        with open("/proc/self/maps", "rb") as f:
            return f.read().count(b"\n"), cap
    except (OSError, ValueError):
        return None


def release_if_crowded() -> bool:
    """``release_memory`` when this process holds more than ``MAPS_SHARE`` of the memory maps
    Linux allows it (module docstring); counted at most every ``CHECK_EVERY`` seconds. Whether
    it released."""
    import time

    now = time.monotonic()
    if now - _last_check[0] < CHECK_EVERY:
        return False
    _last_check[0] = now
    maps = memory_maps()
    if maps is None or maps[0] <= MAPS_SHARE * maps[1]:
        return False
    release_memory()
    return True


def resident_bytes() -> int | None:
    """This process's resident memory in bytes (Linux ``/proc/self/statm``), None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_memory() -> None:
    """Drop JAX's in-memory compiled functions and hand freed heap back to the system (glibc
    ``malloc_trim``). Compiled loops stay in the persistent compilation cache: a later
    computation that needs one reloads it (tenths of a second) instead of every executable of
    every earlier computation staying resident."""
    import contextlib
    import ctypes
    import gc

    import jax

    jax.clear_caches()
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):      # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
