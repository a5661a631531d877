"""``invariants.drift``'s NumPy path for (1, 1) factors gives the XLA path's values to the bit,
and both equal a plain loop over the definition max_(l, t) |D_l(t) - D_l(0)| with
D_l = w_(l+1)^2 - w_l^2 (scalar factors)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import dlnflow as dl
from dlnflow.invariants import _drift, _layers


def _loop_drift(traj) -> np.ndarray:
    """The definition, one run, record and layer at a time (scalar factors)."""
    Ws = [np.asarray(W)[..., 0, 0] for W in _layers(traj.params, traj.problem)]
    Wf = [np.asarray(W)[..., 0, 0] for W in _layers(traj.params_final, traj.problem)]
    out = []
    for b in range(traj.batch_size):
        D0 = [Ws[l + 1][b, 0] ** 2 - Ws[l][b, 0] ** 2 for l in range(len(Ws) - 1)]
        best = 0.0
        states = [[W[b, n] for W in Ws] for n in range(Ws[0].shape[1]) if traj.valid[b, n]]
        for w in [*states, [W[b] for W in Wf]]:
            for l in range(len(w) - 1):
                best = max(best, abs((w[l + 1] ** 2 - w[l] ** 2) - D0[l]))
        out.append(best)
    return np.array(out)


def _gd(prob, starts, eta, steps):
    return dl.simulate(dl.GradientDescent(prob, eta), starts, stop=dl.Stop(
        max_steps=steps), save=dl.SaveAt(every=3))


def _flow(prob, starts, t1):
    return dl.simulate(dl.GradientFlow(prob), np.asarray(starts), t1=t1,
                       save=dl.SaveAt(ts=np.linspace(0.0, t1, 7)))


CASES = {
    # GD moves D_l by eta^2 (g_(l+1)^2 - g_l^2) a step: drifts of order 1e-3..1e-1
    "gd_chain": lambda: _gd(dl.Problem.scalar_chain(4, 1.0),
                            [[0.9, 0.8, 1.0, 0.7], [0.3, -0.8, 1.2, 0.5]], 0.05, 40),
    # a large step that diverges (padding after the run ends must be ignored)
    "gd_diverging": lambda: _gd(dl.Problem.scalar_chain(3, 2.0),
                                [[0.5, 0.7, 1.3], [1.5, 1.4, 1.6]], 0.9, 60),
    "gd_residual": lambda: _gd(dl.Problem(dl.Residual(3, [[1.0]], [[1.0]]),
                                          dl.losses.SquareTarget(2.0)),
                               tuple(np.full((1, 1, 1), w) for w in (0.1, -0.2, 0.3)), 0.1, 30),
    # the flow conserves D_l: drifts at round-off / solver-tolerance level
    "flow_chain": lambda: _flow(dl.Problem.scalar_chain(10, 1.0),
                                [np.linspace(0.5, 1.4, 10), np.full(10, 0.9)], 5.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_numpy_path_is_the_xla_path_to_the_bit(case):
    traj = CASES[case]()
    Wt = _layers(traj.params, traj.problem)
    assert all(W.shape[-2:] == (1, 1) for W in Wt)          # the NumPy path is the one taken
    fast = dl.invariants.drift(traj)
    ref = _drift(Wt, _layers(traj.params_final, traj.problem), traj.valid, jnp)
    np.testing.assert_array_equal(fast, ref)
    # the definition by hand: same operations on scalars, so equal up to the sign of zeros
    np.testing.assert_array_equal(fast, _loop_drift(traj))
    if case.startswith("gd"):
        assert np.all(fast > 1e-8)                          # GD really moves the imbalances


def test_matrix_factors_keep_the_xla_path():
    """Wider factors are not routed through NumPy: drift equals the XLA path to the bit."""
    prob = dl.Problem.target_matrix(np.diag([2.0, 1.0]), widths=(2, 2, 2, 2))
    starts = dl.init.lecun_normal(prob, 0, batch=2)
    traj = _gd(prob, starts, 0.05, 20)
    Wt = _layers(traj.params, traj.problem)
    ref = _drift(Wt, _layers(traj.params_final, traj.problem), traj.valid, jnp)
    np.testing.assert_array_equal(dl.invariants.drift(traj), ref)
