"""Run statuses and the statistics schema shared by every backend of ``simulate``.

Statuses: ``converged`` (excess loss F - F* reached the threshold), ``completed`` (horizon
reached, no threshold asked), ``max_steps`` (step or iteration budget, or the horizon, exhausted
before the threshold), ``stalled`` (a map reached a fixed point above the threshold),
``diverged`` (non-finite or exploding loss; the state is the last finite one), ``solver_failed``
(the ODE solver gave up; the run's message says why). The same state gets the same status on
every backend.

Statistics, one integer per run, the same keys on every backend (-1: the backend does not
report it): accepted_steps, rejected_steps, field_evals, jacobian_evals, lu_factorisations
(flows), iterations (maps; 0 for flows).
"""

from __future__ import annotations

import enum

import numpy as np


class Status(enum.StrEnum):
    """How a run ended (compares equal to its string value)."""

    CONVERGED = "converged"
    COMPLETED = "completed"
    MAX_STEPS = "max_steps"
    STALLED = "stalled"
    DIVERGED = "diverged"
    SOLVER_FAILED = "solver_failed"


STATS_KEYS = ("accepted_steps", "rejected_steps", "field_evals", "jacobian_evals",
              "lu_factorisations", "iterations")
"""Keys of ``Trajectory.stats`` (every backend, every run)."""

NOT_REPORTED = -1


def stats(batch: int, **counts) -> dict[str, np.ndarray]:
    """A full statistics dict: the given per-run counts, -1 for the keys a backend lacks."""
    unknown = set(counts) - set(STATS_KEYS)
    if unknown:
        raise KeyError(f"unknown statistics {sorted(unknown)}")
    out = {}
    for key in STATS_KEYS:
        value = counts.get(key, NOT_REPORTED)
        out[key] = np.broadcast_to(np.asarray(value, dtype=np.int64), (batch,)).copy()
    return out


CONVERGED, COMPLETED, MAX_STEPS, STALLED, DIVERGED, SOLVER_FAILED = range(6)
"""Integer codes of the statuses inside jitted loops (``BY_CODE[code]`` is the Status)."""

BY_CODE = (Status.CONVERGED, Status.COMPLETED, Status.MAX_STEPS, Status.STALLED,
           Status.DIVERGED, Status.SOLVER_FAILED)
