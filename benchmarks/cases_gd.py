"""Cases of ``benchmarks/run.py`` for gradient descent, deep networks, sharpness, memory and the
figure pipeline (the flow and latency cases live in run.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
from baselines import numba_gd_chain, numpy_gd_chain, numpy_gd_matrix
from harness import ratio, stat, timed, worker
from workers import chain_problem, matrix_problem


def case_gd_chain(q: bool, n: int) -> None:
    """GD on scalar chains of depth 10: dlnflow vs numpy (vectorised) and numba (blocked)."""
    depth, starts, steps, eta = 10, (256 if q else 1024), (2000 if q else 20_000), 1e-3
    res = worker("gd_chain", n, True, depth=depth, starts=starts, steps=steps, eta=eta,
                 steady_runs=n)
    prob, params = chain_problem(depth, starts, seed=0)
    w0 = np.asarray(prob.scalar_weights(params))
    t_np, w_np = timed(lambda: numpy_gd_chain(w0, 1.0, eta, steps), n)
    err = np.max(np.abs(np.asarray(res["final"]) - w_np))
    print(f"  depth {depth}, {starts} starts, {steps} steps: dlnflow first call (compile incl.) "
          f"{stat(res['seconds'])}, steady {stat(res['steady'])}; numpy {stat(t_np)}; max "
          f"|w - w_numpy| {err:.1e}; {res['status']}")
    ratio("gd_chain_vs_numpy_compile_included", np.median(t_np) / np.median(res["seconds"]),
          ">= 5")
    ratio("gd_chain_vs_numpy_steady", np.median(t_np) / np.median(res["steady"]), "-")
    run = numba_gd_chain()
    if run is None:
        print("  numba not installed (pip install numba, the bench extra): no numba baseline")
        return
    run(w0[:8], 1.0, eta, 2)                                    # compile
    t_nb, w_nb = timed(lambda: run(w0, 1.0, eta, steps), n)
    print(f"  numba blocked loop (steady): {stat(t_nb)}; max |w_numba - w_numpy| "
          f"{np.max(np.abs(w_nb - w_np)):.1e}")
    ratio("gd_chain_vs_numba_steady", np.median(t_nb) / np.median(res["steady"]), ">= 1",
          "(dlnflow tests every step for a threshold, divergence and a fixed point; numba none)")
    # the same work as the numba loop: no fixed-point test (threshold and divergence still)
    nofix = worker("gd_chain", 1, True, depth=depth, starts=starts, steps=steps, eta=eta,
                   steady_runs=n, fixed_points=False)
    err = np.max(np.abs(np.asarray(nofix["final"]) - w_np))
    print(f"  dlnflow with Stop(stall_tol=None): steady {stat(nofix['steady'])}; max |w - "
          f"w_numpy| {err:.1e}")
    ratio("gd_chain_no_fixed_point_test_vs_numba_steady",
          np.median(t_nb) / np.median(nofix["steady"]), ">= 1")


def case_gd_depth(q: bool, n: int) -> None:
    """Steady time per start-step / L over depths: constant when the cost is linear in L."""
    depths = (2, 8, 32) if q else (2, 4, 8, 16, 32, 64)
    starts, steps = 256, (1000 if q else 4000)
    per = {}
    for L in depths:
        res = worker("gd_chain", 1, True, depth=L, starts=starts, steps=steps, eta=1e-4,
                     steady_runs=n)
        per[L] = np.median(res["steady"]) / (starts * steps * L)
        print(f"  L={L:3d}: steady {stat(res['steady'])}, {per[L] * 1e9:.3g} ns per "
              "start-step-layer")
    mid, top = depths[len(depths) // 2], depths[-1]
    ratio("gd_depth_superlinearity", per[top] / per[mid], "<= 1.25",
          f"(time per start-step-layer at L={top} over L={mid}; above 1: worse than linear)")


def case_gd_matrix(q: bool, n: int) -> None:
    """Matrix GD: width 256 one start vs numpy's matmul loop; widths 4, 16 with 64 starts vs
    numpy batched matmuls. Steady times of whole runs (dlnflow records the start and the end;
    numpy computes the loss of every step as part of its gradient)."""
    depth = 4
    for width, starts, steps, target in ((256, 1, 50 if q else 200, ">= 0.83 (1/1.2)"),
                                         (4, 64, 2000, ">= 3"), (16, 64, 2000, ">= 3")):
        if q and width == 4:
            continue
        res = worker("gd_matrix", 1, True, depth=depth, width=width, starts=starts,
                     steps=steps, eta=1e-3, steady_runs=n)
        prob, phi, params = matrix_problem(depth, width, starts)
        Ws = [np.asarray(W) for W in params]
        t_np, (_, losses) = timed(lambda Ws=Ws, phi=phi, k=steps: numpy_gd_matrix(Ws, phi, 1e-3, k),
                                  n)
        err = np.max(np.abs(np.asarray(res["loss"]) - losses[-1]) / np.abs(losses[-1]))
        print(f"  width {width}, {starts} starts, {steps} steps: dlnflow steady "
              f"{stat(res['steady'])}, first {stat(res['seconds'])}; numpy {stat(t_np)}; "
              f"rel. loss difference at step {steps} {err:.1e}")
        ratio(f"gd_matrix_w{width}_B{starts}_vs_numpy_steady",
              np.median(t_np) / np.median(res["steady"]), target)


def case_deep(q: bool, n: int) -> None:
    """Depth 20 (and 40), width 50 regression, loss every step, one start, compile included:
    dlnflow (``SaveAt(every=1, params_every=steps)``: the parameters at the start and the end,
    as the baseline keeps them) vs a plain jitted lax.scan of jax.grad."""
    steps, eta = (200 if q else 2000), 1e-2
    for depth in ((20,) if q else (20, 40)):
        a = worker("deep_gd", n, True, depth=depth, width=50, steps=steps, eta=eta,
                   impl="dlnflow")
        b = worker("deep_gd", n, True, depth=depth, width=50, steps=steps, eta=eta, impl="scan")
        la, lb = np.asarray(a["loss"]), np.asarray(b["loss"])
        diff = np.max(np.abs(la - lb) / np.abs(lb))
        print(f"  depth {depth}, width 50, {steps} steps: dlnflow {stat(a['seconds'])} (RSS "
              f"{a['rss_mb']:.0f} MB), lax.scan {stat(b['seconds'])}; loss {lb[0]:.4g} -> "
              f"{lb[-1]:.4g}, max rel. difference {diff:.1e}")
        ratio(f"deep_gd_L{depth}_w50_vs_lax_scan_compile_included",
              np.median(b["seconds"]) / np.median(a["seconds"]), ">= 0.83 (1/1.2)")


def case_sharpness(q: bool, n: int) -> None:
    """Sharpness every 100 GD steps to tol 1e-8 on the depth-20 width-50 network, warm
    starts: dlnflow.sharpness.top_eigenpairs vs scipy eigsh on jax.jvp(jax.grad)."""
    kw = {"depth": 20, "width": 50, "steps": 500 if q else 2000, "every": 100, "eta": 1e-2,
          "tol": 1e-8}
    a = worker("sharpness", n, True, impl="dlnflow", **kw)
    b = worker("sharpness", n, True, impl="eigsh", **kw)
    diff = np.max(np.abs(np.asarray(a["values"]) - b["values"]) / np.abs(b["values"]))
    print(f"  {len(b['values'])} checkpoints: dlnflow {stat(a['seconds'])}, eigsh baseline "
          f"{stat(b['seconds'])}; sharpness {b['values'][0]:.5g} -> {b['values'][-1]:.5g}, max "
          f"rel. difference {diff:.1e}")
    ratio("sharpness_L20_w50_vs_eigsh", np.median(b["seconds"]) / np.median(a["seconds"]),
          ">= 0.67 (1/1.5)")


def case_memory(q: bool, n: int) -> None:
    """Peak RSS of 16,384 GD starts of depth 10 (4,096 with --quick)."""
    starts = 4096 if q else 16384
    res = worker("memory", 1, True, depth=10, starts=starts, steps=1000)
    print(f"  {starts} starts, depth 10, 1000 steps: {stat(res['seconds'])}")
    ratio(f"memory_gd_B{starts}_L10_peak_rss_MB", res["rss_mb"], "< 2048 (MB, lower is better)")


def _figures(quick: bool, cache: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `dlnflow figures [--quick]` process writing into an
    empty folder (its peak RSS read by a parent process that runs nothing else)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "dlnflow.cli", "figures", "--out", out,
               *(["--quick"] if quick else [])]
        probe = ("import resource, subprocess, sys, time; t0 = time.perf_counter(); "
                 f"subprocess.run({cmd!r}, check=True, capture_output=True); "
                 "print(time.perf_counter() - t0, "
                 "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
        res = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                             text=True, env=dict(os.environ, DLNFLOW_COMPILATION_CACHE=cache))
    seconds, mb = (float(v) for v in res.stdout.split())
    return seconds, mb


def case_pipeline(q: bool, n: int) -> None:
    """`dlnflow figures --quick` into an empty folder, once (about two minutes; --quick
    skips it): cold (DLNFLOW_COMPILATION_CACHE=0: no compilation or program cache) and warm
    (the user's caches, holding this code version's programs: run the command once after
    changing dlnflow, since the program cache is keyed by dlnflow's source)."""
    if q:
        print("  skipped with --quick")
        return
    for label, env in (("cold", "0"), ("warm", "1")):
        seconds, mb = _figures(True, env)
        ratio(f"pipeline_quick_{label}_seconds", seconds, "<= 60 (s, one run)",
              f"peak RSS {mb:.0f} MB")


def case_pipeline_full(q: bool, n: int) -> None:
    """`dlnflow figures` (full configurations) into an empty folder, once, warm caches (as for
    the quick pipeline: run it once after changing dlnflow; about three minutes; --quick skips
    it): seconds and peak RSS."""
    if q:
        print("  skipped with --quick")
        return
    seconds, mb = _figures(False, "1")
    ratio("pipeline_full_warm_seconds", seconds, "<= 300 (s, one run)")
    ratio("pipeline_full_peak_rss_MB", mb, "< 2048 (MB, lower is better)")
