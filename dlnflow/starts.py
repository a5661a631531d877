"""Starts checked against a problem: layer shapes, batch axis, finiteness; a scalar chain's
weights w_1, ..., w_L given as plain numbers (the methods ``Problem.check_params`` and
``Problem.scalar_params`` call these)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from .architecture import Params
from .errors import InputError, check_finite_array, float_array

if TYPE_CHECKING:
    from .problem import Problem


def check_params(problem: Problem, params: Any, name: str = "params"
                 ) -> tuple[Params, int | None]:
    """Validate shapes and finiteness; return (float64 tuple, batch size or None).

    A scalar chain also takes its weights w_1, ..., w_L (or a batch of them) as an array of
    shape (L,) or (batch, L), or as the same numbers in a list or tuple."""
    if isinstance(params, jax.Array | np.ndarray):
        if problem.is_scalar_chain:
            params = scalar_params(problem, float_array(name, params))
        elif problem.depth == 1:               # one layer: the array is W_1 (or a batch)
            params = (params,)
    elif problem.is_scalar_chain and _numbers(params):    # numbers, not (1, 1) layers
        params = scalar_params(problem, float_array(name, params))
    try:
        params = tuple(params)
    except TypeError:
        raise InputError(f"{name} must be a sequence of {problem.depth} arrays") from None
    if len(params) != problem.depth:
        raise InputError(
            f"{name} must have {problem.depth} layers (one per layer of depth {problem.depth}), "
            f"got {len(params)}")
    out, batch = [], None
    for l, (W, shape) in enumerate(zip(params, problem.layer_shapes, strict=True), start=1):
        arr = float_array(f"{name}: W_{l}", W)
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


def scalar_params(problem: Problem, weights: Any) -> Params:
    """Scalar chain weights (w_1, ..., w_L), shape (L,) or (batch, L) -> params tuple."""
    if not problem.is_scalar_chain:
        raise InputError("scalar_params needs a scalar chain problem")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] != problem.depth:
        raise InputError(
            f"a start must have {problem.depth} weights (depth {problem.depth}), got shape "
            f"{w.shape}")
    check_finite_array("weights", w)
    # sliced in numpy: slicing a JAX array compiles an op per shape (CLI latency)
    return tuple(jnp.asarray(w[..., l, None, None]) for l in range(problem.depth))


def _numbers(params: Any) -> bool:
    """True for a non-empty list or tuple of numbers (or of lists of numbers: a batch)."""
    if not isinstance(params, list | tuple) or not params:
        return False
    try:
        return all(np.ndim(W) <= 1 for W in params)
    except ValueError:                      # ragged entries: left to the layer checks
        return False
