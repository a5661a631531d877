"""Orbit (bifurcation) diagram of gradient descent in the step size eta, scalar chains (the data;
``dlnflow.plot.orbits`` draws it).

For each eta of a grid, GD runs (``simulate``) from one start for ``transient`` iterations, then
the products p_k = w_L ... w_1 (and losses) of the next ``keep`` iterates are kept: one value for
a stable fixed point, two for a period-2 orbit, many past the cascade, none (NaN) after
divergence. A balanced start (all w_i equal) stays balanced under GD, so it converges to the
balanced minimum w_i = y^(1/L) where lambda_max(H) = L |y|^(2 - 2/L)
(``rates.balanced_lambda_max``): the fixed point loses stability at eta* = 2 / lambda_max (first
period doubling).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from .errors import InputError, check_positive, check_positive_int
from .problem import Problem
from .simulate import SaveAt, Stop, simulate
from .systems import GradientDescent


class SweptGD(GradientDescent):
    """GradientDescent whose step size is stored as an array, so that it may be a tracer inside
    a trace (continuation in eta, ``dlnflow.continuation``). (``simulate`` passes any map's float
    step size to its compiled loop as an input: one loop serves every eta for both classes.)"""

    eta: jax.Array  # type: ignore[assignment]  # an array (possibly a tracer), a float in GD

    def __init__(self, problem: Problem, eta: float | jax.Array):
        self.problem = problem
        if not isinstance(eta, jax.core.Tracer):
            eta = check_positive("eta", eta)
        self.eta = jnp.asarray(eta, dtype=jnp.float64)


def orbit_diagram(problem: Problem, etas: ArrayLike, w0: ArrayLike,
                  transient: int = 2000, keep: int = 64,
                  diverge_factor: float = 1e12) -> dict[str, Any]:
    """Products and losses visited by GD after ``transient`` steps, for every eta in ``etas``.

    Returns {"eta": (E,), "p": (E, keep), "loss": (E, keep), "final_w": (E, L), "diverged":
    (E,)}; p and loss are NaN from the iterate where a run diverged (simulate's rule: the loss
    non-finite or above diverge_factor * max(1, F(w0))); final_w is the last finite iterate.
    """
    if not problem.is_scalar_chain:
        raise InputError("orbit_diagram needs a scalar chain problem")
    eta_grid = np.asarray(etas, dtype=float)
    if eta_grid.ndim != 1 or eta_grid.size == 0 or np.any(~np.isfinite(eta_grid)) or np.any(
            eta_grid <= 0):
        raise InputError("etas must be a non-empty list of positive step sizes")
    start = np.asarray(w0, dtype=float)
    if start.shape != (problem.depth,):
        raise InputError(f"w0 must have {problem.depth} weights, got shape {start.shape}")
    transient = check_positive_int("transient", transient)
    keep = check_positive_int("keep", keep)
    params0 = problem.scalar_params(start)
    stop = Stop(max_steps=transient + keep, diverge_factor=diverge_factor)
    p, loss, final, diverged = [], [], [], []
    for eta in eta_grid:
        traj = simulate(SweptGD(problem, float(eta)), params0, stop=stop, save=SaveAt(every=1))
        w = np.asarray(traj.scalar_weights())[0, transient + 1:]
        ok = np.asarray(traj.valid[0, transient + 1:])
        dead = bool(traj.status[0] == "diverged")
        # after a fixed point the records repeat the final state; after divergence: NaN
        lk = np.where(ok, traj.loss[0, transient + 1:], float(traj.loss_final[0]))
        keep_k = ok if dead else np.ones_like(ok)
        p.append(np.where(keep_k, np.prod(w, axis=-1), np.nan))
        loss.append(np.where(keep_k, lk, np.nan))
        final.append(np.asarray(problem.scalar_weights(traj.params_final))[0])
        diverged.append(dead)
    return {"eta": eta_grid, "p": np.array(p), "loss": np.array(loss),
            "final_w": np.array(final),
            "diverged": np.array(diverged), "w0": start, "transient": transient, "keep": keep}


def orbit_spread(p: np.ndarray) -> np.ndarray:
    """max - min of the recorded products per eta (0 at a fixed point; NaN if diverged)."""
    p = np.asarray(p, dtype=float)
    return np.max(p, axis=1) - np.min(p, axis=1)


def first_doubling(eta: ArrayLike, p: np.ndarray, tol: float = 1e-3) -> float:
    """Smallest eta whose recorded orbit is not a single point (spread > tol) or diverged."""
    eta_grid = np.asarray(eta, dtype=float)
    spread = orbit_spread(p)
    moving = ~np.isfinite(spread) | (spread > tol)
    if not np.any(moving):
        return float("nan")
    return float(eta_grid[np.argmax(moving)])
