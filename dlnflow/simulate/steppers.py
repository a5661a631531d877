"""The batched step of the map loop (``map_loop``) on the state it carries: F(y) and step(y)
for every run at once, in the layout best for the network (``LAYOUTS``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

LAYOUTS = ("params", "chain", "transposed")
"""How the loop carries a batch: "params" the layers as given (batch axis 0); "chain" a scalar
chain's weights as one (L, B) array (batch axis 1: each layer's weights contiguous over the
runs); "transposed" every layer as W_l^T (batch axis 0), for gradient descent on a plain network
whose products are dots (``Plain.dots_transposed``)."""


def state_layout(system) -> str:
    """The layout (``LAYOUTS``) the loop carries runs of the map in (a single run too: its
    dots are 1.2x faster transposed at width 50)."""
    from ..systems import GradientDescent
    problem = system.state_problem
    if problem.is_scalar_chain:
        return "chain"
    transposed = problem.architecture.dots_transposed and isinstance(system, GradientDescent)
    return "transposed" if transposed else "params"


def steppers(system, layout: str, batch: int = 0, exact_zeros: bool = True):
    """Batched (F(y), step(y)) and F on the loop state, and the state's batch axis.

    The state is laid out as ``layout`` says (``LAYOUTS``).
    Gradient descent's step y - eta grad F is taken from pullbacks of the batch (runs are
    independent, so the gradient of sum_b F_b is every run's gradient), which XLA compiles to
    far fewer kernels than a vmapped value_and_grad: of f at the end-to-end matrices, then of
    the product (``end_to_end_vjp`` of the architecture: a plain network's products by
    ``architecture.matmul``, 4 to 8x faster at width 4; on transposed layers by
    ``transposed_end_to_end_vjp``); for a single run of the loss of its unbatched layers; on
    scalar chains from f'(p) and the products of the other weights
    (``architecture.others_product``; ``exact_zeros=False``: a step that is NaN at a zero weight
    and otherwise the same bits, for the map loop's first pass over a block)."""
    from ..architecture import others_product
    from ..systems import GradientDescent

    problem = system.state_problem
    flat = layout == "chain"
    axis = 1 if flat else 0
    if flat and isinstance(system, GradientDescent):
        # dF/dw_i = f'(p) prod_(j != i) w_j: one reduction and elementwise work per step
        loss_of_product = jax.vmap(problem.loss_of_product)

        def loss_and_step(s):
            others, p = others_product(s[0], exact_zeros)
            losses, pull = jax.vjp(loss_of_product, p)
            (dp,) = pull(jnp.ones_like(losses))
            return losses, (s[0] - system.eta * dp * others,)

        return loss_and_step, lambda s: loss_of_product(jnp.prod(s[0], axis=0)), axis
    if flat:
        loss_b = jax.vmap(problem.loss_flat, in_axes=1)

        def loss_state(s):
            return loss_b(s[0])
    elif layout == "transposed":
        loss_t = jax.vmap(problem.loss)

        def loss_state(s):
            return loss_t(tuple(jnp.swapaxes(S, -1, -2) for S in s))
    elif batch == 1:                # one run: plain products, not batched ones of one matrix
        def loss_state(s):
            return problem.loss(tuple(W[0] for W in s))[None]
    else:
        loss_state = jax.vmap(problem.loss)
    if layout == "transposed" or (isinstance(system, GradientDescent) and not flat
                                  and batch != 1):
        # f's gradient at the end-to-end matrices, then the architecture's pullback of the
        # product (``end_to_end_vjp``: plain products by ``architecture.matmul``); on W_l^T
        # the step is S_l - eta G_l^T, the gradients written out before they are transposed
        # into the update (else XLA folds the transpose back into their dots)
        f_b = jax.vmap(problem.f)
        transposed = layout == "transposed"
        arch = problem.architecture
        end_to_end_vjp = arch.transposed_end_to_end_vjp if transposed else arch.end_to_end_vjp

        def loss_and_step(s):
            end, pullback = end_to_end_vjp(s)
            losses, pull = jax.vjp(f_b, end)
            (df,) = pull(jnp.ones_like(losses))
            g = pullback(df)
            if transposed:
                g = tuple(jnp.swapaxes(G, -1, -2) for G in jax.lax.optimization_barrier(g))
            return losses, tuple(W - system.eta * G for W, G in zip(s, g, strict=True))
    elif isinstance(system, GradientDescent):
        def loss_and_step(s):
            losses, pull = jax.vjp(loss_state, s)
            (g,) = pull(jnp.ones_like(losses))
            return losses, tuple(W - system.eta * G for W, G in zip(s, g, strict=True))
    elif flat:
        one = jax.vmap(system.loss_and_step_flat, in_axes=1, out_axes=(0, 1))

        def loss_and_step(s):
            losses, v = one(s[0])
            return losses, (v,)
    else:
        loss_and_step = jax.vmap(system.loss_and_step)
    return loss_and_step, loss_state, axis
