"""Continuation in eta of gradient descent x -> x - eta grad F(x) on a problem, from a start.

* A scalar chain without a start: the balanced minimum w_i = y^(1/L), continued on the balanced
  line w_1 = ... = w_L (invariant under GD; :func:`balanced_line`), multipliers in the full
  space (quotient by the minimum set's tangent at fixed points).
* A balanced scalar start: GD (``simulate``) at the range's first eta until it settles, then the
  same line.
* Any other start (any problem): GD at the first eta until it settles on a fixed point (the
  minimum reached), continued in the full space with the rescaling orbit's tangent as phase
  conditions (:mod:`~dlnflow.continuation.corrector`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError, check_problem
from ..orbits import SweptGD
from ..problem import Problem
from ..simulate import Stop, simulate
from .branch import ContinuationOptions
from .cascade import Diagram, continue_cascade
from .families import GDFamily, MapFamily, balanced_line, balanced_signs, evaluate


def balanced_minimum(problem: Problem) -> np.ndarray:
    """Weights w = s |y|^(1/L) of the balanced minimum of a scalar chain with a target y (s all
    sign(y) at odd L; at even L all +1 but the last, which is sign(y): ``balanced_signs``);
    InputError where it is degenerate (y = 0, L >= 2: every multiplier is 1)."""
    check_problem("problem", problem)
    W = problem.optimal_product if problem.is_scalar_chain else None
    if W is None:
        raise InputError("a balanced minimum needs a scalar chain with a known target")
    y, L = float(np.asarray(W).ravel()[0]), problem.depth
    if y == 0 and L > 1:
        raise InputError("target 0: the balanced minimum is the origin, a degenerate critical "
                         "point (all multipliers 1), which cannot be continued")
    a = abs(y) ** (1.0 / L) * (np.sign(y) if L % 2 else 1.0)
    return balanced_signs(problem) * a


def settle(problem: Problem, params: Any, eta: float, max_steps: int = 200_000) -> np.ndarray:
    """The flattened fixed point GD at ``eta`` reaches from ``params`` (simulate, stopping when a
    step moves no weight by more than 1e-15 (1 + |w|)); InputError if the run diverged or ends
    elsewhere than on a fixed point (|G(x) - x| > 1e-10 (1 + |x|): a cycle, or not yet settled)."""
    x0 = np.asarray(problem.flatten(params), float)
    tol = 1e-15 * (1.0 + float(np.max(np.abs(x0))))
    traj = simulate(SweptGD(problem, eta), params, stop=Stop(max_steps=max_steps, stall_tol=tol))
    if str(traj.status[0]) == "diverged":
        raise InputError(f"gradient descent from the start diverges at eta={eta:g}")
    x = np.asarray(problem.flatten(traj.params_final), float).reshape(-1, x0.size)[0]
    move = float(np.linalg.norm(evaluate(GDFamily(problem), x, eta, 1)[0] - x))
    if not move <= 1e-10 * (1.0 + float(np.linalg.norm(x))):
        raise InputError(f"gradient descent from the start does not settle on a fixed point at "
                         f"eta={eta:g} (last step moved {move:.3g}); start the range lower")
    return x


def gd_continuation(problem: Problem, eta_range: tuple[float, float], start: Any = None,
                    max_period: int = 2, options: ContinuationOptions | None = None) -> Diagram:
    """Fixed points and their period-doubling cascade up to ``max_period`` for GD on
    ``problem`` with eta in ``eta_range``, from ``start`` (params, or a scalar chain's weights;
    None: the balanced minimum). ``Diagram.start`` is the full-space fixed point continued."""
    check_problem("problem", problem)
    lo = float(eta_range[0])
    family: MapFamily
    if start is None:
        w = balanced_minimum(problem)
        family, x0 = balanced_line(problem), np.array([np.sqrt(problem.depth) * w[0]])
    else:
        params, batch = problem.check_params(start, "start")
        if batch is not None:
            raise InputError("start: give one start, not a batch")
        x = settle(problem, params, lo)
        w = np.asarray(problem.flatten(params), float)
        if problem.is_scalar_chain and np.ptp(w * balanced_signs(problem)) == 0.0:
            family, x0 = balanced_line(problem), np.array(
                [np.sqrt(problem.depth) * np.mean(x * balanced_signs(problem))])
        else:
            family, x0 = GDFamily(problem), x
    diagram = continue_cascade(family, x0, eta_range, period=1, max_period=max_period,
                               options=options)
    diagram.start = family.lift(diagram.branches[0].x[0])
    return diagram
