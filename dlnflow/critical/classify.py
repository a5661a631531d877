"""Classify a critical point of any problem: JAX autodiff gives the Hessian, gradient, loss and
line derivatives, ``spectral`` classifies from them modulo the rescaling symmetry (its module
docstring has the definitions: normal Hessian, index, higher-order escape test, tolerances)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import jet

from ..errors import check_problem
from ..problem import Params, Problem
from ..rates import balanced_lambda_max
from .sets import orbit_tangent
from .spectral import (
    Classification,
    Scale,
    apply_classification,
    chebyshev_nodes,
    classify,
    complement,
    derivatives_from_values,
    escape_test,
    tolerance,
)

__all__ = ["Classification", "apply_classification", "classify_point", "complement",
           "directional_derivatives", "hessian_grad_loss", "hessian_tolerance",
           "higher_order_test", "problem_scale", "scale_of"]


def problem_scale(problem: Problem) -> float:
    """Target scale s = largest singular value of W* (1 when unknown, zero, or residual)."""
    W = problem.optimal_product if problem.architecture.has_rescaling_symmetry else None
    s = 0.0 if W is None else float(np.linalg.norm(W, 2))
    return s if s > 0 else 1.0


def scale_of(problem: Problem, optimal_loss: float | None = None) -> Scale:
    """The tolerance scales of ``problem`` (F* = ``optimal_loss`` or problem.optimal_loss)."""
    s, L = problem_scale(problem), problem.depth
    fstar = problem.optimal_loss if optimal_loss is None else optimal_loss
    return Scale(depth=L, s=s, hessian_scale=balanced_lambda_max(L, s),
                 degree=problem.objective.degree, optimal_loss=fstar)


def hessian_tolerance(problem: Problem, H: np.ndarray, rtol: float = 1e-7) -> float:
    """tol = rtol * max(||H||_2, L s^(2 - 2/L)): eigenvalues below it count as zero."""
    return tolerance(H, scale_of(problem), rtol)


@eqx.filter_jit
def _hess_grad_loss(problem: Problem, params: Params) -> tuple[jax.Array, jax.Array, jax.Array]:
    x = problem.flatten(params)
    return (jax.hessian(problem.loss_flat)(x), jax.grad(problem.loss_flat)(x),
            problem.loss_flat(x))


def hessian_grad_loss(problem: Problem, params: Params) -> tuple[np.ndarray, np.ndarray, float]:
    """(Hessian in flattened coordinates, flat gradient, loss) at ``params`` (jitted)."""
    H, g, f = _hess_grad_loss(problem, tuple(jnp.asarray(W) for W in params))
    return np.asarray(H), np.asarray(g), float(f)


@eqx.filter_jit
def _taylor(problem: Problem, x: jax.Array, V: jax.Array, order: int) -> jax.Array:
    def derivs(v: jax.Array) -> jax.Array:
        h = lambda t: problem.loss_flat(x + t * v)  # noqa: E731
        series = [jnp.ones(())] + [jnp.zeros(())] * (order - 1)
        _, out = jet.jet(h, (jnp.zeros(()),), (series,))
        return jnp.stack(out)
    return jax.vmap(derivs)(V)


@eqx.filter_jit
def _line_values(problem: Problem, x: jax.Array, V: jax.Array, ts: jax.Array) -> jax.Array:
    pts = x[None, None, :] + ts[None, :, None] * V[:, None, :]
    return jax.vmap(jax.vmap(problem.loss_flat))(pts)


def directional_derivatives(problem: Problem, params: Params, directions: np.ndarray,
                            order: int, radius: float = 1.0) -> np.ndarray:
    """h_v^(k)(0) for h_v(t) = F(x + t v), k = 1..order, one row per direction v (rows).

    Polynomial losses (degree <= order along a line): exact interpolation at order + 1
    Chebyshev nodes in [-radius, radius]; other losses: Taylor mode (jax.experimental.jet).
    """
    x = problem.flatten(params)
    V = jnp.asarray(directions)
    if problem.objective.degree is None:
        return np.asarray(_taylor(problem, x, V, order))
    h = np.asarray(_line_values(problem, x, V, jnp.asarray(radius * chebyshev_nodes(order))))
    return derivatives_from_values(h, radius)


def higher_order_test(problem: Problem, params: Params, null_basis: np.ndarray,
                      n_directions: int = 64, seed: int = 0, rtol: float = 1e-7
                      ) -> tuple[int | None, bool, np.ndarray]:
    """``spectral.escape_test`` along the null directions ``null_basis`` of ``params``:
    (escape order q or None, descends, escape directions)."""
    def derivatives(V: np.ndarray, order: int, radius: float) -> np.ndarray:
        return directional_derivatives(problem, params, V, order, radius=radius)
    return escape_test(derivatives, null_basis, scale_of(problem), n_directions, seed, rtol)


def classify_point(problem: Problem, params: Params, tangent: np.ndarray | None = None,
                   optimal_loss: float | None = None, rtol: float = 1e-7,
                   loss_rtol: float = 1e-6) -> Classification:
    """Classify the critical point ``params`` of F modulo the family tangent ``tangent``.

    ``tangent`` defaults to the rescaling-orbit tangent (:func:`orbit_tangent`). A minimum is
    global when F(x) <= F* + loss_rtol s^2 (F* = ``optimal_loss`` or problem.optimal_loss).
    """
    check_problem("problem", problem)
    params = tuple(jnp.asarray(W) for W in params)
    H, g, loss = hessian_grad_loss(problem, params)
    T = orbit_tangent(problem, params) if tangent is None else tangent

    def derivatives(V: np.ndarray, order: int, radius: float) -> np.ndarray:
        return directional_derivatives(problem, params, V, order, radius=radius)
    return classify(H, g, loss, T, scale_of(problem, optimal_loss), derivatives, rtol,
                    loss_rtol)
