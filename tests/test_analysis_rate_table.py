"""Quick run of the measured rate table, checked against closed forms and the papers' claims."""

import json

import matplotlib
import numpy as np
import pytest

from dlnflow.analyses import rate_table as mod
from dlnflow.io import dumps


@pytest.fixture(scope="module")
def data():
    return mod.compute(mod.QUICK)


def test_bartlett_failure_stalls_at_prediction(data):
    """Bartlett et al.'s failure case: for L >= 3 GD stays at the non-strict saddle where the
    loss is 0.5 lambda_-^2 (approached polynomially, more slowly the deeper the network); for
    L = 2 that point is a strict saddle (Achour et al.), round-off escapes it and the product
    learns the negative eigenvalue."""
    f = data["failure"]
    lam = min(mod.QUICK["fail_eigs"])
    pred = 0.5 * lam**2
    assert f["predicted"] == pytest.approx(pred, rel=1e-14)
    runs = {L: (loss, p[0], s) for L, loss, p, s in
            zip(f["depths"], f["loss"], f["product_on_negative"], f["status"], strict=True)}
    assert runs[2][2] == "converged" and runs[2][1] < 0.8 * lam
    gaps = [abs(runs[L][0] / pred - 1) for L in (3, 4, 6)]
    assert gaps[0] < 1e-8 and gaps[-1] < 1e-4
    assert gaps[0] < gaps[1] < gaps[2]
    for L in (3, 4, 6):
        assert runs[L][2] == "max_steps" and abs(runs[L][1]) < 1e-4


def test_growth_classes(data):
    rows = data["rows"]
    sh = rows["shamir"]["fit"]["exponential"]
    assert sh["slope"] > 0 and sh["ci"][0] > 0
    assert rows["shamir"]["law"] in ("exponential", "polynomial")
    for name in ("orthogonal", "zou"):
        k = rows[name]["fit"]["polynomial"]["slope"]
        assert rows[name]["law"] == "flat", (name, rows[name]["summary"])
        assert abs(k) < 0.3
        assert rows[name]["fit"]["exponential"]["slope"] < sh["slope"]
    # Bartlett's identity start with an O(1/L) step: bounded by O(L) as the paper proves.
    b = rows["bartlett"]["fit"]["polynomial"]["slope"]
    assert b <= 1.0


def _bartlett_scalar_count(eigs, L, eta, threshold, max_steps):
    """Reference: from W_l = I every layer is a polynomial in Phi, so in Phi's eigenbasis each
    eigenvalue follows s <- s - eta s^(L-1) (s^L - lambda), s(0) = 1, and the loss is
    0.5 sum (s^L - lambda)^2. Iterations until the loss is at most the threshold."""
    lam, s = np.asarray(eigs, dtype=float), np.ones(len(eigs))
    for k in range(max_steps + 1):
        if 0.5 * np.sum((s**L - lam) ** 2) <= threshold:
            return k
        s = s - eta * s ** (L - 1) * (s**L - lam)
    return max_steps


def test_bartlett_row_counts_match_the_eigenvalue_recursion(data):
    eigs = data["setup"]["bartlett_eigs"]
    assert len(eigs) == mod.QUICK["bartlett_targets"] and eigs[0] == mod.QUICK["phi_eigs"]
    lo, hi = mod.QUICK["bartlett_eig_range"]
    assert all(lo <= e <= hi for ev in eigs[1:] for e in ev)
    spreads = []
    for L, r in zip(mod.QUICK["depths"], data["rows"]["bartlett"]["per_depth"], strict=True):
        assert r["eta"] == 1 / (2 * L)                  # ||Phi||_2 <= 1: eta = 1/(2L)
        ref = [_bartlett_scalar_count(ev, L, r["eta"], mod.QUICK["threshold"],
                                      mod.QUICK["max_steps"]) for ev in eigs]
        assert r["steps"] == ref
        assert r["status_counts"] == {"converged": len(eigs)}
        spreads.append(r["quartiles"][2] - r["quartiles"][0])
    assert min(spreads) > 0             # several distinct runs per depth: a real IQR


def test_arora_step_rule(data):
    # The step follows the paper's formula up to one common factor.
    c, n = data["setup"]["deficiency_margin"], np.linalg.norm(data["setup"]["phi"])
    fac = data["setup"]["arora_factor_over_paper"]
    for L, r in zip(mod.QUICK["depths"], data["rows"]["arora"]["per_depth"], strict=True):
        assert r["eta"] == pytest.approx(fac * c ** ((4 * L - 2) / L)
                                         / (6144 * L**3 * n ** ((6 * L - 4) / L)), rel=1e-12)


def test_tables_and_render(data):
    d = json.loads(dumps(data))
    out = mod.tables(d, mod.QUICK)
    assert set(out) == {"rate_table.md", "rate_table.tex"}
    for row in d["rows"].values():
        assert row["paper"] in out["rate_table.md"]
    assert r"\begin{tabular}" in out["rate_table.tex"]
    fig = mod.render(d, mod.QUICK)
    assert isinstance(fig, matplotlib.figure.Figure)
    matplotlib.pyplot.close(fig)
