"""Aligned gradient descent (AGD), Algorithm 1 of seed 001 ("Faster gradient descent in deep
linear networks: the advantage of depth").

Network: widths (d, 1, ..., 1), output y_hat(x) = Theta_L ... Theta_2 Theta_1 x with Theta_1 of
shape (1, d) (our W_1) and scalars Theta_l, l >= 2. Loss: the paper's
L(Theta) = (1/n) sum_i 0.5 (y_hat(x_i) - y_i)^2, which is exactly our regression loss
f = 0.5/n ||W X - Y||^2 (X of shape (d, n), Y of shape (1, n)): no constant factor to convert.
(Only the paper's Section 3.1 toy example writes (Theta_2 Theta_1 - 1)^2 without the 1/2.)

One AGD iteration is a round robin over the layers, each gradient taken at the current
intermediate point Theta_{t+(l-1)/L} (as in the proof of Theorem 1):

* layer 1:      Theta_1 <- Theta_1 - eta / P^2 dL/dTheta_1,   P = Theta_2 ... Theta_L;
* layer l >= 2: Theta_l <- Theta_l - 0.5 Theta_l^2 dL/dTheta_l.

With E = Y - Y_hat (a vector of length n) these give exactly (Theorem 1, eqs. 4 and 6)
E <- (I - (eta/n) X^T X) E after layer 1, and E <- (I - (1/(2n)) Y_hat Y_hat^T) E after each
layer l >= 2 (Y_hat taken before that layer's step); equivalently Theta_l is multiplied by
1 + <Y_hat, E>/(2n). The start is ``init.zero_first`` (Theta_1 = 0, Theta_l = 1).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import init
from .architecture import Plain
from .errors import InputError, check_positive
from .losses import Regression
from .problem import Params, Problem
from .simulate import SaveAt, Stop, simulate
from .systems import AbstractMap, GradientDescent


def _check_agd_problem(problem: Problem) -> None:
    if not isinstance(problem.objective, Regression) or not isinstance(problem.architecture,
                                                                       Plain):
        raise InputError("AlignedGD needs a plain regression problem "
                         "(Problem.regression(X, Y, widths=[d, 1, ..., 1]))")
    if problem.architecture.output_scale != 1.0:
        raise InputError("AlignedGD needs output_scale 1, got "
                         f"{problem.architecture.output_scale}")
    if any(w != 1 for w in problem.widths[1:]):
        raise InputError(f"AlignedGD needs widths [d, 1, ..., 1] (width one after the first "
                         f"layer), got {list(problem.widths)}")


class AlignedGD(AbstractMap):
    """AGD (seed 001, Algorithm 1) as a map: one ``step`` is one round robin over the layers.

    Layer 1 steps with eta / (Theta_2 ... Theta_L)^2, each later layer with 0.5 Theta_l^2;
    gradients of f = 0.5/n ||W X - Y||^2 at the current intermediate point. For depth 1 it is
    plain gradient descent with step eta.
    """

    problem: Problem
    eta: float

    def __init__(self, problem: Problem, eta: float):
        _check_agd_problem(problem)
        self.problem = problem
        self.eta = check_positive("eta", eta)

    def layer_update(self, params: Params, layer: int) -> Params:
        """One sub-step of the round robin: update layer ``layer`` (0-based) only."""
        grad = self.problem.grad(params)[layer]
        W = params[layer]
        if layer == 0:
            P = jnp.prod(jnp.stack([V[0, 0] for V in params[1:]])) if len(params) > 1 else 1.0
            new = W - (self.eta / P**2) * grad
        else:
            new = W - 0.5 * W**2 * grad
        return tuple(new if i == layer else V for i, V in enumerate(params))

    def step(self, params: Params) -> Params:
        for layer in range(len(params)):
            params = self.layer_update(params, layer)
        return params


def error_vector(problem: Problem, params: Params) -> jax.Array:
    """E = Y - Y_hat = Y - W X for a scalar-output regression problem: shape (..., n)."""
    if not isinstance(problem.objective, Regression) or problem.widths[-1] != 1:
        raise InputError("error_vector needs a scalar-output regression problem")
    W = problem.end_to_end(params)                         # (..., 1, d)
    return problem.objective.residuals(W)[..., 0, :]


def filled_loss(traj) -> np.ndarray:
    """Recorded losses (B, N) with the padding after a run's end (NaN) filled by its last value.

    A map stops early only at a fixed point (or divergence), where the loss stays constant.
    """
    loss = np.array(traj.loss, dtype=float)
    for b in range(loss.shape[0]):
        n = int(np.asarray(traj.valid[b]).sum())
        loss[b, n:] = loss[b, n - 1]
    return loss


def agd_run(X: Any, Y: Any, eta: float, depth: int, steps: int, record_every: int = 1):
    """AGD on widths [d, 1, ..., 1] (``depth`` layers) from init.zero_first: a Trajectory."""
    X = np.asarray(X, dtype=float)
    problem = Problem.regression(X, Y, widths=[X.shape[0]] + [1] * depth)
    return simulate(AlignedGD(problem, eta), init.zero_first(problem),
                    stop=Stop(max_steps=steps), save=SaveAt(every=record_every))


def shallow_gd_run(X: Any, Y: Any, eta: float, steps: int, record_every: int = 1):
    """Gradient descent on the shallow network W (1, d) from W = 0: a Trajectory."""
    X = np.asarray(X, dtype=float)
    problem = Problem.regression(X, Y, widths=[X.shape[0], 1])
    return simulate(GradientDescent(problem, eta), init.zeros(problem),
                    stop=Stop(max_steps=steps), save=SaveAt(every=record_every))


def shallow_gd_loss(X: Any, Y: Any, eta: float, steps: int) -> np.ndarray:
    """Closed form of shallow GD from W = 0 (Proposition 1): E_t = (I - (eta/n) X^T X)^t Y,
    loss_t = 0.5/n ||E_t||^2, t = 0..steps, by the eigendecomposition of X^T X / n."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(Y, dtype=float).reshape(-1)
    n = X.shape[1]
    lam, V = np.linalg.eigh(X.T @ X / n)
    c = V.T @ y
    t = np.arange(steps + 1)[:, None]
    return 0.5 / n * np.sum((c**2)[None, :] * (1 - eta * lam)[None, :] ** (2 * t), axis=1)


def paper_dataset(second: float = float(np.sqrt(2 * 0.01))) -> tuple[np.ndarray, np.ndarray]:
    """Seed 001 two-point data x1 = (sqrt 2, 0), x2 = (0, second), y = (1, 1): X (2, 2), Y (1, 2).

    second = sqrt(2 * 0.01) gives (1/n) X^T X = diag(1, 0.01) (Section 4.2); second =
    sqrt(2) * 0.02 gives diag(1, 4e-4) (Section 4.4, the 'unwhitened' example).
    """
    X = np.array([[np.sqrt(2), 0.0], [0.0, float(second)]])
    return X, np.ones((1, 2))
