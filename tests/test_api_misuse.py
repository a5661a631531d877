"""API misuse (issue 11, item 7): public entry points raise InputError naming the argument,
never an AttributeError or a JAX error from deep inside."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dlnflow as dl
from dlnflow.losses import CustomLoss


@pytest.fixture(scope="module")
def chain():
    return dl.Problem.scalar_chain(3, target=1.0)


def test_simulate_with_a_name_instead_of_a_system(chain):
    with pytest.raises(dl.InputError, match="system must be a flow or a map"):
        dl.simulate("gd", [1.0, 1.0, 1.0], stop=dl.Stop(max_steps=3))


@pytest.mark.parametrize("build, needle", [
    (lambda: dl.Problem.scalar_chain(3, loss=lambda p: jnp.stack([p, p])),
     r"custom loss '<lambda>' must return one real scalar .* shape \(2,\)"),
    (lambda: CustomLoss(lambda W: W, (2, 2)),
     r"custom loss '<lambda>' must return one real scalar .* shape \(2, 2\)"),
    (lambda: CustomLoss(lambda W: (W.sum(), W.sum()), (2, 2)), "must return one real scalar"),
    (lambda: CustomLoss(lambda W: jnp.sum(W).astype(jnp.int32), (2, 2)), "dtype int32"),
    (lambda: CustomLoss(lambda W: np.asarray(W).sum(), (2, 2)),
     "custom loss '<lambda>' fails on a \\(2, 2\\) float64 matrix .*jax.numpy"),
    (lambda: CustomLoss(3.0, (1, 1)), "must be a callable"),
    (lambda: CustomLoss(lambda W: W.sum(), 3), r"shape must be a pair \(d_out, d_in\)"),
])
def test_custom_loss_is_checked_when_built(build, needle):
    with pytest.raises(dl.InputError, match=needle):
        build()


def test_named_custom_loss_is_named():
    def vector_loss(W):
        return jnp.ravel(W)

    with pytest.raises(dl.InputError, match="custom loss 'vector_loss'"):
        dl.Problem.scalar_chain(2, loss=vector_loss)


def test_scalar_chain_params_as_a_list_like_an_array(chain):
    from_list, b1 = chain.check_params([1, 1, 1])
    from_array, b2 = chain.check_params(np.ones(3))
    assert b1 is b2 is None
    assert all(np.array_equal(a, b) for a, b in zip(from_list, from_array, strict=True))
    batch, b = chain.check_params([[1, 1, 1], [0.5, 2, 1]])
    assert b == 2 and batch[1].shape == (2, 1, 1)
    layers, b = chain.check_params([np.ones((1, 1))] * 3)       # layers still work
    assert b is None and layers[0].shape == (1, 1)
    traj = dl.simulate(dl.GradientDescent(chain, 0.1), [1, 1, 1], stop=dl.Stop(max_steps=2))
    assert traj.batch_size == 1
    with pytest.raises(dl.InputError, match="a start must have 3 weights"):
        chain.check_params([1, 1])
    with pytest.raises(dl.InputError, match="params must be numbers"):
        chain.check_params(["a", 1, 1])


@pytest.mark.parametrize("call, needle", [
    (lambda P: dl.init.lecun_normal("x", 0), "problem must be a dlnflow.Problem, got 'x'"),
    (lambda P: dl.init.identity(None), "problem must be a dlnflow.Problem, got None"),
    (lambda P: dl.init.by_name("lecun_normal", [1, 2], 0), "problem must be a dlnflow.Problem"),
    (lambda P: dl.init.lecun_normal(P, "abc"), "key must be a JAX PRNG key"),
    (lambda P: dl.init.lecun_normal(P, 10**30), r"key: an integer seed must lie in"),
    (lambda P: dl.init.by_name(3, P), "kind must be the name of an initialisation"),
    (lambda P: dl.init.scaled("x", 2.0), "params must be a tuple of arrays"),
    (lambda P: dl.init.explicit(P, ["a", "b", "c"]), "arrays must be numbers"),
    (lambda P: dl.critical.critical_sets("x"), "problem must be a dlnflow.Problem, got 'x'"),
    (lambda P: dl.critical.critical_sets(None), "problem must be a dlnflow.Problem, got None"),
    (lambda P: dl.rates.scalar_chain_rates("x", [1, 1, 1]), "problem must be a dlnflow.Problem"),
    (lambda P: dl.rates.scalar_chain_rates(P, "abc"), "weights must be numbers"),
    (lambda P: dl.rates.scalar_chain_rates(P, [1, 1, 1], etas="x"), "etas must be numbers"),
    (lambda P: dl.rates.scalar_chain_rates(P, [1, 1, 1], etas=[-0.1]), "etas must be positive"),
    (lambda P: dl.rates.scalar_chain_rates(P, [1, 1, 1], t1="x"), "t1 must be a finite number"),
    (lambda P: dl.rates.scalar_chain_rates(P, [1, 1, 1], max_steps=0),
     "max_steps must be an integer >= 1"),
    (lambda P: dl.rates.hessian_eigenvalues("x", [1, 1, 1]), "problem must be a dlnflow.Problem"),
    (lambda P: dl.rates.local_rate("x"), "trajectory must be a dlnflow.Trajectory"),
    (lambda P: dl.rates.loss_rate(3), "trajectory must be a dlnflow.Trajectory"),
    (lambda P: dl.rates.time_to_loss("x", 1e-3), "trajectory must be a dlnflow.Trajectory"),
    (lambda P: dl.rates.gd_rate_from_eigenvalues("abc", 0.1), "eigenvalues must be numbers"),
    (lambda P: dl.rates.first_below("abc", 0.1), "values must be numbers"),
    (lambda P: dl.rates.gd_flow_distance("x", [1, 1, 1], 0.1, 1.0),
     "problem must be a dlnflow.Problem"),
    (lambda P: dl.invariants.drift("x"), "trajectory must be a dlnflow.Trajectory"),
    (lambda P: dl.bounds.alpha_star_scalar("x", 1.0), "weights must be numbers"),
    (lambda P: dl.Problem.scalar_chain(2, target="x"), "target must be numbers"),
])
def test_public_entry_points_name_the_bad_argument(chain, call, needle):
    with pytest.raises(dl.InputError, match=needle):
        call(chain)


def test_integer_and_key_seeds_still_work(chain):
    a = dl.init.lecun_normal(chain, 7)
    b = dl.init.lecun_normal(chain, jax.random.PRNGKey(7))
    c = dl.init.lecun_normal(chain, np.int64(7))
    assert all(np.array_equal(x, y) and np.array_equal(x, z) for x, y, z in zip(a, b, c,
                                                                                 strict=True))
    dl.init.lecun_normal(chain, jax.random.key(7))
    dl.init.lecun_normal(chain, 2**63 - 1)


def test_diffrax_refuses_steps_and_times_together(chain):
    """diffrax records the steps or given times, never both: refused, not a dropped SaveAt.ts;
    rodas4 records both (the requested time among the step records)."""
    save = dl.SaveAt(ts=[0.5], steps=True)
    with pytest.raises(dl.InputError, match="records the solver steps or given times"):
        dl.simulate(dl.GradientFlow(chain), [0.5, 0.5, 0.5], t1=1.0, solver="tsit5", save=save)
    tr = dl.simulate(dl.GradientFlow(chain), [0.5, 0.5, 0.5], t1=1.0, solver="rodas4", save=save)
    assert np.any(np.isclose(tr.t[0], 0.5, rtol=0, atol=1e-15))
