"""Small problems on each loss of issue 14 (shared by the loss and conformance tests)."""

import jax.numpy as jnp
import numpy as np

import dlnflow as dl
from dlnflow.losses import CrossEntropy, LpRegression, MatrixCompletion, MatrixSensing

LOW_RANK = np.outer([1.0, -2.0, 0.5], [0.8, 0.3, -1.0])          # rank 1, 3x3
MASK = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float)
_rng = np.random.default_rng(140)
X_CLS = _rng.normal(size=(2, 12))
Y_CLS = np.array([0, 1, 2, 0, 1, 2, 1, 0, 2, 2, 1, 0])          # 3 classes, not separable
X_LP = _rng.normal(size=(3, 10))
Y_LP = _rng.normal(size=(2, 10))


def _custom_f(W):
    """A smooth non-quadratic f: log cosh of the entries off a target, plus a coupling."""
    D = W - LOW_RANK[:2]
    return jnp.sum(jnp.log(jnp.cosh(D))) + 0.1 * jnp.sum(D[0] * D[1]) ** 2


def completion():
    return dl.Problem.completion(LOW_RANK, MASK, widths=[3, 3, 2, 3])


def sensing():
    return dl.Problem(dl.Plain([3, 4, 3]), MatrixSensing.gaussian(LOW_RANK, 6, seed=2))


def cross_entropy():
    return dl.Problem(dl.Plain([2, 3, 3]), CrossEntropy(X_CLS, Y_CLS))


def lp_regression():
    return dl.Problem(dl.Plain([3, 3, 2]), LpRegression(X_LP, Y_LP, power=4))


def custom():
    return dl.Problem.custom(_custom_f, widths=[3, 4, 2], optimal_loss=0.0)


CASES = {"completion": completion, "sensing": sensing, "cross_entropy": cross_entropy,
         "lp_regression": lp_regression, "custom": custom}

__all__ = ["CASES", "LOW_RANK", "MASK", "MatrixCompletion"]
