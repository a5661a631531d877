"""Problem: a deep linear network W = W_L ... W_1 and a loss F(W_1, ..., W_L) = f(W).

Layer l maps R^{d_(l-1)} to R^{d_l}; W_l has shape (d_l, d_(l-1)); parameters are a tuple
(W_1, ..., W_L) of float64 JAX arrays, with an optional leading batch axis on every leaf.
Losses on the end-to-end matrix W:

* ``target``      f(W) = 0.5 ||W - Phi||_F^2                (whitened data; scalar chains)
* ``regression``  f(W) = 0.5/n ||W X - Y||_F^2              (X: (d_0, n), Y: (d_L, n))
* ``lp_target``   f(W) = (1/q) sum_ij (W - Phi)_ij^q, q even
* ``custom``      f(W) = user function (smooth, convex)

The residual form replaces the product by B (I + W_L) ... (I + W_1) A with fixed A, B; an
``output_scale`` c multiplies the product (Du and Hu's 1/sqrt(m^(L-1) d_out) scaling).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import _config  # noqa: F401  (float64)
from .errors import InputError, check_finite, check_finite_array, check_positive_int

Params = tuple[jax.Array, ...]

LOSS_KINDS = ("target", "regression", "lp_target", "custom")


def _as_matrix(name: str, value: Any) -> jax.Array:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a matrix, got an array of shape {arr.shape}")
    check_finite_array(name, arr)
    return jnp.asarray(arr)


class Problem(eqx.Module):
    """A deep linear network with widths (d_0, ..., d_L) and a loss f of its end-to-end matrix.

    Build one with the constructors :meth:`scalar_chain`, :meth:`target_matrix`,
    :meth:`regression` or :meth:`residual`; the loss is ``loss(params)``.
    """

    widths: tuple[int, ...] = eqx.field(static=True)
    loss_kind: str = eqx.field(static=True)
    target: jax.Array | None = None
    X: jax.Array | None = None
    Y: jax.Array | None = None
    power: int = eqx.field(static=True, default=2)
    residual_form: bool = eqx.field(static=True, default=False)
    A: jax.Array | None = None
    B: jax.Array | None = None
    output_scale: float = eqx.field(static=True, default=1.0)
    custom_f: Callable[[jax.Array], jax.Array] | None = eqx.field(static=True, default=None)
    known_optimal_loss: float | None = eqx.field(static=True, default=None)
    name: str = eqx.field(static=True, default="")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def scalar_chain(
        cls,
        depth: int,
        target: float = 1.0,
        loss: str | Callable[[jax.Array], jax.Array] = "square",
        power: int = 4,
        optimal_loss: float | None = None,
    ) -> Problem:
        """Scalar chain F(w) = f(p), p = w_L ... w_1 (all widths 1).

        ``loss="square"``: f = 0.5 (p - y)^2; ``"lp"``: f = (1/q)(p - y)^q with q = ``power``
        even; a callable: f(p) for a smooth convex f of the scalar product (``optimal_loss``
        its minimum, if known).
        """
        depth = check_positive_int("depth", depth)
        y = check_finite("target", target)
        widths = (1,) * (depth + 1)
        phi = jnp.full((1, 1), y)
        if loss == "square":
            return cls(widths=widths, loss_kind="target", target=phi, name=f"scalar_chain_L{depth}")
        if loss == "lp":
            power = check_positive_int("power", power, minimum=2)
            if power % 2:
                raise InputError(f"power must be even for the l_p loss, got {power}")
            return cls(widths=widths, loss_kind="lp_target", target=phi, power=power,
                       name=f"scalar_chain_L{depth}_l{power}")
        if callable(loss):
            scalar_f = loss

            def f(W: jax.Array) -> jax.Array:
                return scalar_f(W[0, 0])

            opt = None if optimal_loss is None else check_finite("optimal_loss", optimal_loss)
            return cls(widths=widths, loss_kind="custom", target=phi, custom_f=f,
                       known_optimal_loss=opt, name=f"scalar_chain_L{depth}_custom")
        raise InputError(f"loss must be 'square', 'lp' or a callable, got {loss!r}")

    @classmethod
    def target_matrix(
        cls,
        target: Any,
        widths: Sequence[int] | None = None,
        depth: int | None = None,
        width: int | None = None,
        loss: str = "square",
        power: int = 4,
    ) -> Problem:
        """f(W) = 0.5 ||W - Phi||_F^2 (or the l_q version) for a target Phi of shape (d_L, d_0).

        Give the widths (d_0, ..., d_L), or a depth L and a hidden width m (default
        max(d_0, d_L)).
        """
        phi = _as_matrix("target", target)
        widths = _resolve_widths(phi.shape[1], phi.shape[0], widths, depth, width)
        if loss == "square":
            return cls(widths=widths, loss_kind="target", target=phi, name="target_matrix")
        if loss == "lp":
            power = check_positive_int("power", power, minimum=2)
            if power % 2:
                raise InputError(f"power must be even for the l_p loss, got {power}")
            return cls(widths=widths, loss_kind="lp_target", target=phi, power=power,
                       name=f"target_matrix_l{power}")
        raise InputError(f"loss must be 'square' or 'lp', got {loss!r}")

    @classmethod
    def regression(
        cls,
        X: Any,
        Y: Any,
        widths: Sequence[int] | None = None,
        depth: int | None = None,
        width: int | None = None,
        output_scale: float = 1.0,
    ) -> Problem:
        """f(W) = 0.5/n ||W X - Y||_F^2 with X of shape (d_0, n) and Y of shape (d_L, n)."""
        Xm = _as_matrix("X", X)
        Ym = _as_matrix("Y", Y)
        if Xm.shape[1] != Ym.shape[1]:
            raise InputError(
                f"X and Y must have the same number of columns (samples), got {Xm.shape[1]} "
                f"and {Ym.shape[1]}"
            )
        widths = _resolve_widths(Xm.shape[0], Ym.shape[0], widths, depth, width)
        scale = check_finite("output_scale", output_scale)
        return cls(widths=widths, loss_kind="regression", X=Xm, Y=Ym, output_scale=scale,
                   name="regression")

    @classmethod
    def residual(
        cls,
        depth: int,
        A: Any,
        B: Any,
        X: Any | None = None,
        Y: Any | None = None,
        target: Any | None = None,
    ) -> Problem:
        """Residual form W = B (I + W_L) ... (I + W_1) A, every W_l of shape (m, m).

        A (m, d_0) and B (d_L, m) are fixed; the loss is regression on (X, Y) or a target.
        """
        depth = check_positive_int("depth", depth)
        Am = _as_matrix("A", A)
        Bm = _as_matrix("B", B)
        m = Am.shape[0]
        if Bm.shape[1] != m:
            raise InputError(f"B must have {m} columns to match A's {m} rows, got {Bm.shape}")
        widths = (m,) * (depth + 1)
        if target is not None:
            phi = _as_matrix("target", target)
            if phi.shape != (Bm.shape[0], Am.shape[1]):
                raise InputError(
                    f"target must have shape {(Bm.shape[0], Am.shape[1])}, got {phi.shape}")
            return cls(widths=widths, loss_kind="target", target=phi, residual_form=True,
                       A=Am, B=Bm, name="residual_target")
        if X is None or Y is None:
            raise InputError("residual needs a target or both X and Y")
        Xm, Ym = _as_matrix("X", X), _as_matrix("Y", Y)
        if Xm.shape[0] != Am.shape[1] or Ym.shape[0] != Bm.shape[0]:
            raise InputError(
                f"X must have {Am.shape[1]} rows and Y {Bm.shape[0]} rows, got {Xm.shape} and "
                f"{Ym.shape}")
        if Xm.shape[1] != Ym.shape[1]:
            raise InputError(
                f"X and Y must have the same number of columns, got {Xm.shape[1]} and "
                f"{Ym.shape[1]}")
        return cls(widths=widths, loss_kind="regression", X=Xm, Y=Ym, residual_form=True,
                   A=Am, B=Bm, name="residual_regression")

    # ------------------------------------------------------------------ structure
    @property
    def depth(self) -> int:
        """Number of layers L."""
        return len(self.widths) - 1

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """Shapes (d_l, d_(l-1)) of W_1, ..., W_L."""
        return tuple((self.widths[i + 1], self.widths[i]) for i in range(self.depth))

    @property
    def is_scalar_chain(self) -> bool:
        """True when every width is 1 and the form is plain (not residual)."""
        return all(d == 1 for d in self.widths) and not self.residual_form

    @property
    def input_dim(self) -> int:
        return int(self.A.shape[1]) if self.residual_form else self.widths[0]

    @property
    def output_dim(self) -> int:
        return int(self.B.shape[0]) if self.residual_form else self.widths[-1]

    @property
    def num_params(self) -> int:
        return sum(a * b for a, b in self.layer_shapes)

    # ------------------------------------------------------------------ maps
    def end_to_end(self, params: Params) -> jax.Array:
        """W = c W_L ... W_1 (or c B (I + W_L) ... (I + W_1) A); broadcasts over batch axes."""
        if self.residual_form:
            eye = jnp.eye(self.widths[0])
            mats = [self.A] + [eye + W for W in params] + [self.B]
        else:
            mats = list(params)
        if self.is_scalar_chain:      # (1, 1) layers: elementwise products fuse into one kernel
            W = functools.reduce(lambda acc, M: M * acc, mats[1:], mats[0])
        else:
            W = functools.reduce(lambda acc, M: M @ acc, mats[1:], mats[0])
        return self.output_scale * W if self.output_scale != 1.0 else W

    def f(self, W: jax.Array) -> jax.Array:
        """The loss f of one end-to-end matrix W (no batch axis)."""
        if self.loss_kind == "target":
            return 0.5 * jnp.sum((W - self.target) ** 2)
        if self.loss_kind == "regression":
            n = self.X.shape[1]
            return 0.5 / n * jnp.sum((W @ self.X - self.Y) ** 2)
        if self.loss_kind == "lp_target":
            return jnp.sum((W - self.target) ** self.power) / self.power
        return self.custom_f(W)

    def grad_f(self, W: jax.Array) -> jax.Array:
        """Gradient of f with respect to the end-to-end matrix W."""
        return jax.grad(self.f)(W)

    def loss(self, params: Params) -> jax.Array:
        """F(W_1, ..., W_L) = f(end_to_end(params)) for one run (no batch axis)."""
        return self.f(self.end_to_end(params))

    def grad(self, params: Params) -> Params:
        """Layer gradients dF/dW_l for one run, as a tuple shaped like params."""
        return jax.grad(self.loss)(params)

    def loss_and_grad(self, params: Params) -> tuple[jax.Array, Params]:
        return jax.value_and_grad(self.loss)(params)

    def flatten(self, params: Params) -> jax.Array:
        """Concatenate W_1, ..., W_L (row-major) into one vector of length num_params."""
        return ravel_pytree(tuple(params))[0]

    def unflatten(self, vector: jax.Array) -> Params:
        """Inverse of :meth:`flatten`."""
        out, i = [], 0
        for a, b in self.layer_shapes:
            out.append(jnp.reshape(vector[i:i + a * b], (a, b)))
            i += a * b
        return tuple(out)

    def loss_flat(self, vector: jax.Array) -> jax.Array:
        """F at the flattened parameters (for scalar chains f(c w_L...w_1) directly)."""
        if self.is_scalar_chain:
            return self.f(jnp.reshape(self.output_scale * jnp.prod(vector), (1, 1)))
        return self.loss(self.unflatten(vector))

    def hessian(self, params: Params) -> jax.Array:
        """Hessian of F in the flattened coordinates of :meth:`flatten` (one run)."""
        return jax.hessian(self.loss_flat)(self.flatten(params))

    # ------------------------------------------------------------------ optimum
    @property
    def rank_bound(self) -> int:
        """Largest rank the end-to-end matrix can have: the least width."""
        if self.residual_form:
            return min(self.widths[0], self.input_dim, self.output_dim)
        return min(self.widths)

    @property
    def optimal_loss(self) -> float | None:
        """F* = inf F, in closed form where one exists (Eckart-Young), else the given value.

        target: 0.5 sum_{i>r} s_i(Phi)^2; regression: 0.5/n (||Y (I - P_X)||^2 + sum_{i>r}
        lambda_i(Y P_X Y^T)), r the least width; residual: 0.5 ||Phi - P_B Phi P_A||^2 (resp.
        its regression analogue); lp_target: 0 when rank(Phi) <= r, otherwise unknown (None).
        """
        return _optimal_loss(self)

    def excess_loss(self, params: Params) -> jax.Array:
        """F - F* (F* = 0 when unknown)."""
        return self.loss(params) - (self.optimal_loss or 0.0)

    # ------------------------------------------------------------------ parameters
    def check_params(self, params: Any, name: str = "params") -> tuple[Params, int | None]:
        """Validate shapes and finiteness; return (float64 tuple, batch size or None)."""
        if isinstance(params, jax.Array | np.ndarray) and self.is_scalar_chain:
            params = self.scalar_params(params)
        try:
            params = tuple(params)
        except TypeError:
            raise InputError(f"{name} must be a sequence of {self.depth} arrays") from None
        if len(params) != self.depth:
            raise InputError(
                f"{name} must have {self.depth} layers (one per layer of depth {self.depth}), "
                f"got {len(params)}")
        out, batch = [], None
        for l, (W, shape) in enumerate(zip(params, self.layer_shapes, strict=True), start=1):
            arr = np.asarray(W, dtype=np.float64)
            if arr.shape == shape:
                this_batch = None
            elif arr.ndim == 3 and arr.shape[1:] == shape:
                this_batch = arr.shape[0]
            else:
                raise InputError(
                    f"W_{l} must have shape {shape} (or (batch, *{shape})), got {arr.shape}")
            if l > 1 and this_batch != batch:
                raise InputError(f"W_{l} has batch size {this_batch}, W_1 has {batch}")
            batch = this_batch
            check_finite_array(f"W_{l}", arr)
            out.append(jnp.asarray(arr))
        return tuple(out), batch

    def scalar_params(self, weights: Any) -> Params:
        """Scalar chain weights (w_1, ..., w_L), shape (L,) or (batch, L) -> params tuple."""
        if not self.is_scalar_chain:
            raise InputError("scalar_params needs a scalar chain problem")
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim not in (1, 2) or w.shape[-1] != self.depth:
            raise InputError(
                f"a start must have {self.depth} weights (depth {self.depth}), got shape "
                f"{w.shape}")
        check_finite_array("weights", w)
        w = jnp.asarray(w)
        return tuple(w[..., l, None, None] for l in range(self.depth))

    def scalar_weights(self, params: Params) -> jax.Array:
        """Inverse of :meth:`scalar_params`: an array (..., L) of the scalar weights."""
        return jnp.stack([W[..., 0, 0] for W in params], axis=-1)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (provenance) of the problem."""
        d: dict[str, Any] = {
            "name": self.name, "widths": list(self.widths), "loss_kind": self.loss_kind,
            "residual": self.residual_form, "output_scale": self.output_scale,
        }
        if self.loss_kind == "lp_target":
            d["power"] = self.power
        if self.target is not None:
            d["target"] = np.asarray(self.target).tolist()
        if self.X is not None:
            d["n_samples"] = int(self.X.shape[1])
        return d


def _resolve_widths(
    d_in: int, d_out: int, widths: Sequence[int] | None, depth: int | None, width: int | None
) -> tuple[int, ...]:
    if widths is not None:
        ws = tuple(check_positive_int("width", w) for w in widths)
        if len(ws) < 2:
            raise InputError(f"widths must list d_0, ..., d_L (at least 2 entries), got {widths}")
        if ws[0] != d_in or ws[-1] != d_out:
            raise InputError(
                f"widths must start with the input dimension {d_in} and end with the output "
                f"dimension {d_out}, got {list(ws)}")
        return ws
    if depth is None:
        raise InputError("give either widths or depth")
    depth = check_positive_int("depth", depth)
    m = max(d_in, d_out) if width is None else check_positive_int("width", width)
    return (d_in,) + (m,) * (depth - 1) + (d_out,)


def _tail_energy(M: np.ndarray, r: int) -> float:
    s = np.linalg.svd(M, compute_uv=False)
    return float(np.sum(s[r:] ** 2))


def _optimal_loss(p: Problem) -> float | None:
    if p.loss_kind == "custom":
        return p.known_optimal_loss
    r = p.rank_bound
    if p.loss_kind == "lp_target":
        phi = np.asarray(p.target)
        return 0.0 if np.linalg.matrix_rank(phi) <= r else None
    if p.residual_form:
        PA = np.linalg.pinv(np.asarray(p.A)) @ np.asarray(p.A)
        PB = np.asarray(p.B) @ np.linalg.pinv(np.asarray(p.B))
    if p.loss_kind == "target":
        phi = np.asarray(p.target)
        if p.residual_form:
            return 0.5 * float(np.sum((phi - PB @ phi @ PA) ** 2))
        return 0.5 * _tail_energy(phi, r)
    X, Y = np.asarray(p.X), np.asarray(p.Y)
    n = X.shape[1]
    # Row space of X: W X = M V^T with V orthonormal; residual outside it is unreachable.
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    k = int(np.sum(s > s.max(initial=0.0) * max(X.shape) * np.finfo(float).eps))
    V = Vt[:k].T
    outside = float(np.sum((Y - Y @ V @ V.T) ** 2))
    YV = Y @ V
    if p.residual_form:
        # Reachable M V^T = B M' A X: columns in range(B), rows in row space of A X.
        AXV = np.asarray(p.A) @ X @ V
        PAX = np.linalg.pinv(AXV) @ AXV
        inside = float(np.sum((YV - PB @ YV @ PAX) ** 2))
    else:
        inside = _tail_energy(YV, r)
    return 0.5 / n * (outside + inside)
