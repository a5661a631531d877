"""`dlnflow flow` and `dlnflow gd`: JSON keys, per-start lists, one-line errors with status 2."""

import json

import numpy as np
import pytest

from dlnflow.cli import main
from dlnflow.status import STATS_KEYS


def run_json(capsys, argv):
    rc = main(argv + ["--json"])
    out = capsys.readouterr().out
    assert rc == 0
    return json.loads(out)


def test_flow_json_single_start(capsys):
    out = run_json(capsys, ["flow", "--depth", "2", "--target", "1", "--init", "0.1,0.1",
                            "--t1", "100", "--solver", "tsit5", "--rtol", "1e-10",
                            "--atol", "1e-12", "--stop-at-loss", "1e-6"])
    assert set(out) == {"solver", "status", "t_final", "loss_final", "steps", "stats",
                        "messages", "imbalance_drift_max"}
    assert out["solver"] == "tsit5"
    assert out["status"] == "converged" and out["messages"] == ""
    assert set(out["stats"]) == set(STATS_KEYS)
    assert out["stats"]["accepted_steps"] == out["steps"] > 0
    # balanced two-layer chain: logistic closed form time from p0 = 0.01 to p1 = 1 - sqrt(2e-6)
    p1 = 1 - np.sqrt(2e-6)
    t = np.log(p1 * (1 - 0.01) / (0.01 * (1 - p1))) / 2
    assert out["t_final"] == pytest.approx(t, rel=1e-6)
    assert out["imbalance_drift_max"] < 1e-8


def test_flow_default_solver_is_the_exact_reduction_for_chains(capsys):
    """--solver defaults to auto: a scalar chain gets the exact 1-D reduction, whose time to the
    threshold is the logistic closed form of the balanced two-layer chain."""
    out = run_json(capsys, ["flow", "--depth", "2", "--target", "1", "--init", "0.1,0.1",
                            "--t1", "100", "--stop-at-loss", "1e-6"])
    assert out["solver"] == "reduction" and out["status"] == "converged"
    p1 = 1 - np.sqrt(2e-6)
    assert out["t_final"] == pytest.approx(np.log(p1 * 0.99 / (0.01 * (1 - p1))) / 2, rel=1e-7)


def test_gd_json_several_starts(capsys):
    out = run_json(capsys, ["gd", "--depth", "3", "--target", "1", "--init-kind",
                            "near_identity", "--seeds", "3", "--eta", "0.05",
                            "--stop-at-loss", "1e-8"])
    assert set(out) == {"status", "iterations", "loss_final", "imbalance_change_max"}
    assert out["status"] == ["converged"] * 3
    assert all(v <= 1e-8 for v in out["loss_final"])
    assert len(out["iterations"]) == 3


def test_gd_divergence_in_json(capsys):
    out = run_json(capsys, ["gd", "--depth", "2", "--target", "1", "--init", "1,1.001",
                            "--eta", "3", "--max-steps", "1000"])
    assert out["status"] == "diverged"
    assert out["loss_final"] is not None and np.isfinite(out["loss_final"])


def _exit_status(argv):
    """main(argv)'s exit status, whether it returns it or argparse raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize("argv, needle", [
    (["gd", "--depth", "0", "--init", "1", "--eta", "0.1"],
     "argument --depth: must be an integer from 1 to 2147483647, got '0'"),
    (["gd", "--depth", "2", "--init", "1,1", "--eta", "-0.1"],
     "--eta must be positive, got '-0.1'"),
    (["gd", "--depth", "3", "--init", "1,1", "--eta", "0.1"], "--init must have 3 weights"),
    (["gd", "--depth", "2", "--init", "1,nan", "--eta", "0.1"], "'nan' is not a finite number"),
    (["gd", "--depth", "2", "--target", "nan", "--init", "1,1", "--eta", "0.1"],
     "--target must be a finite number, got 'nan'"),
    (["flow", "--depth", "2", "--init", "1,1", "--t1", "-5"], "--t1 must be positive, got '-5'"),
    (["flow", "--depth", "2", "--init", "1,1", "--t1", "5", "--solver", "rk4"],
     "--solver: unknown solver 'rk4'"),
    (["flow", "--depth", "2", "--init", "1,1", "--t1", "5", "--max-steps", "0"],
     "argument --max-steps: must be an integer from 1 to 2147483647, got '0'"),
    (["gd", "--depth", "x", "--init", "1", "--eta", "0.1"],
     "argument --depth: must be an integer, got 'x'"),
    (["gd", "--depth", "2", "--init", "1,1", "--eta", "0.1", "--seed", "1" * 30],
     "argument --seed: must be an integer from 0 to 9223372036854775807"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, needle):
    assert _exit_status(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["gd", "--depth", "3", "--target", "1", "--init", "-0.5,1,1", "--eta", "0.1",
     "--max-steps", "10"],
    ["gd", "--depth", "3", "--target=-1e-1", "--init=-0.5,-1,1", "--eta", "0.1",
     "--max-steps", "10"],
    ["gd", "--depth", "3", "--target", "-1e-1", "--init", "-.5,1,1", "--init-sc", "-1e0",
     "--eta", "0.1", "--max-steps", "10"],
])
def test_values_starting_with_a_dash(capsys, argv):
    """'-0.5,1,1' and '-1e-1' after an option are its value (argparse alone reads them as
    options); an abbreviated option (--init-sc) takes one too."""
    out = run_json(capsys, argv)
    assert out["iterations"] == 10
