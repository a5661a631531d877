"""The options of ``simulate``, as small frozen objects (the way diffrax passes SaveAt,
PIDController and Event): what to solve with, when to stop, what to record.

Every option means the same on every backend; a backend that cannot honour one raises
InputError naming it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ..errors import InputError, check_finite, check_positive, check_positive_int, show
from ..observables import check_names

FLOW_SOLVERS = {
    "rodas4": "rodas4",
    "kvaerno3": "diffrax", "kvaerno4": "diffrax", "kvaerno5": "diffrax",
    "tsit5": "diffrax", "dopri5": "diffrax", "dopri8": "diffrax",
    "Radau": "scipy", "BDF": "scipy", "LSODA": "scipy", "RK45": "scipy", "DOP853": "scipy",
    "reduction": "reduction",
}
"""Flow solver -> backend module: dlnflow's batched RODAS4, diffrax (vmapped), scipy (per run)."""

AUTO = "auto"
DEFAULT_SOLVER = AUTO


@dataclasses.dataclass(frozen=True)
class Solver:
    """ODE solver for flows: ``name`` (see FLOW_SOLVERS, or "auto", the default: chosen per
    system by ``simulate.auto`` and recorded in ``Trajectory.metadata["solver"]``), local error
    tolerances ``rtol`` and ``atol`` (error of a step <= atol + rtol |y|), first trial step
    ``dt0`` (None: the solver's own guess)."""

    name: str = DEFAULT_SOLVER
    rtol: float = 1e-8
    atol: float = 1e-10
    dt0: float | None = None

    def __post_init__(self):
        if self.name != AUTO and self.name not in FLOW_SOLVERS:
            raise InputError(f"unknown solver {self.name!r}; choose one of "
                             f"{AUTO}, {', '.join(FLOW_SOLVERS)}")
        object.__setattr__(self, "rtol", check_positive("Solver.rtol", self.rtol))
        object.__setattr__(self, "atol", check_positive("Solver.atol", self.atol))
        if self.dt0 is not None:
            object.__setattr__(self, "dt0", check_positive("Solver.dt0", self.dt0))

    @property
    def backend(self) -> str:
        """The backend module of the solver ("auto": known once the system is)."""
        return FLOW_SOLVERS.get(self.name, AUTO)


@dataclasses.dataclass(frozen=True)
class Stop:
    """When a run stops early.

    ``loss``: threshold on the excess loss F - F* (a flow stops at the crossing time, located to
    solver accuracy; a map at the first iterate at or below it). ``max_steps``: the budget of
    attempted solver steps (flows; default 100,000) or of iterations (maps; required unless
    ``t1`` gives t1 / eta). ``diverge_factor``: a run whose loss exceeds diverge_factor *
    max(1, F(0)) or becomes non-finite has diverged. ``stall_tol`` (maps): a step moving no
    weight by more than it marks a fixed point (0: a step leaving every weight unchanged in
    float64); None: runs never stop at fixed points (saves a test per step; a run at an exact
    fixed point then keeps its state to the budget).
    """

    loss: float | None = None
    max_steps: int | None = None
    diverge_factor: float = 1e12
    stall_tol: float | None = 0.0

    def __post_init__(self):
        if self.loss is not None:
            object.__setattr__(self, "loss", check_finite("Stop.loss", self.loss))
        if self.max_steps is not None:
            steps = check_positive_int("Stop.max_steps", self.max_steps, minimum=0)
            if steps > 2**62:
                raise InputError(f"Stop.max_steps must be at most 2^62, got {steps}")
            object.__setattr__(self, "max_steps", steps)
        object.__setattr__(self, "diverge_factor",
                           check_positive("Stop.diverge_factor", self.diverge_factor))
        if self.stall_tol is not None:
            tol = check_finite("Stop.stall_tol", self.stall_tol)
            if tol < 0:
                raise InputError(f"Stop.stall_tol must be >= 0 or None, got {self.stall_tol!r}")
            object.__setattr__(self, "stall_tol", tol)

    @property
    def threshold(self) -> float:
        """The excess-loss threshold, -inf when none was asked."""
        return -math.inf if self.loss is None else self.loss


@dataclasses.dataclass(frozen=True)
class SaveAt:
    """What is recorded besides the start and the final state (always kept).

    ``ts``: flow times in [0, t1] (dense output). ``steps``: every accepted solver step
    (flows). ``every``: every k-th iteration (maps; default: about 1,000 records).
    ``params_every`` (maps): the parameters only every m-th iteration, m a multiple of
    ``every`` (t and the loss stay at ``every``): a deep network's loss at every step without
    its P parameters at every step. ``Trajectory.params`` then holds the records 0,
    m / every, 2 m / every, ... of the record axis (``Trajectory.params_t``); the final state
    is ``params_final`` as always. None: the parameters at every record.
    """

    ts: Sequence[float] | None = None
    steps: bool = False
    every: int | None = None
    params_every: int | None = None

    def __post_init__(self):
        if self.ts is not None:
            ts = np.asarray(self.ts, dtype=float).ravel()
            if not np.all(np.isfinite(ts)) or np.any(np.diff(ts) < 0) or np.any(ts < 0):
                raise InputError("SaveAt.ts must be finite, >= 0 and increasing")
            object.__setattr__(self, "ts", tuple(float(t) for t in ts))
        if self.every is not None:
            object.__setattr__(self, "every", check_positive_int("SaveAt.every", self.every))
        if self.params_every is not None:
            m = check_positive_int("SaveAt.params_every", self.params_every)
            if self.every is None:
                raise InputError("SaveAt.params_every needs SaveAt.every (the loss records it "
                                 "is a multiple of)")
            if m % self.every:
                raise InputError(f"SaveAt.params_every must be a multiple of SaveAt.every="
                                 f"{self.every}, got {m}")
            object.__setattr__(self, "params_every", m)

    def times(self, t1: float) -> np.ndarray:
        """The requested flow times as an array, checked against the horizon t1."""
        ts = np.asarray(self.ts if self.ts is not None else (), dtype=float)
        if ts.size and ts[-1] > t1:
            raise InputError(f"SaveAt.ts must lie in [0, t1={t1:g}], got {ts[-1]:g}")
        return ts


@dataclasses.dataclass(frozen=True)
class Track:
    """Observables sampled along every run into ``Trajectory.tracked`` (``dlnflow.observables``:
    sharpness, singular_values, effective_rank, nuclear_norm, recovery_error).

    ``every``: for maps the number of iterations between samples (an integer; samples at
    k = 0, every, 2 every, ... before each run's last iteration, and that last iteration); for
    flows the flow-time spacing (samples at t = 0, every, 2 every, ... before each run's final
    time, and the final time). The loss records (``SaveAt``) are the same with or without
    tracking. ``method`` and ``tol``: how the sharpness is computed (``dlnflow.sharpness``).
    """

    names: tuple[str, ...] = ("sharpness",)
    every: float = 1
    method: str = "auto"
    tol: float = 1e-10

    def __post_init__(self):
        object.__setattr__(self, "names", check_names(self.names))
        every = check_positive("Track.every", self.every)
        object.__setattr__(self, "every", int(every) if every == int(every) else every)
        if self.method not in ("auto", "dense", "lanczos"):
            raise InputError(f"Track.method must be auto, dense or lanczos, got "
                             f"{show(self.method)}")
        object.__setattr__(self, "tol", check_positive("Track.tol", self.tol))

    def describe(self) -> dict:
        """JSON-ready provenance."""
        return {"names": list(self.names), "every": self.every, "method": self.method,
                "tol": self.tol}
