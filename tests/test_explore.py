"""The explorer's callbacks without a browser: what a click draws against independent references
(plain numpy GD, a scipy DOP853 flow through dl.simulate, exact identities and closed forms)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bokeh")

import dlnflow as dl  # noqa: E402
from dlnflow.explore.app import ExploreApp  # noqa: E402
from dlnflow.explore.model import LOSS_FLOOR, Setting  # noqa: E402


def numpy_gd(w0: np.ndarray, y: float, eta: float, steps: int, floor: float):
    """GD on F = 0.5 (prod w - y)^2 in plain numpy, stopping at the first iterate with
    F <= floor. Returns the iterates (K, L), losses (K,) and the gradients at them."""
    w = np.array(w0, float)
    ws, losses, grads = [], [], []
    for _ in range(steps + 1):
        p = np.prod(w)
        others = np.array([np.prod(np.delete(w, i)) for i in range(w.size)])
        g = (p - y) * others
        ws.append(w.copy())
        losses.append(0.5 * (p - y) ** 2)
        grads.append(g)
        if losses[-1] <= floor:
            break
        w = w - eta * g
    return np.array(ws), np.array(losses), np.array(grads)


def reference_flow(problem, w0, ts):
    """The flow by scipy's DOP853 at rtol 1e-12 (not the app's rodas4) at the times ts."""
    traj = dl.simulate(dl.GradientFlow(problem), problem.scalar_params(np.asarray(w0)[None]),
                       t1=float(ts[-1]), solver=dl.Solver("DOP853", rtol=1e-12, atol=1e-14),
                       save=dl.SaveAt(ts=ts))
    t = traj.t[0][traj.valid[0]]
    keep = np.searchsorted(t, ts)          # the ts records (the start and end are also kept)
    return (traj.loss[0][traj.valid[0]][keep], traj.scalar_weights()[0][traj.valid[0]][keep])


ROUNDING = 1e-13
"""|prod w - y| compared between XLA and numpy GD: their roundings differ by a few ulp per step
and p - y cancels, so absolute, ~500 ulp of |y| <= 1.5 over <= 80 steps."""


def residual(loss):
    """|prod w - y| = sqrt(2F): smooth in the state, so errors compare on an absolute scale."""
    return np.sqrt(2 * np.asarray(loss))


def column(app, name, key, row):
    return np.asarray(app.src[name].data[key][row], float)


@pytest.fixture(scope="module")
def two_layer():
    app = ExploreApp(Setting(depth=2, target=1.0, eta=0.3, steps=40))
    for w in [(0.3, 1.5), (-1.2, 0.5)]:
        app.click(*w)
    return app


def test_two_clicks_draw_two_flows_and_two_gd_paths(two_layer):
    src = two_layer.src
    for name in ("flow_path", "gd_path", "flow_loss", "gd_loss", "flow_imbalance",
                 "gd_imbalance", "starts"):
        assert len(src[name].data["color"]) == 2, name
    assert src["starts"].data["w0"] == [[0.3, 1.5], [-1.2, 0.5]]
    assert src["flow_path"].data["color"][0] != src["flow_path"].data["color"][1]


@pytest.mark.parametrize("k", [0, 1])
def test_gd_drawn_equals_numpy_gd(two_layer, k):
    w0 = two_layer.src["starts"].data["w0"][k]
    ws, losses, grads = numpy_gd(w0, 1.0, 0.3, 40, LOSS_FLOOR)
    t = column(two_layer, "gd_loss", "xs", k)
    np.testing.assert_allclose(t, 0.3 * np.arange(len(losses)), rtol=1e-15)
    np.testing.assert_allclose(residual(column(two_layer, "gd_loss", "ys", k)),
                               residual(losses), atol=ROUNDING)
    np.testing.assert_allclose(column(two_layer, "gd_path", "xs", k), ws[:, 0], rtol=1e-12)
    np.testing.assert_allclose(column(two_layer, "gd_path", "ys", k), ws[:, 1], rtol=1e-12)
    # exact GD identity: D1 = w2^2 - w1^2 moves by eta^2 (g2^2 - g1^2) per step
    D = column(two_layer, "gd_imbalance", "ys", k)
    np.testing.assert_allclose(np.diff(D), 0.09 * (grads[:-1, 1] ** 2 - grads[:-1, 0] ** 2),
                               rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("k", [0, 1])
def test_flow_drawn_equals_an_independent_solver(two_layer, k):
    w0 = two_layer.src["starts"].data["w0"][k]
    ts = column(two_layer, "flow_loss", "xs", k)
    loss = column(two_layer, "flow_loss", "ys", k)
    ref_loss, ref_w = reference_flow(two_layer.setting.problem, w0, ts)
    # sqrt(2F) = |w1 w2 - 1| is smooth in the state: its error is the state's, set by the
    # solvers' tolerances (rodas4 tightened to rtol 1e-13 by the loss event; DOP853 at 1e-12;
    # measured 5e-12), so 100 x 1e-12
    np.testing.assert_allclose(np.sqrt(2 * loss), np.sqrt(2 * ref_loss), rtol=0, atol=1e-10)
    np.testing.assert_allclose(column(two_layer, "flow_path", "xs", k), ref_w[:, 0], atol=1e-10)
    np.testing.assert_allclose(column(two_layer, "flow_path", "ys", k), ref_w[:, 1], atol=1e-10)
    assert loss[-1] == pytest.approx(LOSS_FLOOR, rel=1e-6)        # stopped at the floor
    # the flow conserves D1: its drawn imbalance is flat at w2^2 - w1^2 of the start
    np.testing.assert_allclose(column(two_layer, "flow_imbalance", "ys", k),
                               w0[1] ** 2 - w0[0] ** 2, atol=1e-10)


@pytest.mark.parametrize("k", [0, 1])
def test_limit_threshold_is_the_closed_form(two_layer, k):
    """The flow ends on w1 w2 = y with w1^2 - w2^2 = c, where lambda_max = w1^2 + w2^2 =
    sqrt(c^2 + 4 y^2); the mark sits at 2 / lambda_max (flow stopped at F = 1e-14: ~1e-7)."""
    w1, w2 = two_layer.src["starts"].data["w0"][k]
    c = w1 * w1 - w2 * w2
    mark = two_layer.src["limit_marks"].data["x"][k]
    assert mark == pytest.approx(2.0 / np.sqrt(c * c + 4.0), rel=1e-6)


def test_invariant_curve_through_the_click(two_layer):
    for k, (w1, w2) in enumerate([(0.3, 1.5), (-1.2, 0.5)]):
        rows = [i for i, r in enumerate(two_layer.src["click_invariant"].data["run"]) if r == k]
        xs = np.concatenate([column(two_layer, "click_invariant", "xs", i) for i in rows])
        ys = np.concatenate([column(two_layer, "click_invariant", "ys", i) for i in rows])
        # contour of the gridded w1^2 - w2^2, linear between nodes h = 0.05 apart: the
        # interpolation error of a quadratic is at most h^2 / 4 per coordinate
        np.testing.assert_allclose(xs**2 - ys**2, w1 * w1 - w2 * w2, atol=2 * 0.05**2 / 4)
        assert np.min(np.hypot(xs - w1, ys - w2)) < 0.05


def test_portrait_of_the_two_layer_chain(two_layer):
    a = two_layer.src["arrows"].data
    x, y = (a["x0"] + a["x1"]) / 2, (a["y0"] + a["y1"]) / 2
    u, v = a["x1"] - a["x0"], a["y1"] - a["y0"]
    g = -(x * y - 1.0)[:, None] * np.stack([y, x], -1)         # -grad F, by hand
    ok = np.hypot(g[:, 0], g[:, 1]) > 1e-9
    cos = (u * g[:, 0] + v * g[:, 1])[ok] / (np.hypot(u, v)[ok] * np.hypot(*g[ok].T))
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    m = two_layer.src["minimum_set"].data
    xs, ys = np.concatenate(m["xs"]), np.concatenate(m["ys"])
    # linear interpolation of w1 w2 - 1 between grid nodes 0.05 apart
    np.testing.assert_allclose(xs * ys, 1.0, atol=0.05**2)
    cp = two_layer.src["critical_points"].data
    assert (list(cp["x"]), list(cp["y"]), list(cp["label"])) == ([0.0], [0.0],
                                                                  ["strict saddle"])
    # the stability threshold of the balanced minimum (1, 1): lambda_max = 2, 2/2 = 1
    assert two_layer.threshold_span.location == pytest.approx(1.0, rel=1e-15)


def test_deep_chain_click_on_the_invariant_surface():
    app = ExploreApp(Setting(depth=4, target=1.5, eta=0.05, steps=80))
    app.click(0.8, 1.1)
    w0 = app.src["starts"].data["w0"][0]
    assert w0 == [0.8, 1.1, 1.1, 1.1]                          # lifted to w2 = w3 = w4
    ws, losses, _ = numpy_gd(w0, 1.5, 0.05, 80, LOSS_FLOOR * 1.5**2)
    assert np.all(ws[:, 2] == ws[:, 1]) and np.all(ws[:, 3] == ws[:, 1])   # GD stays on S
    np.testing.assert_allclose(residual(column(app, "gd_loss", "ys", 0)), residual(losses),
                               atol=ROUNDING)
    np.testing.assert_allclose(column(app, "gd_path", "ys", 0), ws[:, 1], rtol=1e-12)
    ts = column(app, "flow_loss", "xs", 0)
    ref_loss, ref_w = reference_flow(app.setting.problem, w0, ts)
    np.testing.assert_allclose(np.sqrt(2 * column(app, "flow_loss", "ys", 0)),
                               np.sqrt(2 * ref_loss), atol=1e-10)
    np.testing.assert_allclose(column(app, "flow_path", "xs", 0), ref_w[:, 0], atol=1e-10)
    # balanced minimum w_i = y^(1/4): lambda_max = 4 y^(3/2)
    assert app.threshold_span.location == pytest.approx(2 / (4 * 1.5**1.5), rel=1e-14)
    lines = app.src["critical_lines"].data
    assert lines["ys"] == [[0.0, 0.0]] and lines["label"] == ["non-strict saddle"]


def test_setting_changes_clear_and_bad_input():
    app = ExploreApp(Setting(depth=2, target=1.0, eta=0.25, steps=20))
    app.click(0.5, 0.5)
    app.update(depth=3)
    assert len(app.src["flow_path"].data["xs"]) == 0 and app.runs == []
    # eta keeps its fraction of the threshold: 0.25 of 2/2 -> 0.25 of 2/3
    assert app.setting.eta == pytest.approx(0.25 * 2 / 3, rel=1e-14)
    assert app.eta.value == pytest.approx(app.setting.eta, rel=1e-14)
    m = app.src["minimum_set"].data
    xs, ys = np.concatenate(m["xs"]), np.concatenate(m["ys"])
    assert np.max(np.abs(xs * ys**2 - 1.0)) < 0.02          # w1 w2^2 = 1, interpolated
    before = app.setting
    app.update(target=0.0)
    assert app.setting == before and "target y" in app.status.text
    app.update(steps=0)
    assert app.setting == before and "GD steps" in app.status.text
    assert app.click(float("nan"), 0.3) is None and "w1" in app.status.text
    app.update(steps=30)
    run = app.click(-0.4, 0.9)
    assert app.setting.steps == 30 and len(run.gd_t) <= 31
    app.clear()
    assert all(len(app.src[n].data["color"]) == 0 for n in ("flow_path", "gd_points",
                                                            "limit_marks"))


def test_cli_refuses_bad_and_busy_ports(capsys):
    import socket

    from dlnflow.cli import main

    assert main(["explore", "--port", "70000", "--no-browser"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("argument --port: must be an integer from 1 to 65535, got '70000'")
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["explore", "--port", str(port), "--no-browser"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"dlnflow explore: error: --port {port}: cannot listen on localhost:{port}")


def test_unstable_step_is_drawn_up_to_divergence():
    """eta = 1.9 > 2/lambda_max everywhere near the minima: GD blows up. The page keeps the
    iterates up to the last one below the divergence limit 1e12 max(1, F(0)) (Stop's rule);
    numpy GD agrees on them and exceeds the limit at the next step."""
    app = ExploreApp(Setting(depth=2, target=1.0, eta=1.9, steps=40))
    run = app.click(1.5, 1.2)
    assert run.gd_status == "diverged" and run.flow_status == "converged"
    shown = column(app, "gd_loss", "ys", 0)
    with np.errstate(over="ignore", invalid="ignore"):
        _, ref, _ = numpy_gd([1.5, 1.2], 1.0, 1.9, 40, LOSS_FLOOR)
    np.testing.assert_allclose(shown, ref[:shown.size], rtol=1e-9)
    limit = 1e12 * max(1.0, ref[0])
    assert np.all(shown <= limit) and not ref[shown.size] <= limit
    assert app.src["runs_table"].data["gd_status"] == ["diverged"]
