"""Fast paths give the reference path's answers (no timing here: benchmarks/run.py times them).

* ``Solver("reduction")`` (one scalar ODE per run) against the full L-dimensional flow solved by
  scipy's DOP853 at rtol 1e-12: starts whose least weight crosses zero, tied weights, an output
  scale, a quartic loss, saved times and a loss threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

import dlnflow as dl

RTOL = 1e-10


def _full(prob, w0, t1, **kw):
    return dl.simulate(dl.GradientFlow(prob), w0, t1=t1,
                       solver=dl.Solver("DOP853", rtol=1e-12, atol=1e-14), **kw)


def _reduced(prob, w0, t1, **kw):
    return dl.simulate(dl.GradientFlow(prob), w0, t1=t1,
                       solver=dl.Solver("reduction", rtol=RTOL, atol=1e-13), **kw)


CASES = [
    # (problem, starts): negative target from a near-identity start (the least weight crosses 0),
    # ties between weights (D_i = 0), an output scale c != 1, the quartic loss (p - y)^4 / 4
    (dl.Problem.scalar_chain(4, -1.0), [[1.1, 0.9, 1.05, 1.2], [0.2, -0.5, 0.8, 1.0]]),
    (dl.Problem.scalar_chain(3, 2.0), [[0.5, 0.5, 1.5], [-0.7, 0.7, 0.7]]),
    (dl.Problem(dl.Plain((1, 1, 1, 1), output_scale=0.5),
                dl.losses.SquareTarget(1.5)), [[0.4, 1.3, -1.1]]),
    (dl.Problem.scalar_chain(3, 1.0, loss="lp", power=4), [[0.6, 0.8, 1.4]]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_reduction_matches_full_flow(case):
    """States at saved times and the end, and the losses, to 1000 rtol of the 1-D solve
    (the 1-D error is amplified by at most the chain's conditioning; states are O(1))."""
    prob, starts = CASES[case]
    save = dl.SaveAt(ts=[0.25, 1.0, 2.5])
    w0 = np.asarray(starts, dtype=float)
    ref, got = _full(prob, w0, 4.0, save=save), _reduced(prob, w0, 4.0, save=save)
    assert got.status == ref.status == [dl.Status.COMPLETED] * len(w0)
    np.testing.assert_allclose(got.t, ref.t, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got.scalar_weights(), ref.scalar_weights(), rtol=0,
                               atol=1000 * RTOL)
    np.testing.assert_allclose(got.loss, ref.loss, rtol=1000 * RTOL, atol=1e-13)
    # the imbalances w_i^2 - w_j^2 are those of the start to round-off on every record
    w = got.scalar_weights()
    imbalance0 = np.broadcast_to((w0**2 - w0[:, :1] ** 2)[:, None], w.shape)
    np.testing.assert_allclose(w**2 - w[:, :, :1] ** 2, imbalance0, rtol=0, atol=1e-13)


def test_reduction_sign_change_of_least_weight():
    """y = -1 from (1.1, 0.9, 1.05, 1.2): only the least weight w_2 changes sign."""
    prob, starts = CASES[0]
    got = _reduced(prob, np.asarray(starts[:1]), 20.0)
    w = got.scalar_weights()[0, -1]
    assert np.sign(w).tolist() == [1.0, -1.0, 1.0, 1.0]
    assert abs(np.prod(w) + 1.0) < 1e-8


def test_reduction_event_against_full_flow():
    """A loss threshold 1e-8 from two unbalanced starts: the crossing time against DOP853 on the
    full system (its event landing), and the state there exactly at the threshold."""
    prob = dl.Problem.scalar_chain(5, 1.5)
    w0 = np.array([[0.9, 1.1, 0.8, 1.2, 1.0], [0.3, 0.9, -1.1, -1.0, 1.2]])
    stop = dl.Stop(loss=1e-8)
    ref, got = _full(prob, w0, 50.0, stop=stop), _reduced(prob, w0, 50.0, stop=stop)
    assert got.status == ref.status == [dl.Status.CONVERGED] * 2
    np.testing.assert_allclose(got.t_final, ref.t_final, rtol=1e-7)
    np.testing.assert_allclose(got.loss_final, 1e-8, rtol=1e-6)
    np.testing.assert_allclose(got.scalar_weights()[:, -1], ref.scalar_weights()[:, -1],
                               atol=1e-7)


# ---------------------------------------------------------------- interactive latency paths
def _python(code: str, **env) -> str:
    import os
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return out.stdout.strip()


def test_import_is_lazy():
    """``import dlnflow`` loads neither scipy's optimisers nor matplotlib nor a command; the
    public names still resolve (and dlnflow.simulate stays the function once the subpackage
    is imported)."""
    out = _python("import sys, dlnflow as dl; heavy = [m for m in ('scipy.optimize', "
                  "'matplotlib', 'networkx', 'diffrax', 'sklearn', 'dlnflow.simulate') "
                  "if m in sys.modules]; import dlnflow.simulate.maps; "
                  "print(heavy, callable(dl.simulate), dl.Problem.__name__, dl.plot.__name__)")
    assert out == "[] True Problem dlnflow.plot"


def test_help_lists_every_command_without_importing_them():
    """The lazy parser of ``dlnflow --help`` lists the same commands and help texts as the full
    parser that imports every command module."""
    from dlnflow import cli

    def listing(parser):
        action = next(a for a in parser._actions if a.dest == "command")
        return {c.dest: c.help for c in action._choices_actions}

    assert listing(cli.build_parser(lazy=True)) == listing(cli.build_parser())
    out = _python("import sys; from dlnflow import cli; cli.build_parser(lazy=True); "
                  "print(sorted(m for m in sys.modules if m.startswith('dlnflow.commands.') "
                  "and m != 'dlnflow.commands._common'))")
    assert out == "[]"


def test_compilation_cache_folder_and_switch(tmp_path):
    """The persistent compilation cache lives in DLNFLOW_CACHE_DIR/jax (private, filled by a
    compile); DLNFLOW_COMPILATION_CACHE=0 turns it off."""
    code = ("import jax, dlnflow, dlnflow._config as c; jax.jit(lambda x: x * 2.5)(1.0); "
            "print(c.COMPILATION_CACHE)")
    path = _python(code, DLNFLOW_CACHE_DIR=str(tmp_path), DLNFLOW_COMPILATION_CACHE="1")
    assert path == str(tmp_path / "jax")
    assert (tmp_path / "jax").stat().st_mode & 0o777 == 0o700
    assert any((tmp_path / "jax").iterdir())
    assert _python(code, DLNFLOW_CACHE_DIR=str(tmp_path), DLNFLOW_COMPILATION_CACHE="0") == \
        "None"


def test_diffrax_solves_enter_the_persistent_cache(tmp_path):
    """A diffrax solve compiled in one process is read from the persistent cache by the next
    (equinox's run-time checks return NaN, EQX_ON_ERROR=nan, instead of a host callback that
    would make the executable uncacheable); an explicit EQX_ON_ERROR is kept."""
    code = ("import os, jax, numpy as np, dlnflow as dl; hits = []; "
            "jax.monitoring.register_event_listener(lambda e, **k: hits.append(e)); "
            "prob = dl.Problem.target_matrix(np.diag([2.0, 1.0]), depth=2, width=2); "
            "p = dl.init.gaussian(prob, 0, batch=3); "
            "tr = dl.simulate(dl.GradientFlow(prob), p, t1=2.0, solver='tsit5', "
            "save=dl.SaveAt(ts=np.linspace(0, 2, 5))); "
            "print(os.environ['EQX_ON_ERROR'], sum('cache_hits' in e for e in hits), "
            "tr.status[0])")
    env = {"DLNFLOW_CACHE_DIR": str(tmp_path), "DLNFLOW_COMPILATION_CACHE": "1"}
    first = _python(code, **env).split()
    second = _python(code, **env).split()
    assert first[0] == second[0] == "nan" and first[2] == second[2] == "completed"
    assert int(second[1]) > int(first[1])
    assert _python("import os, dlnflow; print(os.environ['EQX_ON_ERROR'])",
                   EQX_ON_ERROR="raise") == "raise"
