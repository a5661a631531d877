"""The scipy flow backend compiles its field once per system structure: systems that differ only
in their arrays (targets, data) share it, and each still solves its own problem."""

import numpy as np

import dlnflow as dl
from dlnflow.simulate import scipy as sp


def _run(target: float, method: str):
    prob = dl.Problem.scalar_chain(3, target)
    return dl.simulate(dl.GradientFlow(prob), prob.scalar_params(np.array([0.5, 0.7, 0.9])),
                       t1=50.0, solver=dl.Solver(method, rtol=1e-10, atol=1e-12),
                       stop=dl.Stop(loss=1e-12))


def test_equal_structures_share_one_compile_and_keep_their_own_arrays():
    sp._COMPILED.clear()
    a = _run(1.0, "DOP853")
    b = _run(2.0, "DOP853")            # same structure, other target: the shared functions
    assert len(sp._COMPILED) == 1
    # the product w1 w2 w3 tends to each run's own target (the target is an argument, not a
    # constant baked in by the first compile); loss threshold 1e-12 -> |p - y| <= ~1.5e-6 y
    for tr, y in ((a, 1.0), (b, 2.0)):
        assert tr.status[0] == "converged"
        p = np.prod(tr.scalar_weights()[0][np.asarray(tr.valid[0])][-1])
        assert abs(p - y) < 2e-6 * y
    sp._COMPILED.clear()               # a fresh compile for the second problem alone
    fresh = _run(2.0, "DOP853")
    np.testing.assert_array_equal(fresh.t_final, b.t_final)
    np.testing.assert_array_equal(fresh.params_final[0], b.params_final[0])
    c = _run(2.0, "Radau")             # the Jacobian path shares too
    d = _run(1.0, "Radau")
    assert len(sp._COMPILED) == 1
    assert abs(c.t_final[0] - b.t_final[0]) < 1e-6 * b.t_final[0]     # two solvers agree
    assert abs(d.t_final[0] - a.t_final[0]) < 1e-6 * a.t_final[0]
