"""Observables: numbers evaluated at states sampled along a run (``simulate(..., track=Track(
names, every))``); one registry, one entry per name. With W the end-to-end matrix and
sigma_1 >= ... >= sigma_r its singular values (r = min(d_L, d_0)):

* ``sharpness``: lambda_max of the Hessian of F(W_1, ..., W_L) in the parameters
  (``dlnflow.sharpness``); along a run each sample's Lanczos starts from the previous sample's
  top eigenvector.
* ``singular_values``: (sigma_1, ..., sigma_r), all of them, descending.
* ``effective_rank``: Roy & Vetterli's (2007) exp(H(p)), p = sigma / ||sigma||_1, H = -sum p ln p
  (0 ln 0 = 0): 1 for rank one, r for equal singular values; NaN at W = 0 (undefined).
* ``nuclear_norm``: ||W||_* = sum_i sigma_i.
* ``recovery_error``: ||W - W*||_F / ||W*||_F with W* the loss's ``ground_truth`` (a target; the
  matrix that completion or sensing measured, not the least-norm fit of its observations), else
  ``problem.optimal_product`` (the least-norm regression minimiser); InputError up front where no
  W* is known (or W* = 0).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import InputError, show
from .problem import Params, Problem
from .sharpness import sharpness

__all__ = ["OBSERVABLES", "Observable", "check_names", "evaluate"]


def _end_to_end(problem: Problem, states: Params) -> np.ndarray:
    return np.asarray(problem.end_to_end(states))


def _singular_values(problem: Problem, states: Params, **_: Any) -> np.ndarray:
    return np.linalg.svd(_end_to_end(problem, states), compute_uv=False)


def _effective_rank(problem: Problem, states: Params, **_: Any) -> np.ndarray:
    s = _singular_values(problem, states)
    total = s.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / total
        h = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)
    return np.where(total[..., 0] > 0, np.exp(h), np.nan)


def _nuclear_norm(problem: Problem, states: Params, **_: Any) -> np.ndarray:
    return _singular_values(problem, states).sum(axis=-1)


def _optimal_product(problem: Problem) -> np.ndarray:
    W = problem.objective.ground_truth
    W = problem.optimal_product if W is None else W
    if W is None:
        raise InputError(f"recovery_error needs a known minimiser W* (problem.optimal_product); "
                         f"problem {problem.name or type(problem.objective).__name__!r} has none")
    W = np.asarray(W, dtype=float)
    if not np.any(W):
        raise InputError("recovery_error is relative to ||W*||_F, and W* = 0 here")
    return W


def _recovery_error(problem: Problem, states: Params, **_: Any) -> np.ndarray:
    W_star = _optimal_product(problem)
    diff = _end_to_end(problem, states) - W_star
    return np.linalg.norm(diff, axis=(-2, -1)) / np.linalg.norm(W_star)


def _sharpness(problem: Problem, states: Params, *, method: str = "auto", tol: float = 1e-10,
               **_: Any) -> np.ndarray:
    return np.asarray(sharpness(problem, states, method=method, tol=tol))


def _defined(problem: Problem) -> None:
    """Default ``check``: the observable is defined for every problem (raises nothing)."""


@dataclasses.dataclass(frozen=True)
class Observable:
    """``evaluate(problem, states, **options)``: values (M, ...) at M states of one run (every
    W_l with a leading axis M, in run order); ``check(problem)`` raises InputError when the
    observable is undefined for the problem."""

    name: str
    evaluate: Callable[..., np.ndarray]
    check: Callable[[Problem], Any] = _defined


OBSERVABLES: dict[str, Observable] = {o.name: o for o in (
    Observable("sharpness", _sharpness),
    Observable("singular_values", _singular_values),
    Observable("effective_rank", _effective_rank),
    Observable("nuclear_norm", _nuclear_norm),
    Observable("recovery_error", _recovery_error, _optimal_product),
)}


def check_names(names: str | Sequence[str]) -> tuple[str, ...]:
    """Observable names as a tuple of registered, distinct names (InputError otherwise)."""
    names = (names,) if isinstance(names, str) else names
    try:
        names = tuple(names)
    except TypeError:
        raise InputError(f"observable names must be a name or a sequence of names, got "
                         f"{show(names)}") from None
    if not names:
        raise InputError("give at least one observable name")
    for n in names:
        if n not in OBSERVABLES:
            raise InputError(f"unknown observable {show(n)}; choose from "
                             f"{', '.join(OBSERVABLES)}")
    if len(set(names)) != len(names):
        raise InputError(f"observable names must be distinct, got {list(names)}")
    return names


def evaluate(name: str, problem: Problem, states: Params, **options: Any) -> np.ndarray:
    """The observable ``name`` at the states of one run (leading axis M): values (M, ...)."""
    return OBSERVABLES[check_names(name)[0]].evaluate(problem, states, **options)
