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
from dlnflow.simulate.map_loop import map_loop, record_rows
from dlnflow.simulate.maps import traced_settings
from dlnflow.simulate.split import over_devices, run_devices


def _scalar_batch():
    prob = dl.Problem.scalar_chain(3, target=1.0)
    w0 = np.array([[0.9, 1.0, 1.1],        # converges fast
                   [0.3, 0.5, 0.4],        # converges later
                   [0.1, 0.2, 0.15],       # crosses a long plateau first
                   [3.0, 3.0, 3.0],        # eta * curvature far beyond 2: diverges
                   [0.0, 0.0, 1.0],        # a saddle: exact fixed point of the map
                   [5e-3, 5e-3, 5e-3]])    # still on the plateau at max_steps
    return prob, w0


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
    assert run_devices(7) == min(jax.device_count(), 7) >= 2
    args = (*(jnp.asarray(v) for v in (3000, 25, 25, 1e-10, 0.0, 1e12)), 0.0)
    state = (jax.vmap(prob.flatten)(params).T,)          # the loop's (L, B) layout
    rows = record_rows(121)

    def run(devices):
        return over_devices(
            lambda state, system: map_loop(system, state, "chain", rows, rows, 32, True, *args),
            devices, state, traced_settings(system), in_axis=1,
            out_axes=(None, 1, 0, 0, 0, 2, 1))
    one, many = run(1), run(2)
    # final states, losses, statuses, iterations: identical
    for a, b in zip(jax.tree.leaves(one[1:5]), jax.tree.leaves(many[1:5]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(one[0]) == 3000
    # records up to each run's end (a device whose runs have all stopped stops recording)
    iters = one[4]
    kept = (np.arange(121)[:, None] * 25) <= iters[None, :]
    assert kept.sum() > 130
    np.testing.assert_array_equal(np.where(kept, one[6][:121], 0),
                                  np.where(kept, many[6][:121], 0))
    np.testing.assert_array_equal(np.where(kept[:, None], one[5][0][:121], 0),
                                  np.where(kept[:, None], many[5][0][:121], 0))
    # and simulate itself splits a batch over the devices
    traj = dl.simulate(system, params, stop=Stop(loss=1e-10, max_steps=3000),
                       save=SaveAt(every=25))
    assert traj.metadata["devices"] == 2
    np.testing.assert_array_equal(traj.iterations, one[4])


def test_others_product_equals_the_product_of_the_others():
    """prod_(j != i) w_j from one reduction (q / w_i, zeros counted) against numpy's product
    of the other entries, with no, one and two exact zeros in a column."""
    from dlnflow.architecture import others_product
    rng = np.random.default_rng(5)
    w = rng.normal(size=(7, 6))
    w[2, 1] = 0.0                      # one zero in run 1
    w[0, 2] = w[5, 2] = 0.0            # two zeros in run 2
    others, prod = jax.device_get(others_product(jnp.asarray(w)))
    ref = np.array([[np.prod(np.delete(w[:, b], i)) for b in range(6)] for i in range(7)])
    np.testing.assert_allclose(others, ref, rtol=4e-16 * 7, atol=0)
    np.testing.assert_allclose(prod, np.prod(w, axis=0), rtol=4e-16 * 7, atol=0)
    assert others[2, 1] == np.prod(np.delete(w[:, 1], 2)) != 0 and np.all(others[:, 2] == 0)
    # the zero-free form: the same bits in the runs without a zero, NaN just at the zeros
    quick, qprod = jax.device_get(others_product(jnp.asarray(w), exact_zeros=False))
    free = [0, 3, 4, 5]
    np.testing.assert_array_equal(quick[:, free], others[:, free])
    np.testing.assert_array_equal(qprod[free], prod[free])
    np.testing.assert_array_equal(np.isnan(quick), w == 0)


def test_a_new_step_size_reuses_the_compiled_loop():
    """The step size, budget and strides are inputs of the compiled loop: a second step size,
    budget on the same shapes (record rows rounded up by record_rows: 121 and 125 records
    share 128 rows) compile nothing new (counted by JAX's compile events)."""
    assert record_rows(121) == record_rows(125) == 128 and record_rows(1001) == 1024
    assert record_rows(1) == 1 and record_rows(9) == 9 and record_rows(17) == 18
    prob, w0 = _scalar_batch()
    dl.simulate(dl.GradientDescent(prob, 0.05), w0, stop=Stop(loss=1e-10, max_steps=3000),
                save=SaveAt(every=25))
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, *a, **k: compiles.append(name) if "backend_compile" in name else None)
    try:
        tr = dl.simulate(dl.GradientDescent(prob, 0.03), w0,
                         stop=Stop(loss=1e-10, max_steps=3100), save=SaveAt(every=25))
    finally:
        jax.monitoring.clear_event_listeners()
    assert compiles == []
    assert tr.metadata["max_steps"] == 3100 and tr.status[3] == "diverged"


def test_without_fixed_point_checks_runs_keep_going():
    """Stop(stall_tol=None): a saddle start (an exact fixed point) runs to the budget with its
    state unchanged, where the default stops it as stalled at iteration 0."""
    prob, w0 = _scalar_batch()
    system = dl.GradientDescent(prob, 0.05)
    on = dl.simulate(system, w0, stop=Stop(loss=1e-10, max_steps=300))
    off = dl.simulate(system, w0, stop=Stop(loss=1e-10, max_steps=300, stall_tol=None))
    assert on.status[4] == "stalled" and on.iterations[4] == 0
    assert off.status[4] == "max_steps" and off.iterations[4] == 300
    np.testing.assert_array_equal(off.scalar_weights()[4, -1], w0[4])
    # the other runs do not depend on the check
    keep = [0, 1, 2, 3, 5]
    assert [off.status[i] for i in keep] == [on.status[i] for i in keep]
    np.testing.assert_array_equal(off.iterations[keep], on.iterations[keep])


def test_fixed_points_of_matrix_runs_found_at_their_first_iterate(monkeypatch):
    """Matrix states test for a fixed point at each block's end and repeat the block testing
    every step when one is found: the same iterations as testing every step (blocks of 1), for
    a start at the saddle W = 0 (fixed at iteration 0) and runs that reach an exact float64
    fixed point at the minimum after a few hundred steps."""
    prob = dl.Problem.target_matrix(np.diag([1.0, 0.5]), depth=2, width=2)
    params = init.gaussian(prob, 2, batch=4)
    params = tuple(W.at[0].set(0.0) for W in params)               # run 0 at the saddle
    system = dl.GradientDescent(prob, 0.3)
    stop = Stop(max_steps=4000)
    fast = dl.simulate(system, params, stop=stop, save=SaveAt(every=7))
    slow = _checked(monkeypatch, system, params, stop=stop, save=SaveAt(every=7))
    assert fast.status[0] == "stalled" and fast.iterations[0] == 0
    assert all(s == "converged" for s in fast.status[1:])           # fixed at the minimum
    assert fast.status == slow.status
    assert fast.iterations.tolist() == slow.iterations.tolist()
    assert len(set(fast.iterations[1:].tolist())) == 3 and max(fast.iterations) < 4000
    for a, b in zip(fast.params_final, slow.params_final, strict=True):
        np.testing.assert_array_equal(a, b)
    # a fixed point: one more step leaves the final state unchanged
    one = dl.simulate(system, tuple(W[1:] for W in fast.params_final), stop=Stop(max_steps=1))
    for a, b in zip(one.params_final, fast.params_final, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b)[1:])


def test_unchecked_blocks_equal_a_numpy_loop_checking_every_step():
    """Without the fixed-point test, blocks run unchecked and are repeated checked when a run
    stops in them: iterations, statuses and final weights of a plain numpy GD loop on the chain
    that checks every iterate (threshold, then F non-finite or above diverge_factor
    max(1, F(w_0)): diverged, keeping the previous iterate). A start with one zero weight (the
    first pass's zero-free step is NaN there) is repeated with the exact step, in the block in
    which another run diverges."""
    prob, w0 = _scalar_batch()
    w0 = np.vstack([w0, [0.0, 0.8, 1.2]])
    eta, thr, budget = 0.05, 1e-10, 3000
    stop = Stop(loss=thr, max_steps=budget, stall_tol=None)
    traj = dl.simulate(dl.GradientDescent(prob, eta), w0, stop=stop, save=SaveAt(every=25))
    status, iters, final = [], [], []
    for w in w0:
        F = lambda v: 0.5 * (np.prod(v) - 1.0) ** 2           # noqa: E731
        limit = stop.diverge_factor * max(1.0, F(w))
        prev = w
        for k in range(budget + 1):
            f = F(w)
            if not np.isfinite(f) or f > limit:
                status.append("diverged"), iters.append(k - 1), final.append(prev)
                break
            if f <= thr:
                status.append("converged"), iters.append(k), final.append(w)
                break
            if k == budget:
                status.append("max_steps"), iters.append(k), final.append(w)
                break
            prev = w
            w = w - eta * (np.prod(w) - 1.0) * np.array(
                [np.prod(np.delete(w, i)) for i in range(w.size)])
    assert status == ["converged", "converged", "converged", "diverged", "max_steps",
                      "max_steps", "converged"]
    assert iters[3] < traj.metadata["block"] and iters[6] > traj.metadata["block"]
    assert traj.status == status and traj.iterations.tolist() == iters
    np.testing.assert_allclose(traj.scalar_weights()[:, -1], np.array(final), rtol=1e-12,
                               atol=1e-14)


def test_fixed_points_of_chains_found_from_their_last_move():
    """Chains testing exactly for a fixed point run unchecked blocks and date a fixed point from
    the last step that moved a weight; the reference tests every step (a positive tolerance,
    the smallest subnormal: the same test for weights of size 1). Runs from random starts reach
    an exact float64 fixed point inside a block; statuses, iterations, final weights and every
    record are the same bits; the saddle start is fixed at iteration 0."""
    prob = dl.Problem.scalar_chain(3, target=1.0)
    w0 = np.random.default_rng(0).uniform(0.6, 1.4, (8, 3))
    w0[0] = [0.0, 0.0, 1.0]
    system = dl.GradientDescent(prob, 0.1)
    fast = dl.simulate(system, w0, stop=Stop(max_steps=3000), save=SaveAt(every=10))
    ref = dl.simulate(system, w0, stop=Stop(max_steps=3000, stall_tol=5e-324),
                      save=SaveAt(every=10))
    assert fast.status == ref.status
    assert fast.status[0] == "stalled" and fast.iterations[0] == 0
    assert fast.status[1:] == ["converged"] * 7                  # fixed at the minimum
    assert fast.iterations.tolist() == ref.iterations.tolist()
    inside = [k for k in fast.iterations[1:] if k % fast.metadata["block"] != 0]
    assert len(set(inside)) >= 5 and max(fast.iterations) < 3000
    np.testing.assert_array_equal(fast.scalar_weights()[:, -1], ref.scalar_weights()[:, -1])
    np.testing.assert_array_equal(fast.loss, ref.loss)
    # iterate f of each run is fixed (the next one equals it) and iterate f - 1 is not
    f = fast.iterations[1:]
    every = dl.simulate(system, w0[1:], stop=Stop(max_steps=int(f.max()) + 1, stall_tol=None),
                        save=SaveAt(every=1)).scalar_weights()
    runs = np.arange(7)
    np.testing.assert_array_equal(every[runs, f + 1], every[runs, f])
    assert np.all(np.any(every[runs, f] != every[runs, f - 1], axis=1))
    np.testing.assert_array_equal(every[runs, f], fast.scalar_weights()[1:, -1])
