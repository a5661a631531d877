"""Sweeps on a Dask LocalCluster (2 worker processes started with spawn: JAX is not forked;
the workers' BLAS thread counts left as in this process, see WORKER_CONFIG):
bit-identical to the local executor, failing cells reported with their coordinates, the store
shared between executors, and an analysis's grid spread over the cluster."""

from __future__ import annotations

import pytest

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed (the 'dask' extra) is not installed")
dask = pytest.importorskip("dask", reason="dask (the 'dask' extra) is not installed")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from dlnflow import sweep  # noqa: E402
from dlnflow.sweep import functions  # noqa: E402
from dlnflow.sweep.dask_executor import WORKER_CONFIG  # noqa: E402

CFG = {**sweep.get("gd_iterations").defaults, "runs": 3, "max_steps": 400}
GRID = {"depth": [2, 0, 3], "eta": [0.05, 0.1]}          # depth 0 fails: reported, not fatal


@pytest.fixture(scope="module", autouse=True)
def fixed_package_hash():
    """dlnflow's source hash held fixed (other work may edit the sources meanwhile)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("dlnflow.pipeline.package_hash", lambda: "p" * 64)
        yield


@pytest.fixture(scope="module")
def local():
    return sweep.run_sweeps([sweep.SweepSpec.of(functions.gd_iterations, GRID, CFG)])[0]


@pytest.fixture(scope="module")
def client(local):
    """The cluster, started after ``local`` has run JAX and scipy in this process (so that
    their thread settings here are those of a plain process, not Dask's)."""
    import scipy.linalg

    scipy.linalg.lu_factor(np.eye(2))     # scipy's BLAS loaded here before the cluster
    # spawn (JAX must not be forked), and the workers' BLAS threads left as in this process
    with dask.config.set(WORKER_CONFIG):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _assert_same(a: sweep.SweepResult, b: sweep.SweepResult) -> None:
    assert a.cells == b.cells
    assert [e is None for e in a.errors] == [e is None for e in b.errors]
    for va, vb in zip(a.values, b.values, strict=True):
        if va is None:
            assert vb is None
            continue
        assert va.keys() == vb.keys()
        for name in va:
            assert va[name][0] == vb[name][0]
            assert va[name][1].dtype == vb[name][1].dtype
            # bit for bit: the same bytes, not merely close
            assert va[name][1].tobytes() == vb[name][1].tobytes(), name


def test_cluster_equals_local_bit_for_bit(client, local, tmp_path):
    assert len(client.scheduler_info()["workers"]) == 2
    # the condition of bit-for-bit equality: as many JAX CPU devices on each worker as here
    # (dlnflow's settings applied first as in a cell; a lambda travels by value: the workers
    # cannot import this test module)
    devices = client.run(lambda: __import__("dlnflow") and __import__("jax").local_device_count())
    assert set(devices.values()) == {jax.local_device_count()}
    res, = sweep.run_sweeps([sweep.SweepSpec.of(functions.gd_iterations, GRID, CFG)],
                            executor=client, store=tmp_path / "cells")
    _assert_same(res, local)
    assert not any(res.stored)
    failed = [(c, e) for c, e in res.failed]
    assert [c for c, _ in failed] == [{"depth": 0, "eta": 0.05}, {"depth": 0, "eta": 0.1}]
    assert all("InputError" in e and "depth" in e for _, e in failed)
    # the cells the cluster stored are found by a local rerun: only the failed ones run again
    again, = sweep.run_sweeps([sweep.SweepSpec.of(functions.gd_iterations, GRID, CFG)],
                              store=tmp_path / "cells")
    assert again.stored == [e is None for e in local.errors]
    _assert_same(again, local)


def test_scheduler_address_and_dataset(client, local):
    xr = pytest.importorskip("xarray", reason="xarray (the 'dask' extra) is not installed")
    address = client.scheduler.address
    assert address.startswith("tcp://")
    with pytest.warns(UserWarning, match=r"2 of 6 cells failed .*depth=0, eta=0.05: InputError"):
        ds = sweep.sweep(functions.gd_iterations, GRID, config=CFG, executor=address)
    ref = sweep.to_dataset(local)
    xr.testing.assert_identical(ds, ref)
    assert ds.cell_status.sel(depth=0).values.tolist() == ["failed", "failed"]


def test_analysis_grid_spread_over_the_cluster(client):
    """A tiny configuration of shamir_depth_scaling: every (family, depth) cell and the flow
    cells run as Dask tasks give the same data as in-process."""
    from dlnflow.analyses import shamir_depth_scaling as mod
    from dlnflow.io import dumps

    cfg = {**mod.QUICK, "max_steps": 2000, "seeds": 4, "gaussian_depths": [2, 3],
           "near_identity_depths": [2, 3], "matrix_widths": [2], "matrix_depths": [2, 3],
           "matrix_seeds": 2, "flow_depths": [2, 4], "flow_seeds": 4}
    here = mod.compute(cfg)
    with sweep.executor_scope(client):
        there = mod.compute(cfg)
    assert dumps(there) == dumps(here)
    assert here["series"]["gaussian"]["runs"][0]["status_counts"] == {"converged": 4}
    # the Radau runs (scipy, LU by BLAS) at depth 4 round differently with 1 BLAS thread
    assert here["flow"]["status"][1] == ["converged"] * 4


def test_cli_on_the_cluster(client, local, tmp_path, capsys):
    import json

    from dlnflow.cli import main

    spec = tmp_path / "s.toml"
    spec.write_text('function = "gd_iterations"\n[grid]\ndepth = [2, 0, 3]\neta = [0.05, 0.1]\n'
                    '[config]\nruns = 3\nmax_steps = 400\n')
    rc = main(["sweep", str(spec), "--scheduler", client.scheduler.address,
               "--out", str(tmp_path / "s.nc"), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rc == 1                                  # a cell failed: said, and the rest kept
    assert (rep["cells"], rep["computed"], len(rep["failed"])) == (6, 4, 2)
    assert rep["executor"].startswith(f"dask {client.scheduler.address} with 2 workers")
    assert {tuple(f["cell"].items()) for f in rep["failed"]} == {
        (("depth", 0), ("eta", 0.05)), (("depth", 0), ("eta", 0.1))}
    ds = sweep.load_netcdf(tmp_path / "s.nc")
    assert ds.iterations.dtype == "float64"       # int counts with missing cells: NaN there
    for cell, values in zip(local.cells, local.values, strict=True):
        got = ds.sel(cell)
        if values is None:
            assert np.isnan(got.iterations.values).all() and got.cell_status == "failed"
        else:
            np.testing.assert_array_equal(got.iterations.values, values["iterations"][1])
            assert got.loss_final.values.tobytes() == values["loss_final"][1].tobytes()
