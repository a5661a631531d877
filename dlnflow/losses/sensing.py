"""Matrix sensing: y_i = <A_i, W*>, f(W) = 1/(2m) sum_i (<A_i, W> - y_i)^2, i = 1..m.

``MatrixSensing.gaussian(target, m, seed)`` draws A_i with i.i.d. N(0, 1) entries (numpy's
default_rng(seed)), so E f(W) = 1/2 ||W - W*||_F^2 (restricted isometry scaling). F*: 0 when
W* is given and reachable, else least squares on the reachable subspace where the rank bound
does not bind (``linear``). Not a ``QuadraticLoss``: the closed-form critical sets do not apply.
"""

from __future__ import annotations

from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_finite_array, check_positive_int, check_seed, float_array
from .base import as_matrix
from .linear import LinearMeasurementLoss


class MatrixSensing(LinearMeasurementLoss):
    """f(W) = 1/(2m) sum_i (<A_i, W> - y_i)^2 with A of shape (m, d_out, d_in), y of shape (m,);
    ``target``: the W* that gave y, when known (recovery error, F* = 0 when reachable)."""

    A: jax.Array
    y: jax.Array
    truth: jax.Array | None

    def __init__(self, A: Any, y: Any, target: Any | None = None):
        Am, ym = float_array("A", A), float_array("y", y)
        if Am.ndim != 3 or 0 in Am.shape:
            raise InputError(f"A must have shape (m, d_out, d_in) (one matrix A_i per "
                             f"measurement), got {Am.shape}")
        if ym.shape != (Am.shape[0],):
            raise InputError(f"y must have shape ({Am.shape[0]},) (one value per A_i), got "
                             f"{ym.shape}")
        check_finite_array("A", Am)
        check_finite_array("y", ym)
        self.A, self.y = jnp.asarray(Am), jnp.asarray(ym)
        if target is None:
            self.truth = None
        else:
            T = as_matrix("target", target)
            if T.shape != Am.shape[1:]:
                raise InputError(f"target must have the shape of the A_i {Am.shape[1:]}, got "
                                 f"{T.shape}")
            self.truth = jnp.asarray(T)

    @classmethod
    def gaussian(cls, target: Any, m: int, seed: int = 0) -> MatrixSensing:
        """m measurements of ``target`` with A_i of i.i.d. N(0, 1) entries, y_i = <A_i, W*>."""
        T = as_matrix("target", target)
        m = check_positive_int("m", m)
        rng = np.random.default_rng(check_seed("seed", seed))
        A = rng.standard_normal((m, *T.shape))
        return cls(A, np.tensordot(A, T, axes=2), target=T)

    @property
    def shape(self) -> tuple[int, int]:
        return cast(tuple[int, int], tuple(self.A.shape[1:]))

    @property
    def n_measurements(self) -> int:
        """Number of measurements m (the 1/(2m) of the loss)."""
        return int(self.A.shape[0])

    def measure(self, W: jax.Array) -> jax.Array:
        return jnp.tensordot(self.A, W, axes=2)

    @property
    def observations(self) -> jax.Array:
        return self.y

    @property
    def normaliser(self) -> float:
        return float(self.n_measurements)

    @property
    def ground_truth(self) -> np.ndarray | None:
        return None if self.truth is None else np.asarray(self.truth)

    def operator_matrix(self) -> np.ndarray:
        return np.asarray(self.A).reshape(self.n_measurements, -1)

    def describe(self) -> dict[str, Any]:
        return {"loss": "matrix_sensing", "shape": list(self.shape),
                "measurements": self.n_measurements}
