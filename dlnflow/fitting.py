"""Growth laws of iteration counts against depth, with censored runs handled honestly.

A run that never reached the loss threshold (step cap, divergence) is *censored*: its count is
+inf, a lower bound. Quantiles are order statistics (``inverted_cdf``), so a median is finite
exactly when fewer than half the runs of a depth are censored; depths whose median is censored
are left out of a fit and listed in ``excluded``.

Laws, fitted to per-depth medians m(L) by least squares in log space:

* exponential  log m = a + r L        (r: rate per layer, m grows like e^(r L))
* polynomial   log m = a + k log L    (k: degree, m grows like L^k)
* flat         |k| small              (depth-independent)

Confidence intervals: a bootstrap over runs (resample the runs of every depth, recompute the
medians, refit) and, beside it, the t interval of the least-squares slope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.stats

from .errors import InputError

CONVERGED = "converged"


def censored_counts(steps: Any, status: Sequence[str] | np.ndarray) -> np.ndarray:
    """Iterations to the threshold as floats, +inf for runs whose status is not ``converged``."""
    steps = np.asarray(steps, dtype=float)
    ok = np.asarray([s == CONVERGED for s in status])
    if steps.shape != ok.shape:
        raise InputError(f"steps {steps.shape} and status ({len(ok)}) must match")
    return np.where(ok, steps, np.inf)


def status_counts(status: Sequence[str]) -> dict[str, int]:
    """Number of runs per status, e.g. {"converged": 60, "max_steps": 4}."""
    out: dict[str, int] = {}
    for s in status:
        out[str(s)] = out.get(str(s), 0) + 1
    return out


def quantiles(values: Any, qs: Sequence[float] = (0.25, 0.5, 0.75)) -> np.ndarray:
    """Order-statistic quantiles of counts that may hold +inf (censored runs)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise InputError("quantiles of an empty set of runs")
    return np.quantile(v, qs, method="inverted_cdf")


def _ols(x: np.ndarray, y: np.ndarray, level: float) -> dict[str, Any]:
    res = scipy.stats.linregress(x, y)
    dof = len(x) - 2
    if dof > 0 and np.isfinite(res.stderr):
        half = scipy.stats.t.ppf(0.5 + level / 2, dof) * res.stderr
    else:
        half = np.inf
    return {"slope": float(res.slope), "intercept": float(res.intercept),
            "r2": float(res.rvalue ** 2) if len(x) > 2 else 1.0,
            "ci_t": [float(res.slope - half), float(res.slope + half)],
            "sse": float(np.sum((y - res.intercept - res.slope * x) ** 2))}


def _prepare(depths: Sequence[float], runs: Sequence[Any]) -> tuple[np.ndarray, list]:
    d = np.asarray(depths, dtype=float)
    if d.ndim != 1 or len(runs) != d.size:
        raise InputError(f"need one set of runs per depth, got {len(runs)} for {d.size} depths")
    return d, [np.asarray(r, dtype=float).ravel() for r in runs]


def _bootstrap_slopes(x: np.ndarray, runs: list[np.ndarray], n_boot: int,
                      seed: int) -> np.ndarray:
    """Slopes of log(median) on x over ``n_boot`` resamplings of every run (with replacement).

    A censored bootstrap median is at least the largest finite count: a lower bound. Runs of
    one size draw all resamplings at once: the same draws as one ``rng.choice`` per resampling
    and run, in that order."""
    rng = np.random.default_rng(seed)
    sizes = {r.size for r in runs}
    if len(sizes) == 1:
        m = sizes.pop()
        R = np.stack(runs)                                          # (runs, m)
        idx = rng.integers(0, m, size=(n_boot, len(runs), m))
        meds = np.quantile(np.take_along_axis(R[None], idx, 2), 0.5, axis=2,
                           method="inverted_cdf")                  # (n_boot, runs)
    else:
        meds = np.array([[np.quantile(rng.choice(r, size=r.size), 0.5, method="inverted_cdf")
                          for r in runs] for _ in range(n_boot)])
    top = np.array([r[np.isfinite(r)].max() if np.isfinite(r).any() else np.inf for r in runs])
    meds = np.maximum(np.where(np.isfinite(meds), meds, top), 1.0)
    return np.array([np.polyfit(x, np.log(m), 1)[0] for m in meds])


def fit_growth(depths: Sequence[float], runs: Sequence[Any], law: str = "exponential",
               level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Fit log(median count) against L (``exponential``) or log L (``polynomial``).

    ``runs[i]`` holds the counts of every run at depth ``depths[i]`` (+inf = censored). Returns
    the slope (rate per layer, or degree), its bootstrap interval ``ci`` and t interval ``ci_t``,
    the medians, the depths used and the ones excluded (median censored).
    """
    if law not in ("exponential", "polynomial"):
        raise InputError(f"law must be 'exponential' or 'polynomial', got {law!r}")
    d, runs = _prepare(depths, runs)
    med = np.array([quantiles(r, (0.5,))[0] for r in runs])
    use = np.isfinite(med) & (med > 0)
    out: dict[str, Any] = {"law": law, "medians": med.tolist(), "depths": d.tolist(),
                           "used": d[use].tolist(), "excluded": d[~use].tolist(),
                           "level": level}
    if use.sum() < 2:
        out.update(slope=float("nan"), ci=[float("nan")] * 2, ci_t=[float("nan")] * 2,
                   intercept=float("nan"), r2=float("nan"), sse=float("nan"))
        return out
    x = d[use] if law == "exponential" else np.log(d[use])
    fit = _ols(x, np.log(med[use]), level)
    boot = _bootstrap_slopes(x, [r for r, u in zip(runs, use, strict=True) if u], n_boot, seed)
    lo, hi = np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2])
    out.update(slope=fit["slope"], intercept=fit["intercept"], r2=fit["r2"], sse=fit["sse"],
               ci_t=fit["ci_t"], ci=[float(lo), float(hi)])
    return out


def classify_growth(depths: Sequence[float], runs: Sequence[Any], flat_degree: float = 0.25,
                    level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Growth class of median counts against depth: ``flat``, ``polynomial`` or ``exponential``.

    flat: the fitted degree k (log m on log L) is below ``flat_degree`` in size or its interval
    holds 0. Otherwise the law with the smaller residual in log space wins (exponential e^(rL)
    against polynomial L^k); both fits are returned.
    """
    exp = fit_growth(depths, runs, "exponential", level, n_boot, seed)
    poly = fit_growth(depths, runs, "polynomial", level, n_boot, seed)
    out: dict[str, Any] = {"exponential": exp, "polynomial": poly,
                           "excluded": exp["excluded"]}
    k, (klo, khi) = poly["slope"], poly["ci"]
    if not np.isfinite(k):
        out["law"] = "undetermined"
    elif abs(k) < flat_degree or (klo <= 0.0 <= khi):
        out["law"] = "flat"
    elif exp["sse"] < poly["sse"]:
        out["law"] = "exponential"
    else:
        out["law"] = "polynomial"
    out["summary"] = describe_law(out)
    return out


def describe_law(fit: dict[str, Any]) -> str:
    """One line such as 'exp(0.42 L), 95% CI [0.35, 0.50]' or 'L^2.1 [1.9, 2.3]' or 'flat'."""
    law = fit["law"]
    if law == "flat":
        k = fit["polynomial"]["slope"]
        return f"flat (L^{k:.2f})"
    if law == "exponential":
        e = fit["exponential"]
        return f"exp({e['slope']:.2f} L) [{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]"
    if law == "polynomial":
        p = fit["polynomial"]
        return f"L^{p['slope']:.2f} [{p['ci'][0]:.2f}, {p['ci'][1]:.2f}]"
    return "undetermined (too few uncensored depths)"


def loglog_slope(x: Any, y: Any, level: float = 0.95) -> dict[str, Any]:
    """Least-squares slope of ln y against ln x (the order k of a power law y ~ x^k) with its t
    interval ``ci_t``, intercept, r2 and sse; needs two or more positive (x, y) pairs."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise InputError("loglog_slope needs two or more positive (x, y) pairs")
    return _ols(np.log(x), np.log(y), level)
