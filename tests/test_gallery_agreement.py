"""The gallery's paper-against-ours tables: every analysis's ``agreement(data)`` runs on the
committed quick data (figures/quick/<name>.json) and returns rows with the four columns.

Where a row compares with a closed form, the number is recomputed here independently:
the critical-set losses of a diagonal target, 0.5 (||s||^2 - sum_{i in S} s_i^2).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dlnflow.pipeline import discover

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "figures" / "quick"
COLUMNS = {"quantity", "paper", "ours", "agreement"}
WITH_TABLE = sorted(n for n, a in discover().items()
                    if a.module is not None and hasattr(a.module, "agreement")
                    and (QUICK / f"{n}.json").is_file())


def _data(name: str) -> dict:
    return json.loads((QUICK / f"{name}.json").read_text())["data"]


@pytest.mark.parametrize("name", WITH_TABLE)
def test_agreement_rows(name):
    rows = discover()[name].module.agreement(_data(name))
    assert rows, f"{name}: empty table"
    for row in rows:
        assert set(row) == COLUMNS, row
        assert isinstance(row["quantity"], str) and row["quantity"]
        for key in ("paper", "ours"):
            value = row[key]
            assert not (isinstance(value, float) and math.isnan(value)), (name, row)


def test_critical_graph_losses_against_closed_form():
    data = _data("critical_graph")
    s = data["config"]["target_diag"]
    for c in data["sets"]:
        inner = c["label"].split("{", 1)[1].rstrip("}")
        learnt = [int(i) for i in inner.split(",") if i]
        closed = 0.5 * (sum(x * x for x in s) - sum(s[i - 1] ** 2 for i in learnt))
        assert abs(c["loss"] - closed) <= 1e-9 * max(1.0, closed)
    rows = discover()["critical_graph"].module.agreement(data)
    assert rows[0]["ours"] <= 1e-9
