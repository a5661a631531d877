"""Flow backend ``"reduction"``: the exact 1-D reduction of a scalar chain's gradient flow.

The flow conserves every w_i^2 - w_j^2, so the least weight x = w_m fixes all the others,
w_i = s_i sqrt(x^2 + D_i) (``dlnflow.scalar_chain``), and the L-dimensional flow is the scalar
ODE x' = g(x) = -c f'(c p(x)) prod_(j != m) w_j(x). Each run integrates that one ODE with
scipy's LSODA, step by step (rtol, atol apply to x), so every state lies exactly on the flow's
invariant set. A loss threshold is located on that curve, not on an interpolant: F decreases
along the run and x is monotone, so the crossing x_eps is the root of F(x) - F* - eps bracketed
by the step (brentq, to round-off), reached at t_k + integral_(x_k)^(x_eps) dx / g(x) (quad).
Statuses, statistics, records and SaveAt mean what they mean on every other backend.
Only the ``GradientFlow`` of a scalar chain has this reduction.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from typing import cast

import numpy as np

from ..architecture import Plain
from ..errors import InputError
from ..scalar_chain import ReducedChain, reduce_chain, scalar_loss
from ..systems import AbstractFlow, GradientFlow
from ..trajectory import Trajectory
from . import progress
from .options import SaveAt, Solver, Stop
from .records import run_by_run_trajectory

EPS = float(np.finfo(float).eps)


class _Run:
    """One run's reduced ODE: the conserved data, x' = g(x) and the loss F(x)."""

    def __init__(self, chain: ReducedChain, f, fprime, scale: float):
        self.chain, self.f, self.fprime, self.scale = chain, f, fprime, scale

    def g(self, x: float) -> float:
        return self.chain.velocity(x, self.fprime, self.scale)

    def loss(self, x: float) -> float:
        return float(self.f(self.scale * self.chain.product(x)[0]))


def _event(run: _Run, t_old: float, x_old: float, t_new: float, x_new: float,
           target: float) -> tuple[float, float]:
    """(t, x) where F(x) = target between the step ends x_old (above) and x_new (at or below)."""
    import scipy.integrate
    import scipy.optimize

    if run.loss(x_new) == target:
        x = x_new
    else:
        x = scipy.optimize.brentq(lambda u: run.loss(u) - target, x_old, x_new,
                                  xtol=1e-300, rtol=4 * EPS)
    with warnings.catch_warnings():     # asked near eps: quad warns of round-off, not error
        warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
        dt = scipy.integrate.quad(lambda u: 1.0 / run.g(u), x_old, x, epsabs=0.0,
                                  epsrel=1e-13, limit=200)[0]
    return min(max(t_old + dt, t_old), t_new), x


def _integrate(run: _Run, x0: float, t1: float, solver: Solver, target: float | None,
               max_steps: int, ts: np.ndarray, save_steps: bool, limit: float):
    """One run: (times, least weights, code, counts), code 'event', 'horizon', 'cap',
    'diverged' or 'failed: why' (the state is then the last finite one)."""
    import scipy.integrate

    rec_t, rec_x, code, n_acc = [0.0], [x0], "horizon", 0
    counts = {"field_evals": 1, "jacobian_evals": 0, "lu_factorisations": 0}
    if not math.isfinite(run.g(x0)):
        return np.asarray(rec_t), np.asarray(rec_x), "failed: non-finite vector field", \
            {**counts, "accepted_steps": 0}
    first = {} if solver.dt0 is None else {"first_step": min(solver.dt0, t1)}
    ode = scipy.integrate.LSODA(lambda t, y: np.array([run.g(y[0])]), 0.0, np.array([x0]), t1,
                                rtol=solver.rtol, atol=solver.atol, **first)
    i_ts = int(np.searchsorted(ts, 0.0, side="right"))
    last = (0.0, x0)                                    # the last accepted, finite state
    while ode.status == "running":
        if n_acc >= max_steps:
            code = "cap"
            break
        t_old, x_old = ode.t, float(ode.y[0])
        try:
            msg = ode.step()
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as err:
            code = f"failed: {err}"
            break
        if ode.status == "failed":
            code = f"failed: {msg}"
            break
        n_acc += 1
        progress.tick(ode.t, n_acc, False)
        x_new = float(ode.y[0])
        if not math.isfinite(x_new) or not math.isfinite(run.g(x_new)):
            code = "failed: non-finite state or vector field"
            break
        last = (ode.t, x_new)
        loss = run.loss(x_new)
        dense = ode.dense_output()
        if target is not None and loss <= target:
            t_ev, x_ev = _event(run, t_old, x_old, ode.t, x_new, target)
            while i_ts < ts.size and ts[i_ts] < t_ev:
                rec_t.append(ts[i_ts])
                rec_x.append(float(dense(ts[i_ts])[0]))
                i_ts += 1
            rec_t.append(t_ev)
            rec_x.append(x_ev)
            code = "event"
            break
        while i_ts < ts.size and ts[i_ts] <= ode.t:
            if 0 < ts[i_ts] < t1:
                rec_t.append(ts[i_ts])
                rec_x.append(float(dense(ts[i_ts])[0]))
            i_ts += 1
        if not abs(loss) <= limit:
            code = "diverged"
            break
        if save_steps and ode.t < t1:
            rec_t.append(ode.t)
            rec_x.append(x_new)
    if code != "event" and last[0] > rec_t[-1]:
        rec_t.append(last[0])
        rec_x.append(last[1])
    counts = {"field_evals": ode.nfev + 1, "jacobian_evals": ode.njev,
              "lu_factorisations": ode.nlu, "accepted_steps": n_acc}
    return np.asarray(rec_t), np.asarray(rec_x), code, counts


def _integrate_fast(run: _Run, x0: float, t1: float, solver: Solver, max_steps: int,
                    ts: np.ndarray):
    """One run to t1 through the saved times in one call of ODEPACK's LSODA (odeint: no Python
    per step), as ``_integrate`` returns it; None unless it completes cleanly within
    ``max_steps`` steps."""
    import scipy.integrate

    grid = np.concatenate([[0.0], ts[(ts > 0) & (ts < t1)], [t1]])
    with _fortran_quiet():
        y, info = scipy.integrate.odeint(lambda x, t: run.g(x[0]), [x0], grid,
                                         rtol=solver.rtol, atol=solver.atol,
                                         h0=solver.dt0 or 0.0, mxstep=max_steps,
                                         full_output=True)
    if (info["message"] != "Integration successful." or int(info["nst"][-1]) > max_steps
            or not np.all(np.isfinite(y)) or not math.isfinite(run.g(float(y[-1, 0])))):
        return None
    counts = {"field_evals": int(info["nfe"][-1]) + 1, "jacobian_evals": int(info["nje"][-1]),
              "lu_factorisations": -1, "accepted_steps": int(info["nst"][-1])}
    return grid, y[:, 0], "horizon", counts


@contextlib.contextmanager
def _fortran_quiet():
    """ODEPACK prints its warnings on the process's stdout (where JSON goes): silence fd 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def supports(system: AbstractFlow) -> bool:
    """Whether ``system`` is the gradient flow of a scalar chain (the only flow this backend
    solves)."""
    return type(system) is GradientFlow and system.state_problem.is_scalar_chain


def check(system: AbstractFlow) -> None:
    """InputError unless ``supports(system)``."""
    problem = system.state_problem
    if not supports(system):
        raise InputError(f"solver 'reduction' integrates the gradient flow of a scalar chain "
                         f"(Problem.scalar_chain); got {type(system).__name__} on "
                         f"{'a scalar chain' if problem.is_scalar_chain else 'matrix layers'}; "
                         "use rodas4 or another solver")


def solve(system: AbstractFlow, params, t1: float, solver: Solver, stop: Stop, save: SaveAt,
          fstar: float, max_steps: int) -> Trajectory:
    """Run every start of the batch ``params`` on its reduced 1-D ODE."""
    problem = system.state_problem
    check(system)
    f, fprime, f_min = scalar_loss(problem.objective)
    scale = cast(Plain, problem.architecture).output_scale     # a scalar chain is Plain
    w0 = np.stack([np.asarray(W)[:, 0, 0] for W in params], axis=-1)         # (B, L)
    B, L = w0.shape
    target = fstar + stop.threshold if stop.loss is not None else None
    ts = save.times(t1)
    rows, codes, counts = [], [], []
    for i in range(B):
        run = _Run(reduce_chain(w0[i]), f, fprime, scale)
        x0, loss0 = float(w0[i, run.chain.least]), float(f(scale * float(np.prod(w0[i]))))
        if target is not None and loss0 <= target:
            rt, rx, code = np.zeros(1), np.array([x0]), "event"
            c = {"field_evals": 0, "jacobian_evals": 0, "lu_factorisations": 0,
                 "accepted_steps": 0}
        else:
            limit = stop.diverge_factor * max(1.0, abs(loss0))
            # F only decreases: with no threshold, no per-step records and F >= -limit, the
            # run can only complete (or be capped, or fail: then the stepwise path decides)
            fast = target is None and not save.steps and f_min >= -limit
            out = _integrate_fast(run, x0, t1, solver, max_steps, ts) if fast else None
            rt, rx, code, c = out if out is not None else _integrate(
                run, x0, t1, solver, target, max_steps, ts, save.steps, limit)
        w = run.chain.weights(rx)
        w[0] = w0[i]                                     # the start exactly as given
        rows.append((rt, w, [float(f(scale * float(np.prod(row)))) for row in w]))
        codes.append(code)
        counts.append(c)
    N = max(len(r[0]) for r in rows)
    t, Y = np.full((B, N), np.nan), np.zeros((B, N, L))
    loss, valid = np.full((B, N), np.nan), np.zeros((B, N), bool)
    for i, (rt, w, lo) in enumerate(rows):
        n = len(rt)
        t[i, :n], Y[i, :n], Y[i, n:], loss[i, :n], valid[i, :n] = rt, w, w[-1], lo, True
    return run_by_run_trajectory(
        problem, t, Y, loss, valid, codes, counts, stop, fstar, t1, max_steps,
        "reduction (LSODA)", {"backend": "reduction", "solver": "reduction", "method": "LSODA",
                              "rtol": solver.rtol, "atol": solver.atol})
