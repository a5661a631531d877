"""diffrax solves partitioned over the CPU devices (``split.across_devices``: one program, one
compile) give the answers of the same solves on one device: the same accepted steps and times
(the runs do not interact), states equal to round-off; the program cache keeps the partitioned
program apart from the one-device one."""

import jax
import numpy as np
import pytest

import dlnflow as dl
from dlnflow import program_cache
from dlnflow.simulate import diffrax as dx
from dlnflow.simulate.split import across_devices

pytestmark = pytest.mark.skipif(jax.device_count() < 2, reason="needs two CPU devices")


def _solve(devices):
    prob = dl.Problem.target_matrix(np.diag([1.0, 2.0, 1.5]), depth=3, width=3)
    params = dl.init.glorot_normal(prob, 7, batch=5)                    # odd: padded
    system = dl.GradientFlow(prob)
    settings = (np.asarray(0.0), "tsit5", np.asarray(1e-8), np.asarray(1e-10), None,
                np.zeros(0), False, 4096, False, np.asarray(1e6))
    return across_devices(lambda runs, s: dx._batch(s, *runs, *settings), devices,
                          (params, np.full(5, 3.0)), system)


def test_partitioned_solve_equals_one_device():
    one, two = _solve(1), _solve(2)
    t1, t2 = np.asarray(one[0]), np.asarray(two[0])
    np.testing.assert_array_equal(t1, t2)                 # same steps, same times
    np.testing.assert_array_equal(one[-2], two[-2])       # accepted steps per run
    assert one[-2].shape == (5,) and np.all(one[-2] > 10)
    for a, b in zip(jax.tree.leaves(one[1]), jax.tree.leaves(two[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)      # round-off only
    np.testing.assert_allclose(one[2], two[2], rtol=1e-12, atol=1e-16)


def test_partitioned_arrays_key_their_own_program():
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    x = np.ones((4, 3))
    mesh = Mesh(np.array(jax.devices()[:2]), ("runs",))
    sharded = jax.device_put(x, NamedSharding(mesh, PartitionSpec("runs")))
    plain = program_cache._key(dx.solve, (jax.numpy.asarray(x),), {})[0]
    split = program_cache._key(dx.solve, (sharded,), {})[0]
    assert plain is not None and split is not None and plain != split
