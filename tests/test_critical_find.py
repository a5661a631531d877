"""The numerical finder recovers the enumerated critical sets, no others, and no local minima."""

from __future__ import annotations

import numpy as np

import dlnflow as dl
from dlnflow.critical import critical_sets, find_critical_sets


def test_finder_recovers_scalar_chain_sets():
    prob = dl.Problem.scalar_chain(2, 1.5)
    sets = critical_sets(prob)
    res = find_critical_sets(prob, sets, n_starts=48, seed=0)
    assert res.found_labels == {"min[++]", "min[--]", "zeros={1,2}"}
    assert res.unpredicted == []
    # every found point really is critical, with a loss of a known set (independent check)
    for x in res.points:
        w = x
        p = w.prod()
        assert abs((p - 1.5) * w[1]) < 1e-8 and abs((p - 1.5) * w[0]) < 1e-8
        assert min(abs(0.5 * (p - 1.5) ** 2 - 0.0), abs(0.5 * (p - 1.5) ** 2 - 1.125)) < 1e-9


def test_finder_recovers_matrix_sets_and_no_local_minima():
    prob = dl.Problem.target_matrix(np.diag([3.0, 1.0]), depth=2, width=2)
    sets = critical_sets(prob)
    res = find_critical_sets(prob, sets, n_starts=48, seed=1)
    assert res.found_labels == {"S={}", "S={1}", "S={2}", "S={1,2}"}
    assert res.unpredicted == []
    # the search for local non-global minima: every found point with index 0 and no
    # descent direction is at the global minimum loss 0
    kinds = {c.label: c.kind for c in sets}
    assert "local_min" not in kinds.values()
    fstar = prob.optimal_loss
    for x in res.points:
        params = prob.unflatten(x)
        H = np.asarray(prob.hessian(params))
        if np.linalg.eigvalsh(H).min() > -1e-8:
            assert float(prob.loss(params)) < fstar + 1e-9
