"""Exact enumeration of critical sets: scalar chains and square-loss matrix problems.

Scalar chain F = 0.5 (w_L ... w_1 - y)^2, y != 0: the minimum manifold p = y (one set per
branch, i.e. sign pattern with prod sign = sign y, dimension L - 1) and the subspaces
{w_i = 0, i in Z}, |Z| >= 2 (loss y^2 / 2, dimension L - |Z|; |Z| = 2 strict saddle with
Hessian eigenvalues +-|y prod_{j not in Z} w_j|, |Z| >= 3 non-strict with escape order |Z|).

Square loss f = 0.5 tr(W C W^T) - tr(W B^T) + c0 (target: C = I, B = Phi, c0 = ||Phi||^2 / 2;
regression: C = X X^T / n, B = Y X^T / n, c0 = ||Y||^2 / (2n)), W* = B C^-1,
Sigma' = W* C W*^T = B C^-1 B^T (= Sigma / n, Sigma = Y X^T (X X^T)^-1 X Y^T) with eigenpairs
(mu_i, u_i), mu_1 > mu_2 > ... > 0. Critical products W_S = P_{U_S} W*, |S| <= r_max (least
width), loss F_S = c0 - 0.5 sum_{i in S} mu_i (= 0.5/n (||Y||^2 - sum_{i in S} lambda_i)):
with P = P_{U_S}, f(P W*) = c0 - tr(P W* B^T) + 0.5 tr(P Sigma' P) = c0 - 0.5 tr(P Sigma').
Representative: balanced factors of W_S (exact rank |S|, :func:`balanced_rank_factors`).
Achour et al. (2024): global
minimum iff S = {1..min(r_max, k)} (k = rank Sigma'); S not of the form {1..r}: strict saddle;
S = {1..r}, r < min(r_max, k): strict for L = 2, non-strict for L >= 3 at the balanced
representative (every layer has rank r, so raising the rank moves all L layers: order L).
"""

from __future__ import annotations

import itertools
from typing import cast

import jax.numpy as jnp
import numpy as np

from ..architecture import Plain
from ..errors import InputError, check_problem
from ..losses import QuadraticLoss, SquareTarget
from ..problem import Problem
from .chain import chain_sets, label_of
from .classify import apply_classification, classify_point
from .sets import CriticalSet, orbit_tangent


def scalar_chain_sets(problem: Problem) -> list[CriticalSet]:
    """Critical sets of the square-loss scalar chain (see the module docstring)."""
    y = float(cast(SquareTarget, problem.objective).target[0, 0])
    return chain_sets(problem.depth, y, problem.scalar_params)


def matrix_sets(problem: Problem, rtol: float = 1e-9) -> list[CriticalSet]:
    """Critical sets of a square-loss matrix problem, one per index set S (module docstring)."""
    if not (isinstance(problem.objective, QuadraticLoss)
            and isinstance(problem.architecture, Plain)):
        raise InputError("exact enumeration needs a plain network and a square loss (target or "
                         f"regression); got {type(problem.objective).__name__} on "
                         f"{type(problem.architecture).__name__}")
    C, B, c0 = problem.objective.quadratic_form()
    if np.linalg.cond(C) > 1e12:
        raise InputError("exact enumeration needs X X^T invertible (X has dependent rows)")
    Wstar = np.linalg.solve(C, B.T).T
    Sig = B @ np.linalg.solve(C, B.T)
    mu, U = np.linalg.eigh(0.5 * (Sig + Sig.T))
    order = np.argsort(mu)[::-1]
    mu, U = mu[order], U[:, order]
    top = max(mu[0], 0.0) if mu.size else 0.0
    k = int(np.sum(mu > rtol * max(top, 1e-300)))
    mu_pos = mu[:k]
    if k > 1 and np.min(-np.diff(mu_pos)) <= 1e-8 * top:
        raise InputError(f"exact enumeration needs distinct eigenvalues of Sigma, got {mu_pos}")
    r_max = problem.rank_bound
    L = problem.depth
    out = []
    for size in range(0, min(r_max, k) + 1):
        for S in itertools.combinations(range(k), size):
            US = U[:, list(S)]
            WS = US @ US.T @ Wstar
            params = balanced_rank_factors(WS, problem.widths, size)
            is_top = S == tuple(range(size))
            if is_top and size == min(r_max, k):
                kind = "global_min"
            elif not is_top or L == 2:
                kind = "strict_saddle"
            else:
                kind = "non_strict_saddle"
            dim = orbit_tangent(problem, params).shape[1]
            out.append(CriticalSet(
                label=label_of("S=", S), point=params, loss=c0 - 0.5 * float(np.sum(mu[list(S)])),
                dimension=int(dim), predicted_kind=kind,
                invariant={"product": WS, "S": [int(i) for i in S]}))
    return out


def balanced_rank_factors(W: np.ndarray, widths: tuple[int, ...], r: int) -> tuple:
    """Balanced factors of the rank-r matrix W: W_L = U_r s^(1/L), middle s^(1/L),
    W_1 = s^(1/L) V_r^T, zero-padded (singular values beyond r set exactly to 0)."""
    L = len(widths) - 1
    U, s, Vt = np.linalg.svd(W)
    root = s[:r] ** (1.0 / L)
    out = []
    for l in range(1, L + 1):
        M = np.zeros((widths[l], widths[l - 1]))
        if L == 1:
            M = U[:, :r] @ np.diag(s[:r]) @ Vt[:r]
        elif l == 1:
            M[:r, :] = root[:, None] * Vt[:r]
        elif l == L:
            M[:, :r] = U[:, :r] * root[None, :]
        else:
            M[np.arange(r), np.arange(r)] = root
        out.append(jnp.asarray(M))
    return tuple(out)


def enumerate_critical_sets(problem: Problem, classify: bool = True) -> list[CriticalSet]:
    """All critical sets in closed form (scalar chain or square-loss matrix problem), each
    classified numerically at its representative when ``classify`` (else kind = predicted)."""
    check_problem("problem", problem)
    if problem.is_scalar_chain and isinstance(problem.objective, SquareTarget):
        sets = scalar_chain_sets(problem)
    else:
        sets = matrix_sets(problem)
    for cs in sets:
        if classify:
            apply_classification(cs, classify_point(problem, cs.point))
        else:
            cs.kind = cs.predicted_kind
    return sets


def critical_sets(problem: Problem) -> list[CriticalSet]:
    """Classified critical sets of ``problem``, sorted by loss (enumeration where it exists)."""
    return sorted(enumerate_critical_sets(problem), key=lambda c: (c.loss, c.label))
