"""Measurements that run in a fresh process (compilation included, cold or warm JAX cache),
started by ``benchmarks/run.py`` as ``python benchmarks/run.py --worker NAME JSON``.

Each worker builds its problem, times the call, and returns a JSON-ready dict with the seconds,
the numbers needed to check the answer, and the process's peak RSS. Problems are built here and
in ``run.py`` by the same functions (``problems``), so both sides see the same starts.
"""

from __future__ import annotations

import resource
import time

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------- problems (shared)
def chain_problem(depth: int, starts: int, seed: int = 1):
    """Scalar chain, target 1, N(0, 1) starts (the Xavier scale of a width-1 chain)."""
    import dlnflow as dl
    prob = dl.Problem.scalar_chain(depth, target=1.0)
    return prob, dl.init.xavier(prob, seed, batch=starts)


def matrix_problem(depth: int, width: int, starts: int, seed: int = 1):
    """0.5 ||W_L...W_1 - diag(1..2)||^2, square layers, Glorot-normal starts."""
    import dlnflow as dl
    phi = np.diag(np.linspace(1.0, 2.0, width))
    prob = dl.Problem.target_matrix(phi, depth=depth, width=width)
    return prob, phi, dl.init.glorot_normal(prob, seed, batch=starts)


def deep_problem(depth: int, width: int, seed: int = 0):
    """Regression 0.5/n ||W X - Y||^2 on n = width samples, X ~ N(0, 1), Y = A X with A
    Gaussian / sqrt(width), square layers of the width, orthogonal start."""
    import dlnflow as dl
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((width, width))
    Y = rng.standard_normal((width, width)) / np.sqrt(width) @ X
    prob = dl.Problem.regression(X, Y, widths=[width] * (depth + 1))
    return prob, X, Y, dl.init.orthogonal(prob, seed)


# ---------------------------------------------------------------- workers
def flow(depth: int, starts: int, t1: float, solver: str, rtol: float, atol: float,
         width: int = 1) -> dict:
    """One simulate call of a gradient-flow batch, compile included."""
    import dlnflow as dl
    if width == 1:
        prob, params = chain_problem(depth, starts)
    else:
        prob, _, params = matrix_problem(depth, width, starts)
    system = dl.GradientFlow(prob)
    t0 = time.perf_counter()
    traj = dl.simulate(system, params, t1=t1, solver=dl.Solver(solver, rtol=rtol, atol=atol))
    seconds = time.perf_counter() - t0
    final = np.concatenate([np.asarray(W).reshape(starts, -1) for W in traj.params_final], 1)
    return {"seconds": seconds, "final": final.tolist(), "status": sorted(set(traj.status))}


def _first_and_steady(system, params, steps: int, steady_runs: int, fixed_points: bool = True):
    """(trajectory, first call's seconds (compile included), steady calls' seconds) of
    ``steps`` iterations of a map, the start and the end recorded; ``fixed_points=False``:
    without the per-step fixed-point test (``Stop(stall_tol=None)``)."""
    import dlnflow as dl
    stop = dl.Stop(max_steps=steps, **({} if fixed_points else {"stall_tol": None}))
    run = {"stop": stop, "save": dl.SaveAt(every=steps)}
    t0 = time.perf_counter()
    traj = dl.simulate(system, params, **run)
    first = time.perf_counter() - t0
    steady = []
    for _ in range(steady_runs):
        t0 = time.perf_counter()
        traj = dl.simulate(system, params, **run)
        steady.append(time.perf_counter() - t0)
    return traj, first, steady


def gd_chain(depth: int, starts: int, steps: int, eta: float, steady_runs: int = 3,
             fixed_points: bool = True) -> dict:
    """GD on scalar chains: the first call (compile included) and steady calls."""
    import dlnflow as dl
    prob, params = chain_problem(depth, starts, seed=0)
    traj, first, steady = _first_and_steady(dl.GradientDescent(prob, eta), params, steps,
                                            steady_runs, fixed_points)
    return {"first": first, "steady": steady, "final": traj.scalar_weights()[:, -1].tolist(),
            "status": sorted(set(traj.status)), "rss_mb": peak_rss_mb()}


def gd_matrix(depth: int, width: int, starts: int, steps: int, eta: float,
              steady_runs: int = 3) -> dict:
    """Matrix GD (target problem), the start and the end recorded: first call and steady
    calls."""
    import dlnflow as dl
    prob, _, params = matrix_problem(depth, width, starts)
    traj, first, steady = _first_and_steady(dl.GradientDescent(prob, eta), params, steps,
                                            steady_runs)
    return {"first": first, "steady": steady, "loss": np.asarray(traj.loss)[:, -1].tolist()}


def deep_gd(depth: int, width: int, steps: int, eta: float, impl: str) -> dict:
    """GD on the deep regression network, loss every step, compile included: dlnflow (the
    parameters recorded at the start and the end only, ``SaveAt.params_every``, as the baseline
    keeps them; impl "dlnflow_all_params": at every step too) or the plain lax.scan of jax.grad
    (``baselines.lax_scan_gd``) on the same loss."""
    import jax
    import jax.numpy as jnp

    import dlnflow as dl
    prob, X, Y, params = deep_problem(depth, width)
    t0 = time.perf_counter()
    if impl in ("dlnflow", "dlnflow_all_params"):
        save = dl.SaveAt(every=1, params_every=None if impl == "dlnflow_all_params" else steps)
        traj = dl.simulate(dl.GradientDescent(prob, eta), params,
                           stop=dl.Stop(max_steps=steps), save=save)
        losses = np.asarray(traj.loss[0])
    else:
        from baselines import lax_scan_gd
        Xj, Yj, n = jnp.asarray(X), jnp.asarray(Y), X.shape[1]

        def loss(p):
            W = p[0]
            for M in p[1:]:
                W = M @ W
            return 0.5 / n * jnp.sum((W @ Xj - Yj) ** 2)

        p_end, ls = jax.block_until_ready(lax_scan_gd(loss, eta, steps)(tuple(params)))
        losses = np.append(np.asarray(ls), float(loss(p_end)))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "loss": losses.tolist(), "rss_mb": peak_rss_mb()}


def sharpness(depth: int, width: int, steps: int, every: int, eta: float, tol: float,
              impl: str) -> dict:
    """Sharpness at the checkpoints of a GD run (every ``every`` steps), warm-started: dlnflow's
    top_eigenpairs or scipy eigsh on jax.jvp(jax.grad) (``baselines.eigsh_sharpness``)."""
    import dlnflow as dl
    prob, _, _, params = deep_problem(depth, width)
    traj = dl.simulate(dl.GradientDescent(prob, eta), params, stop=dl.Stop(max_steps=steps),
                       save=dl.SaveAt(every=every))
    points = [np.concatenate([np.asarray(W[0, j]).ravel() for W in traj.params])
              for j in range(traj.params[0].shape[1])]
    t0 = time.perf_counter()
    if impl == "dlnflow":
        from dlnflow.sharpness import top_eigenpairs
        vals, v0 = [], None
        for x in points:
            val, vec = top_eigenpairs(prob, prob.unflatten(x), k=1, method="lanczos", tol=tol,
                                      v0=v0)
            vals.append(float(val[0]))
            v0 = vec[:, 0]
    else:
        from baselines import eigsh_sharpness
        vals = eigsh_sharpness(prob.loss_flat, points, tol).tolist()
    return {"seconds": time.perf_counter() - t0, "values": vals}


def memory(depth: int, starts: int, steps: int) -> dict:
    """Peak RSS of a GD batch of ``starts`` scalar chains."""
    out = gd_chain(depth, starts, steps, 1e-3, steady_runs=0)
    return {"seconds": out["first"], "rss_mb": peak_rss_mb()}


WORKERS = {"flow": flow, "gd_chain": gd_chain, "gd_matrix": gd_matrix, "deep_gd": deep_gd,
           "sharpness": sharpness, "memory": memory}
