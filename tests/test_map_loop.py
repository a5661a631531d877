"""The batched map loop's fast paths give the results of checking every step: blocks of light
steps (records at any stride, also inside a block) against blocks of 1 (every step fully
checked: ``MAX_BLOCK`` set to 1), and runs split over several CPU devices against one device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dlnflow as dl
from dlnflow import init
from dlnflow.simulate import SaveAt, Stop, maps
from dlnflow.simulate.maps import MAX_BLOCK, _map_loop, block_size, map_devices


def _scalar_batch():
    prob = dl.Problem.scalar_chain(3, target=1.0)
    w0 = np.array([[0.9, 1.0, 1.1],        # converges fast
                   [0.3, 0.5, 0.4],        # converges later
                   [0.1, 0.2, 0.15],       # crosses a long plateau first
                   [3.0, 3.0, 3.0],        # eta * curvature far beyond 2: diverges
                   [0.0, 0.0, 1.0],        # a saddle: exact fixed point of the map
                   [5e-3, 5e-3, 5e-3]])    # still on the plateau at max_steps
    return prob, w0


def test_block_size_ignores_the_stride():
    assert block_size(20_000, exact_stall=False) == MAX_BLOCK == 32
    assert block_size(37, exact_stall=False) == block_size(1, exact_stall=False) == MAX_BLOCK
    assert block_size(64, exact_stall=True) == 1


def _checked(monkeypatch, system, params, **kw):
    """The reference: every step fully checked (blocks of 1)."""
    with monkeypatch.context() as m:
        m.setattr(maps, "MAX_BLOCK", 1)
        return dl.simulate(system, params, **kw)


def test_light_blocks_equal_checked_steps_scalar(monkeypatch):
    prob, w0 = _scalar_batch()
    system = dl.GradientDescent(prob, 0.05)
    fast = dl.simulate(system, w0, stop=Stop(loss=1e-10, max_steps=3000), save=SaveAt(every=25))
    slow = _checked(monkeypatch, system, w0, stop=Stop(loss=1e-10, max_steps=3000),
                    save=SaveAt(every=1))
    every1 = dl.simulate(system, w0, stop=Stop(loss=1e-10, max_steps=3000), save=SaveAt(every=1))
    assert fast.metadata["block"] == every1.metadata["block"] == 32
    assert slow.metadata["block"] == 1
    # records every step written inside light blocks: the checked run's (losses inside a block
    # come from value_and_grad's forward pass, the checked ones from the loss alone: equal to
    # round-off of F, 1e-18 absolute here, far below the 1e-10 threshold)
    assert every1.status == slow.status and every1.iterations.tolist() == slow.iterations.tolist()
    np.testing.assert_allclose(every1.loss, slow.loss, rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(every1.valid, slow.valid)
    assert slow.status == ["converged", "converged", "converged", "diverged", "stalled",
                           "max_steps"]
    assert fast.status == slow.status
    # exact iteration of every threshold crossing, divergence, fixed point (the saddle start is
    # one: iteration 0) and the cap
    assert fast.iterations.tolist() == slow.iterations.tolist()
    assert slow.iterations[4] == 0 and slow.iterations[5] == 3000
    assert len(set(slow.iterations[:3].tolist())) == 3
    for a, b in zip(fast.params_final, slow.params_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fast.loss_final, slow.loss_final, rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(fast.loss_final))
    # the records the fast run keeps (every 25th iterate) are the slow run's
    common = slow.loss[:, ::25]
    n = fast.loss.shape[1]
    np.testing.assert_allclose(fast.loss, common[:, :n], rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(fast.valid, slow.valid[:, ::25][:, :n])


def test_light_blocks_equal_checked_steps_matrix(monkeypatch):
    rng = np.random.default_rng(3)
    prob = dl.Problem.regression(rng.normal(size=(3, 8)), rng.normal(size=(2, 8)),
                                 widths=[3, 4, 2])
    params = init.gaussian(prob, 1, batch=5)
    params = tuple(W.at[4].multiply(8.0) for W in params)   # run 4 starts far out: diverges
    system = dl.GradientDescent(prob, 0.1)
    fast = dl.simulate(system, params, stop=Stop(loss=1e-9, max_steps=2000),
                       save=SaveAt(every=20))
    slow = _checked(monkeypatch, system, params, stop=Stop(loss=1e-9, max_steps=2000),
                    save=SaveAt(every=1))
    assert slow.status[4] == "diverged"
    assert slow.status.count("converged") >= 3
    assert fast.status == slow.status
    assert fast.iterations.tolist() == slow.iterations.tolist()
    for a, b in zip(fast.params_final, slow.params_final, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(jax.device_count() < 2, reason="needs two JAX CPU devices")
def test_split_over_devices_equals_one_device():
    prob, w0 = _scalar_batch()
    params = prob.scalar_params(jnp.asarray(np.vstack([w0, w0[:1] * 0.97])))   # 7 runs: padded
    system = dl.GradientDescent(prob, 0.05)
    assert map_devices(7) == min(jax.device_count(), 7) >= 2
    args = (jnp.asarray(1e-10), jnp.asarray(0.0), jnp.asarray(1e12), jnp.asarray(0.0))
    one = jax.device_get(_map_loop(system, params, 3000, 25, 25, 1, *args))
    many = jax.device_get(_map_loop(system, params, 3000, 25, 25, 2, *args))
    # final states, losses, statuses, iterations: identical
    for a, b in zip(jax.tree.leaves(one[1:6]), jax.tree.leaves(many[1:6]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(one[0]) == int(many[0]) == 3000
    # records up to each run's end (a device whose runs have all stopped stops recording)
    iters = one[5]
    kept = (np.arange(one[7].shape[0])[:, None] * 25) <= iters[None, :]
    assert kept.sum() > 130
    np.testing.assert_array_equal(np.where(kept, one[7], 0), np.where(kept, many[7], 0))
    for a, b in zip(one[6], many[6], strict=True):
        np.testing.assert_array_equal(np.where(kept[..., None, None], a, 0),
                                      np.where(kept[..., None, None], b, 0))
    # and simulate itself splits a batch over the devices
    traj = dl.simulate(system, params, stop=Stop(loss=1e-10, max_steps=3000),
                       save=SaveAt(every=25))
    assert traj.metadata["devices"] == 2
    np.testing.assert_array_equal(traj.iterations, one[5])
