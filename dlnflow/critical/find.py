"""Find critical points numerically and match them to known critical sets.

Multistart Levenberg-Marquardt (optimistix) on the residual r(x) = grad F(x), i.e. a
Gauss-Newton minimisation of ||grad F||^2 that converges to saddles as well as minima. A point
counts as critical when ||grad F|| <= gtol s^2 / a (s the target scale, a = s^(1/L) the weight
scale). Points are merged by the invariants of their family (the end-to-end matrix and the loss;
for scalar chains also the zero set or the sign pattern), never by raw parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ..errors import check_problem
from ..problem import Params, Problem
from .classify import apply_classification, classify_point, problem_scale
from .sets import CriticalSet, orbit_tangent


@eqx.filter_jit
def _solve_batch(problem: Problem, X0: jax.Array, rtol: float, atol: float,
                 max_steps: int) -> jax.Array:
    solver: Any = optx.LevenbergMarquardt(rtol=rtol, atol=atol)

    def one(x0):
        fn = lambda x, args: jax.grad(problem.loss_flat)(x)  # noqa: E731
        sol = optx.least_squares(fn, solver, x0, max_steps=max_steps, throw=False)
        return sol.value
    return jax.vmap(one)(X0)


@eqx.filter_jit
def _grad_norms(problem: Problem, X: jax.Array) -> jax.Array:
    return jax.vmap(lambda x: jnp.linalg.norm(jax.grad(problem.loss_flat)(x)))(X)


def random_starts(problem: Problem, n_starts: int, seed: int = 0) -> np.ndarray:
    """Gaussian starts (flattened), each with its own scale log-uniform in [0.05 a, 2 a]."""
    rng = np.random.default_rng(seed)
    a = problem_scale(problem) ** (1.0 / problem.depth)
    scales = a * np.exp(rng.uniform(np.log(0.05), np.log(2.0), size=(n_starts, 1)))
    return scales * rng.standard_normal((n_starts, problem.num_params))


def find_critical_points(problem: Problem, n_starts: int = 64, seed: int = 0,
                         starts: np.ndarray | None = None, gtol: float = 1e-7,
                         max_steps: int = 400) -> np.ndarray:
    """Critical points (rows, flattened) reached by LM from ``n_starts`` random starts."""
    check_problem("problem", problem)
    X0 = random_starts(problem, n_starts, seed) if starts is None else np.asarray(starts)
    X = _solve_batch(problem, jnp.asarray(X0), 1e-12, 1e-14, max_steps)
    g = np.asarray(_grad_norms(problem, X))
    s = problem_scale(problem)
    a = s ** (1.0 / problem.depth)
    ok = np.isfinite(g) & (g <= gtol * s * s / a)
    return np.asarray(X)[ok]


@eqx.filter_jit
def _stats(problem: Problem, X: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    def one(x):
        p = problem.unflatten(x)
        return (jnp.linalg.norm(jax.grad(problem.loss_flat)(x)), problem.loss(p),
                problem.end_to_end(p))
    return jax.vmap(one)(X)


def point_stats(problem: Problem, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(||grad F||, F, end-to-end matrix) for each flattened point (rows of X), jitted."""
    g, f, W = _stats(problem, jnp.asarray(X))
    return np.asarray(g), np.asarray(f), np.asarray(W)


def set_distance(problem: Problem, cset: CriticalSet, params: Params,
                 W: np.ndarray | None = None, scale: float | None = None) -> float:
    """Distance of ``params`` to the family of ``cset``, measured on its invariants
    (``scale``: ``problem_scale(problem)`` when the caller has it)."""
    inv = cset.invariant
    s = problem_scale(problem) if scale is None else scale
    a = s ** (1.0 / problem.depth)
    if "zeros" in inv or "signs" in inv:
        w = np.array([float(np.asarray(P).ravel()[0]) for P in params])
        if "zeros" in inv:
            return float(np.max(np.abs(w[inv["zeros"]]))) / a
        if np.any(np.sign(w) != np.asarray(inv["signs"])):
            return np.inf
        return abs(float(np.prod(w)) - inv["product"]) / s
    W = np.asarray(problem.end_to_end(params)) if W is None else W
    return float(np.linalg.norm(W - np.asarray(inv["product"]))) / s


def match_point(problem: Problem, params: Params, sets: list[CriticalSet],
                tol: float = 1e-4, loss: float | None = None,
                W: np.ndarray | None = None, scale: float | None = None) -> CriticalSet | None:
    """The critical set whose invariants ``params`` matches (within tol, relative), else None.

    Among several matches the most specific (least dimension) wins: a point at the origin of a
    scalar chain lies in the closure of every zero-set family but is the origin.
    """
    check_problem("problem", problem)
    loss = float(problem.loss(params)) if loss is None else loss
    s = problem_scale(problem) if scale is None else scale
    cands = [(c.dimension, d, i) for i, c in enumerate(sets)
             if (d := set_distance(problem, c, params, W, s)) < tol
             and abs(c.loss - loss) <= tol * s * s]
    if not cands:
        return None
    return sets[min(cands)[2]]


@dataclasses.dataclass
class FindResult:
    """Found critical sets: counts per enumerated label, and the families not predicted."""

    counts: dict[str, int]
    unpredicted: list[CriticalSet]
    points: np.ndarray

    @property
    def found_labels(self) -> set[str]:
        """Labels of the critical sets found at least once."""
        return {k for k, v in self.counts.items() if v > 0}


def find_critical_sets(problem: Problem, sets: list[CriticalSet] | None = None,
                       n_starts: int = 64, seed: int = 0, tol: float = 1e-4,
                       starts: np.ndarray | None = None) -> FindResult:
    """Run the multistart finder, match each point to ``sets`` (the enumeration when given),
    and merge the rest into new classified families by (loss, end-to-end matrix)."""
    check_problem("problem", problem)
    pts = find_critical_points(problem, n_starts=n_starts, seed=seed, starts=starts)
    counts = {c.label: 0 for c in (sets or [])}
    s = problem_scale(problem)
    new: list[CriticalSet] = []
    for x in pts:
        params = problem.unflatten(jnp.asarray(x))
        hit = match_point(problem, params, sets or [], tol) if sets else None
        if hit is not None:
            counts[hit.label] += 1
            continue
        W = np.asarray(problem.end_to_end(params))
        loss = float(problem.loss(params))
        for c in new:
            if (abs(c.loss - loss) <= tol * s * s
                    and np.linalg.norm(W - c.invariant["product"]) <= tol * s):
                c.invariant["count"] += 1
                break
        else:
            cs = CriticalSet(label=f"found{len(new) + 1}", point=params, loss=loss,
                             dimension=int(orbit_tangent(problem, params).shape[1]),
                             invariant={"product": W, "count": 1}, predicted=False)
            new.append(apply_classification(cs, classify_point(problem, params)))
            cs.predicted_kind = ""
    return FindResult(counts=counts, unpredicted=new, points=pts)
