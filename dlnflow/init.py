"""Initialisations used in the literature; each seeded, and batched when ``batch`` is given.

Every function returns a params tuple (W_1, ..., W_L), W_l of shape (d_l, d_(l-1)), with a
leading axis of length ``batch`` on each leaf when ``batch`` is not None. ``key`` is a JAX PRNG
key or an integer seed. Any start can be given an end-to-end scale (:class:`EndToEndScale`,
:func:`end_to_end_scaled`, or ``by_name(..., end_to_end=...)``): ||W_L ... W_1|| fixed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from .architecture import Plain
from .errors import (
    InputError,
    check_finite,
    check_positive,
    check_positive_int,
    check_problem,
    show,
)
from .problem import Params, Problem
from .resources import check_memory


def _key(key: Any) -> jax.Array:
    """A PRNG key from a key or an integer seed in [-2**63, 2**63 - 1]; InputError otherwise."""
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        if not -(2**63) <= int(key) < 2**63:
            raise InputError(f"key: an integer seed must lie in [-2**63, 2**63 - 1], got "
                             f"{show(int(key))}")
        return jax.random.PRNGKey(int(key))
    if isinstance(key, jax.Array) and (jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                       or (key.dtype == jnp.uint32 and key.shape[-1:] == (2,))):
        return key
    raise InputError(f"key must be a JAX PRNG key (jax.random.PRNGKey(seed)) or an integer "
                     f"seed, got {show(key)}")


def _problem(problem: Any) -> Problem:
    return check_problem("problem", problem)


def _shape(shape: tuple[int, int], batch: int | None) -> tuple[int, ...]:
    out = shape if batch is None else (check_positive_int("batch", batch), *shape)
    check_memory(f"a layer of shape {out}", float(np.prod(out, dtype=float)))
    return out


def _rect_eye(shape: tuple[int, int], batch: int | None) -> jax.Array:
    eye = jnp.eye(*shape)
    return eye if batch is None else jnp.broadcast_to(eye, (batch, *shape))


def _variance_scaling(problem: Problem, key: Any, batch: int | None, scale: float,
                      mode: str) -> Params:
    """Entries of W_l i.i.d. N(0, scale / fan) (jax.nn.initializers.variance_scaling, untruncated
    normal; fan_in = d_(l-1), fan_out = d_l, fan_avg = (d_(l-1) + d_l) / 2), one key per layer."""
    _problem(problem)
    draw = jax.nn.initializers.variance_scaling(
        scale, cast(Any, mode), "normal", in_axis=-1, out_axis=-2,
        batch_axis=() if batch is None else (0,), dtype=jnp.float64)
    keys = jax.random.split(_key(key), problem.depth)
    return tuple(draw(k, _shape(shape, batch))
                 for k, shape in zip(keys, problem.layer_shapes, strict=True))


def lecun_normal(problem: Problem, key: Any, batch: int | None = None) -> Params:
    """LeCun normal: entries of W_l i.i.d. N(0, 1/d_(l-1)); N(0, 1) for scalars."""
    return _variance_scaling(problem, key, batch, 1.0, "fan_in")


def glorot_normal(problem: Problem, key: Any, batch: int | None = None) -> Params:
    """Glorot (Xavier) normal: entries of W_l i.i.d. N(0, 2 / (d_(l-1) + d_l)); N(0, 1) for
    scalars."""
    return _variance_scaling(problem, key, batch, 1.0, "fan_avg")


def he_normal(problem: Problem, key: Any, batch: int | None = None) -> Params:
    """He normal: entries of W_l i.i.d. N(0, 2/d_(l-1)); N(0, 2) for scalars."""
    return _variance_scaling(problem, key, batch, 2.0, "fan_in")


xavier = glorot_normal
"""Xavier = Glorot normal (the literature's meaning; LeCun's N(0, 1/d_in) is lecun_normal)."""


def gaussian(problem: Problem, key: Any, batch: int | None = None,
             std: float | None = None) -> Params:
    """Entries of every W_l i.i.d. N(0, std^2); without ``std``, LeCun's N(0, 1/d_(l-1))
    (:func:`lecun_normal`; N(0, 1) for scalars)."""
    _problem(problem)
    if std is None:
        return lecun_normal(problem, key, batch)
    s = check_positive("std", std)
    keys = jax.random.split(_key(key), problem.depth)
    return tuple(s * jax.random.normal(k, _shape(shape, batch), dtype=jnp.float64)
                 for k, shape in zip(keys, problem.layer_shapes, strict=True))


def identity(problem: Problem, batch: int | None = None) -> Params:
    """W_l = I (rectangular identity where d_l != d_(l-1))."""
    _problem(problem)
    return tuple(_rect_eye(s, batch) for s in problem.layer_shapes)


def near_identity(problem: Problem, key: Any, batch: int | None = None,
                  noise: float = 0.1) -> Params:
    """W_l = I + noise * N(0, 1/d_(l-1)) entries (Shamir's near-identity start for scalars)."""
    noise = check_finite("noise", noise)
    pert = lecun_normal(problem, key, batch)
    return tuple(_rect_eye(cast(tuple[int, int], W.shape[-2:]), batch) + noise * W for W in pert)


def orthogonal(problem: Problem, key: Any, batch: int | None = None,
               scale: float = 1.0) -> Params:
    """Haar-random (semi-)orthogonal W_l times ``scale``; random signs +-1 for scalars.

    For d_l != d_(l-1) the matrix has orthonormal rows or columns (QR of a Gaussian).
    """
    _problem(problem)
    scale = check_finite("scale", scale)
    keys = jax.random.split(_key(key), problem.depth)
    out = []
    for k, (a, b) in zip(keys, problem.layer_shapes, strict=True):
        G = jax.random.normal(k, _shape((max(a, b), max(a, b)), batch), dtype=jnp.float64)
        Q, R = jnp.linalg.qr(G)
        Q = Q * jnp.sign(jnp.diagonal(R, axis1=-2, axis2=-1))[..., None, :]
        out.append(scale * Q[..., :a, :b])
    return tuple(out)


def balanced(problem: Problem, key: Any = 0, batch: int | None = None,
             product: Any | None = None, scale: float = 1.0) -> Params:
    """Arora et al.'s balanced start: A = U S V^T, W_L = U S^(1/L), W_l = S^(1/L),
    W_1 = S^(1/L) V^T.

    A is ``product`` if given, else an end-to-end draw with N(0, scale^2) entries; layers are
    zero-padded to the widths, so every imbalance D_l is exactly 0. Needs a plain network.
    """
    _problem(problem)
    if not isinstance(problem.architecture, Plain):
        raise InputError("balanced start needs the plain (not residual) form")
    d_out, d_in = problem.widths[-1], problem.widths[0]
    if product is None:
        scale = check_positive("scale", scale)
        A = scale * jax.random.normal(_key(key), _shape((d_out, d_in), batch), dtype=jnp.float64)
    else:
        A = jnp.asarray(np.asarray(product, dtype=np.float64))
        if A.shape[-2:] != (d_out, d_in):
            raise InputError(f"product must have shape {(d_out, d_in)}, got {A.shape}")
        if batch is not None and A.ndim == 2:
            A = jnp.broadcast_to(A, (batch, d_out, d_in))
    return balanced_factors(A, problem.widths)


def balanced_factors(A: jax.Array, widths: Sequence[int]) -> Params:
    """Factor A (..., d_L, d_0) into balanced layers of the given widths (see :func:`balanced`)."""
    L = len(widths) - 1
    if L == 1:
        return (A,)
    r = min(widths)
    U, s, Vt = jnp.linalg.svd(A, full_matrices=False)
    if jnp.any(s[..., r:] > 1e-12 * jnp.maximum(s[..., :1], 1.0)):
        raise InputError(
            f"product has rank above the least width {r}: no balanced factorisation exists")
    U, s, Vt = U[..., :r], s[..., :r], Vt[..., :r, :]
    root = s ** (1.0 / L)
    out = []
    for l in range(1, L + 1):
        d_l, d_prev = widths[l], widths[l - 1]
        core = jnp.zeros((*A.shape[:-2], d_l, d_prev))
        if l == 1:
            block = root[..., :, None] * Vt                      # (r, d_0)
            core = core.at[..., :r, :].set(block)
        elif l == L:
            block = U * root[..., None, :]                       # (d_L, r)
            core = core.at[..., :, :r].set(block)
        else:
            idx = jnp.arange(r)
            core = core.at[..., idx, idx].set(root)
        out.append(core)
    return tuple(out)


def zero_first(problem: Problem, batch: int | None = None) -> Params:
    """The AGD start: W_1 = 0 and W_l = I (rectangular) for l >= 2 (ones for scalars)."""
    layers = list(identity(problem, batch))
    layers[0] = jnp.zeros_like(layers[0])
    return tuple(layers)


def zeros(problem: Problem, batch: int | None = None) -> Params:
    """All W_l = 0 (Zou et al.'s residual start)."""
    _problem(problem)
    return tuple(jnp.zeros(_shape(s, batch)) for s in problem.layer_shapes)


def scaled(params: Params, alpha: float) -> Params:
    """Small-scale start: every layer times alpha (product scales by alpha^L)."""
    alpha = check_finite("alpha", alpha)
    try:
        return tuple(alpha * jnp.asarray(W, dtype=jnp.float64) for W in params)
    except (TypeError, ValueError):
        raise InputError(f"params must be a tuple of arrays (W_1, ..., W_L), got "
                         f"{show(params)}") from None


@dataclasses.dataclass(frozen=True)
class EndToEndScale:
    """The norm of the product W = W_L ... W_1 at the start, as in the deep matrix
    factorisation experiments (small starts: norm 1e-3 and below): ``norm`` > 0, ``ord`` "fro"
    (Frobenius) or "spectral" (largest singular value)."""

    norm: float
    ord: str = "fro"

    def __post_init__(self):
        object.__setattr__(self, "norm", check_positive("EndToEndScale.norm", self.norm))
        if self.ord not in ("fro", "spectral"):
            raise InputError(f"EndToEndScale.ord must be 'fro' or 'spectral', got "
                             f"{show(self.ord)}")


def end_to_end_scaled(problem: Problem, params: Params, scale: float | EndToEndScale
                      ) -> Params:
    """Every layer times c^(1/L), c = scale.norm / ||W_L ... W_1|| per run, so that the product
    has the asked norm exactly (a float ``scale``: its Frobenius norm); directions, balancedness
    (D_l times c^(2/L)) and signs are kept. Needs a plain network and a non-zero product."""
    _problem(problem)
    spec = scale if isinstance(scale, EndToEndScale) else EndToEndScale(scale)
    if not isinstance(problem.architecture, Plain):
        raise InputError("an end-to-end scale needs the plain form: scaling the layers of "
                         "B (I + W_L) ... (I + W_1) A does not scale the product")
    params, _ = problem.check_params(params)
    W = problem.end_to_end(params)
    size = (jnp.linalg.norm(W, axis=(-2, -1)) if spec.ord == "fro" else
            jnp.linalg.matrix_norm(W, ord=2))
    if np.any(np.asarray(size) == 0):
        raise InputError("an end-to-end scale needs a non-zero product W_L ... W_1 at the start "
                         "(this start has W = 0: zeros, zero_first or a zero layer)")
    factor = (spec.norm / size) ** (1.0 / problem.depth)
    return tuple(W_l * factor[..., None, None] for W_l in params)


def explicit(problem: Problem, arrays: Any) -> Params:
    """Validate user-given layers (or scalar weights for a chain) and return a params tuple."""
    params, _ = _problem(problem).check_params(arrays, name="arrays")
    return params


INITS = {
    "lecun_normal": lecun_normal,
    "glorot_normal": glorot_normal,
    "xavier": glorot_normal,
    "he_normal": he_normal,
    "gaussian": gaussian,
    "near_identity": near_identity,
    "orthogonal": orthogonal,
    "balanced": balanced,
}
"""Seeded initialisations by name (key, batch keywords); identity, zero_first, zeros take none."""


def by_name(kind: str, problem: Problem, key: Any = 0, batch: int | None = None,
            end_to_end: float | EndToEndScale | None = None, **options: Any) -> Params:
    """Dispatch on an initialisation name: a key of :data:`INITS` (lecun_normal, glorot_normal
    = xavier, he_normal, gaussian, near_identity, orthogonal, balanced), identity, zero_first,
    zeros; ``end_to_end``: then fix the norm of the product (:func:`end_to_end_scaled`)."""
    params = _by_name(kind, problem, key, batch, **options)
    return params if end_to_end is None else end_to_end_scaled(problem, params, end_to_end)


def _by_name(kind: str, problem: Problem, key: Any, batch: int | None,
             **options: Any) -> Params:
    _problem(problem)
    n = 1 if batch is None else check_positive_int("batch", batch)
    check_memory(f"{n} starts of {problem.num_params} parameters", float(n) * problem.num_params)
    if not isinstance(kind, str):
        raise InputError(f"kind must be the name of an initialisation, got {show(kind)}")
    if kind in INITS:
        return INITS[kind](problem, key, batch=batch, **options)
    if kind == "identity":
        return identity(problem, batch)
    if kind == "zero_first":
        return zero_first(problem, batch)
    if kind == "zeros":
        return zeros(problem, batch)
    names = sorted([*INITS, "identity", "zero_first", "zeros"])
    raise InputError(f"unknown initialisation {kind!r}; choose one of {', '.join(names)}")
