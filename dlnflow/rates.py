"""Convergence rates of flows and maps: local, asymptotic (Hessian), time to a loss, flow vs GD.

Conventions: e = F - F* the excess loss; flow time t and GD iteration k meet at t = k eta.
* Flow local rate  r(t) = -d/dt ln e = ||grad F||^2 / e      (exact, since dF/dt = -||grad F||^2).
* GD local rate    r_k = -ln(e_(k+1) / e_k) / eta             (per unit of time t = k eta).
* Asymptotic rates at a limit point with transverse Hessian eigenvalues lambda > 0: the flow's
  excess loss decays like exp(-2 lambda_min t); GD's error is multiplied by (1 - eta lambda) per
  step, so its loss by (1 - eta lambda)^2: rate -2 ln|1 - eta lambda| / eta (minimum over lambda).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .errors import (
    InputError,
    check_finite,
    check_positive,
    check_positive_int,
    check_problem,
    check_trajectory,
    float_array,
    show,
)

if TYPE_CHECKING:   # equinox and the solvers load on use: the formulas import light
    from .problem import Params, Problem
    from .trajectory import Trajectory


def _filter_jit(fn):
    """``equinox.filter_jit(fn)``, built on the first call (equinox is imported on use)."""
    jitted = None

    @functools.wraps(fn)
    def call(*args, **kwargs):
        nonlocal jitted
        if jitted is None:
            import equinox as eqx
            jitted = eqx.filter_jit(fn)
        return jitted(*args, **kwargs)
    return call


@_filter_jit
def _excess_and_grad_sq(problem: Problem, params: Params, fstar: jax.Array):
    def one(p):
        loss, g = problem.loss_and_grad(p)
        return loss - fstar, sum(jnp.sum(x**2) for x in g)

    return jax.vmap(jax.vmap(one))(params)


@_filter_jit
def _hessian(problem: Problem, params: Params) -> jax.Array:
    return problem.hessian(params)


def _fstar(problem: Problem) -> float:
    """F*, which every rate divides by F - F* with; InputError when it is unknown."""
    fstar = problem.optimal_loss
    if fstar is None:
        raise InputError(f"rates divide by F - F*, and {problem.optimum.note}; give F* (e.g. "
                         "CustomLoss(fn, shape, optimal=...))")
    return float(fstar)


def _limit_point(problem: Problem) -> None:
    """InputError unless F* is attained (else the runs have no limit point to take rates at)."""
    if problem.optimum.attained is False:
        raise InputError(f"asymptotic rates are taken at a limit point, and {problem.optimum.note}")


def _floor(problem: Problem) -> float:
    fstar = _fstar(problem)
    return 0.0 if fstar == 0.0 else 1e-12 * abs(fstar)


def local_rate(trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Local rates (t, r), both (B, N), NaN where undefined (padding, e at round-off level).

    Flows: r = ||grad F||^2 / (F - F*) at every record (exact). Maps: r_k = -ln(e_(k+1) / e_k)
    / (t_(k+1) - t_k) between consecutive records, placed at t_k (the last record gets NaN).
    """
    prob = check_trajectory("trajectory", trajectory).problem
    floor = _floor(prob)
    if trajectory.kind == "flow":
        fstar = jnp.asarray(_fstar(prob))
        e, g2 = _excess_and_grad_sq(prob, tuple(jnp.asarray(W) for W in trajectory.params),
                                    fstar)
        e, g2 = np.asarray(e), np.asarray(g2)
        ok = trajectory.valid & (e > floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(ok, g2 / np.where(ok, e, 1.0), np.nan)
        return np.where(trajectory.valid, trajectory.t, np.nan), rate
    return loss_rate(trajectory)


def loss_rate(trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference rate -Delta ln(F - F*) / Delta t between consecutive records, at the
    left record (any trajectory; for GD recorded at every iteration this is the GD local rate)."""
    e = check_trajectory("trajectory", trajectory).excess_loss
    t = trajectory.t
    floor = _floor(trajectory.problem)
    ok = trajectory.valid[:, :-1] & trajectory.valid[:, 1:] & (e[:, :-1] > floor) & (
        e[:, 1:] > floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = -(np.log(e[:, 1:]) - np.log(e[:, :-1])) / (t[:, 1:] - t[:, :-1])
    rate = np.full(e.shape, np.nan)
    rate[:, :-1] = np.where(ok, r, np.nan)
    return np.where(trajectory.valid, t, np.nan), rate


def hessian_eigenvalues(problem: Problem, point: Any) -> np.ndarray:
    """Hessian eigenvalues of F at one point (params, or scalar weights of a chain), ascending."""
    p, batch = check_problem("problem", problem).check_params(point, name="point")
    if batch is not None:
        if batch != 1:
            raise InputError("Hessian eigenvalues are taken at one point, not a batch")
        p = tuple(W[0] for W in p)
    return np.linalg.eigvalsh(np.asarray(_hessian(problem, p)))


def transverse(eigenvalues: np.ndarray, rel_tol: float = 1e-5) -> np.ndarray:
    """The eigenvalues above rel_tol * max |eigenvalue| (at a limit point: the directions
    transverse to the minimum manifold)."""
    ev = np.asarray(eigenvalues)
    scale = max(float(np.max(np.abs(ev))), np.finfo(float).tiny)
    return ev[ev > rel_tol * scale]


def transverse_eigenvalues(problem: Problem, params: Any, rel_tol: float = 1e-5) -> np.ndarray:
    """Hessian eigenvalues of F at one point above rel_tol * max |eigenvalue| (the directions
    transverse to the minimum manifold at a limit point), ascending."""
    return transverse(hessian_eigenvalues(problem, params), rel_tol)


def flow_rate_from_eigenvalues(eigenvalues: Any) -> float:
    """2 lambda_min over transverse Hessian eigenvalues (0 when there are none)."""
    lam = np.asarray(eigenvalues)
    return float(2.0 * lam.min()) if lam.size else 0.0


def flow_asymptotic_rate(problem: Problem, limit: Any) -> float:
    """2 lambda_min over the transverse Hessian eigenvalues at the flow's limit point
    (excess loss ~ exp(-2 lambda t) near a minimum; square loss)."""
    _limit_point(check_problem("problem", problem))
    return flow_rate_from_eigenvalues(transverse_eigenvalues(problem, limit))


def gd_rate_from_eigenvalues(eigenvalues: Any, eta: float) -> float:
    """min over lambda of -2 ln|1 - eta lambda| / eta; 0 when some |1 - eta lambda| >= 1
    (no linear convergence: the minimum is not linearly stable for this step)."""
    eta = check_positive("eta", eta)
    lam = float_array("eigenvalues", eigenvalues)
    if lam.size == 0:
        return 0.0
    m = np.abs(1.0 - eta * lam)
    if np.any(m >= 1.0):
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.min(-2.0 * np.log(m) / eta))


def gd_asymptotic_rate(problem: Problem, limit: Any, eta: float) -> float:
    """GD's asymptotic loss rate at its limit point: -2 ln|1 - eta lambda| / eta, min over the
    transverse Hessian eigenvalues lambda (per unit of time t = k eta)."""
    _limit_point(check_problem("problem", problem))
    return gd_rate_from_eigenvalues(transverse_eigenvalues(problem, limit), eta)


def lambda_max_at(problem: Problem, point: Any) -> float:
    """Largest Hessian eigenvalue of F at one point (params, or scalar weights of a chain)."""
    return float(hessian_eigenvalues(problem, point)[-1])


def balanced_lambda_max(depth: int, target: float) -> float:
    """lambda_max(H) = L |y|^(2 - 2/L) at the balanced minimum w_i = y^(1/L) of a depth-L chain
    with f = 0.5 (p - y)^2 (the least lambda_max on the minimum set; with y the largest singular
    value s of W*, the Hessian scale L s^(2 - 2/L) of a matrix problem)."""
    depth = check_positive_int("depth", depth)
    return depth * abs(check_finite("target", target)) ** (2.0 - 2.0 / depth)


def stability_threshold(problem: Problem, limit: Any) -> float:
    """eta_max = 2 / lambda_max(H) at a minimum: GD is linearly stable there only below it."""
    lam = lambda_max_at(problem, limit)
    return 2.0 / lam if lam > 0 else float("inf")


def first_below(values: Any, threshold: float) -> int | None:
    """First index i with values[i] <= threshold (e.g. the iteration at which a recorded loss
    reaches a level), or None when there is none (NaN never counts)."""
    t = float_array("threshold", threshold)
    if t.ndim or np.isnan(t):
        raise InputError(f"threshold must be a number (not NaN), got {show(threshold)}")
    idx = np.flatnonzero(float_array("values", values) <= t)
    return int(idx[0]) if idx.size else None


def time_to_loss(trajectory: Trajectory, level: float) -> np.ndarray:
    """First time the excess loss F - F* reaches ``level``, one value per run (NaN if never).

    Flows: log-linear interpolation between the two records around the crossing. Maps: the
    time k eta of the first record at or below the level (exact with SaveAt(every=1)); the
    iteration count is this divided by eta.
    """
    level = check_positive("level", level)
    _fstar(check_trajectory("trajectory", trajectory).problem)
    e = trajectory.excess_loss
    t = trajectory.t
    out = np.full(trajectory.batch_size, np.nan)
    for i in range(trajectory.batch_size):
        ok = trajectory.valid[i]
        ei, ti = e[i][ok], t[i][ok]
        j = first_below(ei, level)
        if j is None:
            continue
        if j == 0 or trajectory.kind == "map":
            out[i] = ti[j]
            continue
        a, b = np.log(max(ei[j - 1], 1e-300)), np.log(max(ei[j], 1e-300))
        s = 0.0 if a == b else (a - np.log(level)) / (a - b)
        out[i] = ti[j - 1] + s * (ti[j] - ti[j - 1])
    return out


def _distance(a: Params, b: Params) -> np.ndarray:
    """Euclidean distance between parameter tuples over all layers (keeps leading axes)."""
    sq = sum(np.sum((np.asarray(x) - np.asarray(y)) ** 2, axis=(-2, -1))
             for x, y in zip(a, b, strict=True))
    return np.sqrt(sq)


def gd_flow_distance(
    problem: Problem,
    params0: Any,
    eta: float,
    horizon: float,
    modified: bool = False,
    solver: str = "DOP853",
    rtol: float = 1e-12,
    atol: float = 1e-14,
    gd: Trajectory | None = None,
) -> dict[str, Any]:
    """||w_GD(k) - w(k eta)|| for k eta <= horizon, w the gradient flow (or the modified flow
    of F + (eta/4)||grad F||^2 when ``modified``), solved with save_at = the GD times.

    One start. Returns t (K+1,), distance (K+1,), max (float), the GD and flow trajectories.
    ``solver``: any flow solver name (default scipy's DOP853).
    """
    from .simulate import SaveAt, Solver, Stop, simulate
    from .systems import GradientDescent, GradientFlow, ModifiedFlow

    check_problem("problem", problem)
    eta = check_positive("eta", eta)
    horizon = check_positive("horizon", horizon)
    K = int(np.floor(horizon / eta + 1e-9))
    if K < 1:
        raise InputError(f"horizon {horizon} is shorter than one step eta = {eta}")
    if gd is None:
        gd = simulate(GradientDescent(problem, eta), params0, stop=Stop(max_steps=K),
                      save=SaveAt(every=1))
    if gd.batch_size != 1:
        raise InputError("gd_flow_distance takes one start")
    n = int(gd.valid[0].sum())
    tg = gd.t[0, :n]
    system = ModifiedFlow(problem, eta) if modified else GradientFlow(problem)
    t1 = max(float(tg[-1]), K * eta)
    fl = simulate(system, params0, t1=t1, save=SaveAt(ts=tg[1:][tg[1:] < t1].tolist()),
                  solver=Solver(solver, rtol=rtol, atol=atol), stop=Stop(max_steps=1_000_000))
    m = int(fl.valid[0].sum())
    if m < n or not np.allclose(fl.t[0, :n], tg, rtol=1e-12, atol=1e-12):
        raise RuntimeError(f"flow records ({m}) do not match the GD times ({n}): "
                           f"{fl.status[0]} {fl.messages[0]}")
    dist = _distance(tuple(W[0, :n] for W in gd.params), tuple(W[0, :n] for W in fl.params))
    if n < K + 1:   # GD stopped early (diverged): the distance is unbounded on the horizon
        dist = np.concatenate([dist, [np.inf]])
        tg = np.concatenate([tg, [np.nan]])
    return {"t": tg, "distance": dist, "max": float(np.max(dist)), "gd": gd, "flow": fl,
            "eta": eta, "horizon": horizon, "modified": modified}


def scalar_chain_rates(problem: Problem, weights: Any, etas: Any = (),
                       stop_at_loss: float = 1e-12, t1: float = 1e4,
                       max_steps: int = 100_000) -> dict[str, Any]:
    """Rates of one start ``weights`` of a scalar chain with the square loss: the flow's least
    local and asymptotic rate against Min-Vidal-Mallada's 2 alpha* (bounds), and per GD step
    size its status, iterations to ``stop_at_loss``, asymptotic rate and largest distance to the
    flow (``dlnflow.chain_rates``, runs by ``simulate``). Returns a JSON-ready dict; ``note``
    says why a value is missing."""
    from .chain_rates import report, simulated_runs
    from .losses import SquareTarget

    check_problem("problem", problem)
    if not problem.is_scalar_chain or not isinstance(problem.objective, SquareTarget):
        raise InputError("scalar_chain_rates needs a scalar chain with the square loss")
    w = [float(x) for x in float_array("weights", weights).ravel()]
    etas = [check_positive("etas", e) for e in float_array("etas", etas).ravel()]
    stop_at_loss = check_positive("stop_at_loss", stop_at_loss)
    t1 = check_positive("t1", t1)
    max_steps = check_positive_int("max_steps", max_steps)
    y = float(problem.objective.target[0, 0])
    runs = simulated_runs(problem, w, [float(e) for e in etas], stop_at_loss, t1, max_steps)
    return report(problem.depth, y, w, stop_at_loss, t1, *runs,
                  lambda p: hessian_eigenvalues(problem, p))
