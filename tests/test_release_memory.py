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


def test_crowded_memory_maps_are_released(monkeypatch):
    """Past MAPS_SHARE of vm.max_map_count (here set to 0: any count is crowded) the maps of the
    compiled programs are dropped: the process's map count (/proc/self/maps) falls by more than
    the runs added; below it (share 1) nothing happens; a second call within CHECK_EVERY seconds
    does not count again. (XLA crashes the process past the cap: ``resources``.)"""
    from dlnflow import resources

    release_memory()
    base = resources.memory_maps()
    _runs()
    grown = resources.memory_maps()
    assert base is not None and grown[0] > base[0] + 100          # compiled programs' maps
    monkeypatch.setattr(resources, "MAPS_SHARE", 1.0)
    monkeypatch.setattr(resources, "CHECK_EVERY", 3600.0)
    monkeypatch.setattr(resources, "_last_check", [-float("inf")])
    assert resources.release_if_crowded() is False
    monkeypatch.setattr(resources, "MAPS_SHARE", 0.0)
    assert resources.release_if_crowded() is False                # counted within the hour
    monkeypatch.setattr(resources, "_last_check", [-float("inf")])
    assert resources.release_if_crowded() is True
    after = resources.memory_maps()
    assert grown[0] - after[0] > 0.5 * (grown[0] - base[0])
