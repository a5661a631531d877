"""Architectures: how the layers W_1, ..., W_L make the end-to-end matrix W.

* ``Plain(widths, output_scale=c)``: W = c W_L ... W_1 (Du and Hu's 1/sqrt(m^(L-1) d_out)
  scaling is a choice of c).
* ``Residual(depth, A, B)``: W = B (I + W_L) ... (I + W_1) A, every W_l square (m, m), A and B
  fixed.

Each says which matrices it can reach (W = P_out M P_in with rank M <= r), the factors whose
imbalances the gradient flow conserves (W_l, resp. I + W_l), and whether the GL(d_l) rescaling
symmetry W_l -> A W_l, W_(l+1) -> W_(l+1) A^-1 acts on its parameters.
"""

from __future__ import annotations

import abc
import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .errors import InputError, check_finite, check_positive_int
from .losses.base import as_matrix

Params = tuple[jax.Array, ...]
# Layers as JAX or NumPy arrays, for functions that convert them (np.asarray) themselves.
ParamsLike = tuple[jax.Array | np.ndarray, ...]


UNROLLED_CONTRACTIONS = range(4, 6)
"""Contraction lengths k that ``matmul`` sums itself. XLA CPU emits a float64 dot with k <= 3
inline but from k = 4 calls a library kernel once per matrix of a batch (about 0.15 us each
whatever the size up to 8), while a sum of k outer products fuses into one elementwise loop:
a GD step of 64 depth-4 networks of width 4 takes 10 us instead of 82 (width 5: 38 vs 95); from
k = 6 on the library kernel is as fast or faster. Only for explicit products (the GD step's
``end_to_end_vjp``): autodiff through the sums reduces over their broadcasts, and a dense
Hessian of them costs 2 to 4x that of dots."""


def matmul(A: jax.Array, B: jax.Array) -> jax.Array:
    """A @ B over leading batch axes; for k in ``UNROLLED_CONTRACTIONS`` as the sum of outer
    products sum_i A[..., :, i] B[..., i, :] (the same product to round-off)."""
    k = A.shape[-1]
    if k not in UNROLLED_CONTRACTIONS:
        return A @ B
    return functools.reduce(operator.add,
                            (A[..., :, i, None] * B[..., None, i, :] for i in range(k)))


def _transpose(A: jax.Array) -> jax.Array:
    return jnp.swapaxes(A, -1, -2)


def _written_transpose(A: jax.Array) -> jax.Array:
    """A^T written out: an optimization barrier keeps XLA from folding the transpose into the
    product that takes it (see ``Plain.end_to_end_vjp``)."""
    return jax.lax.optimization_barrier(_transpose(A))


@jax.custom_jvp
def chain_product(w: jax.Array) -> jax.Array:
    """prod_i w_i over the leading axis, with the derivative sum_i dw_i prod_(j != i) w_j from
    exclusive prefix and suffix products: O(L) work and a graph whose size does not grow with
    L (autodiff of a chain of L multiplies compiles in time superlinear in L)."""
    return jnp.prod(w, axis=0)


@chain_product.defjvp
def _chain_product_jvp(primals, tangents):
    (w,), (dw,) = primals, tangents
    ones = jnp.ones_like(w[:1])
    scan = functools.partial(jax.lax.associative_scan, jnp.multiply, axis=0)   # O(L) work
    left = scan(jnp.concatenate([ones, w[:-1]]))                        # prod_(j < i) w_j
    right = scan(jnp.concatenate([w[1:], ones]), reverse=True)          # prod_(j > i) w_j
    return jnp.prod(w, axis=0), jnp.sum(dw * left * right, axis=0)


def others_product(w: jax.Array, exact_zeros: bool = True) -> tuple[jax.Array, jax.Array]:
    """(prod_(j != i) w_j for every i, prod_i w_i) over the leading axis, in O(L) as one
    reduction and elementwise work: q / w_i with q the product of the nonzero weights, exact
    zeros handled by counting them (one zero: its own entry is q, the others 0). First-order
    use only (GD steps): q / w_i rounds once more than a product of the others.

    ``exact_zeros=False``: plain q / w_i, the same bits where no weight is zero and NaN at a
    zero weight (a third of the work: for passes whose NaN sends them to a careful repeat)."""
    if not exact_zeros:
        q = jnp.prod(w, axis=0)
        return q / w, q
    zero = w == 0
    q = jnp.prod(jnp.where(zero, 1.0, w), axis=0)
    zeros = jnp.sum(zero, axis=0)
    others = jnp.where(zero, jnp.where(zeros == 1, q, 0.0),
                       jnp.where(zeros == 0, q / jnp.where(zero, 1.0, w), 0.0))
    return others, jnp.where(zeros == 0, q, 0.0)


class AbstractArchitecture(eqx.Module):
    """Widths (d_0, ..., d_L) of the layers and the map params -> end-to-end matrix."""

    widths: eqx.AbstractVar[tuple[int, ...]]

    @property
    def depth(self) -> int:
        """Number of layers L."""
        return len(self.widths) - 1

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """Shapes (d_l, d_(l-1)) of W_1, ..., W_L."""
        return tuple((self.widths[i + 1], self.widths[i]) for i in range(self.depth))

    @property
    def num_params(self) -> int:
        """Number of weights, sum over layers of d_l d_(l-1)."""
        return sum(a * b for a, b in self.layer_shapes)

    @property
    def is_scalar_chain(self) -> bool:
        """True for a plain chain with every width 1 (W = c w_L ... w_1)."""
        return False

    @property
    def has_rescaling_symmetry(self) -> bool:
        """True when W_l -> A W_l, W_(l+1) -> W_(l+1) A^-1 leaves W unchanged."""
        return False

    @property
    @abc.abstractmethod
    def output_shape(self) -> tuple[int, int]:
        """(d_out, d_in) of the end-to-end matrix."""

    @abc.abstractmethod
    def end_to_end(self, params: Params) -> jax.Array:
        """W from the layers; broadcasts over leading batch axes."""

    @property
    def dots_transposed(self) -> bool:
        """Whether a batched GD step is fastest on the layers' transposes W_l^T (no: the step
        differentiates ``end_to_end``; ``Plain`` overrides it)."""
        return False

    def end_to_end_vjp(self, params: Params) -> tuple[jax.Array, Callable[[jax.Array], Params]]:
        """(W, pullback): pullback(G) = (dF/dW_1, ..., dF/dW_L) for G = grad f(W), i.e. the
        layer gradients of <G, W>. Leading batch axes (on params and G alike) are runs."""
        W, pull = jax.vjp(self.end_to_end, params)
        return W, lambda G: pull(G)[0]

    @abc.abstractmethod
    def factors(self, params: Params) -> Params:
        """The matrices whose product (between fixed ends) is W: imbalances are taken of them."""

    @abc.abstractmethod
    def reachable(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(P_out, P_in, r): the network reaches exactly W = P_out M P_in with rank M <= r
        (closure of the reachable set)."""

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (kind, widths and the kind's own settings) for provenance."""
        return {"architecture": type(self).__name__, "widths": list(self.widths)}


class Plain(AbstractArchitecture):
    """W = c W_L ... W_1 with W_l of shape (d_l, d_(l-1))."""

    widths: tuple[int, ...] = eqx.field(static=True)
    output_scale: float = eqx.field(static=True, default=1.0)

    def __init__(self, widths: Sequence[int], output_scale: float = 1.0):
        ws = tuple(check_positive_int("width", w) for w in widths)
        if len(ws) < 2:
            raise InputError(f"widths must list d_0, ..., d_L (at least 2 entries), got {widths}")
        self.widths = ws
        self.output_scale = check_finite("output_scale", output_scale)

    @property
    def is_scalar_chain(self) -> bool:
        return all(d == 1 for d in self.widths)

    @property
    def has_rescaling_symmetry(self) -> bool:
        return True

    @property
    def output_shape(self) -> tuple[int, int]:
        return (self.widths[-1], self.widths[0])

    def end_to_end(self, params: Params) -> jax.Array:
        if self.is_scalar_chain:      # (1, 1) layers: one product over the stacked weights
            W = chain_product(jnp.stack(params))
        else:
            W = functools.reduce(lambda acc, M: M @ acc, params[1:], params[0])
        return self.output_scale * W if self.output_scale != 1.0 else W

    @property
    def dots_transposed(self) -> bool:
        """Whether a batched GD step is fastest on the layers' transposes W_l^T (every product an
        XLA dot: every width above ``UNROLLED_CONTRACTIONS``; see ``transposed_end_to_end_vjp``)."""
        return not self.is_scalar_chain and min(self.widths) > max(UNROLLED_CONTRACTIONS)

    def end_to_end_vjp(self, params: Params) -> tuple[jax.Array, Callable[[jax.Array], Params]]:
        """dF/dW_l = c (W_L...W_(l+1))^T G (W_(l-1)...W_1)^T: the prefix products W_l...W_1 on
        the way forward, (W_L...W_(l+1))^T c G on the way back, every product by ``matmul``
        (W equals ``end_to_end``'s to round-off); where ``dots_transposed``, from the layers'
        transposes written out (``transposed_end_to_end_vjp``)."""
        if self.is_scalar_chain:
            return super().end_to_end_vjp(params)
        if self.dots_transposed:
            return self.transposed_end_to_end_vjp(tuple(_written_transpose(M) for M in params))
        prefix = [params[0]]                                        # W_l ... W_1
        for M in params[1:]:
            prefix.append(matmul(M, prefix[-1]))
        return self._pullback([_transpose(M) for M in params],
                              [_transpose(P) for P in prefix[:-1]], prefix[-1])

    def transposed_end_to_end_vjp(self, layers_t: Params
                                  ) -> tuple[jax.Array, Callable[[jax.Array], Params]]:
        """``end_to_end_vjp`` from the layers' transposes S_l = W_l^T, with the prefix products
        kept transposed, (W_l...W_1)^T = S_1 ... S_l: every product is a plain A @ B. XLA CPU
        hands a batched float64 dot to its small-matrix kernel (YNNPACK) only when it contracts
        the left factor's last axis and the right factor's first; W_l^T G and
        G (W_(l-1)...W_1)^T, folded into dots, contract the left's first axis and the right's
        last, 1.5 to 2.5x slower at width 16. The gradients are returned untransposed."""
        right = [layers_t[0]]                                       # (W_l ... W_1)^T
        for S in layers_t[1:]:
            right.append(matmul(right[-1], S))
        end = _transpose(jax.lax.optimization_barrier(right[-1]))   # not folded into the dot
        return self._pullback(list(layers_t), right[:-1], end)

    def _pullback(self, left: list[jax.Array], right: list[jax.Array], end: jax.Array
                  ) -> tuple[jax.Array, Callable[[jax.Array], Params]]:
        """(c W, pullback) given W, the layers' transposes W_l^T and (W_l...W_1)^T, l < L."""
        c = self.output_scale

        def pullback(G: jax.Array) -> Params:
            back = c * G if c != 1.0 else G                         # (W_L...W_(l+1))^T c G
            grads = []
            for l in range(len(left) - 1, 0, -1):
                grads.append(matmul(back, right[l - 1]))
                back = matmul(left[l], back)
            return (back, *reversed(grads))

        return (c * end if c != 1.0 else end), pullback

    def factors(self, params: Params) -> Params:
        return tuple(params)

    def reachable(self) -> tuple[np.ndarray, np.ndarray, int]:
        d_out, d_in = self.output_shape
        return np.eye(d_out), np.eye(d_in), min(self.widths)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "output_scale": self.output_scale}


class Residual(AbstractArchitecture):
    """W = B (I + W_L) ... (I + W_1) A with W_l of shape (m, m), A (m, d_0), B (d_L, m)."""

    widths: tuple[int, ...] = eqx.field(static=True)
    A: jax.Array
    B: jax.Array

    def __init__(self, depth: int, A: Any, B: Any):
        depth = check_positive_int("depth", depth)
        Am, Bm = as_matrix("A", A), as_matrix("B", B)
        m = Am.shape[0]
        if Bm.shape[1] != m:
            raise InputError(f"B must have {m} columns to match A's {m} rows, got {Bm.shape}")
        self.widths = (m,) * (depth + 1)
        self.A, self.B = jnp.asarray(Am), jnp.asarray(Bm)

    @property
    def output_shape(self) -> tuple[int, int]:
        return (int(self.B.shape[0]), int(self.A.shape[1]))

    def factors(self, params: Params) -> Params:
        eye = jnp.eye(self.widths[0])
        return tuple(eye + W for W in params)

    def end_to_end(self, params: Params) -> jax.Array:
        mats = [self.A, *self.factors(params), self.B]
        return functools.reduce(lambda acc, M: M @ acc, mats[1:], mats[0])

    def reachable(self) -> tuple[np.ndarray, np.ndarray, int]:
        A, B = np.asarray(self.A), np.asarray(self.B)
        p_in = np.linalg.pinv(A) @ A
        p_out = B @ np.linalg.pinv(B)
        return p_out, p_in, min(self.widths[0], *A.shape, *B.shape)
