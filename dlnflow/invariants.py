"""Layer imbalances D_l = W_(l+1)^T W_(l+1) - W_l W_l^T (l = 1..L-1) and their drift.

Gradient flow conserves every D_l exactly. One gradient-descent step W_l -> W_l - eta G_l changes
D_l by exactly eta^2 (G_(l+1)^T G_(l+1) - G_l G_l^T) (the cross terms cancel because
W_(l+1)^T G_(l+1) = G_l W_l^T). In the residual form the identities hold for V_l = I + W_l.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .errors import check_trajectory
from .problem import Params, Problem

if TYPE_CHECKING:
    from .trajectory import Trajectory


def _T(M: jax.Array) -> jax.Array:
    return jnp.swapaxes(M, -1, -2)


def _layers(params: Params, problem: Problem | None) -> Params:
    """The factors whose imbalances are conserved (W_l, or I + W_l in the residual form)."""
    return tuple(params) if problem is None else problem.architecture.factors(params)


def _imbalance(Ws: Params, xp: Any) -> tuple[Any, ...]:
    """D_l of the factors ``Ws`` with the array module ``xp`` (jax.numpy or numpy)."""
    return tuple(xp.swapaxes(Ws[l + 1], -1, -2) @ Ws[l + 1] - Ws[l] @ xp.swapaxes(Ws[l], -1, -2)
                 for l in range(len(Ws) - 1))


def _max_abs_difference(a: tuple[Any, ...], b: tuple[Any, ...], xp: Any) -> Any:
    if not a:
        return xp.zeros(())
    return xp.max(xp.stack([xp.max(xp.abs(x - y), axis=(-2, -1)) for x, y in
                            zip(a, b, strict=True)]), axis=0)


def imbalance(params: Params, problem: Problem | None = None) -> tuple[jax.Array, ...]:
    """D_l = W_(l+1)^T W_(l+1) - W_l W_l^T for l = 1..L-1 (broadcasts over batch/time axes)."""
    return _imbalance(_layers(params, problem), jnp)


def gd_imbalance_change(grads: Params, eta: float) -> tuple[jax.Array, ...]:
    """Exact change of D_l in one GD step: eta^2 (G_(l+1)^T G_(l+1) - G_l G_l^T)."""
    return tuple(eta**2 * (_T(grads[l + 1]) @ grads[l + 1] - grads[l] @ _T(grads[l]))
                 for l in range(len(grads) - 1))


def max_abs_difference(a: tuple[jax.Array, ...], b: tuple[jax.Array, ...]) -> jax.Array:
    """max over layers and entries of |a_l - b_l|, keeping leading batch axes."""
    return _max_abs_difference(a, b, jnp)


def drift(trajectory: Trajectory) -> np.ndarray:
    """Largest |D_l(t) - D_l(0)| entry over layers and recorded times, one value per run.

    Uses every recorded state plus the final state of each run (padding ignored). Factors of
    shape (1, 1) (scalar chains) are done in NumPy: every entry of D_l is then one product and
    one difference, rounded alike by NumPy and XLA, so the values are XLA's to the bit without
    its per-operation compilations (~0.15 s of a CLI call). Wider factors stay on XLA, whose
    small matrix products round differently from NumPy's.
    """
    prob = check_trajectory("trajectory", trajectory).problem
    Wt = _layers(trajectory.params, prob)
    Wf = _layers(trajectory.params_final, prob)
    return _drift(Wt, Wf, trajectory.valid,
                  np if all(W.shape[-2:] == (1, 1) for W in Wt) else jnp)


def _drift(Wt: tuple[Any, ...], Wf: tuple[Any, ...], valid: np.ndarray, xp: Any) -> np.ndarray:
    """:func:`drift` of the recorded factors ``Wt`` (B, N, ...) and final ones ``Wf`` with the
    array module ``xp``."""
    if xp is np:
        Wt, Wf = tuple(np.asarray(W) for W in Wt), tuple(np.asarray(W) for W in Wf)
    D0 = _imbalance(tuple(W[:, 0] for W in Wt), xp)
    Dt = _imbalance(Wt, xp)                                                   # (B, N, d, d)
    diff = _max_abs_difference(Dt, tuple(d[:, None] for d in D0), xp)         # (B, N)
    moved = np.where(valid, np.asarray(diff), 0.0)
    final = np.asarray(_max_abs_difference(_imbalance(Wf, xp), D0, xp))
    return np.maximum(moved.max(axis=1, initial=0.0), final)


def relative_drift(trajectory: Trajectory) -> np.ndarray:
    """:func:`drift` divided by max(1, largest |D_l(0)| entry, largest |W_l W_l^T| entry)."""
    prob = check_trajectory("trajectory", trajectory).problem
    p0 = tuple(W[:, 0] for W in trajectory.params)
    D0 = imbalance(p0, prob)
    scale = np.ones(trajectory.batch_size)
    for D in D0:
        scale = np.maximum(scale, np.asarray(jnp.max(jnp.abs(D), axis=(-2, -1))))
    for W in _layers(trajectory.params_final, prob):
        scale = np.maximum(scale, np.asarray(jnp.max(jnp.abs(W @ _T(W)), axis=(-2, -1))))
    return drift(trajectory) / scale
