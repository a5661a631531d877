"""Orbit (bifurcation) diagram of gradient descent in the step size eta, scalar chains.

For each eta of a grid, GD runs from one start for ``transient`` iterations, then the products
p_k = w_L ... w_1 (and losses) of the next ``keep`` iterates are recorded: one value for a stable
fixed point, two for a period-2 orbit, many past the cascade, none (NaN) after divergence. All
etas run in ONE jitted call (vmap over eta). A balanced start (all w_i equal) stays balanced under
GD, so it converges to the balanced minimum w_i = y^(1/L) where lambda_max(H) = L |y|^(2 - 2/L):
the fixed point loses stability at eta* = 2 / lambda_max (first period doubling).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.axes import Axes

from ..errors import InputError, check_positive_int
from ..problem import Problem
from .style import PALETTE


def balanced_lambda_max(depth: int, target: float) -> float:
    """lambda_max of the Hessian at the balanced minimum of 0.5 (p - y)^2: L |y|^(2 - 2/L)."""
    return depth * abs(target) ** (2.0 - 2.0 / depth)


def lambda_max_at(problem: Problem, w: Sequence[float]) -> float:
    """Largest Hessian eigenvalue of F at the scalar weights w (problem.hessian)."""
    H = np.asarray(jax.jit(lambda q: problem.hessian(q))(problem.scalar_params(
        np.asarray(w, float))))
    return float(np.linalg.eigvalsh(H)[-1])


@functools.partial(jax.jit, static_argnames=("transient", "keep"))
def _orbits(problem: Problem, etas: jax.Array, w0: jax.Array, transient: int, keep: int,
            bound: jax.Array):
    L = w0.shape[0]

    def grad(w):
        g = problem.grad(tuple(w[l, None, None] for l in range(L)))
        return jnp.stack([G[0, 0] for G in g])

    def run(eta):
        def step(w, _):
            new = w - eta * grad(w)
            bad = ~jnp.all(jnp.isfinite(new)) | (jnp.max(jnp.abs(new)) > bound)
            new = jnp.where(bad | ~jnp.all(jnp.isfinite(w)), jnp.nan, new)
            return new, None

        w, _ = jax.lax.scan(step, w0, None, length=transient)

        def rec(w, _):
            new, _ = step(w, None)
            return new, new

        w_end, ws = jax.lax.scan(rec, w, None, length=keep)
        return ws, w_end

    return jax.vmap(run)(etas)


def orbit_diagram(problem: Problem, etas: Sequence[float], w0: Sequence[float],
                  transient: int = 2000, keep: int = 64, bound: float = 1e6) -> dict[str, Any]:
    """Products and losses visited by GD after ``transient`` steps, for every eta in ``etas``.

    Returns {"eta": (E,), "p": (E, keep), "loss": (E, keep), "final_w": (E, L), "diverged":
    (E,)} with NaN after divergence (|w_i| > bound or non-finite).
    """
    if not problem.is_scalar_chain:
        raise InputError("orbit_diagram needs a scalar chain problem")
    etas = np.asarray(etas, dtype=float)
    if etas.ndim != 1 or etas.size == 0 or np.any(~np.isfinite(etas)) or np.any(etas <= 0):
        raise InputError("etas must be a non-empty list of positive step sizes")
    w0 = np.asarray(w0, dtype=float)
    if w0.shape != (problem.depth,):
        raise InputError(f"w0 must have {problem.depth} weights, got shape {w0.shape}")
    transient = check_positive_int("transient", transient)
    keep = check_positive_int("keep", keep)
    ws, w_end = _orbits(problem, jnp.asarray(etas), jnp.asarray(w0), transient, keep,
                        jnp.asarray(bound))
    ws = np.asarray(ws)                                   # (E, keep, L)
    p = np.prod(ws, axis=-1)
    loss = np.asarray(jax.jit(jax.vmap(jax.vmap(lambda w: problem.loss(
        tuple(w[l, None, None] for l in range(problem.depth))))))(jnp.asarray(ws)))
    return {"eta": etas, "p": p, "loss": loss, "final_w": np.asarray(w_end),
            "diverged": ~np.all(np.isfinite(p), axis=1), "w0": w0, "transient": transient,
            "keep": keep}


def orbit_spread(p: np.ndarray) -> np.ndarray:
    """max - min of the recorded products per eta (0 at a fixed point; NaN if diverged)."""
    p = np.asarray(p, dtype=float)
    return np.max(p, axis=1) - np.min(p, axis=1)


def first_doubling(eta: Sequence[float], p: np.ndarray, tol: float = 1e-3) -> float:
    """Smallest eta whose recorded orbit is not a single point (spread > tol) or diverged."""
    eta = np.asarray(eta, dtype=float)
    spread = orbit_spread(p)
    moving = ~np.isfinite(spread) | (spread > tol)
    if not np.any(moving):
        return float("nan")
    return float(eta[np.argmax(moving)])


def plot_orbit_diagram(ax: Axes, data: dict[str, Any], quantity: str = "p",
                       threshold: float | None = None, color: str | None = None,
                       label: str | None = None) -> Axes:
    """Scatter of the recorded values (``quantity`` "p" or "loss") against eta; a dashed line
    at ``threshold`` (e.g. 2 / lambda_max of the minimum reached)."""
    if quantity not in ("p", "loss"):
        raise InputError(f"quantity must be 'p' or 'loss', got {quantity!r}")
    eta = np.asarray(data["eta"], dtype=float)
    vals = np.asarray(data[quantity], dtype=float)
    E, K = vals.shape
    X = np.repeat(eta, K)
    Y = vals.ravel()
    ok = np.isfinite(Y)
    ax.plot(X[ok], Y[ok], ",", color=color or PALETTE[0], alpha=0.9, rasterized=True)
    ax.plot([], [], "s", ms=3, color=color or PALETTE[0], label=label)
    if threshold is not None:
        ax.axvline(threshold, color=PALETTE[1], ls="--", lw=0.8,
                   label=rf"$2/\lambda_{{\max}} = {threshold:.4g}$")
    div = np.asarray(data["diverged"], bool)
    if np.any(div):
        ax.axvspan(eta[np.argmax(div)], eta[-1], color="0.9", zorder=0, label="diverges")
    ax.set_xlabel(r"step size $\eta$")
    ax.set_ylabel(r"product $p = w_L\cdots w_1$" if quantity == "p" else "loss")
    if quantity == "loss":
        ax.set_yscale("log")
    ax.set_xlim(eta[0], eta[-1])
    return ax
