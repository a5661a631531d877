"""Critical points as fixed points of the GD map G(x) = x - eta grad F(x), and period-2 orbits.

At a critical point the Jacobian of G is I - eta H, so the multipliers are 1 - eta lambda
(lambda the Hessian eigenvalues); a minimum is linearly stable only for eta < 2 / lambda_max.
Period-2 orbits solve G(G(x)) = x with G(x) != x (Levenberg-Marquardt from many starts); they
are classified by the eigenvalues mu of the Jacobian of G o G on the quotient by the directions
GD is symmetric under (orthogonal rescalings of the hidden layers, multiplier 1): stable if all
|mu| < 1 there.
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
from ..systems import GradientDescent
from .classify import complement, problem_scale
from .sets import CriticalSet, orbit_tangent


def _flat_map(system: GradientDescent):
    """The GD step x -> x - eta grad F(x) on flattened parameters (GradientDescent.step)."""
    problem = system.problem
    return lambda x: problem.flatten(system.step(problem.unflatten(x)))


@eqx.filter_jit
def _jac_map(system: GradientDescent, x: jax.Array, twice: bool) -> jax.Array:
    G = _flat_map(system)
    fn = (lambda z: G(G(z))) if twice else G
    return jax.jacfwd(fn)(x)


def gd_multipliers(problem: Problem, params: Params, eta: float) -> np.ndarray:
    """Eigenvalues of the Jacobian of the GD step at ``params`` (sorted ascending, real part)."""
    check_problem("problem", problem)
    J = np.asarray(_jac_map(GradientDescent(problem, eta), problem.flatten(params), False))
    return np.sort(np.real(np.linalg.eigvals(J)))


def gd_fixed_point(cset: CriticalSet, problem: Problem, eta: float) -> dict:
    """Multipliers of the GD map at the set's representative, 1 - eta lambda, and (minima)
    the largest stable step 2 / lambda_max."""
    check_problem("problem", problem)
    mult = gd_multipliers(problem, cset.point, eta)
    lam = np.asarray(cset.hessian_eigenvalues)
    lmax = float(np.max(lam)) if lam.size else 0.0
    stable_eta = 2.0 / lmax if cset.kind in ("global_min", "local_min") and lmax > 0 else None
    return {"label": cset.label, "kind": cset.kind, "multipliers": mult,
            "predicted_multipliers": np.sort(1.0 - eta * lam), "max_stable_eta": stable_eta,
            "stable": bool(stable_eta is not None and eta < stable_eta)}


@eqx.filter_jit
def _two_step_solve(system: GradientDescent, X0: jax.Array
                    ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    G = _flat_map(system)
    solver: Any = optx.LevenbergMarquardt(rtol=1e-12, atol=1e-14)

    def one(x0):
        sol = optx.least_squares(lambda x, a: G(G(x)) - x, solver, x0, max_steps=300,
                                 throw=False)
        return sol.value
    X = jax.vmap(one)(X0)
    return X, jax.vmap(lambda x: jnp.linalg.norm(G(G(x)) - x))(X), jax.vmap(
        lambda x: jnp.linalg.norm(G(x) - x))(X), jax.vmap(G)(X)


@dataclasses.dataclass
class PeriodTwoOrbit:
    """A period-2 orbit {x, G(x)} of the GD map with its multipliers modulo symmetry."""

    points: tuple[np.ndarray, np.ndarray]     # flattened
    losses: tuple[float, float]
    multipliers: np.ndarray                   # eigenvalues of D(G o G) on the quotient
    stable: bool


def period_two_orbits(problem: Problem, eta: float, n_starts: int = 64, seed: int = 0,
                      starts: np.ndarray | None = None, tol: float = 1e-8) -> list[PeriodTwoOrbit]:
    """Period-2 orbits of x -> x - eta grad F(x), merged by their loss pair and end-to-end
    matrices, classified by the eigenvalues of D(G o G) modulo the orthogonal symmetry."""
    check_problem("problem", problem)
    system = GradientDescent(problem, eta)
    a = problem_scale(problem) ** (1.0 / problem.depth)
    rng = np.random.default_rng(seed)
    if starts is None:
        starts = a * rng.uniform(0.2, 2.0, (n_starts, 1)) * rng.standard_normal(
            (n_starts, problem.num_params))
    X, res, move, GX = (np.asarray(v) for v in _two_step_solve(system, jnp.asarray(starts)))
    ok = np.isfinite(res) & (res <= tol * a) & (move > 1e-5 * a)
    orbits: list[PeriodTwoOrbit] = []
    keys: list[tuple] = []
    for x, gx in zip(X[ok], GX[ok], strict=True):
        px, pg = problem.unflatten(jnp.asarray(x)), problem.unflatten(jnp.asarray(gx))
        fx, fg = float(problem.loss(px)), float(problem.loss(pg))
        Wx, Wg = np.asarray(problem.end_to_end(px)), np.asarray(problem.end_to_end(pg))
        if fx > fg:
            x, gx, fx, fg, Wx, Wg, px = gx, x, fg, fx, Wg, Wx, pg
        key = (fx, fg, Wx, Wg)
        if any(abs(k[0] - fx) < 1e-7 and abs(k[1] - fg) < 1e-7 and np.allclose(k[2], Wx, atol=1e-6)
               and np.allclose(k[3], Wg, atol=1e-6) for k in keys):
            continue
        keys.append(key)
        J = np.asarray(_jac_map(system, jnp.asarray(x), True))
        T = orbit_tangent(problem, px, orthogonal=True)
        Q = complement(T, J.shape[0])
        mu = np.linalg.eigvals(Q.T @ J @ Q)
        mu = mu[np.argsort(-np.abs(mu))]
        orbits.append(PeriodTwoOrbit(points=(x, gx), losses=(fx, fg), multipliers=mu,
                                     stable=bool(np.all(np.abs(mu) < 1.0 - 1e-9))))
    return orbits
