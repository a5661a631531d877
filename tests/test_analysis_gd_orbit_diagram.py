"""gd_orbit_diagram: first period doubling at eta* = 2 / (L |y|^(2-2/L)) within the grid step
(brute force) and to 1e-8 (continuation); the continued period-2 branch against the
brute-force 2-cycles; the render draws the continued branches (stable solid, unstable dashed)."""

import json

import numpy as np

import dlnflow.analyses.gd_orbit_diagram as m
from dlnflow.io import dumps


def test_orbit_diagram_threshold_and_render():
    data = m.compute(m.QUICK)
    y = data["target"]
    for d in data["panels"]:
        L = d["depth"]
        thr = 2.0 / (L * abs(y) ** (2 - 2 / L))
        assert abs(d["first_doubling"] - thr) <= 1.5 * d["eta_step"], (L, d["first_doubling"])
        # Hessian at the limit reached agrees with the closed form, and the run is stable
        assert abs(d["lambda_max_limit"] - L * abs(y) ** (2 - 2 / L)) < 1e-4
        assert d["limit_eta"] * d["lambda_max_limit"] < 2
        # a period-2 orbit just above the threshold: two distinct values, p_{k+2} = p_k
        p = np.asarray(d["p"])
        eta = np.asarray(d["eta"])
        i = int(np.searchsorted(eta, 1.1 * thr))
        assert np.max(np.abs(p[i, 2:] - p[i, :-2])) < 1e-8
        assert abs(p[i, 1] - p[i, 0]) > 1e-2
        # below: a single value, y
        j = int(np.searchsorted(eta, 0.9 * thr))
        assert np.max(np.abs(p[j] - y)) < 1e-8
        # continuation: the doubling located to 1e-8, the period-2 branch equal to the
        # brute-force 2-cycles (2000 transient steps, |multipliers| <= 0.97) to 1e-8
        assert abs(d["continued_doubling"] - thr) < 1e-8 * thr
        assert len(d["period2_checked_eta"]) >= 5 and d["period2_max_error"] < 1e-8
        periods = [b["period"] for b in d["branches"]]
        assert periods[:3] == [1, 2, 4]
        pd = [q for q in d["points"] if q["kind"] == "period_doubling"]
        assert [q["period"] for q in pd][:3] == [1, 2, 4]
        # the period-3 window opens in a fold between the grid step before the first 3-cycle
        # GD settles on and that step; a multiplier +1 there
        w = d["window"]
        assert w["period"] == 3
        assert 0 < w["brute_force_first_eta"] - w["fold"] <= d["eta_step"] * (1 + 1e-9)
        (f,) = [q for q in d["window_points"] if q["kind"] == "fold"]
        assert f["eta"] == w["fold"] and np.min(np.abs(np.asarray(f["multipliers"]) - 1)) < 1e-6
    fig = m.render(json.loads(dumps(data)), m.QUICK)
    for ax, d in zip(fig.axes, data["panels"], strict=True):
        curves = [ln for ln in ax.get_lines() if ln.get_linestyle() != "None"
                  and len(ln.get_xdata()) > 1]
        # the fixed-point branch: solid on the stable points (to the first unstable one, the
        # runs overlap by one point), dashed after, both at p = y
        b = d["branches"][0]
        eta = np.asarray(b["eta"])
        k = int(np.sum(b["stable"]))
        drawn = [ln for ln in curves if np.asarray(ln.get_xdata())[0] == eta[0]]
        assert len(drawn) == 1 and drawn[0].get_linestyle() == "-"
        np.testing.assert_array_equal(drawn[0].get_xdata(), eta[:k + 1])
        np.testing.assert_allclose(drawn[0].get_ydata(), y, rtol=1e-12)
        dashed = [ln for ln in curves if np.asarray(ln.get_xdata())[0] == eta[k]]
        assert len(dashed) == 1 and dashed[0].get_linestyle() == "--"
        np.testing.assert_array_equal(dashed[0].get_xdata(), eta[k:])
        # the period-2 branch: two solid lines (its two orbit points) over its stable run (its
        # first point, the doubling itself, has multiplier 1 and counts as unstable)
        b2 = d["branches"][1]
        e2, st2, p2 = np.asarray(b2["eta"]), np.asarray(b2["stable"]), np.asarray(b2["p"])
        k0 = int(np.argmax(st2))
        k1 = k0 + int(np.argmin(st2[k0:]))          # first unstable point after the run
        assert k0 == 1 and k1 > k0 + 3
        two = [ln for ln in curves if np.asarray(ln.get_xdata())[0] == e2[k0]
               and ln.get_linestyle() == "-"]
        assert len(two) == 2
        for ln, col in zip(sorted(two, key=lambda ln: ln.get_ydata()[-1]),
                           np.argsort(p2[k1]), strict=True):
            np.testing.assert_array_equal(ln.get_xdata(), e2[k0:k1 + 1])
            np.testing.assert_allclose(ln.get_ydata(), p2[k0:k1 + 1, col], rtol=1e-12)
