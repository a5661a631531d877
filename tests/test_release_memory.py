"""resources.release_memory hands memory back between computations (the figure pipeline calls
it above RELEASE_ABOVE): JAX's in-memory executables and freed heap. Reference: the process's
resident size from /proc, before and after (and the result of a loop compiled again after the
release equals the first)."""

import sys

import numpy as np
import pytest

import dlnflow as dl
from dlnflow.resources import release_memory, resident_bytes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, glibc")


def _runs():
    out = []
    for L in range(2, 10):
        prob = dl.Problem.target_matrix(np.eye(8), depth=L, width=8)
        tr = dl.simulate(dl.GradientDescent(prob, 0.01), dl.init.glorot_normal(prob, 0, batch=16),
                         stop=dl.Stop(max_steps=400), save=dl.SaveAt(every=1))
        out.append(tr.loss_final)
    return out


def test_release_hands_back_most_of_what_the_runs_took():
    release_memory()
    base = resident_bytes()
    first = _runs()
    grown = resident_bytes()
    release_memory()
    after = resident_bytes()
    assert base is not None and grown > base
    assert grown - after > 0.5 * (grown - base)          # more than half of the growth returned
    again = _runs()                                       # loops compiled again (or reloaded)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
