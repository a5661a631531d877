"""Every speed measurement of dlnflow, side by side with its baseline, in one run.

    python benchmarks/run.py [--quick] [--only CASE,...] [--repeats N] [--commands CMD,...]

Prints one line per ratio, ``RATIO name = value (target ...)``, value = baseline time / dlnflow
time (above 1: dlnflow is faster) unless the name says otherwise, each side the median of
``--repeats`` (>= 3) runs with its min-max. Compile-included times are taken in a fresh worker
process (``workers.py``), its JAX caches cleared before every repeat; "cold" runs have the
persistent compilation cache off (DLNFLOW_COMPILATION_CACHE=0), "warm" ones on and filled. CLI
latencies are whole-process times, each run after a run of the baseline ``python -c "import jax;
jax.numpy.zeros(1)"`` (``--commands`` picks the commands). Other baselines (``baselines.py``):
numpy loops, scipy's LSODA looped over the starts at equal accuracy, a numba loop blocked over
the starts (when numba, the ``bench`` extra, is installed), a plain jitted lax.scan of jax.grad,
scipy's eigsh on jax.jvp(jax.grad). JAX picks the device (a GPU
when it sees one); the device, cores and load are printed first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cases_gd import (  # noqa: E402
    case_deep,
    case_gd_chain,
    case_gd_depth,
    case_gd_matrix,
    case_memory,
    case_pipeline,
    case_pipeline_full,
    case_sharpness,
)
from harness import PY, ratio, stat, timed, whole_process, worker  # noqa: E402


def _run_worker(name: str, kw: str, repeats: str) -> None:
    import jax
    import workers
    seconds, res = [], {}
    for _ in range(int(repeats)):
        jax.clear_caches()
        res = workers.WORKERS[name](**json.loads(kw))
        seconds.append(res.pop("seconds", res.get("first")))
    res["seconds"] = seconds
    res.setdefault("rss_mb", workers.peak_rss_mb())
    print(json.dumps(res))


# ---------------------------------------------------------------- cases
def case_latency(q: bool, n: int) -> None:
    """Whole-process CLI latency against ``python -c "import jax; jax.numpy.zeros(1)"``. The
    two are timed alternately (a baseline run before each dlnflow run), so that a change of the
    machine's load shifts both sides alike; each ratio divides the medians of its own pairs."""
    base_cmd = [PY, "-c", "import jax; jax.numpy.zeros(1)"]
    dl = [PY, "-m", "dlnflow.cli"]
    cmds = {"help": [*dl, "--help"],
            "gd": [*dl, "gd", "--depth", "4", "--target", "1", "--init", "0.9,0.9,0.9,0.9",
                   "--eta", "0.05", "--max-steps", "200", "--json"],
            "flow": [*dl, "flow", "--depth", "4", "--target", "1", "--init", "0.9,0.9,0.9,0.9",
                     "--t1", "10", "--json"],
            # the calls of docs/getting-started.md
            "rates": [*dl, "rates", "--depth", "3", "--target", "1", "--init", "0.5,0.7,0.9",
                      "--etas", "0.05,0.1", "--json"],
            "critical": [*dl, "critical", "--depth", "3", "--target", "1", "--json"]}
    for name in COMMANDS or cmds:
        cmd = cmds[name]
        for label, env in (("cold", "0"), ("warm", "1")):
            if label == "cold" and (q or name == "help"):      # --quick: warm cache only
                continue
            target = ("<= 1.5" if name == "help" else "<= 2") if label == "warm" else "none"
            e = dict(os.environ, DLNFLOW_COMPILATION_CACHE=env)
            if label == "warm":
                whole_process(cmd, 1, e)                    # fill the cache
            t, base, rss = [], [], 0.0
            for _ in range(n):
                base += whole_process(base_cmd, 1)[0]
                ti, r = whole_process(cmd, 1, e)
                t, rss = t + ti, max(rss, r)
            ratio(f"latency_{name}_{label}_vs_jax_import", np.median(t) / np.median(base),
                  target, f"(time ratio, lower is better) dlnflow {stat(t)}, jax import "
                  f"{stat(base)}, peak RSS {rss:.0f} MB")


def _flow_case(q: bool, n: int, width: int) -> None:
    from baselines import chain_field, lsoda_loop, matrix_field
    from workers import chain_problem, matrix_problem

    from dlnflow.scalar_chain import reduced_flow
    from dlnflow.simulate.options import DEFAULT_SOLVER
    rtol, atol = 1e-8, 1e-10
    if width == 1:
        depth, starts, t1 = 6, (32 if q else 256), (100.0 if q else 1000.0)
        prob, params = chain_problem(depth, starts)
        w0 = np.asarray(prob.scalar_weights(params))
        field, fargs = chain_field, (1.0,)
        ref = np.array([reduced_flow(prob, w, np.array([0.0, t1]))[-1] for w in w0])
        solvers = [DEFAULT_SOLVER, "rodas4", "reduction", "kvaerno5", "tsit5"]
        label = f"flow_chain_L{depth}_B{starts}_t{t1:g}"
    else:
        depth, starts, t1 = 4, (16 if q else 64), 10.0
        prob, phi, params = matrix_problem(depth, width, starts)
        w0 = np.asarray(jax_flat(prob, params))
        field, fargs = matrix_field(prob.layer_shapes, phi), ()
        ref = lsoda_loop(field, w0, t1, 1e-12, 1e-14, method="DOP853")
        solvers = [DEFAULT_SOLVER, "rodas4", "kvaerno5", "tsit5"]
        label = f"flow_matrix_L{depth}_w{width}_B{starts}_t{t1:g}"
    solvers = list(dict.fromkeys(solvers[:3] if q else solvers))
    if SOLVERS:
        solvers = SOLVERS
    oracle = "1-D reduction, DOP853 1e-12" if width == 1 else "DOP853 loop at rtol 1e-12"
    print(f"  {label}: {starts} starts, rtol {rtol:g}, atol {atol:g}, error = max |state - "
          f"reference| at t1 (reference: {oracle})")
    for s in solvers:
        for cache in ((False, True) if s == DEFAULT_SOLVER else (True,)):
            cdir = tempfile.mkdtemp(prefix="dlnflow-bench-cache-") if cache else None
            if cache:
                worker("flow", 1, True, cdir, depth=depth, starts=starts, t1=t1, solver=s,
                       rtol=rtol, atol=atol, width=width)          # fill the cache
            res = worker("flow", n, cache, cdir, depth=depth, starts=starts, t1=t1, solver=s,
                         rtol=rtol, atol=atol, width=width)
            secs = res["seconds"]
            err = float(np.max(np.abs(np.asarray(res["final"]) - ref)))
            print(f"  dlnflow {s:9s} {'warm' if cache else 'cold'} (compile incl.): "
                  f"{stat(secs)}  error {err:.1e}  {res['status']}")
            r, ts = rtol, None
            while r >= 1e-13:                     # tighten LSODA until it is as accurate
                ts, out = timed(lambda r=r: lsoda_loop(field, w0, t1, r, atol * r / rtol,
                                                       fargs), 1)
                if np.max(np.abs(out - ref)) <= err:
                    break
                r /= 10
            ts += timed(lambda r=r: lsoda_loop(field, w0, t1, r, atol * r / rtol, fargs),
                        n - 1)[0]
            ratio(f"{label}_{s}_{'warm' if cache else 'cold'}_vs_lsoda_loop",
                  np.median(ts) / np.median(secs), ">= 5 warm, > 1 cold",
                  f"LSODA at rtol {r:g}: {stat(ts)}")


def jax_flat(prob, params):
    import jax
    return jax.vmap(prob.flatten)(params)


def case_flow_chain(q: bool, n: int) -> None:
    _flow_case(q, n, 1)


def case_flow_matrix(q: bool, n: int) -> None:
    _flow_case(q, n, 8)


CASES = {"latency": case_latency, "flow_chain": case_flow_chain,
         "flow_matrix": case_flow_matrix, "gd_chain": case_gd_chain,
         "gd_depth": case_gd_depth, "gd_matrix": case_gd_matrix, "deep": case_deep,
         "sharpness": case_sharpness, "memory": case_memory, "pipeline": case_pipeline,
         "pipeline_full": case_pipeline_full}
QUICK = ("latency", "flow_chain", "gd_chain", "deep")
COMMANDS: list[str] = []
"""CLI commands of the latency case (--commands); empty: help, gd, flow, rates, critical."""
SOLVERS: list[str] = []
"""Flow solvers to time (--solvers); empty: the default one, rodas4, reduction (chains),
kvaerno5, tsit5."""


def describe_machine() -> None:
    import jax

    import dlnflow  # noqa: F401  (its JAX settings: devices per core, float64)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    dev = jax.devices()[0]
    print(f"# device: {dev.platform} {dev.device_kind} (JAX {jax.__version__}, "
          f"{jax.device_count()} devices); {cores} cores; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _run_worker(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, a few cases")
    ap.add_argument("--only", default=None, help=f"comma-separated cases among {', '.join(CASES)}")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (>= 3)")
    ap.add_argument("--solvers", default="", help="flow solvers to time, comma-separated")
    ap.add_argument("--commands", default="",
                    help="CLI commands of the latency case, comma-separated among help, gd, "
                         "flow, rates, critical (default: all)")
    args = ap.parse_args()
    SOLVERS.extend(s for s in args.solvers.split(",") if s)
    COMMANDS.extend(c for c in args.commands.split(",") if c)
    if not set(COMMANDS) <= {"help", "gd", "flow", "rates", "critical"}:
        ap.error(f"--commands: unknown command among {args.commands!r}")
    if args.repeats < 3:
        ap.error("--repeats must be >= 3 (medians of at least 3 runs)")
    names = args.only.split(",") if args.only else (QUICK if args.quick else list(CASES))
    describe_machine()
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        CASES[name](args.quick, args.repeats)
        print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
