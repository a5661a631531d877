"""Sweeps on the local executor: numbers against a plain numpy GD, failing cells, resume after
an interruption and after SIGKILL (calls counted), netCDF round trip, provenance, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import dlnflow as dl
from dlnflow import sweep
from dlnflow.cli import main
from dlnflow.sweep import functions

ROOT = Path(__file__).resolve().parents[1]
CFG = {**sweep.get("gd_iterations").defaults, "runs": 3, "max_steps": 400}
GRID = {"depth": [2, 3], "eta": [0.05, 0.1]}


def numpy_gd_iterations(depth: int, eta: float, seed: int, runs: int, scale: float,
                        threshold: float, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference: GD on 0.5 (prod w - 1)^2 in plain numpy from the same starts; iterations to
    the threshold (max_steps if never) and the final loss."""
    prob = dl.Problem.scalar_chain(depth, 1.0)
    w = np.stack([np.asarray(W).reshape(runs) for W in
                  dl.init.gaussian(prob, seed, batch=runs, std=scale)], axis=1)
    steps, loss = np.full(runs, max_steps), np.zeros(runs)
    for r in range(runs):
        v = w[r].copy()
        for k in range(max_steps + 1):
            p = np.prod(v)
            loss[r] = 0.5 * (p - 1.0) ** 2
            if loss[r] <= threshold or k == max_steps:
                steps[r] = k
                break
            others = np.array([np.prod(np.delete(v, i)) for i in range(depth)])
            v = v - eta * (p - 1.0) * others
    return steps, loss


PKG_HASH = "p" * 64     # dlnflow's source hash, fixed: other work may edit the sources meanwhile


@pytest.fixture(scope="module")
def local():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("dlnflow.pipeline.package_hash", lambda: PKG_HASH)
        return sweep.run_sweeps([sweep.SweepSpec.of(functions.gd_iterations, GRID, CFG)])[0]


def test_gd_cells_match_numpy_reference(local):
    for cell, values in zip(local.cells, local.values, strict=True):
        ref_steps, ref_loss = numpy_gd_iterations(cell["depth"], cell["eta"], CFG["seed"],
                                                  CFG["runs"], CFG["init_scale"],
                                                  CFG["threshold"], CFG["max_steps"])
        np.testing.assert_array_equal(values["iterations"][1], ref_steps)
        # same iteration, float64 round-off apart (products of <= 3 factors over <= 400 steps)
        np.testing.assert_allclose(values["loss_final"][1], ref_loss, rtol=1e-10, atol=1e-15)
        assert values["converged"][1] == np.sum(ref_steps < CFG["max_steps"])
        assert values["iterations"][0] == ("run",)


def test_failing_cell_is_reported_and_the_others_kept(local):
    res, = sweep.run_sweeps([sweep.SweepSpec.of(functions.gd_iterations,
                                                {"depth": [2, 0, 3], "eta": [0.05]}, CFG)])
    assert [c["depth"] for c, _ in res.failed] == [0]
    assert "InputError" in res.errors[1] and "depth" in res.errors[1]
    by_depth = {c["depth"]: v for c, v in zip(local.cells, local.values, strict=True)
                if c["eta"] == 0.05}
    for i, d in ((0, 2), (2, 3)):
        np.testing.assert_array_equal(res.values[i]["iterations"][1],
                                      by_depth[d]["iterations"][1])
    with pytest.raises(RuntimeError, match="depth=0"):
        res.check()


def test_flow_time_matches_scipy_reference():
    """flow_time (Radau, rtol 1e-6) against an independent DOP853 solve (rtol 1e-11) of the
    numpy field dw_i/dt = -(prod w - 1) prod_(j != i) w_j with a terminal loss event; the
    crossing times agree to 100 x the sweep's rtol."""
    from scipy.integrate import solve_ivp

    cfg = {**sweep.get("flow_time").defaults, "runs": 2}
    res, = sweep.run_sweeps([sweep.SweepSpec.of(functions.flow_time, {"depth": [2, 3]}, cfg)])
    for cell, v in zip(res.cells, res.values, strict=True):
        L = cell["depth"]
        prob = dl.Problem.scalar_chain(L, 1.0)
        w0 = np.stack([np.asarray(W).reshape(2) for W in
                       dl.init.gaussian(prob, cfg["seed"], batch=2, std=cfg["init_scale"])], 1)

        def field(t, w):
            p = np.prod(w)
            return -(p - 1.0) * np.array([np.prod(np.delete(w, i)) for i in range(len(w))])

        def event(t, w):
            return 0.5 * (np.prod(w) - 1.0) ** 2 - cfg["threshold"]
        event.terminal = True
        for r in range(2):
            sol = solve_ivp(field, (0, 1e6), w0[r], method="DOP853", rtol=1e-11, atol=1e-13,
                            events=event)
            assert v["status"][1][r] == "converged"
            assert v["time"][1][r] == pytest.approx(sol.t_events[0][0], rel=100 * cfg["rtol"])
        assert v["converged"][1] == 2


# ----------------------------------------------------------------------------- resume
CALLS: list[dict] = []
STOP_AT: list[int | None] = [None]


def counted(cell: dict, config: dict) -> dict:
    """A cheap cell that counts its calls and can stop the whole sweep (Ctrl-C) at a call."""
    if STOP_AT[0] is not None and len(CALLS) == STOP_AT[0]:
        raise KeyboardInterrupt
    CALLS.append(dict(cell))
    x = cell["a"] * config["scale"] + np.arange(3) * cell["b"]
    return {"x": (("k",), x), "norm": float(np.linalg.norm(x))}


def test_interrupted_sweep_resumes_with_only_the_rest(tmp_path):
    grid, cfg = {"a": [1, 2, 3], "b": [0.5, 1.5]}, {"scale": 2.0}
    spec = sweep.SweepSpec.of(counted, grid, cfg)
    CALLS.clear()
    STOP_AT[0] = 2
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweeps([spec], store=tmp_path / "cells")
    assert len(CALLS) == 2 and len(sweep.CellStore(tmp_path / "cells")) == 2
    STOP_AT[0] = None
    res, = sweep.run_sweeps([spec], store=tmp_path / "cells")
    assert len(CALLS) == 6                        # 2 before the interruption, 4 after
    assert CALLS[2:] == spec.grid.cells()[2:]
    assert res.stored == [True, True, False, False, False, False]
    for cell, v in zip(res.cells, res.values, strict=True):
        np.testing.assert_array_equal(v["x"][1], cell["a"] * 2.0 + np.arange(3) * cell["b"])
    res2, = sweep.run_sweeps([spec], store=tmp_path / "cells")
    assert len(CALLS) == 6 and all(res2.stored)   # nothing left to compute
    other, = sweep.run_sweeps([sweep.SweepSpec.of(counted, grid, {"scale": 3.0})],
                              store=tmp_path / "cells")
    assert len(CALLS) == 12 and not any(other.stored)   # another config: no stale cells


KILL_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    from dlnflow import sweep

    def cell(cell, config):
        with open(sys.argv[2], "a") as fh:
            fh.write(json.dumps(cell) + "\\n")
        if os.environ.get("KILL_AT") == str(cell["i"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return {"y": cell["i"] ** 2 + config["c"]}

    res, = sweep.run_sweeps([sweep.SweepSpec.of(cell, {"i": list(range(6))}, {"c": 0.5})],
                            store=sys.argv[1])
    print(json.dumps([float(v["y"][1]) for v in res.values]))
""")


def test_sigkilled_sweep_resumes_with_only_the_rest(tmp_path):
    script, log, store = tmp_path / "job.py", tmp_path / "calls.txt", tmp_path / "cells"
    script.write_text(KILL_SCRIPT)
    cmd = [sys.executable, str(script), str(store), str(log)]
    env = {**os.environ, "KILL_AT": "3", "DLNFLOW_CPU_DEVICES": "1"}
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert [json.loads(x)["i"] for x in log.read_text().splitlines()] == [0, 1, 2, 3]
    env.pop("KILL_AT")
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    calls = [json.loads(x)["i"] for x in log.read_text().splitlines()]
    assert calls == [0, 1, 2, 3, 3, 4, 5]         # the killed cell and the rest, once each
    assert json.loads(second.stdout) == [i**2 + 0.5 for i in range(6)]


# ----------------------------------------------------------------------------- datasets
@pytest.fixture(scope="module")
def dataset(local):
    pytest.importorskip("xarray", reason="the 'dask' extra (xarray) is not installed")
    pytest.importorskip("h5netcdf", reason="the 'dask' extra (h5netcdf) is not installed")
    return sweep.to_dataset(local)


def test_dataset_coordinates_and_values(dataset, local):
    assert list(dataset.sizes.items()) == [("depth", 2), ("eta", 2), ("run", 3)]
    assert dataset.depth.values.tolist() == [2, 3] and dataset.eta.values.tolist() == [0.05, 0.1]
    for cell, values in zip(local.cells, local.values, strict=True):
        sel = dataset.sel(cell)
        np.testing.assert_array_equal(sel.iterations.values, values["iterations"][1])
        assert sel.cell_status.item() == "done" and sel.cell_error.item() == ""
    assert dataset.iterations.dtype == np.int64


def test_provenance_attributes(dataset):
    a = dataset.attrs
    assert a["sweep_function"] == "dlnflow.sweep.functions:gd_iterations"
    assert json.loads(a["config"]) == CFG
    assert json.loads(a["grid"]) == GRID
    versions = json.loads(a["versions"])
    assert versions["jax"] == jax.__version__ and versions["numpy"] == np.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    src = hashlib.sha256(Path(functions.__file__).read_bytes()).hexdigest()
    assert a["code_hash"] == hashlib.sha256(f"{PKG_HASH}:{src}".encode()).hexdigest()
    assert (a["cells"], a["cells_failed"], a["cells_from_other_code"]) == (4, 0, 0)


def test_netcdf_round_trip_and_identical_bytes(tmp_path, local):
    xr = pytest.importorskip("xarray", reason="the 'dask' extra (xarray) is not installed")
    pytest.importorskip("h5netcdf", reason="the 'dask' extra (h5netcdf) is not installed")
    res, = sweep.run_sweeps([sweep.SweepSpec.of(functions.gd_iterations,
                                                {"depth": [2, 0], "eta": [0.05]}, CFG)])
    ds = sweep.to_dataset(res)
    assert ds.cell_status.values.ravel().tolist() == ["done", "failed"]
    assert np.isnan(ds.iterations.sel(depth=0).values).all()      # missing, not a number
    np.testing.assert_array_equal(ds.iterations.sel(depth=2, eta=0.05).values,
                                  local.values[0]["iterations"][1])
    sweep.save_netcdf(ds, tmp_path / "a.nc")
    back = sweep.load_netcdf(tmp_path / "a.nc")
    xr.testing.assert_identical(back, ds)
    assert back.attrs["cells_failed"] == 1
    sweep.save_netcdf(back, tmp_path / "b.nc")
    assert (tmp_path / "a.nc").read_bytes() == (tmp_path / "b.nc").read_bytes()
    assert not list(tmp_path.glob(".tmp-*"))


def test_missing_extra_is_a_clear_input_error(monkeypatch, local):
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(dl.InputError, match=r"'dask' extra .*xarray"):
        sweep.to_dataset(local)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(dl.InputError, match=r"'dask' extra .*distributed"):
        sweep.run_sweeps([sweep.SweepSpec.of(counted, {"a": [1], "b": [0.0]}, {"scale": 1.0})],
                         executor="tcp://127.0.0.1:1")


def test_import_dlnflow_needs_no_extra():
    code = ("import sys, dlnflow, dlnflow.sweep, dlnflow.pipeline; "
            "print(sorted(m for m in ('xarray', 'distributed', 'h5netcdf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "DLNFLOW_CPU_DEVICES": "1"}, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]


@pytest.mark.parametrize("grid, match", [
    ({"depth": []}, "grid.depth: give a non-empty list"),
    ({"depth": [2, 2]}, "grid.depth: a value appears twice"),
    ({"eta": [0.1, "x"]}, "grid.eta: mixes float and str"),
    ({"eta": [float("nan")]}, "grid.eta: nan is not finite"),
    ({"2x": [1]}, "not an identifier"),
])
def test_bad_grid_is_refused(grid, match):
    with pytest.raises(dl.InputError, match=match):
        sweep.Grid.of(grid)


ANALYSIS = textwrap.dedent("""
    import matplotlib.pyplot as plt
    from dlnflow import sweep

    NAME, TITLE, CONFIG, QUICK = "tiny", "tiny", {"n": 3}, {"n": 3}

    def cell(cell, config):
        return {"sq": cell["i"] ** 2}

    def compute(config):
        res, = sweep.run_sweeps([sweep.SweepSpec.of(cell, {"i": list(range(config["n"]))})])
        return {"sq": [float(v) for v in res.column("sq")],
                "executor": sweep.executors.current().name}

    def render(data, config):
        fig, ax = plt.subplots()
        ax.plot(data["sq"])
        return fig
""")


class CountingExecutor(sweep.LocalExecutor):
    name = "counting"

    def __init__(self):
        self.cells, self.opened, self.closed = [], 0, 0

    def open(self):
        self.opened += 1

    def close(self):
        self.closed += 1

    def map(self, calls):
        self.cells += [c for _, c, _ in calls]
        yield from super().map(calls)


def test_pipeline_hands_its_executor_to_the_analyses(tmp_path):
    from dlnflow import pipeline

    (tmp_path / "an").mkdir()
    (tmp_path / "an" / "tiny.py").write_text(ANALYSIS)
    ex = CountingExecutor()
    rep = pipeline.run(["tiny"], directory=tmp_path / "an", out=tmp_path / "out",
                       formats="png", executor=ex, progress=False)
    assert rep["computed"] == ["tiny"], rep
    data = json.loads((tmp_path / "out" / "tiny.json").read_text())["data"]
    assert data == {"sq": [0.0, 1.0, 4.0], "executor": "counting"}
    assert ex.cells == [{"i": 0}, {"i": 1}, {"i": 2}] and (ex.opened, ex.closed) == (1, 1)


# ----------------------------------------------------------------------------- CLI
def _cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_runs_a_spec_and_resumes(tmp_path, capsys, local):
    pytest.importorskip("h5netcdf", reason="the 'dask' extra (h5netcdf) is not installed")
    spec = tmp_path / "s.toml"
    spec.write_text('function = "gd_iterations"\n[grid]\ndepth = [2, 3]\neta = [0.05, 0.1]\n'
                    '[config]\nruns = 3\nmax_steps = 400\n')
    out = tmp_path / "s.nc"
    rc, text, err = _cli(["sweep", str(spec), "--out", str(out), "--json"], capsys)
    assert rc == 0, err
    rep = json.loads(text)
    assert (rep["cells"], rep["computed"], rep["stored"], rep["failed"]) == (4, 4, 0, [])
    ds = sweep.load_netcdf(out)
    for cell, values in zip(local.cells, local.values, strict=True):
        np.testing.assert_array_equal(ds.sel(cell).iterations.values, values["iterations"][1])
    rc, text, _ = _cli(["sweep", str(spec), "--out", str(out), "--json"], capsys)
    assert (json.loads(text)["computed"], json.loads(text)["stored"]) == (0, 4)


@pytest.mark.parametrize("body, extra, match", [
    ('function = "nope"\n[grid]\ndepth = [2]\n', [], "'nope' is not a registered"),
    ('function = "gd_iterations"\n[grid]\ndepht = [2]\n', [], "grid.depht: gd_iterations has"),
    ('function = "gd_iterations"\n[grid]\ndepth = [2]\n[config]\ndepth = 3\n', [],
     "grid.depth: also set in config"),
    ('function = "gd_iterations"\ngrid = 3\n', [], "grid must be a table"),
    ('function = "gd_iterations"\n[grid]\ndepth = [2]\n', ["--workers", "2"],
     "--workers: only --executor dask"),
    ('function = "gd_iterations"\n[grid]\ndepth = [2]\n', ["--out", "x.txt"], "--out: "),
    ('function = [\n', [], "not valid TOML"),
])
def test_cli_bad_spec_is_one_line(tmp_path, capsys, body, extra, match):
    spec = tmp_path / "bad.toml"
    spec.write_text(body)
    rc, out, err = _cli(["sweep", str(spec), *extra], capsys)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and match in err, err


def test_example_spec_is_valid():
    from dlnflow.commands.sweep import read_spec

    spec = read_spec(str(ROOT / "examples" / "sweep_gd_depth.toml"))
    func = sweep.get(spec["function"])
    grid = sweep.Grid.of(spec["grid"])
    config = func.config(spec["config"], dict(grid.axes))
    assert grid.size == 5 * 2 * 2 * 3 and config["runs"] == 32
