"""Min-Vidal-Mallada's alpha* of scalar chains (ICML 2023, Sec. 4.2 and poster, seed 004).

Gradient flow gives d/dt (F - F*) = -||grad F||^2. When ||grad F||^2 >= K lambda_min(T_w) (F - F*)
(T_w the preconditioner of the induced flow, K = 2 for f = 0.5 (p - y)^2), the flow obeys
F(t) - F* <= exp(-K alpha* t) (F(0) - F*), alpha* = min lambda_min(T_w) over the set the flow can
reach (imbalances fixed, |p| >= margin). Scalar chains: lambda_min(T_w) = sum_i prod_{j!=i} w_j^2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.optimize

from ..errors import InputError, check_finite, check_finite_array, float_array

if TYPE_CHECKING:
    from ..trajectory import Trajectory


def scalar_margin(weights: Any, target: float) -> float:
    """Margin c = |y| - |y - p(0)| of a scalar-chain start, p(0) = prod_i w_i (may be <= 0)."""
    w = _weights(weights)
    y = check_finite("target", target)
    return abs(y) - abs(y - float(np.prod(w)))


def _sum_prod_others(v: np.ndarray) -> np.ndarray:
    """sum_i prod_{j != i} v_j over the last axis."""
    total = np.zeros(v.shape[:-1])
    for i in range(v.shape[-1]):
        total = total + np.prod(np.delete(v, i, axis=-1), axis=-1)
    return total


def alpha_star_scalar(weights: Any, target: float) -> float:
    """Min-Vidal-Mallada alpha* of a scalar-chain start (square loss, any depth L >= 2).

    With w_i^2 = x + D_i (D_i = w_i(0)^2 - min_j w_j(0)^2 conserved by the flow), the reachable
    set is {x >= 0, prod_i (x + D_i) >= c^2}; lambda_min = sum_i prod_{j!=i} (x + D_j) increases
    in x, so alpha* is its value at the one root x of prod_i (x + D_i) = c^2 (brentq on
    [0, c^(2/L)]). Raises InputError when the margin c = |y| - |y - p(0)| is not positive.
    """
    w = _weights(weights)
    if w.size < 2:
        raise InputError(f"alpha* needs a chain of depth >= 2, got {w.size} weight(s)")
    c = scalar_margin(w, target)
    if not c > 0:
        raise InputError(
            f"the margin |y| - |y - p(0)| = {c:.6g} is not positive (p(0) = {np.prod(w):.6g}, "
            f"y = {target}): the bound gives no rate")
    x = _alpha_root(w, c)
    D = w**2 - np.min(w**2)
    return float(_sum_prod_others(x + D))


def _alpha_root(w: np.ndarray, c: float) -> float:
    D = w**2 - np.min(w**2)
    g = lambda x: float(np.prod(x + D)) - c**2  # noqa: E731
    hi = c ** (2.0 / w.size)          # prod (hi + D_i) >= hi^L = c^2 (up to rounding)
    if g(hi) == 0.0:
        return hi
    while g(hi) < 0.0:
        hi *= 1.0 + 1e-9
    return scipy.optimize.brentq(g, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                 maxiter=500)


def alpha_star_scalar_root(weights: Any, target: float) -> float:
    """The root x = w_min^2 at the minimiser of :func:`alpha_star_scalar`."""
    w = _weights(weights)
    c = scalar_margin(w, target)
    if not c > 0:
        raise InputError(f"the margin |y| - |y - p(0)| = {c:.6g} is not positive")
    return _alpha_root(w, c)


def alpha_star_two_layer_scalar(d: float, margin: float) -> float:
    """Closed form for L = 2: alpha* = sqrt(d^2 + 4 c^2), d = w_1^2 - w_2^2, c the margin."""
    return float(np.hypot(check_finite("d", d), 2.0 * check_finite("margin", margin)))


def rate_bound_check(trajectory: Trajectory, K: float = 2.0, rtol: float = 1e-9) -> dict:
    """Check that the local flow rate ||grad F||^2 / (F - F*) >= K alpha* at every record.

    Scalar chains with the square loss (K = 2); one entry per run: alpha_star (None when the
    margin is not positive), min_rate, min_ratio = min_rate / (K alpha*), holds (bool).
    """
    from ..losses import SquareTarget  # on use: the formulas import without equinox
    from ..rates import local_rate

    prob = trajectory.problem
    if not prob.is_scalar_chain or not isinstance(prob.objective, SquareTarget):
        raise InputError("rate_bound_check needs a scalar chain with the square loss")
    y = float(prob.objective.target[0, 0])
    _, rate = local_rate(trajectory)
    w0 = trajectory.scalar_weights()[:, 0]
    out: list[dict[str, Any]] = []
    for i in range(trajectory.batch_size):
        r = rate[i][np.isfinite(rate[i])]
        rmin = float(r.min()) if r.size else float("nan")
        if scalar_margin(w0[i], y) > 0:
            a = alpha_star_scalar(w0[i], y)
            out.append({"alpha_star": a, "min_rate": rmin, "min_ratio": rmin / (K * a),
                        "holds": bool(rmin >= K * a * (1 - rtol))})
        else:
            out.append({"alpha_star": None, "min_rate": rmin, "min_ratio": None, "holds": None})
    return {"K": K, "runs": out}


def _weights(weights: Any) -> np.ndarray:
    w = float_array("weights", weights).ravel()
    check_finite_array("weights", w)
    return w
