"""Matrix completion: f(W) = 1/2 sum_{(i,j) in Omega} (W_ij - W*_ij)^2 (Arora et al. 2019).

Omega is a 0/1 mask of the shape of W*, or a list of distinct index pairs (i, j). Entries of W*
off Omega do not enter f; they may be NaN (unknown), else they are the ground truth that a
recovery error ||W - W*||_F / ||W*||_F compares with. F* = 0 whenever W* is reachable (rank W*
<= least width on a plain network); on a plain network without a binding rank bound F* = 0
too. A linear-measurement loss (``linear``), not a ``QuadraticLoss``: the closed-form
enumeration of critical sets does not apply, the numerical critical-point tools do.
"""

from __future__ import annotations

from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, float_array
from .linear import LinearMeasurementLoss


def _mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """A 0/1 float mask of ``shape`` from a mask of that shape or a (k, 2) list of pairs."""
    arr = float_array("mask", mask)
    if arr.shape == shape:
        if not np.all((arr == 0) | (arr == 1)):
            raise InputError("mask must hold only 0 and 1 (or be a list of index pairs (i, j))")
        return arr
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise InputError(f"mask must be a 0/1 array of the target's shape {shape} or a "
                         f"non-empty list of index pairs (i, j), got an array of shape "
                         f"{arr.shape}")
    if not np.all(arr == np.round(arr)):
        raise InputError("mask: index pairs must be integers")
    idx = arr.astype(np.int64)
    bad = (idx[:, 0] < 0) | (idx[:, 0] >= shape[0]) | (idx[:, 1] < 0) | (idx[:, 1] >= shape[1])
    if np.any(bad):
        i, j = idx[np.flatnonzero(bad)[0]]
        raise InputError(f"mask: index pair ({i}, {j}) lies outside the target's shape {shape}")
    out = np.zeros(shape)
    out[idx[:, 0], idx[:, 1]] = 1.0
    if out.sum() != len(idx):
        raise InputError("mask: index pairs must be distinct (an entry is observed once)")
    return out


class MatrixCompletion(LinearMeasurementLoss):
    """f(W) = 1/2 sum_{(i,j) in Omega} (W_ij - W*_ij)^2; mask: 0/1 array or index pairs."""

    target: jax.Array           # W* with the unobserved entries set to 0
    mask: jax.Array             # 0/1, shape of W
    rows: jax.Array             # observed (i, j), row-major order
    cols: jax.Array
    truth: jax.Array | None     # the full W* when every entry is known

    def __init__(self, target: Any, mask: Any):
        T = float_array("target", target)
        if T.ndim != 2:
            raise InputError(f"target must be a matrix, got an array of shape {T.shape}")
        M = _mask(mask, T.shape)
        if not M.any():
            raise InputError("mask observes no entry: f would be 0 everywhere")
        if not np.all(np.isfinite(T[M == 1])):
            raise InputError("target must be finite on the observed entries")
        known = bool(np.all(np.isfinite(T)))
        self.truth = jnp.asarray(T) if known else None
        self.target = jnp.asarray(np.where(M == 1, T, 0.0))
        self.mask = jnp.asarray(M)
        rows, cols = np.nonzero(M)
        self.rows, self.cols = jnp.asarray(rows), jnp.asarray(cols)

    @property
    def shape(self) -> tuple[int, int]:
        return cast(tuple[int, int], tuple(self.mask.shape))

    @property
    def n_observed(self) -> int:
        """|Omega|, the number of observed entries."""
        return int(self.rows.shape[0])

    @property
    def observed_indices(self) -> np.ndarray:
        """(|Omega|, 2) indices (i, j) of the observed entries, row-major order."""
        return np.stack([np.asarray(self.rows), np.asarray(self.cols)], axis=1)

    def f(self, W: jax.Array) -> jax.Array:
        return 0.5 * jnp.sum(self.mask * (W - self.target) ** 2)

    def measure(self, W: jax.Array) -> jax.Array:
        return W[..., self.rows, self.cols]

    @property
    def observations(self) -> jax.Array:
        return self.target[self.rows, self.cols]

    @property
    def normaliser(self) -> float:
        return 1.0

    @property
    def ground_truth(self) -> np.ndarray | None:
        return None if self.truth is None else np.asarray(self.truth)

    def operator_matrix(self) -> np.ndarray:
        return np.eye(self.mask.size)[np.flatnonzero(np.asarray(self.mask).ravel())]

    def subspace_least_squares(self, p_out: np.ndarray, p_in: np.ndarray
                               ) -> tuple[float, np.ndarray] | None:
        """Identity projectors (plain networks): min 0 at the observed entries, 0 elsewhere."""
        d_out, d_in = self.shape
        if np.array_equal(p_out, np.eye(d_out)) and np.array_equal(p_in, np.eye(d_in)):
            return 0.0, np.asarray(self.target)
        return super().subspace_least_squares(p_out, p_in)

    def describe(self) -> dict[str, Any]:
        return {"loss": "matrix_completion", "shape": list(self.shape),
                "observed": self.n_observed}
