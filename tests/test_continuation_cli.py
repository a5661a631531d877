"""`dlnflow continuation`: JSON branch points against the closed forms; bad input exits 2."""

import json

import numpy as np
import pytest

from dlnflow.cli import main


def _run(capsys, argv):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_balanced_chain_json(capsys):
    L, y = 3, 2.0
    thr = 2 / (L * y ** (2 - 2 / L))
    rc, out, _ = _run(capsys, ["continuation", "--depth", "3", "--target", "2", "--eta-range",
                               f"{0.5 * thr},{1.3 * thr}", "--period", "4", "--json"])
    assert rc == 0
    d = json.loads(out)
    pts = d["points"]
    assert all(set(p) >= {"eta", "kind", "period", "multipliers"} for p in pts)
    first = pts[0]
    assert first["kind"] == "period_doubling" and first["period"] == 1
    assert abs(first["eta"] - thr) < 1e-8 * thr
    # one multiplier on the minimum set's quotient, -1 there, as an [re, im] pair
    assert len(first["multipliers"]) == 1
    assert first["multipliers"][0] == pytest.approx([-1.0, 0.0], abs=1e-8)
    assert np.allclose(d["start"], y ** (1 / L), rtol=1e-14)
    # the period-2 branch doubles inside the range too; its orbit has two points
    second = [p for p in pts if p["period"] == 2]
    assert len(second) == 1 and thr < second[0]["eta"] < 1.3 * thr
    assert np.asarray(second[0]["orbit"]).shape == (2, L)
    assert any(m == pytest.approx([-1.0, 0.0], abs=1e-8) for m in second[0]["multipliers"])
    assert "branches" not in d


def test_non_balanced_start_and_branches(capsys):
    # GD from (0.5, 1.5) at eta = 0.2 settles on a minimum w*; it doubles at
    # 2 / sum_i (y / w*_i)^2. For two layers no period-2 branch leaves a non-balanced minimum:
    # the report says so in a note.
    rc, out, _ = _run(capsys, ["continuation", "--depth", "2", "--eta-range", "0.2,1.5",
                               "--init", "0.5,1.5", "--json", "--branches"])
    assert rc == 0
    d = json.loads(out)
    w = np.asarray(d["start"])
    assert abs(np.prod(w) - 1) < 1e-12
    (p,) = d["points"]
    assert abs(p["eta"] - 2 / np.sum(1 / w ** 2)) < 1e-8
    assert len(d["notes"]) == 1 and "period doubling" in d["notes"][0]
    (b,) = d["branches"]
    eta = np.asarray(b["eta"])
    assert np.array_equal(b["stable"], list(eta < p["eta"]))


@pytest.mark.parametrize("argv", [
    ["--eta-range", "0.5"], ["--eta-range", "1,0.5"], ["--eta-range", "-1,2"],
    ["--eta-range", "a,1"], ["--eta-range", "0.1,1", "--init", "1,2,3"],
    ["--eta-range", "0.1,1", "--period", "3"], ["--eta-range", "0.1,1", "--target", "0"],
    ["--eta-range", "0.1,1", "--target", "nan"], ["--eta-range", "0.1,1", "--init", "1,nan"],
    ["--eta-range", "1.2,2", "--init", "0.5,0.7"], ["--eta-range", "0.5,1", "--init", "5,5"]])
def test_bad_input(capsys, argv):
    rc, out, err = _run(capsys, ["continuation", "--depth", "2", *argv])
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "error" in err
    assert "--" in err.split("error:", 1)[1]      # names the flag


def test_linear_chain_degenerate_doubling(capsys):
    # depth 1: the GD map w -> w - eta (w - y) is affine; at eta = 2 every point is 2-periodic,
    # a continuum and no branch: one doubling at 2 / lambda = 2, a note, no fold
    rc, out, _ = _run(capsys, ["continuation", "--depth", "1", "--eta-range", "0.5,3",
                               "--json"])
    assert rc == 0
    d = json.loads(out)
    (p,) = d["points"]
    assert p["kind"] == "period_doubling" and abs(p["eta"] - 2.0) < 1e-12
    assert len(d["notes"]) == 1 and "degenerate" in d["notes"][0]
