"""Flow backend: scipy's ODE solvers (Radau, BDF, LSODA, RK45, DOP853), run by run, as an
independent cross-check.

Each run is driven step by step through scipy's public ``OdeSolver`` interface, so that
``max_steps`` (accepted steps: scipy hides its rejected ones) and ``dt0`` (``first_step``) are
honoured. A loss threshold is bracketed on the step, located by ``brentq`` on the step's dense
output (as ``solve_ivp`` does), then landed: integrated again from the step's start to the root
and refined by ``newton_landing``.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.optimize

from ..systems import AbstractFlow
from ..trajectory import Trajectory
from . import progress
from .events import newton_landing
from .options import SaveAt, Solver, Stop
from .records import run_by_run_trajectory

METHODS = {"Radau": scipy.integrate.Radau, "BDF": scipy.integrate.BDF,
           "LSODA": scipy.integrate.LSODA, "RK45": scipy.integrate.RK45,
           "DOP853": scipy.integrate.DOP853}
WITH_JACOBIAN = ("Radau", "BDF", "LSODA")


def _compiled(static, treedef):
    """The jitted (field, jac, loss, land, flatten) of one system structure, taking its arrays as
    the first argument: systems of equal structure share them (one compile for many runs).
    ``flatten`` is the batched ``Problem.flatten`` (a copy: one program, not one per operation).
    The recorded losses stay unjitted: XLA's fused program rounds some losses differently."""
    def rebuild(dyn):
        return eqx.combine(jax.tree.unflatten(treedef, dyn), static)

    def field(dyn, t, v):
        return rebuild(dyn).vector_field_flat(t, v)

    def jac(dyn, t, v):
        return jax.jacfwd(lambda u: field(dyn, t, u))(v)

    def loss(dyn, v):
        return rebuild(dyn).state_problem.loss_flat(v)

    def land(dyn, t, v, target):
        system = rebuild(dyn)
        return newton_landing(system, system.state_problem, t, v, target)

    def flatten(dyn, params):
        return jax.vmap(rebuild(dyn).state_problem.flatten)(params)

    return tuple(jax.jit(f) for f in (field, jac, loss, land, flatten))


_COMPILED: dict = {}


def _functions(system: AbstractFlow):
    """(field, jac, loss, land, flatten) of ``system`` (see ``_compiled``) on flat
    states, jitted once per system structure
    (treedef and non-array leaves) and process; arrays (targets, data) are arguments."""
    dyn, static = eqx.partition(system, eqx.is_array)
    leaves, treedef = jax.tree.flatten(dyn)
    static_leaves, static_def = jax.tree.flatten(static)
    try:
        key = (treedef, static_def, tuple(static_leaves))
        fns = _COMPILED.get(key)
    except (TypeError, ValueError):         # an unhashable or array-like static part: no sharing
        key, fns = None, None
    if fns is None:
        fns = _compiled(static, treedef)
        if key is not None:
            _COMPILED[key] = fns
    return tuple(functools.partial(f, leaves) for f in fns)


def _run(fns, method, v0, t1, solver, target, max_steps, ts, save_steps, limit):
    """One run: (times, states, code, counts) with code 'event', 'horizon', 'cap', 'failed'."""
    field, jac, loss, land = fns[:4]
    fun = lambda t, v: np.asarray(field(t, v))                 # noqa: E731
    kw = {"jac": lambda t, v: np.asarray(jac(t, v))} if method in WITH_JACOBIAN else {}
    first = {} if solver.dt0 is None else {"first_step": min(solver.dt0, t1)}

    def make(t0, y0, t_bound, extra):
        return METHODS[method](fun, t0, y0, t_bound, rtol=solver.rtol, atol=solver.atol,
                               **kw, **extra)

    ode = make(0.0, v0, t1, first)
    g = (lambda v: float(loss(v)) - target) if target is not None else None
    rec_t, rec_y, code, n_acc, work, end = [0.0], [v0], "horizon", 0, [], None
    i_ts = int(np.searchsorted(ts, 0.0, side="right"))
    while ode.status == "running":
        if n_acc >= max_steps:
            code = "cap"
            break
        t_old, y_old = ode.t, ode.y.copy()
        try:
            msg = ode.step()
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as err:
            code = f"failed: {err}"
            break
        if ode.status == "failed":
            code = "failed: " + str(msg)
            break
        n_acc += 1
        progress.tick(ode.t, n_acc, False)
        if not np.all(np.isfinite(ode.y)):
            code = "failed: non-finite state"
            end = (t_old, y_old)                      # keep the last finite state
            break
        if not abs(float(loss(ode.y))) <= limit:
            code = "diverged"
            break
        dense = ode.dense_output()
        if g is not None and g(ode.y) <= 0:
            root = scipy.optimize.brentq(lambda s, d=dense: g(d(s)), t_old, ode.t, xtol=1e-15,
                                         rtol=4 * np.finfo(float).eps)
            while i_ts < ts.size and ts[i_ts] < root:
                rec_t.append(ts[i_ts]), rec_y.append(dense(ts[i_ts]))
                i_ts += 1
            work.append(ode)
            ode = make(t_old, y_old, root, {"first_step": max(root - t_old, 1e-300)})
            while ode.status == "running":
                ode.step()
            tl, yl = land(jnp.asarray(ode.t), jnp.asarray(ode.y), jnp.asarray(target))
            rec_t.append(float(tl)), rec_y.append(np.asarray(yl))
            code = "event"
            break
        while i_ts < ts.size and ts[i_ts] <= ode.t:
            if 0 < ts[i_ts] < t1:
                rec_t.append(ts[i_ts]), rec_y.append(dense(ts[i_ts]))
            i_ts += 1
        if save_steps and ode.t < t1:
            rec_t.append(ode.t), rec_y.append(ode.y.copy())
    if code != "event":
        t_end, y_end = end if end is not None else (ode.t, ode.y.copy())
        if t_end > rec_t[-1]:
            rec_t.append(t_end), rec_y.append(y_end)
    work.append(ode)
    counts = {"field_evals": sum(o.nfev for o in work), "jacobian_evals": sum(o.njev for o in work),
              "lu_factorisations": sum(o.nlu for o in work), "accepted_steps": n_acc}
    return np.asarray(rec_t), np.stack(rec_y), code, counts


def solve(system: AbstractFlow, params, t1: float, solver: Solver, stop: Stop, save: SaveAt,
          fstar: float, max_steps: int) -> Trajectory:
    """Run every start of the batch ``params`` with scipy's ``solver.name``."""
    problem = system.state_problem
    fns = _functions(system)
    flat0 = np.asarray(fns[4](params))
    B, P = flat0.shape
    target = fstar + stop.threshold if stop.loss is not None else None
    ts = save.times(t1)
    rows, codes, counts = [], [], []
    for i in range(B):
        if target is not None and float(fns[2](flat0[i])) <= target:
            rows.append((np.zeros(1), flat0[i][None]))
            codes.append("event")
            counts.append({"field_evals": 0, "jacobian_evals": 0, "lu_factorisations": 0,
                           "accepted_steps": 0})
            continue
        limit = stop.diverge_factor * max(1.0, abs(float(fns[2](flat0[i]))))
        rt, ry, code, c = _run(fns, solver.name, flat0[i], t1, solver, target, max_steps, ts,
                               save.steps, limit)
        rows.append((rt, ry))
        codes.append(code)
        counts.append(c)
    N = max(len(r[0]) for r in rows)
    t = np.full((B, N), np.nan)
    Y = np.zeros((B, N, P))
    valid = np.zeros((B, N), bool)
    for i, (rt, ry) in enumerate(rows):
        t[i, :len(rt)], Y[i, :len(rt)], Y[i, len(rt):] = rt, ry, ry[-1]
        valid[i, :len(rt)] = True
    loss = np.asarray(jax.vmap(jax.vmap(problem.loss_flat))(jnp.asarray(Y)))
    return run_by_run_trajectory(
        problem, t, Y, loss, valid, codes, counts, stop, fstar, t1, max_steps,
        f"scipy {solver.name}", {"backend": "scipy", "solver": solver.name,
                                 "rtol": solver.rtol, "atol": solver.atol})
