"""Softmax cross-entropy on labelled data: f(W) = 1/n sum_j [logsumexp(W x_j) - (W x_j)_(y_j)].

X has shape (d_in, n) (samples as columns, as in ``Regression``), labels y_j in 0..k-1, W has
shape (k, d_in); two classes are logistic regression (the same formula, W with two rows).
F* = inf f over the reachable W = P_out M P_in is found through the margins
m_jc(W) = (W x_j)_(y_j) - (W x_j)_c (``separability``): linearly separable data give F* = 0,
never attained (f -> 0 only as ||W|| -> infinity); data with no direction that raises some
margin without lowering another give an attained minimum (scipy.optimize on M); in between,
the pairs a direction can push to infinity drop out and F* > 0 is again an infimum. Where the
rank bound of the network binds, F* is known only if a low-rank separating W is found.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_positive_int, float_array
from .base import AbstractLoss, Optimum, as_matrix
from .separability import classification_optimum


def masked_cross_entropy(Z: jax.Array, onehot: jax.Array, keep: jax.Array) -> jax.Array:
    """1/n sum_j [log sum_{c: keep_cj} exp Z_cj - Z_(y_j) j] for logits Z (k, n); keep = 1
    everywhere is the cross-entropy, keep_cj = 0 drops class c from sample j's softmax."""
    lse = jax.nn.logsumexp(Z, axis=0, where=keep > 0)
    return jnp.mean(lse - jnp.sum(onehot * Z, axis=0))


class CrossEntropy(AbstractLoss):
    """f(W) = 1/n sum_j [logsumexp(W x_j) - (W x_j)_(y_j)], X (d_in, n), labels (n,) in 0..k-1;
    k = ``n_classes`` (default: largest label + 1)."""

    X: jax.Array
    onehot: jax.Array                       # (k, n)

    def __init__(self, X: Any, labels: Any, n_classes: int | None = None):
        Xm = as_matrix("X", X)
        y = float_array("labels", labels)
        if y.ndim != 1:
            raise InputError(f"labels must be a vector (one class per sample), got shape "
                             f"{y.shape}")
        if y.size != Xm.shape[1]:
            hint = (" (X must be (d_in, n), samples as columns: pass X.T)"
                    if y.size == Xm.shape[0] else "")
            raise InputError(f"labels has {y.size} entries, X has {Xm.shape[1]} samples "
                             f"(columns){hint}")
        if not np.all((y == np.round(y)) & (y >= 0)):
            raise InputError("labels must be integers 0, 1, ..., k - 1")
        y = y.astype(np.int64)
        k = int(y.max()) + 1 if n_classes is None else check_positive_int("n_classes",
                                                                         n_classes, minimum=2)
        if k < 2:
            raise InputError("cross-entropy needs at least 2 classes (give n_classes)")
        if y.max() >= k:
            raise InputError(f"labels must lie in 0..{k - 1} (n_classes={k}), got {y.max()}")
        self.X = jnp.asarray(Xm)
        self.onehot = jnp.asarray(np.eye(k)[:, y])

    @property
    def labels(self) -> np.ndarray:
        """The class of each sample, (n,)."""
        return np.argmax(np.asarray(self.onehot), axis=0)

    @property
    def n_classes(self) -> int:
        """Number of classes C (rows of the one-hot labels, outputs of W)."""
        return int(self.onehot.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples n (columns of X), the 1/n of the mean loss."""
        return int(self.X.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_classes, int(self.X.shape[0]))

    def f(self, W: jax.Array) -> jax.Array:
        return masked_cross_entropy(W @ self.X, self.onehot, jnp.ones_like(self.onehot))

    def optimum(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> Optimum:
        """F*, whether it is attained, and why (``separability.classification_optimum``)."""
        return classification_optimum(np.asarray(self.X), np.asarray(self.labels),
                                      self.n_classes, p_out, p_in, rank)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        return self.optimum(p_out, p_in, rank).value

    def describe(self) -> dict[str, Any]:
        return {"loss": "cross_entropy", "n_samples": self.n_samples,
                "n_classes": self.n_classes}
