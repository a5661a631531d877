"""The explorer's page and its callbacks: a click starts a run, the controls change the setting.

:class:`ExploreApp` holds one page's state (the setting, the runs drawn); the computations are
those of :mod:`dlnflow.explore.model`, the drawing that of :mod:`dlnflow.explore.figures`. It
works with or without a Bokeh server: in a server session slow setting changes are deferred to
the next tick so the page shows "computing" first; without one (tests) everything runs at once.
"""

from __future__ import annotations

import contextlib
import html
import time
from typing import Any, cast

import numpy as np
from bokeh.document import Document
from bokeh.events import Tap
from bokeh.layouts import column, row
from bokeh.models import Button, Div, Slider, Spinner

from ..errors import InputError
from . import figures
from .model import (
    ARROWS,
    MAX_DEPTH,
    MAX_STEPS,
    Run,
    Setting,
    invariant_curve,
    portrait_view,
    run_from,
)
from .model import warm as warm_setting


class ExploreApp:
    """One page of ``dlnflow explore``: portrait, loss and imbalance panels, controls.

    ``click(w1, w2)`` is what a tap on the portrait does; ``update(**changes)`` what the
    controls do (depth, target, eta, steps); ``clear()`` empties the runs. ``runs`` holds the
    :class:`~dlnflow.explore.model.Run` of every drawn run, ``click_seconds`` the server-side
    time of each click.
    """

    def __init__(self, setting: Setting | None = None, doc: Document | None = None):
        self.setting = setting or Setting()
        self.doc = doc
        self.runs: list[Run] = []
        self.click_seconds: list[float] = []
        self.src = figures.make_sources()
        self.portrait = figures.portrait_figure(self.src)
        self.loss = figures.loss_figure(self.src)
        self.imbalance = figures.imbalance_figure(self.src)
        self.strip, self.threshold_span = figures.eta_strip(self.src)
        s = self.setting
        self.depth = Spinner(title="depth L", low=2, high=MAX_DEPTH, step=1, value=s.depth,
                             width=90, name="depth")
        self.target = Spinner(title="target y", step=0.1, value=s.target, width=90,
                              name="target")
        self.steps = Spinner(title="GD steps n", low=1, high=MAX_STEPS, step=10,
                             value=s.steps, width=100, name="steps")
        self.eta = Slider(title="GD step eta", start=0.0, end=1.0, step=0.001, value=s.eta,
                          width=470, format="0.0000", name="eta")
        self.clear_button = Button(label="clear runs", width=100, name="clear")
        self.status = Div(width=470, height=22, name="status")   # fixed size: no relayout
        self.table = figures.runs_table(self.src["runs_table"])
        self._syncing = False
        self._show_setting()
        self.portrait.on_event(Tap, lambda ev: self.click(ev.x, ev.y))
        self.clear_button.on_click(lambda: self.clear())
        self.depth.on_change("value", lambda a, o, n: self._control(depth=n))
        self.target.on_change("value", lambda a, o, n: self._control(target=n))
        self.steps.on_change("value", lambda a, o, n: self._control(steps=n))
        self.eta.on_change("value_throttled", lambda a, o, n: self._control(eta=n))
        controls = column(row(self.depth, self.target, self.steps, self.clear_button),
                          self.eta, self.strip, self.status)
        self.layout = row(column(self.portrait, self.table),
                          column(controls, self.loss, self.imbalance), name="explore")

    # ------------------------------------------------------------------ setting
    def _show_setting(self) -> None:
        """Draw the portrait of the current setting and set the controls' ranges."""
        s = self.setting
        data = portrait_view(s.depth, s.target, s.grid)
        ext = s.extent
        with self._batch():
            for r in (self.portrait.x_range, self.portrait.y_range):
                r.start, r.end = ext[0], ext[1]
            spacing = (ext[1] - ext[0]) / (ARROWS + 1)
            self.src["arrows"].data = figures.arrow_columns(data["arrows"], spacing)
            self.src["minimum_set"].data = dict(zip(("xs", "ys"), data["minimum_set"],
                                                    strict=True))
            self.src["invariant_curves"].data = dict(zip(("xs", "ys"), data["invariant_curves"],
                                                         strict=True))
            pts, lines = figures.critical_columns(data, ext)
            self.src["critical_points"].data = pts
            self.src["critical_lines"].data = lines
            self.portrait.yaxis.axis_label = "w2" if s.depth == 2 else \
                f"w2 (= w3 = ... = w{s.depth})"
            self.portrait.title.text = (f"F = (w{s.depth}···w1 - {s.target:g})² / 2: click to "
                                        "start flow and GD" if s.depth > 2 else
                                        f"F = (w2 w1 - {s.target:g})² / 2: click to start "
                                        "flow and GD")
            thr = s.threshold
            self._syncing = True
            try:
                self.eta.update(start=thr / 100, end=2 * thr, step=thr / 400, value=s.eta)
                self.depth.value, self.target.value, self.steps.value = s.depth, s.target, \
                    s.steps
            finally:
                self._syncing = False
            self.strip.x_range.start, self.strip.x_range.end = 0.0, 2 * thr
            self.threshold_span.location = thr
            label = self.strip.select_one({"name": "threshold_label"})
            label.x = thr
            self.src["eta_mark"].data = {"x": [s.eta], "y": [0.72]}
            self._say(f"eta = {s.eta:.4g}, 2/λmax = {thr:.4g} (balanced minimum), "
                      f"t1 = n eta = {s.t1:.4g}")

    def _control(self, **changes) -> None:
        if self._syncing:
            return
        self._defer(lambda: self.update(**changes), "computing the new setting ...")

    def update(self, **changes) -> None:
        """Change the setting (depth, target, eta, steps). A new depth or target rescales eta
        to the same fraction of the new threshold and clears the runs (another portrait)."""
        old = self.setting
        kw: dict[str, Any] = {"depth": old.depth, "target": old.target, "eta": old.eta,
                              "steps": old.steps, "grid": old.grid}
        kw.update({k: v for k, v in changes.items() if v is not None})
        kw["depth"] = int(kw["depth"]) if float(kw["depth"]).is_integer() else kw["depth"]
        kw["steps"] = int(kw["steps"]) if float(kw["steps"]).is_integer() else kw["steps"]
        new_portrait = (kw["depth"], kw["target"]) != (old.depth, old.target)
        try:
            if new_portrait and "eta" not in changes:
                probe = Setting(depth=kw["depth"], target=kw["target"])
                kw["eta"] = cast(float, old.eta) / old.threshold * probe.threshold
            setting = Setting(**kw)
            warm_setting(setting)
        except InputError as exc:
            self._show_setting()          # controls back to the setting in force
            self._say(str(exc), error=True)
            return
        self.setting = setting
        if new_portrait:
            self.clear()
        self._show_setting()

    # ------------------------------------------------------------------ runs
    def click(self, w1: float, w2: float) -> Run | None:
        """Start flow and GD at the clicked point and draw them; None (and a message) when the
        point cannot start a run."""
        t0 = time.perf_counter()
        s = self.setting
        try:
            run = run_from(s, w1, w2)
        except InputError as exc:
            self._say(str(exc), error=True)
            return None
        k = len(self.runs)
        color = figures.RUN_COLORS[k % len(figures.RUN_COLORS)]
        ixs, iys = invariant_curve(s, w1, w2)

        def line(x, y):
            return {"xs": [np.asarray(x)], "ys": [np.asarray(y)], "color": [color], "run": [k]}

        def points(x, y):
            return {"x": np.asarray(x), "y": np.asarray(y), "color": [color] * len(x),
                    "run": [k] * len(x)}

        with self._batch():
            self.src["click_invariant"].stream({"xs": ixs, "ys": iys, "color": [color] * len(ixs),
                                                "run": [k] * len(ixs)})
            self.src["flow_path"].stream(line(run.flow_w[:, 0], run.flow_w[:, 1]))
            self.src["gd_path"].stream(line(run.gd_w[:, 0], run.gd_w[:, 1]))
            self.src["gd_points"].stream(points(run.gd_w[:, 0], run.gd_w[:, 1]))
            self.src["flow_loss"].stream(line(run.flow_t, run.flow_loss))
            self.src["gd_loss"].stream(line(run.gd_t, run.gd_loss))
            self.src["gd_loss_points"].stream(points(run.gd_t, run.gd_loss))
            self.src["flow_imbalance"].stream(line(run.flow_t, run.flow_imbalance))
            self.src["gd_imbalance"].stream(line(run.gd_t, run.gd_imbalance))
            self.src["gd_imbalance_points"].stream(points(run.gd_t, run.gd_imbalance))
            if run.limit_threshold is not None:
                self.src["limit_marks"].stream({"x": [run.limit_threshold], "color": [color],
                                                "run": [k]})
            self.src["starts"].stream({"x": [float(w1)], "y": [float(w2)], "color": [color],
                                       "run": [k], "w0": [run.start.tolist()],
                                       "eta": [run.eta]})
            self.runs.append(run)
            self.click_seconds.append(time.perf_counter() - t0)
            self.src["runs_table"].stream(figures.table_row(k, run, color))
        return run

    def clear(self) -> None:
        """Remove every run from the page."""
        with self._batch():
            for name, cols in figures.RUN_SOURCES.items():
                self.src[name].data = figures.empty(cols)
            self.runs.clear()
            self.click_seconds.clear()

    # ------------------------------------------------------------------ helpers
    def _say(self, text: str, error: bool = False) -> None:
        color = "#C00000" if error else "#333333"
        self.status.text = f"<span style='color:{color}'>{html.escape(text)}</span>"

    @contextlib.contextmanager
    def _batch(self):
        """Send the changes made inside as one message (a held document), if there is one."""
        if self.doc is None:
            yield
            return
        self.doc.hold("combine")
        try:
            yield
        finally:
            self.doc.unhold()

    def _defer(self, fn, message: str) -> None:
        if self.doc is None or self.doc.session_context is None:
            fn()
            return
        self._say(message)
        self.doc.add_next_tick_callback(fn)


def make_document(doc: Document, setting: Setting | None = None) -> ExploreApp:
    """Build the page into ``doc`` (the Bokeh server's per-session entry point)."""
    app = ExploreApp(setting, doc)
    doc.add_root(app.layout)
    doc.title = "dlnflow explore"
    return app
