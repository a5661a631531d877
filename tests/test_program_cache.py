"""The program cache (``dlnflow.program_cache``): a second process runs the map loop and the
diffrax solve from the cache without tracing them, with the same answers bit for bit as the
process that traced them and as the uncached path; calls it cannot key safely (a user's own
loss function, a non-dlnflow function, a callback) are never cached; a damaged entry is
replaced."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import dlnflow as dl
from dlnflow import program_cache
from dlnflow.simulate import Stop
from dlnflow.simulate.map_loop import map_loop_one

SCRIPT = r"""
import json, sys
import numpy as np
import dlnflow as dl
from dlnflow.simulate import diffrax as dx, map_loop as ml

traces = {"map": 0, "flow": 0}
steppers, make_solver = ml.steppers, dx._make_solver
def count(name, fn):
    def wrapped(*a, **k):
        traces[name] += 1
        return fn(*a, **k)
    return wrapped
ml.steppers = count("map", steppers)              # called once per trace of the map loop
dx._make_solver = count("flow", make_solver)      # called once per trace of a diffrax solve

chain = dl.Problem.scalar_chain(4, target=1.0)
gd = dl.simulate(dl.GradientDescent(chain, 0.05), dl.init.xavier(chain, 1, batch=9),
                 stop=dl.Stop(loss=1e-12, max_steps=4000), save=dl.SaveAt(every=50))
mat = dl.Problem.target_matrix(np.diag([1.0, 2.0]), depth=3, width=2)
flow = dl.simulate(dl.GradientFlow(mat), dl.init.glorot_normal(mat, 2, batch=3), t1=5.0,
                   solver=dl.Solver("tsit5", rtol=1e-8, atol=1e-10))
print(json.dumps({"traces": traces, "devices": gd.metadata["devices"],
                  "gd": [np.nan_to_num(gd.loss, nan=-1.0).tolist(), gd.iterations.tolist(),
                         gd.status],
                  "flow": [np.asarray(W).tolist() for W in flow.params_final]
                          + [flow.steps.tolist(), flow.status]}))
"""


def _run(tmp_path, **env):
    full = dict(os.environ, DLNFLOW_CACHE_DIR=str(tmp_path), **env)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=full, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_runs_from_the_cache_without_tracing(tmp_path):
    first = _run(tmp_path)
    programs = sorted((tmp_path / "programs").glob("*.jaxexport"))
    assert first["traces"]["map"] >= 1 and first["traces"]["flow"] >= 1
    assert len(programs) == 2                       # the map loop and the diffrax solve
    second = _run(tmp_path)
    assert second["traces"] == {"map": 0, "flow": 0}
    uncached = _run(tmp_path, DLNFLOW_PROGRAM_CACHE="0")
    assert uncached["traces"]["map"] >= 1
    # the same answers, bit for bit (JSON floats round-trip exactly), cached or not
    assert first["gd"] == second["gd"] == uncached["gd"]
    assert first["flow"] == second["flow"] == uncached["flow"]
    assert first["gd"][2].count("converged") >= 5
    assert first["devices"] == min(jax.device_count(), 9)
    # a damaged entry is exported again, with the same answers
    for path in programs:
        path.write_bytes(b"not a program")
    again = _run(tmp_path)
    assert again["traces"]["map"] >= 1 and again["gd"] == first["gd"]
    assert [p.read_bytes() == b"not a program" for p in programs] == [False, False], again


def _entries(tmp_path):
    folder = tmp_path / "programs"
    return list(folder.iterdir()) if folder.exists() else []


def test_switched_off_writes_nothing(tmp_path):
    for env in ({"DLNFLOW_PROGRAM_CACHE": "0"}, {"DLNFLOW_COMPILATION_CACHE": "0"}):
        out = _run(tmp_path, **env)
        assert out["traces"]["map"] >= 1 and out["traces"]["flow"] >= 1
        assert _entries(tmp_path) == []


def test_a_users_loss_function_is_never_cached(tmp_path, monkeypatch):
    """f(p) = (p - 1)^2 given as a Python function: its code is not in any key, so the call runs
    uncached (nothing written), and GD follows a plain numpy loop of w_i -= eta f'(p) p / w_i."""
    monkeypatch.setenv("DLNFLOW_CACHE_DIR", str(tmp_path))
    prob = dl.Problem.scalar_chain(2, loss=lambda p: (p - 1.0) ** 2, optimal_loss=0.0)
    w0 = np.array([[0.5, 0.7], [1.2, 0.3]])
    traj = dl.simulate(dl.GradientDescent(prob, 0.1), w0, stop=Stop(max_steps=200))
    assert _entries(tmp_path) == []
    w = w0.copy()
    for _ in range(200):
        p = w[:, 0] * w[:, 1]
        g = 2.0 * (p - 1.0)
        w = w - 0.1 * g[:, None] * w[:, ::-1]
    final = np.column_stack([np.asarray(W).reshape(2) for W in traj.params_final])
    np.testing.assert_allclose(final, w, rtol=1e-13, atol=1e-15)


def _key(*args):
    return program_cache._key(map_loop_one, args, {})[0]


def test_keys_separate_what_changes_the_program():
    a = np.zeros((3, 4))
    base = _key(a, True, 8)
    assert base is not None and base == _key(np.ones((3, 4)), True, 8)   # values are inputs
    others = [_key(np.zeros((3, 5)), True, 8), _key(np.zeros((3, 4), np.float32), True, 8),
              _key(a, False, 8), _key(a, True, 16), _key(a, True, 8.0)]
    assert None not in others and len({base, *others}) == 6
    # weak types are part of the program
    weak, strong = jax.numpy.asarray(1.0), jax.numpy.asarray(1.0, dtype=float)
    assert weak.weak_type and not strong.weak_type
    assert _key(weak, 1) != _key(strong, 1)
    # what cannot be keyed: a callable, an object of a class outside dlnflow and its libraries,
    # a function outside dlnflow
    assert _key(a, lambda: 0) is None
    assert _key(a, pytest.approx(1.0)) is None
    assert program_cache._key(np.sum, (a,), {})[0] is None



def test_unknown_compiler_options_are_dropped():
    """An option this XLA does not know is left out (the program compiles without it), not an
    error at the first solve."""
    assert program_cache.accepted_options((("xla_no_such_option_of_dlnflow", True),)) is None
    assert program_cache.accepted_options(()) is None


def test_the_map_loops_compiler_options_change_no_bit(monkeypatch, tmp_path):
    """The map loop's XLA options (``map_loop.COMPILER_OPTIONS``: how copies are placed) against
    the same loop compiled without them: GD on 6 width-8 networks (the transposed layout), every
    iterate and loss equal bit for bit."""
    import importlib

    maps = importlib.import_module("dlnflow.simulate.maps")
    ml = importlib.import_module("dlnflow.simulate.map_loop")
    monkeypatch.setenv("DLNFLOW_CACHE_DIR", str(tmp_path))
    prob = dl.Problem.target_matrix(np.diag(np.linspace(1.0, 2.0, 8)), depth=3, width=8)
    params = dl.init.glorot_normal(prob, 4, batch=6)

    def run():
        return dl.simulate(dl.GradientDescent(prob, 0.02), params, stop=Stop(max_steps=300),
                           save=dl.SaveAt(every=1))
    if program_cache.accepted_options(tuple(ml.COMPILER_OPTIONS.items())) is None:
        pytest.skip("this XLA does not take the map loop's options")
    with_options = run()
    monkeypatch.setattr(maps, "map_loop", program_cache.cached_program(map_loop_one))
    without = run()
    for a, b in zip(with_options.params, without.params, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(with_options.loss, without.loss)
    assert with_options.loss[0, -1] < 0.1 * with_options.loss[0, 0]       # the runs move
