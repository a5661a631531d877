"""Gradient flow for a batch of scalar chains: dlnflow (rodas4, its batched stiff solver, by
default; or a vmapped diffrax solver) vs scipy LSODA looped over the starts.

256 Gaussian N(0, 1) starts of a depth-6 chain, target y = 1, flow to t = 1000 at rtol 1e-8.
Both are checked against the exact 1-D reduction (dlnflow.scalar_chain.reduced_flow at rtol
1e-12) at t = 1000. Two ratios: LSODA at the same rtol (then usually far less accurate), and
LSODA with rtol tightened by factors of 10 until its max error is no larger than dlnflow's
(equal accuracy). The dlnflow time includes tracing and compilation.
Run: python benchmarks/bench_flow_scalar.py [--starts N] [--solver NAME]
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
                    help="a dlnflow flow solver (dlnflow.simulate.FLOW_SOLVERS): rodas4 "
                         "(batched Rosenbrock), a diffrax one, or a scipy one (run by run)")
    args = ap.parse_args()
    prob = dl.Problem.scalar_chain(args.depth, target=1.0)
    params = dl.init.xavier(prob, 1, batch=args.starts)
    w0 = np.asarray(prob.scalar_weights(params))

    t0 = time.perf_counter()
    traj = dl.simulate(dl.GradientFlow(prob), params, t1=args.t1,
                       solver=dl.Solver(args.solver, rtol=args.rtol, atol=args.atol))
    t_dl = time.perf_counter() - t0
    w_dl = traj.scalar_weights()[:, -1]

    ref = np.array([reduced_flow(prob, w0[i], np.array([0.0, args.t1]))[-1]
                    for i in range(args.starts)])
    err_dl = np.max(np.abs(w_dl - ref))
    print(f"gradient flow, scalar chain depth {args.depth}, {args.starts} starts, "
          f"t1={args.t1:g}, atol={args.atol:g}")
    print(f"  dlnflow {args.solver} rtol={args.rtol:g} (+compile): {t_dl:8.3f} s   max error vs "
          f"1-D oracle {err_dl:.2e}   statuses {sorted({str(s) for s in traj.status})}")
    # LSODA at the same rtol, then tightened until it is as accurate as dlnflow
    rtol, timings = args.rtol, []
    while True:
        t_sp, err_sp = lsoda_loop(w0, args.t1, rtol, args.atol * rtol / args.rtol, ref)
        timings.append((rtol, t_sp, err_sp))
        print(f"  scipy LSODA loop rtol={rtol:g}    : {t_sp:8.3f} s   max error vs 1-D oracle "
              f"{err_sp:.2e}")
        if err_sp <= err_dl or rtol < 1e-12:
            break
        rtol /= 10
    same_tol = timings[0][1]
    print(f"RATIO flow_speed_vs_lsoda_loop_same_rtol = {same_tol / t_dl:.2f}x "
          f"(LSODA {timings[0][2] / err_dl:.0f}x less accurate; compile included)")
    if timings[-1][2] <= err_dl:
        print(f"RATIO flow_speed_vs_lsoda_loop_equal_accuracy = {timings[-1][1] / t_dl:.2f}x "
              f"(LSODA at rtol {timings[-1][0]:g}; target > 1x, compile included)")


def lsoda_loop(w0: np.ndarray, t1: float, rtol: float, atol: float, ref: np.ndarray):
    """Loop scipy's LSODA (numpy right-hand side) over the starts: (seconds, max error)."""
    t0 = time.perf_counter()
    w_sp = np.empty_like(w0)
    for i in range(w0.shape[0]):
        sol = scipy.integrate.solve_ivp(numpy_field, (0.0, t1), w0[i], method="LSODA",
                                        rtol=rtol, atol=atol, args=(1.0,))
        w_sp[i] = sol.y[:, -1]
    return time.perf_counter() - t0, float(np.max(np.abs(w_sp - ref)))


if __name__ == "__main__":
    main()
