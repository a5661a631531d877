"""Exact 1-D reduction of the gradient flow of a scalar chain F(w) = f(w_L ... w_1).

Under the flow every w_i^2 - w_j^2 is constant, so with m the index of the least |w_i| and
D_i = w_i^2(0) - w_m^2(0) >= 0 we have w_i = s_i sqrt(x^2 + D_i) (i != m, sign s_i fixed while
D_i > 0; w_i = (w_i/w_m)(0) x when D_i = 0) and x = w_m obeys the scalar ODE
x' = -c f'(c p(x)) prod_{j != m} w_j(x) (c the output scale). Only the least weight can cross
zero. Solved with scipy at tight tolerance this is an oracle for the full flow, independent of
the diffrax path; ``simulate`` offers it as the flow solver ``"reduction"``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

from .architecture import Plain
from .errors import InputError
from .losses import AbstractLoss
from .losses.base import QuadraticLoss
from .problem import Problem


@dataclasses.dataclass(frozen=True)
class ReducedChain:
    """Conserved data of a scalar-chain flow: least index m, offsets D_i, signs/ratios."""

    least: int
    offsets: np.ndarray      # D_i = w_i^2 - w_m^2 >= 0 (D_m = 0)
    ratios: np.ndarray       # sign of w_i when D_i > 0; w_i / w_m when D_i == 0

    def weights(self, x: np.ndarray | float) -> np.ndarray:
        """All weights (..., L) given the least weight x = w_m."""
        x = np.asarray(x, dtype=float)[..., None]
        mag = np.sqrt(x**2 + self.offsets)
        w = np.where(self.offsets > 0, self.ratios * mag, self.ratios * x)
        return w

    @functools.cached_property
    def _terms(self) -> tuple[tuple[float, float], ...]:
        """(D_i, s_i) of the weights other than the least, as floats (a fast scalar loop)."""
        keep = np.arange(self.offsets.size) != self.least
        return tuple(zip(self.offsets[keep].tolist(), self.ratios[keep].tolist(), strict=True))

    def product(self, x: float) -> tuple[float, float]:
        """(p, prod_(j != m) w_j) at the least weight x: w_m = x, so p = x prod_(j != m) w_j."""
        others = 1.0
        for d, r in self._terms:
            others *= r * math.sqrt(x * x + d) if d > 0 else r * x
        return x * others, others

    def velocity(self, x: float, fprime, scale: float = 1.0) -> float:
        """x' = -c f'(c p) prod_(j != m) w_j at the least weight x (``fprime`` is f')."""
        p, others = self.product(x)
        return -scale * float(fprime(scale * p)) * others


def reduce_chain(w0: np.ndarray) -> ReducedChain:
    """The conserved quantities of the flow from the scalar start w0 (shape (L,))."""
    w0 = np.asarray(w0, dtype=float)
    m = int(np.argmin(np.abs(w0)))
    offsets = w0**2 - w0[m] ** 2
    offsets[m] = 0.0
    tie = offsets <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_tie = np.where(w0[m] != 0, w0 / np.where(w0[m] != 0, w0[m], 1.0), 0.0)
    ratios = np.where(tie, ratio_tie, np.sign(w0))
    ratios[m] = 1.0
    return ReducedChain(least=m, offsets=np.where(tie, 0.0, offsets), ratios=ratios)


def scalar_loss(objective: AbstractLoss) -> tuple[Callable, Callable, float]:
    """(f, f', inf f) of a scalar chain's loss as functions of the product p (floats in and
    out): numpy from the quadratic form 0.5 C p^2 - B p + c0 of square losses (f' = C p - B,
    written about p* = B / C when C > 0), else one jitted JAX evaluation per call (inf f then
    -inf: unknown)."""
    if isinstance(objective, QuadraticLoss):
        C, B, c0 = (float(np.asarray(a).reshape(-1)[0]) for a in objective.quadratic_form())
        if C > 0:       # 0.5 C (p - p*)^2 + f(p*): no cancellation near the minimum
            p_star, f_min = B / C, c0 - 0.5 * B * B / C
            return ((lambda p: 0.5 * C * (p - p_star) ** 2 + f_min),
                    (lambda p: C * (p - p_star)), f_min)
        return (lambda p: 0.5 * C * p * p - B * p + c0), (lambda p: C * p - B), -math.inf
    value_and_grad = jax.jit(jax.value_and_grad(lambda p: objective.f(jnp.reshape(p, (1, 1)))))

    def f(p):
        return float(value_and_grad(jnp.asarray(p, dtype=jnp.float64))[0])

    def fprime(p):
        return float(value_and_grad(jnp.asarray(p, dtype=jnp.float64))[1])

    return f, fprime, -math.inf


def reduced_flow(problem: Problem, w0: np.ndarray, t_eval: np.ndarray,
                 rtol: float = 1e-12, atol: float = 1e-14) -> np.ndarray:
    """Scalar-chain flow weights (len(t_eval), L) from the 1-D ODE, solved with DOP853."""
    import scipy.integrate  # here, not at import: it costs 0.3 s

    if not problem.is_scalar_chain:
        raise InputError("reduced_flow needs a scalar chain problem")
    w0 = np.asarray(w0, dtype=float)
    if w0.shape != (problem.depth,):
        raise InputError(f"w0 must have {problem.depth} weights, got shape {w0.shape}")
    red = reduce_chain(w0)
    fprime = scalar_loss(problem.objective)[1]
    scale = cast(Plain, problem.architecture).output_scale   # a scalar chain is Plain
    m = red.least

    def rhs(t, x):
        return [red.velocity(x[0], fprime, scale)]

    t_eval = np.asarray(t_eval, dtype=float)
    sol = scipy.integrate.solve_ivp(rhs, (0.0, float(t_eval[-1])), [w0[m]], method="DOP853",
                                    t_eval=t_eval, rtol=rtol, atol=atol)
    if sol.status != 0:
        raise RuntimeError(f"reduced scalar flow failed: {sol.message}")
    return red.weights(sol.y[0])
