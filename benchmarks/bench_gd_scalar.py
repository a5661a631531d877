"""GD throughput on scalar chains: dlnflow (jitted, batched while_loop) vs a vectorised numpy loop.

Depth 10, 1024 Xavier starts N(0, 1), target y = 1, eta = 1e-3, 20,000 steps, no early stop.
Prints the wall times and the ratio (numpy time / dlnflow time), compile time reported apart and
also included in a second ratio. Run: python benchmarks/bench_gd_scalar.py [--steps K]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import dlnflow as dl


def numpy_gd(w: np.ndarray, y: float, eta: float, steps: int) -> np.ndarray:
    """The same update, vectorised over starts: w_i -= eta (p - y) prod_{j != i} w_j."""
    w = w.copy()
    for _ in range(steps):
        left = np.cumprod(np.concatenate([np.ones((w.shape[0], 1)), w[:, :-1]], axis=1), axis=1)
        right = np.cumprod(np.concatenate([np.ones((w.shape[0], 1)), w[:, :0:-1]], axis=1),
                           axis=1)[:, ::-1]
        others = left * right
        p = left[:, -1] * w[:, -1]
        w -= eta * (p - y)[:, None] * others
    return w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--starts", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--eta", type=float, default=1e-3)
    args = ap.parse_args()
    prob = dl.Problem.scalar_chain(args.depth, target=1.0)
    params = dl.init.xavier(prob, 0, batch=args.starts)
    w0 = np.asarray(prob.scalar_weights(params))
    system = dl.GradientDescent(prob, args.eta)

    run = {"stop": dl.Stop(max_steps=args.steps), "save": dl.SaveAt(every=args.steps)}
    t0 = time.perf_counter()
    first = dl.simulate(system, params, **run)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    traj = dl.simulate(system, params, **run)
    t_jax = time.perf_counter() - t0
    assert first.status == traj.status
    print(f"  statuses: { {str(s): traj.status.count(s) for s in set(traj.status)} }")

    t0 = time.perf_counter()
    w_np = numpy_gd(w0, 1.0, args.eta, args.steps)
    t_np = time.perf_counter() - t0

    err = np.max(np.abs(traj.scalar_weights()[:, -1] - w_np))
    updates = args.starts * args.steps
    print(f"GD, scalar chain depth {args.depth}, {args.starts} starts, {args.steps} steps")
    print(f"  numpy vectorised loop : {t_np:8.3f} s  ({updates / t_np:.3e} start-steps/s)")
    print(f"  dlnflow (steady)      : {t_jax:8.3f} s  ({updates / t_jax:.3e} start-steps/s)")
    print(f"  dlnflow (with compile): {t_first:8.3f} s")
    print(f"  max |w_dlnflow - w_numpy| = {err:.2e}")
    print(f"RATIO gd_throughput_vs_numpy = {t_np / t_jax:.1f}x (target >= 8x)")
    print(f"RATIO gd_throughput_vs_numpy_including_compile = {t_np / t_first:.1f}x")


if __name__ == "__main__":
    main()
