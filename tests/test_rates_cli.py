"""`dlnflow rates`: JSON keys and values against closed forms; bad input exits 2."""

import json

import numpy as np
import pytest

from dlnflow.cli import main


def _run(capsys, argv):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_rates_json_two_layers(capsys):
    w1, w2, y, eta = 0.4, 0.9, 1.0, 0.1
    rc, out, _ = _run(capsys, ["rates", "--depth", "2", "--target", "1", "--init",
                               f"{w1},{w2}", "--etas", str(eta), "--json"])
    assert rc == 0
    d = json.loads(out)
    c = w1 * w2                          # 0 < p(0) < y: margin = p(0)
    alpha = np.sqrt((w1**2 - w2**2) ** 2 + 4 * c**2)
    assert d["alpha_star"] == pytest.approx(alpha, rel=1e-12)
    # the start minimises lambda_min over the reachable set: least rate = 2 alpha*
    assert d["flow_rate_min"] == pytest.approx(2 * alpha, rel=1e-9)
    # at the limit p = y, d conserved: w1^2 + w2^2 = sqrt(d^2 + 4 y^2); rate 2 (w1^2 + w2^2)
    lam = np.sqrt((w1**2 - w2**2) ** 2 + 4 * y**2)
    assert d["flow_rate_asymptotic"] == pytest.approx(2 * lam, rel=1e-5)
    (g,) = d["gd"]
    assert set(g) >= {"eta", "rate_asymptotic", "iterations", "distance_to_flow_max"}
    assert g["eta"] == eta and g["iterations"] > 0
    # GD limit near the flow's: rate close to -2 ln|1 - eta lam| / eta
    assert g["rate_asymptotic"] == pytest.approx(-2 * np.log(abs(1 - eta * lam)) / eta, rel=0.05)
    assert 0 < g["distance_to_flow_max"] < 0.1


def test_rates_nonpositive_margin_note(capsys):
    rc, out, _ = _run(capsys, ["rates", "--depth", "2", "--target", "1", "--init", "1,-1.5",
                               "--t1", "5", "--json"])
    assert rc == 0
    d = json.loads(out)
    assert d["alpha_star"] is None and "margin" in d["note"]
    assert d["gd"] == []


@pytest.mark.parametrize("argv", [
    ["--init", "1,2,3"], ["--init", "1,nan"], ["--init", "1,2", "--etas", "0.1,-0.2"],
    ["--init", "1,2", "--target", "inf"]])
def test_rates_bad_input(capsys, argv):
    rc, out, err = _run(capsys, ["rates", "--depth", "2", *argv])
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "error" in err
