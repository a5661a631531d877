"""The rates report of one start of the square-loss scalar chain F = 0.5 (w_L ... w_1 - y)^2
(``dlnflow rates``, ``rates.scalar_chain_rates``), and two ways to the runs behind it.

The report: the flow's least local rate ||grad F||^2 / (F - F*) on 2001 evenly spaced times up to
where it reaches the loss threshold, its asymptotic rate 2 lambda_min (transverse Hessian
eigenvalues at the limit) against Min-Vidal-Mallada's 2 alpha*, and per GD step size eta the
status, iterations to the threshold, asymptotic rate -2 ln|1 - eta lambda| / eta and the largest
distance ||w_GD(k) - w(k eta)|| to the flow. The runs, equal to round-off:

* ``simulated_runs``: ``dlnflow.simulate`` (scipy's DOP853 on the autodiff field, the compiled
  map loop), any outcome.
* ``closed_form_runs``: the closed forms of ``critical.chain`` (grad F = (p - y) q, Hessian)
  in numpy, through the same scipy DOP853 steps, event landing and GD recursion as the simulate
  path (``simulate.scipy``, ``simulate.events``, ``simulate.map_loop``), without a JAX trace or
  compile: the fast path of the command line. It covers runs that converge; for any other
  outcome (the flow short of the threshold at t1, GD diverged, stalled or out of steps, a
  longer GD than ``CLOSED_FORM_STEPS``) it returns None and the simulate path answers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from .critical.chain import chain_derivatives, chain_gradient, chain_loss
from .rates import flow_rate_from_eigenvalues, gd_rate_from_eigenvalues, transverse

if TYPE_CHECKING:
    from .problem import Problem

CLOSED_FORM_STEPS = 20_000
"""Most GD iterations the closed-form path takes (numpy, ~10 us each) before it leaves a run
to the compiled map loop."""
FLOW_RTOL, FLOW_ATOL = 1e-11, 1e-13
"""DOP853 tolerances of every flow of the report (tightened for the loss event)."""


@dataclasses.dataclass(frozen=True)
class FlowRun:
    """The flow from the start: status, time it reached the threshold, its final point (params
    or weights) and least local rate (None: no finite one)."""

    status: str
    t_final: float
    limit: Any
    rate_min: float | None


@dataclasses.dataclass(frozen=True)
class GDRun:
    """GD at step eta: status, iterations, final point, largest distance to the flow."""

    eta: float
    status: str
    steps: int
    limit: Any
    distance_max: float | None


def report(depth: int, y: float, w: list[float], stop_at_loss: float, t1: float,
           flow: FlowRun, gds: list[GDRun], eigenvalues) -> dict[str, Any]:
    """The JSON-ready report of the runs; ``eigenvalues(limit)``: the Hessian eigenvalues at a
    run's final point. ``note`` says why a value is missing."""
    from .bounds.scalar import alpha_star_scalar, scalar_margin

    out: dict[str, Any] = {"depth": depth, "target": y, "init": w, "stop_at_loss": stop_at_loss}
    notes = []
    c = out["margin"] = scalar_margin(w, y)
    out["alpha_star"] = alpha_star_scalar(w, y) if depth >= 2 and c > 0 else None
    if depth < 2:
        notes.append("alpha* is defined for depth >= 2")
    elif c <= 0:
        notes.append(f"margin |y| - |y - p(0)| = {c:.6g} is not positive: Min-Vidal-Mallada's "
                     "bound gives no rate for this start")
    conv = flow.status == "converged"
    out["flow_status"] = flow.status
    out["flow_time"] = flow.t_final if conv else None
    out["flow_rate_min"] = flow.rate_min
    out["flow_rate_asymptotic"] = (flow_rate_from_eigenvalues(transverse(
        eigenvalues(flow.limit))) if conv else None)
    if out["alpha_star"] is not None and flow.rate_min is not None:
        out["flow_rate_over_2alpha_star"] = flow.rate_min / (2 * out["alpha_star"])
    if not conv:
        notes.append(f"flow did not reach the loss {stop_at_loss:g} by t={t1:g}: {flow.status}")
    out["gd"] = []
    for g in gds:
        ok = g.status == "converged"
        row: dict[str, Any] = {
            "eta": g.eta, "status": g.status, "iterations": g.steps if ok else None,
            "rate_asymptotic": (gd_rate_from_eigenvalues(transverse(eigenvalues(g.limit)), g.eta)
                                if ok else None),
            "distance_to_flow_max": g.distance_max}
        if g.status == "diverged":
            row["note"] = "gradient descent diverged"
        out["gd"].append(row)
    if notes:
        out["note"] = "; ".join(notes)
    return out


def simulated_runs(problem: Problem, w: list[float], etas: list[float], stop_at_loss: float,
                   t1: float, max_steps: int) -> tuple[FlowRun, list[GDRun]]:
    """The runs by ``dlnflow.simulate`` (final points as params)."""
    from .rates import gd_flow_distance, local_rate
    from .simulate import SaveAt, Solver, Stop, simulate
    from .systems import GradientDescent, GradientFlow

    params = problem.scalar_params(np.asarray(w))
    solver = Solver("DOP853", rtol=FLOW_RTOL, atol=FLOW_ATOL)
    first = simulate(GradientFlow(problem), params, t1=t1, solver=solver,
                     stop=Stop(loss=stop_at_loss))
    tf = float(first.t_final[0])
    grid = SaveAt(ts=np.linspace(0.0, tf, 2001)[1:-1].tolist()) if tf > 0 else None
    flow = simulate(GradientFlow(problem), params, t1=max(tf, 1e-12), solver=solver, save=grid)
    r = local_rate(flow)[1][0]
    r = r[np.isfinite(r)]
    flow_run = FlowRun(str(first.status[0]), tf, first.params_final,
                       float(r.min()) if r.size else None)
    gds = []
    for eta in etas:
        gd = simulate(GradientDescent(problem, eta), params,
                      stop=Stop(loss=stop_at_loss, max_steps=max_steps), save=SaveAt(every=1))
        status, k = str(gd.status[0]), int(gd.steps[0])
        if status == "diverged":
            dist = None
        elif k >= 1:
            dist = gd_flow_distance(problem, params, eta, k * eta, gd=gd, rtol=FLOW_RTOL,
                                    atol=FLOW_ATOL)["max"]
        else:
            dist = 0.0
        gds.append(GDRun(eta, status, k, gd.params_final, dist))
    return flow_run, gds


def _drive(y: float, v0: np.ndarray, t_end: float, ts: np.ndarray, rtol: float, atol: float,
           max_steps: int, target: float | None = None):
    """One DOP853 run of w' = -grad F as ``simulate.scipy`` drives it: records at the times
    ``ts`` (dense output) and the end; with ``target``, stopped where F = target (brentq on the
    dense output, integrated again to the root, then ``_land``). Returns (times, states) or None
    when the run does not end at t_end or on the target (step cap, failure, divergence)."""
    import scipy.integrate
    import scipy.optimize

    def fun(t, v):
        return -chain_gradient(v, y)

    ode = scipy.integrate.DOP853(fun, 0.0, v0, t_end, rtol=rtol, atol=atol)
    limit = 1e12 * max(1.0, abs(chain_loss(v0, y)))         # Stop.diverge_factor
    rec_t, rec_y, n_acc = [0.0], [v0], 0
    i_ts = int(np.searchsorted(ts, 0.0, side="right"))
    while ode.status == "running":
        if n_acc >= max_steps:
            return None
        t_old, y_old = ode.t, ode.y.copy()
        ode.step()
        n_acc += 1
        if ode.status == "failed" or not np.all(np.isfinite(ode.y)) or not abs(
                chain_loss(ode.y, y)) <= limit:
            return None
        dense = ode.dense_output()
        if target is not None and chain_loss(ode.y, y) - target <= 0:
            root = scipy.optimize.brentq(lambda s, d=dense: chain_loss(d(s), y) - target,
                                         t_old, ode.t, xtol=1e-15, rtol=4 * np.finfo(float).eps)
            while i_ts < ts.size and ts[i_ts] < root:
                rec_t.append(ts[i_ts])
                rec_y.append(dense(ts[i_ts]))
                i_ts += 1
            ode = scipy.integrate.DOP853(fun, t_old, y_old, root, rtol=rtol, atol=atol,
                                         first_step=max(root - t_old, 1e-300))
            while ode.status == "running":
                ode.step()
            t, v = _land(y, ode.t, ode.y, target)
            return np.array([*rec_t, t]), np.array([*rec_y, v])
        while i_ts < ts.size and ts[i_ts] <= ode.t:
            if 0 < ts[i_ts] < t_end:
                rec_t.append(ts[i_ts])
                rec_y.append(dense(ts[i_ts]))
            i_ts += 1
    if target is not None:                  # the horizon before the threshold
        return None
    if ode.t > rec_t[-1]:
        rec_t.append(ode.t)
        rec_y.append(ode.y.copy())
    return np.array(rec_t), np.array(rec_y)


def _land(y: float, t: float, v: np.ndarray, target: float) -> tuple[float, np.ndarray]:
    """``simulate.events.newton_landing`` with the closed forms: twice, delta = -(F - target)
    / (grad F . f), v <- v + delta f + delta^2 / 2 (Df f), f = -grad F, Df = -H."""
    for _ in range(2):
        H, g, F = chain_derivatives(v, y)
        f = -g
        dg = float(g @ f)
        delta = -(F - target) / dg if np.isfinite(dg) and dg < 0 else 0.0
        t, v = t + delta, v + delta * f + 0.5 * delta ** 2 * (-H @ f)
    return t, v


def _event_tolerances(stop_at_loss: float) -> tuple[float, float]:
    """``simulate.events.event_solver`` for the square loss (residual norm sqrt(2 eps))."""
    factor = min(1.0, 10.0 * np.sqrt(2.0 * stop_at_loss))
    return (max(FLOW_RTOL * factor, min(FLOW_RTOL, 1e-13)),
            max(FLOW_ATOL * factor, min(FLOW_ATOL, 1e-13)))


def _gd(y: float, w0: np.ndarray, eta: float, thr: float, max_steps: int) -> np.ndarray | None:
    """GD iterates w_0..w_k up to the first with F <= thr, or None (``simulate.map_loop``'s other
    stops: divergence, a fixed point, the budget; or more than CLOSED_FORM_STEPS)."""
    limit = 1e12 * max(1.0, abs(chain_loss(w0, y)))
    its, v = [w0], w0
    for k in range(min(max_steps, CLOSED_FORM_STEPS) + 1):
        F = chain_loss(v, y)
        if not np.isfinite(F) or F > limit or k == max_steps:
            return None
        if F <= thr:
            return np.array(its)
        new = v - eta * chain_gradient(v, y)
        if np.max(np.abs(new - v)) <= 0.0:
            return None
        its.append(new)
        v = new
    return None


def closed_form_runs(depth: int, y: float, w: list[float], etas: list[float],
                     stop_at_loss: float, t1: float, max_steps: int
                     ) -> tuple[FlowRun, list[GDRun]] | None:
    """The runs from the closed forms (final points as weight vectors), or None where a run
    does not converge (module docstring)."""
    try:
        with np.errstate(all="ignore"):     # overflow ends in a non-finite state: None
            return _closed_form_runs(depth, y, w, etas, stop_at_loss, t1, max_steps)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):    # scipy refused a step
        return None


def _closed_form_runs(depth, y, w, etas, stop_at_loss, t1, max_steps):
    w0 = np.asarray(w, dtype=float)
    F0 = chain_loss(w0, y)
    if not np.isfinite(F0) or F0 <= stop_at_loss or np.prod(w0) == 0.0:
        return None             # non-finite, already converged, or on a saddle's subspace
    first = _drive(y, w0, t1, np.zeros(0), *_event_tolerances(stop_at_loss), 100_000,
                   target=stop_at_loss)
    if first is None:
        return None
    tf, limit = float(first[0][-1]), first[1][-1]
    grid = _drive(y, w0, max(tf, 1e-12), np.linspace(0.0, tf, 2001)[1:-1], FLOW_RTOL,
                  FLOW_ATOL, 100_000)
    if grid is None:
        return None
    e = np.array([chain_loss(v, y) for v in grid[1]])
    g2 = np.array([np.sum(chain_gradient(v, y) ** 2) for v in grid[1]])
    r = g2[e > 0] / e[e > 0]
    r = r[np.isfinite(r)]
    flow = FlowRun("converged", tf, limit, float(r.min()) if r.size else None)
    gds = []
    for eta in etas:
        its = _gd(y, w0, eta, stop_at_loss, max_steps)
        if its is None:
            return None
        k = len(its) - 1
        dist = 0.0
        if k >= 1:
            tg = np.arange(k + 1) * eta
            fl = _drive(y, w0, float(tg[-1]), tg[1:-1], FLOW_RTOL, FLOW_ATOL, 1_000_000)
            if fl is None or len(fl[0]) != k + 1:
                return None
            dist = float(np.max(np.sqrt(np.sum((its - fl[1]) ** 2, axis=1))))
        gds.append(GDRun(eta, "converged", k, its[-1], dist))
    return flow, gds


def chain_rates(depth: int, y: float, w: list[float], etas: list[float],
                stop_at_loss: float = 1e-12, t1: float = 1e4,
                max_steps: int = 100_000) -> dict[str, Any]:
    """The report of one start (arguments checked by the caller): from the closed forms where
    every run converges, else from ``dlnflow.simulate``."""
    runs = closed_form_runs(depth, y, w, etas, stop_at_loss, t1, max_steps)
    if runs is not None:
        return report(depth, y, w, stop_at_loss, t1, *runs,
                      lambda v: np.linalg.eigvalsh(chain_derivatives(v, y)[0]))
    from .problem import Problem
    from .rates import hessian_eigenvalues

    problem = Problem.scalar_chain(depth, y)
    return report(depth, y, w, stop_at_loss, t1,
                  *simulated_runs(problem, w, etas, stop_at_loss, t1, max_steps),
                  lambda p: hessian_eigenvalues(problem, p))
