"""Relative error of the time to a loss threshold, per flow solver, through the command line.

The case of the Core v2 issue: ``dlnflow flow --depth 4 --target 1 --init 0.9,0.9,0.9,0.9
--t1 100 --stop-at-loss 1e-10 --rtol R --atol A --solver S --json`` against the exact time, the
quadrature of p' = L p^(2-2/L) (y - p) from p0 = 0.9^4 to 1 - sqrt(2e-10)
(``dlnflow.closed_forms.balanced_chain_time``). Run: ``python benchmarks/event_time_errors.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from dlnflow.closed_forms import balanced_chain_time
from dlnflow.simulate import FLOW_SOLVERS


def main() -> None:
    exact = balanced_chain_time(4, 1.0, 0.9**4, 1.0 - np.sqrt(2e-10))
    print(f"exact time {exact:.15g}")
    for rtol, atol in (("1e-8", "1e-10"), ("1e-10", "1e-12")):
        for solver in FLOW_SOLVERS:
            cmd = [sys.executable, "-m", "dlnflow.cli", "flow", "--depth", "4", "--target", "1",
                   "--init", "0.9,0.9,0.9,0.9", "--t1", "100", "--stop-at-loss", "1e-10",
                   "--rtol", rtol, "--atol", atol, "--solver", solver, "--json"]
            out = json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                            check=True).stdout)
            err = abs(out["t_final"] - exact) / exact
            print(f"{solver:9s} rtol={rtol:6s} {out['status']:10s} relative error {err:.2e}",
                  flush=True)


if __name__ == "__main__":
    main()
