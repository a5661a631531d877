"""The scipy backend's jitted batched flatten (one program instead of one compile per operation)
gives ``jax.vmap(Problem.flatten)``'s vectors to the bit, and both are the layers' row-major
entries concatenated (a plain NumPy re-implementation)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import dlnflow as dl
from dlnflow.simulate import scipy as sp

PROBLEMS = {
    "chain": lambda: dl.Problem.scalar_chain(5, 1.0),
    "matrix": lambda: dl.Problem.target_matrix(np.diag([2.0, 1.0, 0.5]), widths=(3, 4, 2, 3)),
    "residual": lambda: dl.Problem(dl.Residual(2, np.ones((3, 2)), np.ones((2, 3))),
                                   dl.losses.SquareTarget(np.eye(2))),
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_jitted_flatten_is_the_reference_flatten(name):
    prob = PROBLEMS[name]()
    params = dl.init.lecun_normal(prob, 3, batch=4)
    fast = np.asarray(sp._functions(dl.GradientFlow(prob))[4](params))
    ref = np.asarray(jax.vmap(prob.flatten)(params))
    np.testing.assert_array_equal(fast, ref)
    by_hand = np.concatenate([np.asarray(W).reshape(4, -1) for W in params], axis=1)
    np.testing.assert_array_equal(fast, by_hand)
    assert fast.shape == (4, prob.num_params)
