"""A user-supplied smooth f of the end-to-end matrix, with F* if the user knows it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_finite, check_positive_int, show
from .base import UNKNOWN_OPTIMUM, AbstractLoss, Optimum


class CustomLoss(AbstractLoss):
    """f(W) = fn(W) for W of shape ``shape``; ``optimal`` is F* (None: unknown, taken as 0 by
    thresholds on the excess loss)."""

    fn: Callable[[jax.Array], jax.Array] = eqx.field(static=True)
    dims: tuple[int, int] = eqx.field(static=True)
    optimal: float | None = eqx.field(static=True, default=None)

    def __init__(self, fn: Callable[[jax.Array], jax.Array], shape: tuple[int, int] = (1, 1),
                 optimal: float | None = None):
        if not callable(fn):
            raise InputError(f"the custom loss must be a callable f(W) -> scalar, got {show(fn)}")
        try:
            d_out, d_in = shape
        except (TypeError, ValueError):
            raise InputError(f"shape must be a pair (d_out, d_in), got {show(shape)}") from None
        self.fn = fn
        self.dims = (check_positive_int("shape[0]", d_out), check_positive_int("shape[1]", d_in))
        self.optimal = None if optimal is None else check_finite("optimal_loss", optimal)
        check_scalar_loss(fn, self.dims)
    @property
    def shape(self) -> tuple[int, int]:
        return self.dims

    def f(self, W: jax.Array) -> jax.Array:
        return self.fn(W)

    def optimal_loss(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> float | None:
        return self.optimal

    def optimum(self, p_out: np.ndarray, p_in: np.ndarray, rank: int) -> Optimum:
        """The given F*; whether a W attains it is not known."""
        if self.optimal is None:
            return Optimum(None, None, UNKNOWN_OPTIMUM)
        return Optimum(self.optimal, None)

    def describe(self) -> dict[str, Any]:
        return {"loss": "custom", "function": getattr(self.fn, "__name__", "f"),
                "optimal_loss": self.optimal}


def check_scalar_loss(fn: Callable[[jax.Array], jax.Array], shape: tuple[int, int]) -> None:
    """Trace ``fn`` once on a float64 matrix of ``shape`` (jax.eval_shape: no computation) and
    raise InputError naming the loss unless it returns one real scalar."""
    name = getattr(fn, "__name__", type(fn).__name__)
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct(shape, jnp.float64))
    except Exception as exc:  # any failure to trace: the loss is not a JAX function of W
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise InputError(f"the custom loss {name!r} fails on a {shape} float64 matrix (it must "
                         f"be written with jax.numpy): {type(exc).__name__}: {first}") from exc
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise InputError(f"the custom loss {name!r} must return one real scalar, got "
                         f"{type(out).__name__}")
    if out.shape != () or not jnp.issubdtype(out.dtype, jnp.floating):
        raise InputError(f"the custom loss {name!r} must return one real scalar (float), got an "
                         f"array of shape {out.shape} and dtype {out.dtype} for W of shape "
                         f"{shape}")
