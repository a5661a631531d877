"""Basins of the gradient-descent map w -> w - eta grad F of a two-layer scalar chain.

For a grid of starts (w1, w2) every run is iterated in ONE jitted, batched loop and labelled by
where it ends: a branch of the minimum set w1 w2 = y (sign of w1), the saddle at the origin, a
period-2 orbit (w_{k+2} = w_k != w_{k+1}), divergence, or not converged (none of these within
``max_steps``, e.g. a longer cycle or chaos). Each run also gets the iteration at which it
settled (last iteration where its end condition still failed, plus one).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm

from ..errors import InputError, check_positive, check_positive_int
from ..problem import Problem
from .style import CRITICAL_COLORS, PALETTE

OUTCOMES = ("minimum, w1 > 0", "minimum, w1 < 0", "saddle (origin)", "period-2 orbit",
            "diverged", "not converged")
OUTCOME_COLORS = (PALETTE[2], PALETTE[5], CRITICAL_COLORS["strict_saddle"], PALETTE[3],
                  "#222222", "#BBBBBB")


def start_grid(extent: Sequence[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Axes (w1 values, w2 values) of an n x n grid; symmetric extents give exactly symmetric
    grids (x_i = -x_(n-1-i)), so the saddle's stable line w1 = -w2 is sampled exactly."""
    n = check_positive_int("grid", n, minimum=2)

    def axis(a: float, b: float) -> np.ndarray:
        x = np.linspace(a, b, n)
        if a == -b:
            x = 0.5 * (x - x[::-1])
        return x

    return axis(float(extent[0]), float(extent[1])), axis(float(extent[2]), float(extent[3]))


@functools.partial(jax.jit, static_argnames=("max_steps",))
def _iterate(problem: Problem, eta: jax.Array, w0: jax.Array, max_steps: int, tol: jax.Array,
             bound: jax.Array, saddle_tol: jax.Array, cycle_tol: jax.Array,
             fstar: jax.Array):
    L = w0.shape[1]

    def to_params(w):
        return tuple(w[:, l, None, None] for l in range(L))

    def step(w):
        g = jax.vmap(problem.grad)(to_params(w))
        return w - eta * jnp.stack([G[:, 0, 0] for G in g], axis=1)

    def excess(w):
        return jax.vmap(problem.loss)(to_params(w)) - fstar

    B = w0.shape[0]
    minus1 = jnp.full(B, -1, dtype=jnp.int64)

    def body(k, state):
        w, w_prev, w_prev2, dead, k_div, last_min, last_sad, last_cyc = state
        new = step(w)
        bad = ~jnp.all(jnp.isfinite(new), axis=1) | (jnp.max(jnp.abs(new), axis=1) > bound)
        newly = bad & ~dead
        k_div = jnp.where(newly, k + 1, k_div)
        dead = dead | bad
        w_next = jnp.where(dead[:, None], w, new)
        kk = k + 1
        last_min = jnp.where(excess(w_next) > tol, kk, last_min)
        last_sad = jnp.where(jnp.max(jnp.abs(w_next), axis=1) > saddle_tol, kk, last_sad)
        cyc = jnp.max(jnp.abs(w_next - w_prev), axis=1)       # |w_{k+1} - w_{k-1}|
        last_cyc = jnp.where(cyc > cycle_tol, kk, last_cyc)
        return w_next, w, w_prev, dead, k_div, last_min, last_sad, last_cyc

    state = (w0, w0, w0, jnp.zeros(B, bool), minus1, jnp.zeros(B, jnp.int64),
             jnp.zeros(B, jnp.int64), jnp.ones(B, jnp.int64))
    w, w_prev, _, dead, k_div, last_min, last_sad, last_cyc = jax.lax.fori_loop(
        0, max_steps, body, state)
    w1 = step(w)
    return w, w1, dead, k_div, last_min, last_sad, last_cyc, excess(w)


def gd_basins(problem: Problem, eta: float, grid: int = 101,
              extent: Sequence[float] = (-2.0, 2.0, -2.0, 2.0), max_steps: int = 2000,
              tol: float = 1e-20, bound: float = 1e6, saddle_tol: float = 1e-8,
              cycle_tol: float = 1e-9) -> dict[str, Any]:
    """Where GD with step ``eta`` ends from each start of a ``grid`` x ``grid`` box ``extent``.

    Outcome codes index :data:`OUTCOMES`: 0/1 minimum with w1 > 0 / < 0 (excess loss <= tol),
    2 saddle (|w| <= saddle_tol), 3 period-2 orbit (|w_{k+2} - w_k| <= cycle_tol and
    |w_{k+1} - w_k| > 1e3 cycle_tol), 4 diverged (non-finite or |w_i| > bound), 5 not converged.
    Returns plain arrays (outcome and iterations of shape (grid, grid), row i = w2[i]).
    """
    if not problem.is_scalar_chain or problem.depth != 2:
        raise InputError("gd_basins needs a two-layer scalar chain "
                         f"(got widths {list(problem.widths)})")
    eta = check_positive("eta", eta)
    max_steps = check_positive_int("max_steps", max_steps)
    x, y = start_grid(extent, grid)
    X, Y = np.meshgrid(x, y)
    w0 = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))
    out = _iterate(problem, jnp.asarray(eta), w0, max_steps, jnp.asarray(tol),
                   jnp.asarray(bound), jnp.asarray(saddle_tol), jnp.asarray(cycle_tol),
                   jnp.asarray(float(problem.optimal_loss or 0.0)))
    w, w1, dead, k_div, last_min, last_sad, last_cyc, exc = (np.asarray(a) for a in out)
    outcome = np.full(w.shape[0], 5)
    iters = np.full(w.shape[0], max_steps)
    cyc_ok = (last_cyc < max_steps) & (np.max(np.abs(w1 - w), axis=1) > 1e3 * cycle_tol)
    sad_ok = last_sad < max_steps
    min_ok = (last_min < max_steps) & ~sad_ok
    outcome[cyc_ok] = 3
    iters[cyc_ok] = last_cyc[cyc_ok]
    outcome[sad_ok] = 2
    iters[sad_ok] = last_sad[sad_ok]
    branch = np.where(w[:, 0] > 0, 0, 1)
    outcome[min_ok] = branch[min_ok]
    iters[min_ok] = last_min[min_ok]
    outcome[dead] = 4
    iters[dead] = k_div[dead]
    shape = X.shape
    return {
        "eta": eta, "target": float(np.asarray(problem.target).ravel()[0]), "w1": x, "w2": y,
        "extent": [float(e) for e in extent], "outcome": outcome.reshape(shape),
        "iterations": iters.reshape(shape), "final_w": w.reshape(*shape, 2),
        "final_excess": exc.reshape(shape), "outcomes": list(OUTCOMES), "max_steps": max_steps,
        "tol": tol, "bound": bound, "saddle_tol": saddle_tol, "cycle_tol": cycle_tol,
    }


def plot_basins(ax: Axes, result: dict[str, Any], show: str = "outcome",
                legend: bool = True) -> Axes:
    """Draw a :func:`gd_basins` result: ``show="outcome"`` colours starts by outcome (the
    minimum hyperbola w1 w2 = y on top), ``"iterations"`` by the iteration count (log scale)."""
    x = np.asarray(result["w1"], float)
    y = np.asarray(result["w2"], float)
    if show == "outcome":
        out = np.asarray(result["outcome"], int)
        cmap = ListedColormap(OUTCOME_COLORS)
        norm = BoundaryNorm(np.arange(-0.5, len(OUTCOMES) + 0.5), cmap.N)
        ax.pcolormesh(x, y, out, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
        if legend:
            from matplotlib.patches import Patch
            present = sorted(set(out.ravel().tolist()))
            ax.legend(handles=[Patch(color=OUTCOME_COLORS[i], label=OUTCOMES[i])
                               for i in present], loc="lower left", fontsize=5.5,
                      framealpha=0.85)
    elif show == "iterations":
        it = np.maximum(np.asarray(result["iterations"], float), 1.0)
        m = ax.pcolormesh(x, y, it, cmap="viridis", norm=LogNorm(vmin=1, vmax=max(2, it.max())),
                          shading="nearest", rasterized=True)
        ax.figure.colorbar(m, ax=ax, label="iterations", shrink=0.8)
    else:
        raise InputError(f"show must be 'outcome' or 'iterations', got {show!r}")
    X, Y = np.meshgrid(x, y)
    ax.contour(X, Y, X * Y - float(result["target"]), levels=[0.0], colors="k",
               linewidths=0.6, linestyles="--")
    ax.set_xlabel(r"$w_1(0)$")
    ax.set_ylabel(r"$w_2(0)$")
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"GD, $\\eta = {float(result['eta']):g}$")
    return ax
