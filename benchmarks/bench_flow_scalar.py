"""Gradient flow for a batch of scalar chains: dlnflow (rodas4, its batched stiff solver, by
default; or a vmapped diffrax solver) vs scipy LSODA looped over the starts.

256 Gaussian N(0, 1) starts of a depth-6 chain, target y = 1, flow to t = 1000 at rtol 1e-8.
Both are checked against the exact 1-D reduction (dlnflow.scalar_chain.reduced_flow at rtol
1e-12) at t = 1000 and the max error printed, so the ratio is at equal accuracy. The dlnflow time
includes compilation. Run: python benchmarks/bench_flow_scalar.py [--starts N] [--solver NAME]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.integrate

import dlnflow as dl
from dlnflow.scalar_chain import reduced_flow


def numpy_field(t: float, w: np.ndarray, y: float) -> np.ndarray:
    """-dF/dw_i = -(p - y) prod_{j != i} w_j (prefix/suffix products, no division)."""
    left = np.cumprod(np.concatenate([[1.0], w[:-1]]))
    right = np.cumprod(np.concatenate([[1.0], w[:0:-1]]))[::-1]
    p = left[-1] * w[-1]
    return -(p - y) * left * right


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--starts", type=int, default=256)
    ap.add_argument("--t1", type=float, default=1000.0)
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--atol", type=float, default=1e-10)
    ap.add_argument("--solver", default="rodas4",
                    help="any dlnflow JAX solver: rodas4 (batched Rosenbrock) or a diffrax one")
    args = ap.parse_args()
    prob = dl.Problem.scalar_chain(args.depth, target=1.0)
    params = dl.init.xavier(prob, 1, batch=args.starts)
    w0 = np.asarray(prob.scalar_weights(params))

    t0 = time.perf_counter()
    traj = dl.simulate(dl.GradientFlow(prob), params, t1=args.t1, solver=args.solver,
                       rtol=args.rtol, atol=args.atol)
    t_dl = time.perf_counter() - t0
    w_dl = traj.scalar_weights()[:, -1]

    t0 = time.perf_counter()
    w_sp = np.empty_like(w0)
    for i in range(args.starts):
        sol = scipy.integrate.solve_ivp(numpy_field, (0.0, args.t1), w0[i], method="LSODA",
                                        rtol=args.rtol, atol=args.atol, args=(1.0,))
        w_sp[i] = sol.y[:, -1]
    t_sp = time.perf_counter() - t0

    ref = np.array([reduced_flow(prob, w0[i], np.array([0.0, args.t1]))[-1]
                    for i in range(args.starts)])
    err_dl = np.max(np.abs(w_dl - ref))
    err_sp = np.max(np.abs(w_sp - ref))
    print(f"gradient flow, scalar chain depth {args.depth}, {args.starts} starts, "
          f"t1={args.t1:g}, rtol={args.rtol:g}, atol={args.atol:g}")
    print(f"  scipy LSODA loop         : {t_sp:8.3f} s   max error vs 1-D oracle {err_sp:.2e}")
    print(f"  dlnflow {args.solver:8s} (+compile): {t_dl:8.3f} s   max error vs 1-D oracle "
          f"{err_dl:.2e}   statuses {sorted(set(traj.status))}")
    print(f"RATIO flow_speed_vs_lsoda_loop = {t_sp / t_dl:.1f}x (target > 1x, compile included)")


if __name__ == "__main__":
    main()
