"""Built-in sweep functions on scalar chains F(w) = 0.5 (w_L ... w_1 - y)^2 (Shamir's setting).

Each cell starts ``runs`` chains with w_i ~ N(0, init_scale^2) from the seed ``seed`` (a seed
block: one batched run of ``runs`` starts) and runs them to the excess loss ``threshold``.

* ``gd_iterations``: gradient descent w <- w - eta grad F; iterations to the threshold per run
  (+inf in ``median_iterations`` when over half the runs hit ``max_steps`` or diverge).
* ``flow_time``: gradient flow dw/dt = -grad F with an adaptive solver; the flow time to the
  threshold (compare with the GD iterations times eta) and the solver's steps per run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import check_positive_int
from .registry import register

CHAIN = {"depth": 4, "target": 1.0, "init_scale": 1.0, "seed": 0, "runs": 16,
         "threshold": 1e-3}


def _starts(p: dict[str, Any]) -> tuple[Any, Any]:
    import dlnflow as dl

    prob = dl.Problem.scalar_chain(p["depth"], p["target"])
    runs = check_positive_int("runs", p["runs"])
    return prob, dl.init.gaussian(prob, p["seed"], batch=runs, std=p["init_scale"])


def _median(counts: np.ndarray) -> float:
    from ..fitting import quantiles

    return float(quantiles(counts, (0.5,))[0])


@register("gd_iterations", {**CHAIN, "eta": 0.05, "max_steps": 20_000})
def gd_iterations(cell: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """GD iterations to a loss threshold on scalar chains (depth, eta, init scale, seed)."""
    import dlnflow as dl
    from dlnflow.fitting import censored_counts

    p = {**config, **cell}
    prob, w0 = _starts(p)
    max_steps = check_positive_int("max_steps", p["max_steps"])
    traj = dl.simulate(dl.GradientDescent(prob, p["eta"]), w0,
                       stop=dl.Stop(loss=p["threshold"], max_steps=max_steps),
                       save=dl.SaveAt(every=max_steps))
    status = np.asarray([str(s) for s in traj.status])
    counts = censored_counts(traj.steps, status)
    return {"iterations": (("run",), np.asarray(traj.steps, dtype=np.int64)),
            "status": (("run",), status),
            "loss_final": (("run",), np.asarray(traj.loss_final, dtype=float)),
            "converged": int(np.sum(np.isfinite(counts))),
            "median_iterations": _median(counts)}


@register("flow_time", {**CHAIN, "solver": "Radau", "rtol": 1e-6, "atol": 1e-9, "t1": 1e12})
def flow_time(cell: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Gradient-flow time to a loss threshold on scalar chains (depth, init scale, seed)."""
    import dlnflow as dl
    from dlnflow.fitting import censored_counts

    p = {**config, **cell}
    prob, w0 = _starts(p)
    traj = dl.simulate(dl.GradientFlow(prob), w0, t1=p["t1"],
                       solver=dl.Solver(p["solver"], rtol=p["rtol"], atol=p["atol"]),
                       stop=dl.Stop(loss=p["threshold"]))
    status = np.asarray([str(s) for s in traj.status])
    times = censored_counts(traj.t_final, status)
    return {"time": (("run",), np.asarray(traj.t_final, dtype=float)),
            "solver_steps": (("run",), np.asarray(traj.steps, dtype=np.int64)),
            "status": (("run",), status),
            "converged": int(np.sum(np.isfinite(times))),
            "median_time": _median(times)}
