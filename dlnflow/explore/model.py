"""What ``dlnflow explore`` computes, without drawing: the portrait of one setting and the flow
and GD runs started from a clicked point.

A setting is a scalar chain F(w) = 0.5 (w_L ... w_1 - y)^2 with a GD step eta and a number of
GD steps n. Its portrait comes from :mod:`dlnflow.portrait` (computed once per (L, y) and kept);
a click at (w1, w2) starts, from w0 = (w1, w2) (L = 2) or from the point w0 = (w1, w2, w2, ...,
w2) of the invariant surface S of ``portrait_deep`` (L >= 3), the gradient flow up to
t1 = n eta and n GD steps, both through :func:`dlnflow.simulate`. The flow and GD both stay on
S (equal tail weights have equal gradients), so their (w1, w2) coordinates are exact.
Shapes are fixed per setting (one start, ``FLOW_POINTS`` flow records, n + 1 GD records), so
after :func:`warm` a click reuses the compiled solver and map loop.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, cast

import contourpy
import numpy as np

from .. import portrait
from ..errors import InputError, check_finite, check_positive
from ..invariants import imbalance, max_abs_difference
from ..problem import Problem
from ..rates import balanced_lambda_max, stability_threshold
from ..simulate import SaveAt, Solver, Stop, simulate
from ..systems import GradientDescent, GradientFlow

FLOW_SOLVER = Solver("rodas4", rtol=1e-8, atol=1e-10)
"""The flow's solver (dlnflow's default): losses agree with any other solver to about rtol."""
FLOW_POINTS = 400
"""Flow records per run, evenly spaced in [0, t1] (a fixed shape: no recompiles per click)."""
DEFAULT_ETA_RATIO = 0.3
"""Default eta as a fraction of the stability threshold 2 / lambda_max at the balanced minimum."""
LOSS_FLOOR = 1e-14
"""Runs stop when the excess loss reaches LOSS_FLOOR y^2 (the flow at the crossing, located to
solver accuracy; GD at the first iterate below): further down the flow's loss is solver noise."""
MAX_DEPTH = 16
MAX_STEPS = 5000
ARROWS = 21
"""Direction-field arrows per axis."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of the explorer: depth L, target y, GD step eta (None: DEFAULT_ETA_RATIO
    times :attr:`threshold`), GD steps n, portrait grid points per axis."""

    depth: int = 2
    target: float = 1.0
    eta: float | None = None
    steps: int = 60
    grid: int = 81

    def __post_init__(self):
        if isinstance(self.depth, bool) or not isinstance(self.depth, int | np.integer) or \
                not 2 <= self.depth <= MAX_DEPTH:
            raise InputError(f"depth must be an integer from 2 to {MAX_DEPTH}, got "
                             f"{self.depth!r}")
        y = check_finite("target", self.target)
        if not 1e-3 <= abs(y) <= 1e3:
            raise InputError(f"target y must satisfy 1e-3 <= |y| <= 1e3, got {y!r}")
        object.__setattr__(self, "target", y)
        eta = DEFAULT_ETA_RATIO * self.threshold if self.eta is None else self.eta
        object.__setattr__(self, "eta", check_positive("eta", eta))
        if isinstance(self.steps, bool) or not isinstance(self.steps, int | np.integer) or \
                not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"GD steps must be an integer from 1 to {MAX_STEPS}, got "
                             f"{self.steps!r}")

    @property
    def threshold(self) -> float:
        """2 / lambda_max at the balanced minimum: the largest step at which GD is linearly
        stable at some minimum (every minimum is sharper)."""
        return 2.0 / balanced_lambda_max(self.depth, self.target)

    @property
    def t1(self) -> float:
        """The common horizon t1 = n eta."""
        return self.steps * cast(float, self.eta)      # set in __post_init__

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """The square shown: |w1|, |w2| <= 2 max(1, |y|^(1/L))."""
        h = 2.0 * max(1.0, abs(self.target) ** (1.0 / self.depth))
        return (-h, h, -h, h)

    @property
    def problem(self) -> Problem:
        """The scalar chain of the setting: f(w) = 1/2 (w_L ... w_1 - target)^2 at this depth."""
        return _problem(self.depth, self.target)

    def start(self, w1: float, w2: float) -> np.ndarray:
        """Full weights of the clicked point: (w1, w2), or its lift to S (w_j = w2, j >= 3)."""
        w1 = check_finite("w1", w1)
        w2 = check_finite("w2", w2)
        if self.depth == 2:
            return np.array([w1, w2])
        n = self.depth - 2
        return portrait.lift(w1, w2, np.zeros(n), np.ones(n))


@functools.lru_cache(maxsize=32)
def _problem(depth: int, target: float) -> Problem:
    return Problem.scalar_chain(depth, target=target)


def _lines(X: np.ndarray, Y: np.ndarray, Z: np.ndarray, level: float) -> tuple[list, list]:
    """Level set Z = level as polylines (contourpy), lists of x and y arrays."""
    lines: Any = contourpy.contour_generator(X, Y, Z).lines(level)    # (n, 2) arrays
    return [ln[:, 0] for ln in lines], [ln[:, 1] for ln in lines]


@functools.lru_cache(maxsize=16)
def portrait_view(depth: int, target: float, grid: int = 81) -> dict:
    """The portrait of a chain (``dlnflow.portrait``) and the curves drawn from it.

    Keys of :func:`dlnflow.portrait.phase_portrait_data` plus "arrows" (x, y, u, v: unit
    directions of -grad F on an ARROWS x ARROWS grid),
    "minimum_set" and "invariant_curves" ((xs, ys) polylines of w1 w2^(L-1) = y and of the
    levels w1^2 - w2^2 = c).
    """
    setting = Setting(depth=depth, target=target, grid=grid)
    prob, ext = setting.problem, setting.extent
    if depth == 2:
        data = portrait.phase_portrait_data(prob, extent=ext, grid=grid)
    else:
        data = portrait.reduced_portrait_data(prob, extent=ext, grid=grid)
    X, Y = data["X"], data["Y"]
    x = np.linspace(ext[0], ext[1], ARROWS + 2)[1:-1]
    AX, AY = np.meshgrid(x, x)
    W = np.stack([AX, AY], -1) if depth == 2 else portrait.lift(
        AX, AY, np.zeros(depth - 2), np.ones(depth - 2))
    V = portrait.field(prob, W)[..., :2]
    norm = np.hypot(V[..., 0], V[..., 1])
    safe = np.where(norm > 0, norm, 1.0)
    data["arrows"] = {"x": AX.ravel(), "y": AY.ravel(), "u": (V[..., 0] / safe).ravel(),
                      "v": (V[..., 1] / safe).ravel()}
    data["minimum_set"] = _lines(X, Y, data["excess"], 0.0)
    xs, ys = [], []
    for c in data["invariant_levels"]:
        a, b = _lines(X, Y, data["invariant"], float(c))
        xs += a
        ys += b
    data["invariant_curves"] = (xs, ys)
    return data


def invariant_curve(setting: Setting, w1: float, w2: float) -> tuple[list, list]:
    """The curve w1^2 - w2^2 = c through the clicked point, conserved by the flow (on S too:
    D_1 = w2^2 - w1^2 is an invariant), as polylines in the portrait's window."""
    data = portrait_view(setting.depth, setting.target, setting.grid)
    return _lines(data["X"], data["Y"], data["invariant"], w1 * w1 - w2 * w2)


@dataclasses.dataclass(frozen=True)
class Run:
    """Flow and GD from one start. Arrays hold valid records only; ``*_w`` are (N, L) weights,
    ``*_imbalance`` the first imbalance D_1 = w2^2 - w1^2 along the run (on S the others are 0),
    ``*_drift`` the largest |D_l(t) - D_l(0)| (``dlnflow.invariants.drift``), ``limit_threshold``
    2 / lambda_max at the flow's end point when it is a minimum (excess loss < 1e-8 y^2), else
    None.
    """

    start: np.ndarray
    eta: float
    flow_t: np.ndarray
    flow_w: np.ndarray
    flow_loss: np.ndarray
    flow_imbalance: np.ndarray
    flow_status: str
    flow_drift: float
    gd_t: np.ndarray
    gd_w: np.ndarray
    gd_loss: np.ndarray
    gd_imbalance: np.ndarray
    gd_status: str
    gd_drift: float
    limit_threshold: float | None


def _records(traj, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(t, weights (N, L), loss, D_1) at the valid records of the one run of ``traj``, and its
    drift max_(l, t) |D_l(t) - D_l(0)| (as ``dlnflow.invariants.drift``). The imbalances are
    taken on the records padded to ``length`` (the last one repeated), a shape fixed per
    setting, so that their array operations compile once rather than once per click."""
    idx = np.flatnonzero(np.asarray(traj.valid[0]))
    take = np.concatenate([idx, np.full(length - idx.size, idx[-1])])
    D = imbalance(tuple(np.asarray(W[0])[take] for W in traj.params), traj.problem)
    moved = float(np.max(max_abs_difference(D, tuple(d[:1] for d in D))))
    return (np.asarray(traj.t[0])[idx], np.asarray(traj.scalar_weights()[0])[idx],
            np.asarray(traj.loss[0])[idx], np.asarray(D[0])[: idx.size, 0, 0], moved)


def run_from(setting: Setting, w1: float, w2: float) -> Run:
    """Gradient flow on [0, n eta] and n GD steps from the clicked point (w1, w2), each
    stopped early at the excess loss LOSS_FLOOR y^2."""
    prob = setting.problem
    w0 = setting.start(w1, w2)
    p0 = prob.scalar_params(w0[None])
    floor = LOSS_FLOOR * setting.target ** 2
    flow = simulate(GradientFlow(prob), p0, t1=setting.t1, solver=FLOW_SOLVER,
                    stop=Stop(loss=floor), save=SaveAt(ts=np.linspace(0.0, setting.t1,
                                                                      FLOW_POINTS).tolist()))
    eta = cast(float, setting.eta)
    gd = simulate(GradientDescent(prob, eta), p0,
                  stop=Stop(loss=floor, max_steps=setting.steps), save=SaveAt(every=1))
    ft, fw, fl, fd, f_drift = _records(flow, FLOW_POINTS + 2)    # the ts, the start, the end
    gt, gw, gl, gdd, g_drift = _records(gd, setting.steps + 1)
    limit = None
    if flow.loss_final[0] - float(prob.optimal_loss or 0.0) < 1e-8 * setting.target ** 2:
        limit = stability_threshold(prob, np.asarray(prob.scalar_weights(flow.params_final))[0])
        limit = limit if math.isfinite(limit) else None
    return Run(start=w0, eta=eta, flow_t=ft, flow_w=fw, flow_loss=fl,
               flow_imbalance=fd, flow_status=str(flow.status[0]),
               flow_drift=f_drift, gd_t=gt, gd_w=gw, gd_loss=gl,
               gd_imbalance=gdd, gd_status=str(gd.status[0]), gd_drift=g_drift,
               limit_threshold=limit)


def warm(setting: Setting) -> None:
    """Compute the portrait of the setting and compile the flow and GD for its shapes (one run
    from a fixed point), so that clicks reuse them."""
    portrait_view(setting.depth, setting.target, setting.grid)
    h = setting.extent[1]
    run_from(setting, 0.6 * h, 0.3 * h)
