"""The closed-form runs of `dlnflow rates` (dlnflow.chain_rates, numpy + scipy's DOP853) against
the simulate path (rates.scalar_chain_rates): the same report to round-off where every run
converges, the simulate path itself for any other outcome."""

from __future__ import annotations

import numpy as np
import pytest
from fresh_cli import run_cli_fresh

import dlnflow as dl
from dlnflow.chain_rates import _event_tolerances, chain_rates, closed_form_runs
from dlnflow.losses import SquareTarget
from dlnflow.rates import scalar_chain_rates
from dlnflow.simulate import Solver
from dlnflow.simulate.events import event_solver

REL = {"flow_time": 1e-8, "distance_to_flow_max": 1e-9, "flow_rate_min": 1e-10,
       "flow_rate_over_2alpha_star": 1e-10}
"""Relative tolerances where round-off is amplified (about 100x the largest difference measured
over 14 random starts of depth 2..7 and the cases below): the time the excess loss reaches eps
moves by d / (r(eps) lambda) for a state error d (simulate.events), r(1e-12) = 1.4e-6, measured
up to 1.2e-10; the distance between GD and the flow is a difference of close states, measured up
to 1.2e-11 (depth 10); the least local rate is taken over states that differ by the solver's
amplified round-off, measured up to 3e-13. Every other number: 1e-12 (measured up to 4e-15)."""


def _compare(fast, ref, key=""):
    if isinstance(ref, dict):
        assert set(fast) == set(ref), key
        for k in ref:
            _compare(fast[k], ref[k], k)
    elif isinstance(ref, list):
        assert len(fast) == len(ref), key
        for a, b in zip(fast, ref, strict=True):
            _compare(a, b, key)
    elif isinstance(ref, float):
        assert fast == pytest.approx(ref, rel=REL.get(key, 1e-12), abs=1e-300), key
    else:
        assert fast == ref, key


@pytest.mark.parametrize("depth,y,w,etas", [
    (3, 1.0, [0.5, 0.7, 0.9], [0.05, 0.1]),           # docs/getting-started.md
    (2, 1.0, [1.0, -1.5], []),                        # margin <= 0: a note, no alpha*
    (5, -2.0, [1.0, 1.1, -0.9, 1.2, 1.3], [0.01, 0.05]),
    (1, 2.0, [0.3], [0.5]),                           # depth 1: no alpha*
    (10, 1.0, [0.9] + [1.0] * 8 + [1.1], [0.01]),
])
def test_closed_form_runs_match_simulate(depth, y, w, etas):
    assert closed_form_runs(depth, y, w, etas, 1e-12, 1e4, 100_000) is not None
    fast = chain_rates(depth, y, w, etas)
    ref = scalar_chain_rates(dl.Problem.scalar_chain(depth, y), w, etas)
    _compare(fast, ref)


@pytest.mark.parametrize("depth,y,w,etas", [
    (3, 1.0, [0.5, 0.7, 0.9], [0.05, 2.0]),           # GD diverges at eta = 2
    (3, 1.0, [0.0, 0.0, 1.0], [0.1]),                 # a saddle: the flow never converges
])
def test_other_outcomes_take_the_simulate_path(depth, y, w, etas):
    assert closed_form_runs(depth, y, w, etas, 1e-12, 1e4, 100_000) is None
    assert chain_rates(depth, y, w, etas) == scalar_chain_rates(
        dl.Problem.scalar_chain(depth, y), w, etas)


def test_gd_budget_is_the_simulate_paths():
    """A budget below the iterations GD needs: max_steps as the simulate path reports it."""
    w, etas = [0.5, 0.7, 0.9], [0.05]
    assert closed_form_runs(3, 1.0, w, etas, 1e-12, 1e4, 20) is None
    out = chain_rates(3, 1.0, w, etas, max_steps=20)
    assert out["gd"][0]["status"] == "max_steps" and out["gd"][0]["iterations"] is None


@pytest.mark.parametrize("eps", [1e-12, 1e-6, 1e-2, 10.0])
def test_event_tolerances_are_simulates(eps):
    s = event_solver(Solver("DOP853", rtol=1e-11, atol=1e-13), SquareTarget(np.ones((1, 1))),
                     eps)
    assert _event_tolerances(eps) == (s.rtol, s.atol)


def test_cli_rates_loads_no_autodiff_stack():
    """`dlnflow rates` on a converging start imports neither equinox nor dlnflow.simulate."""
    out, loaded = run_cli_fresh(
        ["rates", "--depth", "3", "--target", "1", "--init", "0.5,0.7,0.9", "--etas",
         "0.05,0.1", "--json"], ("equinox", "dlnflow.problem", "dlnflow.simulate"))
    assert loaded == []
    assert out["flow_status"] == "converged"
