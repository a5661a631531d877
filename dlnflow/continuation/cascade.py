"""The period-doubling cascade of a map family: continue the period-p branch through a start,
switch onto the period-2p branch at each period doubling found, up to a largest period.

A doubling transverse to a restricted family's subspace (no multiplier -1 in its coordinates)
is switched in the full space (``family.full``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import InputError, check_positive_int
from .bifurcations import switch_doubling
from .branch import Branch, BranchPoint, ContinuationOptions
from .families import MapFamily
from .palc import continue_branch, start_point


@dataclasses.dataclass
class Diagram:
    """Continued branches (index = position), the families they live in, and notes on
    doublings where no period-2p branch was found."""

    branches: list[Branch]
    families: list[MapFamily]
    notes: list[str]
    start: np.ndarray | None = None     # the first branch's first point in the full space

    @property
    def points(self) -> list[BranchPoint]:
        """All special points, by period then eta."""
        return sorted((p for b in self.branches for p in b.points),
                      key=lambda p: (p.period, p.eta))

    def to_dict(self, branches: bool = True) -> dict[str, Any]:
        """JSON-ready form: the special points, the notes and the start; with ``branches`` also
        every branch (`Branch.to_dict`), which is most of the size."""
        out: dict[str, Any] = {"points": [p.to_dict() for p in self.points], "notes": self.notes,
                               "start": None if self.start is None else self.start.tolist()}
        if branches:
            out["branches"] = [b.to_dict() for b in self.branches]
        return out


def continue_cascade(family: MapFamily, x0: np.ndarray, eta_range: tuple[float, float],
                     period: int = 1, max_period: int = 2,
                     options: ContinuationOptions | None = None) -> Diagram:
    """Correct the period-``period`` orbit near x0 at eta_range[0], continue it towards larger
    eta, and follow every period doubling found onto the doubled branch while the period stays
    at most ``max_period``."""
    options = options or ContinuationOptions()
    period = check_positive_int("period", period)
    max_period = check_positive_int("max_period", max_period)
    lo, hi = (float(v) for v in eta_range)
    if not 0 < lo < hi:
        raise InputError(f"eta_range must have 0 < A < B, got {eta_range}")
    c = start_point(family, x0, lo, period, options)
    if not c.ok:
        raise InputError(f"no period-{period} orbit found near the start at eta={lo:g} "
                         f"(residual {c.residual:.3g})")
    branches = [continue_branch(family, c.x, c.eta, period, (lo, hi), options)]
    families: list[MapFamily] = [family]
    notes: list[str] = []
    i = 0
    while i < len(branches):
        fam = families[i]
        for p in branches[i].points:
            if p.kind != "period_doubling" or 2 * p.period > max_period:
                continue
            res = switch_doubling(fam, p, options)
            new_fam = fam
            if isinstance(res, str) and fam.full is not fam:
                new_fam = fam.full
                res = switch_doubling(new_fam, dataclasses.replace(p, x=fam.lift(p.x)), options)
            if isinstance(res, str):
                notes.append(f"period doubling at eta={p.eta:.12g} (period {p.period}): {res}")
                continue
            c2, t2 = res
            x_star = p.x if new_fam is fam else fam.lift(p.x)
            branches.append(continue_branch(new_fam, c2.x, c2.eta, 2 * p.period, (lo, hi),
                                            options, t0=t2, branch=len(branches),
                                            origin=(x_star, p.eta), parent=i))
            families.append(new_fam)
        i += 1
    return Diagram(branches=branches, families=families, notes=notes)


def continue_orbit(family: MapFamily, x0: np.ndarray, eta0: float, period: int,
                   eta_range: tuple[float, float],
                   options: ContinuationOptions | None = None) -> Diagram:
    """The period-``period`` orbit near x0 at eta0 (e.g. one GD settled on inside a periodic
    window) continued both ways: towards smaller eta first (through the fold where such an orbit
    is born, back up along its unstable partner), then from eta0 towards larger eta."""
    options = options or ContinuationOptions()
    lo, hi = (float(v) for v in eta_range)
    if not 0 < lo <= eta0 <= hi:
        raise InputError(f"need 0 < A <= eta0 <= B, got eta0={eta0} and range {eta_range}")
    c = start_point(family, x0, eta0, check_positive_int("period", period), options)
    if not c.ok:
        raise InputError(f"no period-{period} orbit found near the start at eta={eta0:g} "
                         f"(residual {c.residual:.3g})")
    down = np.zeros(family.dim + 1)
    down[-1] = -1.0
    branches = [continue_branch(family, c.x, c.eta, period, (lo, hi), options, t0=t0, branch=i)
                for i, t0 in enumerate((down, -down))]
    return Diagram(branches=branches, families=[family, family], notes=[],
                   start=family.lift(c.x))
