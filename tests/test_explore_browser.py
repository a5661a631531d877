"""`dlnflow explore` in a real browser: the server started by the command line, the page driven
by headless Chromium through selenium, two clicks on the portrait, and what the page then holds
(Bokeh's document in the browser, ``Bokeh.documents[0]``) compared with dl.simulate from the
same starts.

Needs selenium (``pip install 'dlnflow[explore,browser]'``) and Chromium with its driver
(Debian: ``apt-get install chromium chromium-driver``); skipped with the reason otherwise.
The click latency (pointer down to the first animation frame with every run drawn, measured by
the browser's clock) is printed (``pytest -s``) and recorded as a test property; with
DLNFLOW_EXPLORE_SCREENSHOT=PATH the page is saved there after the two clicks.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("bokeh", reason="the explorer needs bokeh: pip install 'dlnflow[explore]'")
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="the browser test needs selenium: pip install 'dlnflow[browser]'")

import dlnflow as dl  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CLICKS = {2: [(1.0, -0.9), (-1.5, 0.35)], 8: [(1.2, 0.9), (-1.0, -1.1)]}
"""Data coordinates clicked at depth 2 (near the saddle's stable manifold w1 = -w2: a plateau,
then the escape; and a generic start) and then at depth 8 (reduced coordinates, the surface
w2 = ... = w8)."""

WAIT_DRAWN = """
const done = arguments[arguments.length - 1];
const n = arguments[0];
const doc = Bokeh.documents[0];
const names = ['flow_path', 'gd_path', 'gd_points', 'flow_loss', 'gd_loss', 'starts'];
const start = performance.now();
function check() {
  if (names.every(k => doc.get_model_by_name(k).data['run'].includes(n - 1))) {
    requestAnimationFrame(() => done(performance.now() - window._dlnflow_t_click));
  } else if (performance.now() - start > 60000) {
    done(null);
  } else {
    requestAnimationFrame(check);
  }
}
check();
"""

TO_PIXELS = """
const view = Bokeh.index.get_one(Bokeh.documents[0].get_model_by_name('portrait'));
const box = view.canvas_view.el.getBoundingClientRect();
return [box.left + view.frame.x_scale.compute(arguments[0]),
        box.top + view.frame.y_scale.compute(arguments[1])];
"""

READ = """
const doc = Bokeh.documents[0];
const out = {};
for (const name of ['flow_path', 'gd_path', 'flow_loss', 'gd_loss']) {
  const d = doc.get_model_by_name(name).data;
  out[name] = {xs: d.xs.map(a => Array.from(a)), ys: d.ys.map(a => Array.from(a))};
}
const s = doc.get_model_by_name('starts').data;
out.w0 = s.w0.map(a => Array.from(a));
out.eta = Array.from(s.eta);
for (const name of ['depth', 'target', 'steps']) { out[name] = doc.get_model_by_name(name).value; }
return out;
"""


def _browser() -> tuple[str, str]:
    binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no headless browser: install Chromium and its driver (Debian: apt-get "
                    "install chromium chromium-driver)")
    return binary, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`dlnflow explore --port P --no-browser --json` in a subprocess; yields its URL (only
    where there is a browser to open it)."""
    _browser()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlnflow.cli", "explore", "--port", str(port), "--no-browser",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path_factory.mktemp("explore"))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()
    try:
        url = json.loads(lines.get(timeout=600))["url"]
    except queue.Empty:
        proc.kill()
        pytest.fail(f"dlnflow explore did not start: {proc.stderr.read()[-2000:]}")
    assert url == f"http://localhost:{port}/"
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _click_and_read(driver, clicks) -> tuple[dict, list[float]]:
    """Click the portrait at the data points ``clicks``; returns what the page then holds and
    the latency of each click in ms."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    latencies = []
    for n, (w1, w2) in enumerate(clicks, start=1):
        x, y = driver.execute_script(TO_PIXELS, w1, w2)
        act = ActionBuilder(driver)
        act.pointer_action.move_to_location(int(round(x)), int(round(y)))
        act.pointer_action.click()
        act.perform()
        latencies.append(driver.execute_async_script(WAIT_DRAWN, n))
        assert latencies[-1] is not None, f"click {n} was not drawn within 60 s"
    return driver.execute_script(READ), latencies


@pytest.fixture(scope="module")
def pages(server):
    """The page in headless Chromium after two clicks at depth 2 and two at depth 8:
    depth -> (browser data, latencies in ms)."""
    binary, driver_path = _browser()
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1240,880", "--hide-scrollbars"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        driver.set_script_timeout(90)
        driver.get(server)
        deadline = time.monotonic() + 120
        while not driver.execute_script(
                "try { return !!Bokeh.index.get_one(Bokeh.documents[0]"
                ".get_model_by_name('portrait')); } catch (e) { return false; }"):
            assert time.monotonic() < deadline, "the page did not render its portrait"
            time.sleep(0.2)
        driver.execute_script("document.addEventListener('pointerdown', () => "
                              "{ window._dlnflow_t_click = performance.now(); }, true);")
        pages = {2: _click_and_read(driver, CLICKS[2])}
        shot = os.environ.get("DLNFLOW_EXPLORE_SCREENSHOT")
        if shot:
            driver.execute_script("document.activeElement && document.activeElement.blur();")
            time.sleep(0.5)
            driver.save_screenshot(shot)
        # depth 8 from the page's own control: the server clears the runs, draws the new
        # portrait and compiles the runs for it; ready when eta's range ends at 2 x (2/8)
        driver.execute_script("Bokeh.documents[0].get_model_by_name('depth').value = 8;")
        deadline = time.monotonic() + 600
        while not driver.execute_script(
                "const d = Bokeh.documents[0]; return Math.abs(d.get_model_by_name('eta').end"
                " - 0.5) < 1e-12 && d.get_model_by_name('flow_path').data.run.length == 0;"):
            assert time.monotonic() < deadline, "depth 8 was not set up within 600 s"
            time.sleep(0.5)
        pages[8] = _click_and_read(driver, CLICKS[8])
    finally:
        driver.quit()
    return pages


@pytest.mark.parametrize("depth", [2, 8])
def test_two_clicks_draw_two_flows_and_two_gd_paths(pages, depth, record_property):
    data, latencies = pages[depth]
    assert data["depth"] == depth
    for name in ("flow_path", "gd_path", "flow_loss", "gd_loss"):
        assert len(data[name]["xs"]) == 2, name
        assert all(len(xs) > 5 for xs in data[name]["xs"]), name
    # the clicks landed where they were aimed (to a pixel: 4 / 480 in data units) and, deeper,
    # on the surface w2 = ... = wL
    w0 = np.asarray(data["w0"])
    np.testing.assert_allclose(w0[:, :2], np.asarray(CLICKS[depth]), atol=4 / 480)
    assert np.all(w0[:, 2:] == w0[:, 1:2])
    for k in range(2):                           # the drawn paths start at the clicked points
        assert data["flow_path"]["xs"][k][0] == w0[k][0]
        assert data["gd_path"]["ys"][k][0] == w0[k][1]
    record_property(f"click_latency_ms_depth{depth}", latencies)
    print(f"\nclick latency in the browser at depth {depth} (pointer down -> drawn): "
          f"{', '.join(f'{t:.0f} ms' for t in latencies)}")


@pytest.mark.parametrize("depth, k", [(2, 0), (2, 1), (8, 0), (8, 1)])
def test_displayed_losses_equal_simulate(pages, depth, k):
    data, _ = pages[depth]
    assert data["target"] == 1.0
    prob = dl.Problem.scalar_chain(depth, target=1.0)
    w0 = np.asarray(data["w0"][k])[None]
    # GD: the same map from the same start; the page stops at its loss floor, so it shows a
    # prefix of the full run
    eta = data["eta"][k]
    gd = dl.simulate(dl.GradientDescent(prob, eta), prob.scalar_params(w0),
                     stop=dl.Stop(max_steps=int(data["steps"])), save=dl.SaveAt(every=1))
    shown_t, shown = np.asarray(data["gd_loss"]["xs"][k]), np.asarray(data["gd_loss"]["ys"][k])
    np.testing.assert_allclose(shown_t, eta * np.arange(shown.size), rtol=1e-15)
    np.testing.assert_allclose(shown, gd.loss[0][:shown.size], rtol=1e-12)
    # flow: another solver (scipy DOP853 at rtol 1e-12) at the page's times; sqrt(2F) =
    # |prod w - 1| carries the state's error: the page's rodas4 run is tightened to rtol 1e-13
    # by its loss floor, so 100 x 1e-12
    ts = np.asarray(data["flow_loss"]["xs"][k])
    ref = dl.simulate(dl.GradientFlow(prob), prob.scalar_params(w0), t1=float(ts[-1]),
                      solver=dl.Solver("DOP853", rtol=1e-12, atol=1e-14), save=dl.SaveAt(ts=ts))
    t_ref = ref.t[0][ref.valid[0]]
    ref_loss = ref.loss[0][ref.valid[0]][np.searchsorted(t_ref, ts)]
    np.testing.assert_allclose(np.sqrt(2 * np.asarray(data["flow_loss"]["ys"][k])),
                               np.sqrt(2 * ref_loss), rtol=0, atol=1e-10)
