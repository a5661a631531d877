"""Convergence rates of flows and maps: local, asymptotic (Hessian), time to a loss, flow vs GD.

Conventions: e = F - F* the excess loss; flow time t and GD iteration k meet at t = k eta.
* Flow local rate  r(t) = -d/dt ln e = ||grad F||^2 / e      (exact, since dF/dt = -||grad F||^2).
* GD local rate    r_k = -ln(e_(k+1) / e_k) / eta             (per unit of time t = k eta).
* Asymptotic rates at a limit point with transverse Hessian eigenvalues lambda > 0: the flow's
  excess loss decays like exp(-2 lambda_min t); GD's error is multiplied by (1 - eta lambda) per
  step, so its loss by (1 - eta lambda)^2: rate -2 ln|1 - eta lambda| / eta (minimum over lambda).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, check_positive
from .problem import Params, Problem
from .simulate import SCIPY_SOLVERS, simulate
from .systems import GradientDescent, GradientFlow, ModifiedFlow
from .trajectory import Trajectory


@eqx.filter_jit
def _excess_and_grad_sq(problem: Problem, params: Params, fstar: jax.Array):
    def one(p):
        loss, g = problem.loss_and_grad(p)
        return loss - fstar, sum(jnp.sum(x**2) for x in g)

    return jax.vmap(jax.vmap(one))(params)


@eqx.filter_jit
def _hessian(problem: Problem, params: Params) -> jax.Array:
    return problem.hessian(params)


def _floor(problem: Problem) -> float:
    fstar = float(problem.optimal_loss or 0.0)
    return 0.0 if fstar == 0.0 else 1e-12 * abs(fstar)


def local_rate(trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Local rates (t, r), both (B, N), NaN where undefined (padding, e at round-off level).

    Flows: r = ||grad F||^2 / (F - F*) at every record (exact). Maps: r_k = -ln(e_(k+1) / e_k)
    / (t_(k+1) - t_k) between consecutive records, placed at t_k (the last record gets NaN).
    """
    prob = trajectory.problem
    floor = _floor(prob)
    if trajectory.kind == "flow":
        fstar = jnp.asarray(float(prob.optimal_loss or 0.0))
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
    e = trajectory.excess_loss
    t = trajectory.t
    floor = _floor(trajectory.problem)
    ok = trajectory.valid[:, :-1] & trajectory.valid[:, 1:] & (e[:, :-1] > floor) & (
        e[:, 1:] > floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = -(np.log(e[:, 1:]) - np.log(e[:, :-1])) / (t[:, 1:] - t[:, :-1])
    rate = np.full(e.shape, np.nan)
    rate[:, :-1] = np.where(ok, r, np.nan)
    return np.where(trajectory.valid, t, np.nan), rate


def transverse_eigenvalues(problem: Problem, params: Any, rel_tol: float = 1e-5) -> np.ndarray:
    """Hessian eigenvalues of F at one point above rel_tol * max |eigenvalue| (the directions
    transverse to the minimum manifold at a limit point), ascending."""
    p, batch = problem.check_params(params)
    if batch is not None:
        if batch != 1:
            raise InputError("transverse_eigenvalues takes one point, not a batch")
        p = tuple(W[0] for W in p)
    ev = np.linalg.eigvalsh(np.asarray(_hessian(problem, p)))
    scale = max(float(np.max(np.abs(ev))), np.finfo(float).tiny)
    return ev[ev > rel_tol * scale]


def flow_asymptotic_rate(problem: Problem, limit: Any) -> float:
    """2 lambda_min over the transverse Hessian eigenvalues at the flow's limit point
    (excess loss ~ exp(-2 lambda t) near a minimum; square loss)."""
    lam = transverse_eigenvalues(problem, limit)
    return float(2.0 * lam.min()) if lam.size else 0.0


def gd_rate_from_eigenvalues(eigenvalues: Any, eta: float) -> float:
    """min over lambda of -2 ln|1 - eta lambda| / eta; 0 when some |1 - eta lambda| >= 1
    (no linear convergence: the minimum is not linearly stable for this step)."""
    eta = check_positive("eta", eta)
    lam = np.asarray(eigenvalues, dtype=float)
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
    return gd_rate_from_eigenvalues(transverse_eigenvalues(problem, limit), eta)


def stability_threshold(problem: Problem, limit: Any) -> float:
    """eta_max = 2 / lambda_max(H) at a minimum: GD is linearly stable there only below it."""
    lam = transverse_eigenvalues(problem, limit)
    return float(2.0 / lam.max()) if lam.size else float("inf")


def time_to_loss(trajectory: Trajectory, level: float) -> np.ndarray:
    """First time the excess loss F - F* reaches ``level``, one value per run (NaN if never).

    Flows: log-linear interpolation between the two records around the crossing. Maps: the
    time k eta of the first record at or below the level (exact with record_every=1); the
    iteration count is this divided by eta.
    """
    level = check_positive("level", level)
    e = trajectory.excess_loss
    t = trajectory.t
    out = np.full(trajectory.batch_size, np.nan)
    for i in range(trajectory.batch_size):
        ok = trajectory.valid[i]
        ei, ti = e[i][ok], t[i][ok]
        hit = np.flatnonzero(ei <= level)
        if hit.size == 0:
            continue
        j = hit[0]
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
    ``solver``: a scipy solver (dense output, default DOP853) or a diffrax one.
    """
    eta = check_positive("eta", eta)
    horizon = check_positive("horizon", horizon)
    K = int(np.floor(horizon / eta + 1e-9))
    if K < 1:
        raise InputError(f"horizon {horizon} is shorter than one step eta = {eta}")
    if gd is None:
        gd = simulate(GradientDescent(problem, eta), params0, max_steps=K, record_every=1)
    if gd.batch_size != 1:
        raise InputError("gd_flow_distance takes one start")
    n = int(gd.valid[0].sum())
    tg = gd.t[0, :n]
    system = ModifiedFlow(problem, eta) if modified else GradientFlow(problem)
    backend = "scipy" if solver in SCIPY_SOLVERS else "diffrax"
    t1 = max(float(tg[-1]), K * eta)
    fl = simulate(system, params0, t1=t1, save_at=tg[1:][tg[1:] < t1], solver=solver,
                  backend=backend, rtol=rtol, atol=atol,
                  max_steps=1_000_000 if backend == "diffrax" else None)
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


def distance_ladder(
    problem: Problem,
    params0: Any,
    etas: Any,
    horizon: float,
    modified: bool = False,
    **kwargs: Any,
) -> np.ndarray:
    """max_k ||w_GD(k) - w(k eta)|| over the horizon for each eta (see :func:`gd_flow_distance`)."""
    return np.array([gd_flow_distance(problem, params0, float(e), horizon, modified=modified,
                                      **kwargs)["max"] for e in np.asarray(etas, float)])


def loglog_slope(x: Any, y: Any) -> float:
    """Least-squares slope of ln y against ln x (the order of a power law y ~ x^slope)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise InputError("loglog_slope needs two or more positive (x, y) pairs")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
