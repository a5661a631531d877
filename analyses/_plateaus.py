"""Plateaus of a loss curve and the saddle levels they sit at (shared by saddle_to_saddle and
sensing_saddle_to_saddle): F_k = 0.5 sum_{i>k} s_i^2 is the loss at the critical set S = {1..k} of
0.5 ||W - diag(s)||^2; a plateau is a maximal run of saved states whose relative loss rate
(||grad F||^2 / F for a flow) is below a tolerance.
"""

from __future__ import annotations

import numpy as np


def plateau_levels(s: np.ndarray) -> np.ndarray:
    """F_k = 0.5 sum_{i>k} s_i^2, k = 0 .. n-1 (loss at the saddle S = {1..k})."""
    sq = np.asarray(s, float) ** 2
    return 0.5 * np.array([sq[k:].sum() for k in range(len(sq))])


def detect_plateaus(t: np.ndarray, loss: np.ndarray, rate: np.ndarray, rate_tol: float,
                    min_samples: int) -> list[dict]:
    """Maximal runs with rate = ||grad F||^2 / F < rate_tol, >= min_samples saved states long:
    start, end, length, and the loss at the least rate inside the run."""
    slow = np.asarray(rate) < rate_tol
    out = []
    i, n = 0, len(t)
    while i < n:
        if not slow[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and slow[j + 1]:
            j += 1
        if j - i + 1 >= min_samples:
            m = i + int(np.argmin(rate[i:j + 1]))
            out.append({"start": float(t[i]), "end": float(t[j]), "length": float(t[j] - t[i]),
                        "loss": float(loss[m]), "t_center": float(t[m])})
        i = j + 1
    return out


def run_plateaus(problem, traj, b: int, rate_tol: float, min_samples: int) -> tuple:
    """Run ``b`` of a flow Trajectory: its valid times, losses and states, the relative loss
    rate ||grad F||^2 / F at each saved state, and the plateaus found in it."""
    import jax

    valid = np.asarray(traj.valid[b])
    t = np.asarray(traj.t[b])[valid]
    loss = np.asarray(traj.loss[b])[valid]
    states = tuple(P[b][valid] for P in traj.params)
    grad_sq = jax.vmap(lambda p: sum(jax.numpy.sum(g * g) for g in problem.grad(p)))
    rate = np.asarray(grad_sq(states)) / np.maximum(loss, 1e-300)
    return t, loss, states, rate, detect_plateaus(t, loss, rate, rate_tol, min_samples)
