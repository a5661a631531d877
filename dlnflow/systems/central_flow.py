"""Central flow of gradient descent at the edge of stability (Cohen, Damian, Talwalkar, Kolter
and Lee, "Understanding optimization in deep learning with central flows", ICLR 2025, Sec. 3).

GD with step eta oscillates along the top Hessian eigenvector u once the sharpness
S(w) = lambda_max(H(w)) reaches 2/eta; its time average follows, in flow time t = k eta,

    dw/dt = -(grad F(w) + (1/2) sigma^2 grad S(w)),    grad S(w) = grad_w (u^T H(w) u) (u fixed),

with sigma^2 >= 0 the variance of the oscillation, zero below the threshold and, on it, the value
that keeps S at 2/eta (d S/dt = 0): sigma^2 = -2 <grad S, grad F> / ||grad S||^2 (the paper's
projection of -grad F onto the tangent of {S = 2/eta}). The authors' code (locuslab/central_flows,
``minimal.py``) discretises it with Euler substeps dt and chooses sigma^2 by the complementarity
problem 0 <= sigma^2 _|_ 2/eta - (S + dt dS/dt) >= 0, i.e. the constraint linearised over one
substep. We take the same rule in continuous form with rate kappa = 1/dt = substeps/eta:

    sigma^2 = max(0, 2 [-<grad S, grad F> - kappa (2/eta - S)] / ||grad S||^2),

which is the paper's sigma^2 on the edge (S = 2/eta), zero (exactly gradient flow) while
S < 2/eta - (dS/dt along the gradient flow)/kappa, and pulls a drift above 2/eta back at rate
kappa (solver round-off cannot accumulate). The paper's prediction of GD's time-averaged loss is
E[F(w_k)] ~ F(w) + (1/2) sigma^2 S(w) = F(w) + sigma^2 / eta on the edge (``predicted_loss``;
the authors' code: ``loss + Sigma_eig.sum() / lr``).

One eigenvalue only: when several reach 2/eta the paper solves a semidefinite complementarity
problem (CVXPY in the authors' code) for a matrix Sigma; that case is not implemented.

Backends: the top eigenpair comes from ``dlnflow.sharpness`` (its traceable dense eigh up to
``AUTO_DENSE_MAX`` parameters, else Lanczos through a host callback), so the field runs under the
explicit solvers (scipy DOP853/RK45, diffrax tsit5/dopri5/dopri8; tested: DOP853 and tsit5 agree
to 1e-10). Jacobian-based solvers see u frozen (no derivative through the eigensolver): rodas4
still converges but takes some 500 times the steps; use an explicit solver.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputError, check_positive, show
from ..problem import Params, Problem
from .base import AbstractFlow


def _top_pair_dense(problem: Problem, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    from ..sharpness import _dense_eigh

    vals, vecs = _dense_eigh(problem, x[None])
    return vals[0, -1], vecs[0, :, -1]


def _top_pair_lanczos(problem: Problem, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    from ..sharpness import top_eigenpairs

    dynamic, static = eqx.partition(problem, eqx.is_array)

    def host(dyn, v):
        prob = eqx.combine(jax.tree_util.tree_map(jnp.asarray, dyn), static)
        vals, vecs = top_eigenpairs(prob, prob.unflatten(jnp.asarray(v)), k=1,
                                    method="lanczos")
        return np.float64(vals[0]), np.asarray(vecs[:, 0], np.float64)

    shapes = (jax.ShapeDtypeStruct((), jnp.float64), jax.ShapeDtypeStruct(x.shape, jnp.float64))
    return jax.pure_callback(host, shapes, dynamic, x, vmap_method="sequential")


class CentralFlow(AbstractFlow):
    """Central flow of GD with step ``eta``, one eigenvalue (module docstring):
    dw/dt = -(grad F + (1/2) sigma^2 grad S), sigma^2 keeping S <= 2/eta;
    ``substeps``: kappa = substeps / eta (the authors' Euler substeps per GD step, default 4);
    ``method``: the top eigenpair by dense eigh, Lanczos, or auto (dense up to AUTO_DENSE_MAX
    parameters)."""

    problem: Problem
    eta: float = eqx.field(static=True)
    substeps: float = eqx.field(static=True, default=4.0)
    method: str = eqx.field(static=True, default="auto")

    def __init__(self, problem: Problem, eta: float, substeps: float = 4.0,
                 method: str = "auto"):
        self.problem = problem
        self.eta = check_positive("eta", eta)
        self.substeps = check_positive("substeps", substeps)
        if method not in ("auto", "dense", "lanczos"):
            raise InputError(f"method must be auto, dense or lanczos, got {show(method)}")
        if method == "dense" and isinstance(problem, Problem):
            from ..sharpness import check_dense

            check_dense(problem.num_params)
        self.method = method

    @property
    def threshold(self) -> float:
        """The stability threshold 2/eta."""
        return 2.0 / self.eta

    def _top_pair(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        from ..sharpness import AUTO_DENSE_MAX

        x = jax.lax.stop_gradient(x)              # the eigensolver is not differentiated
        dense = self.method == "dense" or (self.method == "auto"
                                           and self.problem.num_params <= AUTO_DENSE_MAX)
        if dense:
            lam, u = _top_pair_dense(self.problem, x)
        else:
            lam, u = _top_pair_lanczos(self.problem, x)
        return jax.lax.stop_gradient(lam), jax.lax.stop_gradient(u)

    def terms_flat(self, x: jax.Array) -> dict[str, jax.Array]:
        """At the flat point x: loss F, gradient g, sharpness S, top eigenvector u,
        grad S = grad_w (u^T H(w) u), sigma^2 and the field -(g + sigma^2 grad S / 2)."""
        loss_flat = self.problem.loss_flat
        lam, u = self._top_pair(x)
        loss, g = jax.value_and_grad(loss_flat)(x)

        def rayleigh(y):
            return jnp.vdot(u, jax.jvp(jax.grad(loss_flat), (y,), (u,))[1])

        grad_s = jax.grad(rayleigh)(x)
        nrm2 = jnp.vdot(grad_s, grad_s)
        kappa = self.substeps / self.eta
        need = -jnp.vdot(grad_s, g) - kappa * (self.threshold - lam)
        sigma2 = jnp.where(nrm2 > 0, jnp.maximum(0.0, 2.0 * need / jnp.where(nrm2 > 0, nrm2, 1.0)),
                           0.0)
        field = -(g + 0.5 * sigma2 * grad_s)
        return {"loss": loss, "grad": g, "sharpness": lam, "u": u, "grad_sharpness": grad_s,
                "sigma2": sigma2, "field": field}

    def vector_field_flat(self, t: jax.Array, v: jax.Array) -> jax.Array:
        return self.terms_flat(v)["field"]

    def vector_field(self, t: jax.Array, y: Params) -> Params:
        return self.problem.unflatten(self.vector_field_flat(t, self.problem.flatten(y)))

    def sigma2(self, params: Params) -> jax.Array:
        """The oscillation variance sigma^2 at ``params`` (0 off the edge)."""
        return self.terms_flat(self.problem.flatten(params))["sigma2"]

    def predicted_loss(self, params: Params) -> jax.Array:
        """The paper's prediction of GD's time-averaged loss: F(w) + sigma^2 / eta."""
        terms = self.terms_flat(self.problem.flatten(params))
        return terms["loss"] + terms["sigma2"] / self.eta

    def describe(self) -> dict:
        return {**super().describe(), "eta": self.eta, "substeps": self.substeps,
                "method": self.method}
