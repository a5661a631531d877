"""`dlnflow` as the process's command (``python -m dlnflow.cli``, argv None) and called in-process
(argv given): the same JSON; only the former freezes the import-time objects (gc.freeze)."""

import gc
import json
import subprocess
import sys

import numpy as np
import pytest

from dlnflow.cli import main

ARGV = ["flow", "--depth", "2", "--target", "1", "--init", "0.1,0.1", "--t1", "100",
        "--stop-at-loss", "1e-6", "--json"]


def test_process_command_prints_the_in_process_json(capsys):
    frozen = gc.get_freeze_count()
    assert main(list(ARGV)) == 0
    inproc = json.loads(capsys.readouterr().out)
    assert gc.get_freeze_count() == frozen      # an in-process caller's collector is untouched
    proc = subprocess.run([sys.executable, "-m", "dlnflow.cli", *ARGV], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == inproc
    # balanced two-layer chain: logistic closed form of the time from p = 0.01 to 1 - sqrt(2e-6)
    p1 = 1 - np.sqrt(2e-6)
    assert inproc["t_final"] == pytest.approx(np.log(p1 * 0.99 / (0.01 * (1 - p1))) / 2,
                                              rel=1e-7)


def test_process_command_bad_value_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "dlnflow.cli", "flow", "--depth", "2",
                           "--target", "1", "--init", "0.1,0.1", "--t1", "nan"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "--t1" in proc.stderr and "nan" in proc.stderr
