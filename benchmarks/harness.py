"""Timing helpers of ``benchmarks/run.py``: medians with min-max, ratio lines, whole-process
times with peak RSS, and fresh worker processes (``workers.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable


def stat(xs) -> str:
    xs = np.asarray(xs, dtype=float)
    return f"{np.median(xs):.3g} s [{xs.min():.3g}-{xs.max():.3g}, n={xs.size}]"


def ratio(name: str, value: float, target: str, detail: str = "") -> None:
    print(f"RATIO {name} = {value:.3g} (target {target}){'  ' + detail if detail else ''}",
          flush=True)


def timed(fn, repeats: int) -> tuple[list[float], object]:
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def whole_process(cmd: list[str], repeats: int, env: dict | None = None):
    """Wall seconds and peak RSS (MB) of ``cmd`` as a fresh process, ``repeats`` times."""
    times, rss = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}")
        rss.append(usage.ru_maxrss / 1024.0)
    return times, max(rss)


def worker(name: str, repeats: int = 1, cache: bool = True, cache_dir: str | None = None,
           **kw) -> dict:
    """Run ``workers.NAME(**kw)`` ``repeats`` times in one fresh process (JAX caches cleared
    before each): {"seconds": [...], plus the last call's other results}."""
    env = dict(os.environ, DLNFLOW_COMPILATION_CACHE="1" if cache else "0")
    if cache_dir is not None:
        env["DLNFLOW_CACHE_DIR"] = cache_dir
    cmd = [PY, os.path.join(HERE, "run.py"), "--worker", name, json.dumps(kw), str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
