"""Problem: a deep linear network (an architecture) and a loss f of its end-to-end matrix.

F(W_1, ..., W_L) = f(W), W = W_L ... W_1 (``architecture.Plain``) or B (I + W_L) ... (I + W_1) A
(``architecture.Residual``); f is an ``AbstractLoss`` (``dlnflow.losses``): square loss to a
target, regression, l_q to a target or on data, matrix completion and sensing, cross-entropy,
or any smooth f. Layer l maps R^{d_(l-1)} to R^{d_l}; parameters are a
tuple (W_1, ..., W_L) of float64 JAX arrays, W_l of shape (d_l, d_(l-1)), with an optional
leading batch axis on every leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import (
    _config,  # noqa: F401  (float64)
    starts,
)
from .architecture import AbstractArchitecture, Params, Plain, Residual
from .errors import InputError
from .losses import (
    AbstractLoss,
    CrossEntropy,
    CustomLoss,
    LpRegression,
    LpTarget,
    MatrixCompletion,
    MatrixSensing,
    Optimum,
    Regression,
    SquareTarget,
)
from .widths import check_depth, resolve_widths

__all__ = ["Params", "Problem"]


def _target_loss(target: Any, loss: str, power: int) -> AbstractLoss:
    if loss == "square":
        return SquareTarget(target)
    if loss == "lp":
        return LpTarget(target, power)
    raise InputError(f"loss must be 'square' or 'lp', got {loss!r}")


class Problem(eqx.Module):
    """A deep linear network ``architecture`` trained on the loss ``objective`` of W.

    Build one with :meth:`scalar_chain`, :meth:`target_matrix`, :meth:`regression`,
    :meth:`residual`, :meth:`completion`, :meth:`sensing`, :meth:`classification`,
    :meth:`lp_regression`, :meth:`custom`, or directly as ``Problem(architecture, objective)``.
    """

    architecture: AbstractArchitecture
    objective: AbstractLoss
    name: str = eqx.field(static=True, default="")

    def __init__(self, architecture: AbstractArchitecture, objective: AbstractLoss,
                 name: str = ""):
        if not isinstance(architecture, AbstractArchitecture):
            raise InputError("architecture must be a dlnflow architecture (Plain or Residual), "
                             f"got {type(architecture).__name__}")
        if not isinstance(objective, AbstractLoss):
            raise InputError("objective must be a loss from dlnflow.losses, got "
                             f"{type(objective).__name__}")
        objective.check_shape(*architecture.output_shape)
        self.architecture, self.objective, self.name = architecture, objective, name

    # ------------------------------------------------------------------ constructors
    @classmethod
    def scalar_chain(cls, depth: int, target: float = 1.0,
                     loss: str | Callable[[jax.Array], jax.Array] = "square", power: int = 4,
                     optimal_loss: float | None = None) -> Problem:
        """Scalar chain F(w) = f(p), p = w_L ... w_1 (all widths 1).

        ``loss="square"``: f = 0.5 (p - y)^2; ``"lp"``: f = (1/q)(p - y)^q with q = ``power``
        even; a callable: f(p) for a smooth f of the scalar product (``optimal_loss`` its
        minimum, if known).
        """
        depth = check_depth(depth)
        arch = Plain((1,) * (depth + 1))
        if callable(loss):
            scalar_f = loss

            def f(W: jax.Array) -> jax.Array:
                return scalar_f(W[0, 0])

            f.__name__ = getattr(loss, "__name__", "f")
            return cls(arch, CustomLoss(f, (1, 1), optimal_loss),
                       name=f"scalar_chain_L{depth}_custom")
        if loss not in ("square", "lp"):
            raise InputError(f"loss must be 'square', 'lp' or a callable, got {loss!r}")
        suffix = "" if loss == "square" else f"_l{power}"
        return cls(arch, _target_loss(target, loss, power), name=f"scalar_chain_L{depth}{suffix}")

    @classmethod
    def target_matrix(cls, target: Any, widths: Sequence[int] | None = None,
                      depth: int | None = None, width: int | None = None, loss: str = "square",
                      power: int = 4) -> Problem:
        """f(W) = 0.5 ||W - Phi||_F^2 (or the l_q version) for a target Phi of shape (d_L, d_0).

        Give the widths (d_0, ..., d_L), or a depth L and a hidden width m (default
        max(d_0, d_L)).
        """
        obj = _target_loss(target, loss, power)
        d_out, d_in = obj.shape
        name = "target_matrix" if loss == "square" else f"target_matrix_l{power}"
        return cls(Plain(resolve_widths(d_in, d_out, widths, depth, width)), obj, name=name)

    @classmethod
    def regression(cls, X: Any, Y: Any, widths: Sequence[int] | None = None,
                   depth: int | None = None, width: int | None = None,
                   output_scale: float = 1.0) -> Problem:
        """f(W) = 0.5/n ||W X - Y||_F^2 with X of shape (d_0, n) and Y of shape (d_L, n)."""
        obj = Regression(X, Y)
        d_out, d_in = obj.shape
        arch = Plain(resolve_widths(d_in, d_out, widths, depth, width), output_scale)
        return cls(arch, obj, name="regression")

    @classmethod
    def completion(cls, target: Any, mask: Any, widths: Sequence[int] | None = None,
                   depth: int | None = None, width: int | None = None) -> Problem:
        """Matrix completion f(W) = 1/2 sum_{(i,j) in Omega} (W_ij - W*_ij)^2 (``mask``: 0/1
        array or index pairs)."""
        return cls._on_plain(MatrixCompletion(target, mask), widths, depth, width, "completion")

    @classmethod
    def sensing(cls, target: Any, m: int, seed: int = 0, widths: Sequence[int] | None = None,
                depth: int | None = None, width: int | None = None) -> Problem:
        """Gaussian matrix sensing of ``target`` with m measurements, f(W) = 1/(2m) sum_i
        (<A_i, W> - y_i)^2 (user-given A_i: ``Problem(Plain(widths), MatrixSensing(A, y))``)."""
        return cls._on_plain(MatrixSensing.gaussian(target, m, seed), widths, depth, width,
                             "sensing")

    @classmethod
    def classification(cls, X: Any, labels: Any, widths: Sequence[int] | None = None,
                       depth: int | None = None, width: int | None = None,
                       n_classes: int | None = None) -> Problem:
        """Softmax cross-entropy on X (d_0, n), labels in 0..k-1; the network maps R^(d_0) to
        the k logits."""
        return cls._on_plain(CrossEntropy(X, labels, n_classes), widths, depth, width,
                             "classification")

    @classmethod
    def lp_regression(cls, X: Any, Y: Any, power: int = 4, widths: Sequence[int] | None = None,
                      depth: int | None = None, width: int | None = None) -> Problem:
        """l_p regression f(W) = 1/(q n) sum (W X - Y)^q, q = ``power`` even (Arora et al.)."""
        return cls._on_plain(LpRegression(X, Y, power), widths, depth, width,
                             f"lp_regression_l{power}")

    @classmethod
    def custom(cls, fn: Callable[[jax.Array], jax.Array], widths: Sequence[int],
               optimal_loss: float | None = None) -> Problem:
        """Any smooth f(W) of the end-to-end matrix (written with jax.numpy) on a plain network
        of the given widths (d_0, ..., d_L); ``optimal_loss``: F* if known."""
        ws = resolve_widths(1, 1, widths, None, None, check_ends=False)
        return cls(Plain(ws), CustomLoss(fn, (ws[-1], ws[0]), optimal_loss), name="custom")

    @classmethod
    def _on_plain(cls, obj: AbstractLoss, widths: Sequence[int] | None, depth: int | None,
                  width: int | None, name: str) -> Problem:
        d_out, d_in = obj.shape
        return cls(Plain(resolve_widths(d_in, d_out, widths, depth, width)), obj, name=name)

    @classmethod
    def residual(cls, depth: int, A: Any, B: Any, X: Any | None = None, Y: Any | None = None,
                 target: Any | None = None) -> Problem:
        """Residual form W = B (I + W_L) ... (I + W_1) A, every W_l of shape (m, m).

        A (m, d_0) and B (d_L, m) are fixed; the loss is regression on (X, Y) or a target.
        """
        arch = Residual(depth, A, B)
        if target is not None:
            return cls(arch, SquareTarget(target), name="residual_target")
        if X is None or Y is None:
            raise InputError("residual needs a target or both X and Y")
        return cls(arch, Regression(X, Y), name="residual_regression")

    # ------------------------------------------------------------------ structure
    @property
    def widths(self) -> tuple[int, ...]:
        """(d_0, d_1, ..., d_L): layer l maps R^{d_(l-1)} -> R^{d_l}."""
        return self.architecture.widths

    @property
    def depth(self) -> int:
        """Number of layers L."""
        return self.architecture.depth

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """Shapes (d_l, d_(l-1)) of W_1, ..., W_L."""
        return self.architecture.layer_shapes

    @property
    def is_scalar_chain(self) -> bool:
        """True when every width is 1 and the form is plain (not residual)."""
        return self.architecture.is_scalar_chain

    @property
    def input_dim(self) -> int:
        """d_0, the number of columns of the end-to-end matrix W."""
        return self.architecture.output_shape[1]

    @property
    def output_dim(self) -> int:
        """d_L, the number of rows of the end-to-end matrix W."""
        return self.architecture.output_shape[0]

    @property
    def num_params(self) -> int:
        """Total number of weights, sum_l d_l d_(l-1) (the length of `flatten`)."""
        return self.architecture.num_params

    # ------------------------------------------------------------------ maps
    def end_to_end(self, params: Params) -> jax.Array:
        """The end-to-end matrix W; broadcasts over batch axes."""
        return self.architecture.end_to_end(params)

    def f(self, W: jax.Array) -> jax.Array:
        """The loss f of one end-to-end matrix W (no batch axis)."""
        return self.objective.f(W)

    def grad_f(self, W: jax.Array) -> jax.Array:
        """Gradient of f with respect to the end-to-end matrix W."""
        return self.objective.grad(W)

    def loss(self, params: Params) -> jax.Array:
        """F(W_1, ..., W_L) = f(end_to_end(params)) for one run (no batch axis)."""
        return self.objective.f(self.end_to_end(params))

    def grad(self, params: Params) -> Params:
        """Layer gradients dF/dW_l for one run, as a tuple shaped like params."""
        return jax.grad(self.loss)(params)

    def loss_and_grad(self, params: Params) -> tuple[jax.Array, Params]:
        """(F(W_1..W_L), (dF/dW_1, ..., dF/dW_L)) in one pass (``jax.value_and_grad``)."""
        return jax.value_and_grad(self.loss)(params)

    def flatten(self, params: Params) -> jax.Array:
        """Concatenate W_1, ..., W_L (row-major) into one vector of length num_params."""
        return ravel_pytree(tuple(params))[0]

    def unflatten(self, vector: jax.Array) -> Params:
        """Inverse of :meth:`flatten`; leading batch axes of ``vector`` are kept."""
        out, i = [], 0
        for a, b in self.layer_shapes:
            out.append(jnp.reshape(vector[..., i:i + a * b], (*vector.shape[:-1], a, b)))
            i += a * b
        return tuple(out)

    def loss_flat(self, vector: jax.Array) -> jax.Array:
        """F at the flattened parameters (for scalar chains f(c w_L...w_1) directly)."""
        if self.is_scalar_chain:
            return self.loss_of_product(jnp.prod(vector))
        return self.loss(self.unflatten(vector))

    def loss_of_product(self, p: jax.Array) -> jax.Array:
        """Scalar chains: F as a function of the product p = w_L...w_1, f(c p) (one run)."""
        c = cast(Plain, self.architecture).output_scale
        return self.f(jnp.reshape(c * p, (1, 1)))

    def hessian(self, params: Params) -> jax.Array:
        """Hessian of F in the flattened coordinates of :meth:`flatten` (one run).

        Refused (InputError) past ``dlnflow.sharpness.DENSE_MAX_PARAMS`` parameters or the
        memory limit: use Hessian-vector products (``dlnflow.sharpness``, method="lanczos")."""
        from .sharpness import check_dense  # sharpness imports this module

        check_dense(self.num_params)
        return jax.hessian(self.loss_flat)(self.flatten(params))

    # ------------------------------------------------------------------ optimum
    @property
    def rank_bound(self) -> int:
        """Largest rank the end-to-end matrix can have."""
        return self.architecture.reachable()[2]

    @property
    def optimal_loss(self) -> float | None:
        """F* = inf F over the reachable end-to-end matrices, in closed form where the loss has
        one (Eckart-Young for square losses), else the value the loss was given (or None)."""
        return self.objective.optimal_loss(*self.architecture.reachable())

    @property
    def optimum(self) -> Optimum:
        """F* with whether some W attains it, and a note for statuses and rates when F* is
        unknown or only an infimum (separable cross-entropy)."""
        return self.objective.optimum(*self.architecture.reachable())

    @property
    def optimal_product(self) -> np.ndarray | None:
        """W*: the least-norm minimiser of f over all matrices (target Phi, regression
        Y X^T (X X^T)^+); None when unknown."""
        return self.objective.minimiser()

    def excess_loss(self, params: Params) -> jax.Array:
        """F - F* (F* = 0 when unknown)."""
        return self.loss(params) - (self.optimal_loss or 0.0)

    # ------------------------------------------------------------------ parameters
    def check_params(self, params: Any, name: str = "params") -> tuple[Params, int | None]:
        """Validate shapes and finiteness; return (float64 tuple, batch size or None).

        A scalar chain also takes its weights w_1, ..., w_L (or a batch of them) as an array of
        shape (L,) or (batch, L), or as the same numbers in a list or tuple."""
        return starts.check_params(self, params, name)

    def scalar_params(self, weights: Any) -> Params:
        """Scalar chain weights (w_1, ..., w_L), shape (L,) or (batch, L) -> params tuple."""
        return starts.scalar_params(self, weights)

    def scalar_weights(self, params: Params) -> jax.Array:
        """Inverse of :meth:`scalar_params`: an array (..., L) of the scalar weights."""
        return jnp.stack([W[..., 0, 0] for W in params], axis=-1)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (provenance) of the problem."""
        return {"name": self.name, **self.architecture.describe(), **self.objective.describe()}

