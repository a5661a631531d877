"""Data of a continuation: its options, the special points found, and the branches.

A branch is a curve of period-p orbits (x(s), eta(s)) parametrised by pseudo-arclength s; at each
point it records the orbit, its multipliers (:func:`~dlnflow.continuation.families.multipliers`)
and its stability (all |multiplier| < 1). Special points: ``period_doubling`` (a real multiplier
crosses -1; a period-2p branch is born) and ``fold`` (a turning point in eta, multiplier +1).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import InputError, check_positive, check_positive_int


@dataclasses.dataclass(frozen=True)
class ContinuationOptions:
    """Step control of the pseudo-arclength continuation and accuracy of its Newton corrector.

    ``ds``/``ds_min``/``ds_max``: first, smallest and largest arclength step (in (x, eta));
    ``growth``: step factor after an easy corrector (<= ``easy_newton`` iterations);
    ``max_points``: points per branch; ``newton_tol``: Newton tolerance (relative and absolute);
    ``newton_steps``: Newton iterations per correction; ``max_turn``: largest angle (radians)
    between successive tangents; ``locate_tol``: arclength accuracy of located special points;
    ``switch_offset``: distance from a period doubling at which the period-2p branch is started
    (relative to 1 + |x*|); ``diverge_norm``: a branch whose |x| exceeds it stops.
    """

    ds: float = 1e-3
    ds_min: float = 1e-9
    ds_max: float = 0.05
    growth: float = 1.5
    easy_newton: int = 6
    max_points: int = 2000
    newton_tol: float = 1e-13
    newton_steps: int = 40
    max_turn: float = 0.3
    locate_tol: float = 1e-14
    switch_offset: float = 1e-4
    diverge_norm: float = 1e6

    def __post_init__(self):
        for name in ("ds", "ds_min", "ds_max", "newton_tol", "max_turn", "locate_tol",
                     "switch_offset", "diverge_norm"):
            check_positive(f"ContinuationOptions.{name}", getattr(self, name))
        check_positive_int("ContinuationOptions.max_points", self.max_points, minimum=2)
        check_positive_int("ContinuationOptions.newton_steps", self.newton_steps)
        if not self.ds_min <= self.ds <= self.ds_max:
            raise InputError("ContinuationOptions needs ds_min <= ds <= ds_max")
        if self.growth < 1:
            raise InputError(f"ContinuationOptions.growth must be >= 1, got {self.growth}")


def complex_pairs(values: Any) -> list[list[float]]:
    """Complex numbers as JSON-ready [re, im] pairs."""
    return [[float(np.real(v)), float(np.imag(v))] for v in np.asarray(values, complex).ravel()]


@dataclasses.dataclass(frozen=True)
class BranchPoint:
    """A special point: ``kind`` in {"period_doubling", "fold"}, on the period-``period`` branch
    at step size ``eta``; ``orbit`` its points (period, dim of the full map), ``multipliers`` at it
    (one of them -1 or +1 to the location accuracy), ``branch`` the index of its branch."""

    kind: str
    eta: float
    period: int
    orbit: np.ndarray
    multipliers: np.ndarray
    branch: int
    x: np.ndarray           # the point in the branch's own coordinates
    tangent: np.ndarray     # the branch's tangent (x, eta) there

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: kind, eta, period, branch, the orbit and the multipliers as [re, im]."""
        return {"kind": self.kind, "eta": float(self.eta), "period": int(self.period),
                "multipliers": complex_pairs(self.multipliers), "branch": int(self.branch),
                "orbit": np.asarray(self.orbit).tolist()}


@dataclasses.dataclass
class Branch:
    """Period-``period`` orbits along one continued curve. Arrays per point: ``eta`` (N,),
    ``x`` (N, dim) in the branch's coordinates, ``orbit`` (N, period, full dim), ``multipliers``
    (N, m) complex, ``stable`` (N,); ``end``: why the continuation stopped."""

    period: int
    eta: np.ndarray
    x: np.ndarray
    orbit: np.ndarray
    multipliers: np.ndarray
    stable: np.ndarray
    points: list[BranchPoint]
    end: str
    parent: int | None = None   # index of the branch it was switched from

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the per-point arrays as lists, multipliers as [re, im] pairs, and the
        special points (`BranchPoint.to_dict`)."""
        mult = np.asarray(self.multipliers, complex)
        return {"period": int(self.period), "eta": np.asarray(self.eta).tolist(),
                "orbit": np.asarray(self.orbit).tolist(),
                "multipliers": [complex_pairs(m) for m in mult],
                "stable": np.asarray(self.stable, bool).tolist(), "end": self.end,
                "parent": self.parent, "points": [p.to_dict() for p in self.points]}
