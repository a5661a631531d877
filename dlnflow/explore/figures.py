"""The Bokeh figures and data sources of the explorer: drawing only.

Every source has a ``name`` so that a page (or a test through ``Bokeh.documents[0]``) can find
it. Runs are rows of multi-line sources (one row per run: xs, ys, color); GD iterates are also
rows of a scatter source (x, y, color, run).
"""

from __future__ import annotations

import numpy as np
from bokeh.core.properties import field
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    HoverTool,
    HTMLTemplateFormatter,
    Label,
    Legend,
    LegendItem,
    Range1d,
    ScientificFormatter,
    Span,
    StringFormatter,
    TableColumn,
)
from bokeh.plotting import figure

from ..plot.portrait import CLASS_LABELS
from ..plot.style import CRITICAL_COLORS

RUN_COLORS = ("#0072B2", "#E69F00", "#7B3294", "#000000", "#8C510A", "#56B4E9", "#999933")
"""Run colours, none of them a critical-point class colour."""
ARROW_GREY = "#8a8a8a"

LINE_COLUMNS = ("xs", "ys", "color", "run")
POINT_COLUMNS = ("x", "y", "color", "run")
RUN_SOURCES = {
    "flow_path": LINE_COLUMNS, "gd_path": LINE_COLUMNS, "gd_points": POINT_COLUMNS,
    "click_invariant": LINE_COLUMNS, "flow_loss": LINE_COLUMNS, "gd_loss": LINE_COLUMNS,
    "gd_loss_points": POINT_COLUMNS, "flow_imbalance": LINE_COLUMNS,
    "gd_imbalance": LINE_COLUMNS, "gd_imbalance_points": POINT_COLUMNS,
    "starts": ("x", "y", "color", "run", "w0", "eta"),
    "limit_marks": ("x", "color", "run"),
    "runs_table": ("run", "color", "start", "eta", "flow_status", "flow_loss", "flow_drift",
                   "gd_status", "gd_loss", "gd_drift", "limit"),
}
"""Sources that hold the runs, emptied by ``clear``: name -> columns."""


def empty(columns) -> dict:
    """Data of an empty ColumnDataSource: one empty list per column name."""
    return {c: [] for c in columns}


def make_sources() -> dict[str, ColumnDataSource]:
    """Every named source of the page: the runs (RUN_SOURCES) and the portrait's layers."""
    src = {name: ColumnDataSource(empty(cols), name=name) for name, cols in RUN_SOURCES.items()}
    for name, cols in {"arrows": ("x0", "y0", "x1", "y1", "angle"),
                       "minimum_set": ("xs", "ys"), "invariant_curves": ("xs", "ys"),
                       "critical_lines": ("xs", "ys", "color", "label"),
                       "critical_points": ("x", "y", "color", "label"),
                       "eta_mark": ("x", "y")}.items():
        src[name] = ColumnDataSource(empty(cols), name=name)
    return src


def portrait_figure(src: dict[str, ColumnDataSource], size: int = 480):
    """The (w1, w2) plane: direction field, invariant curves, minimum set, critical points, runs.
    Returns (figure, legend); the legend sits right of the plot, off the data."""
    p = figure(frame_width=size, frame_height=size, tools="pan,wheel_zoom,reset,save",
               name="portrait", x_range=Range1d(-2, 2), y_range=Range1d(-2, 2),
               title="click to start gradient flow and GD from a point",
               x_axis_label="w1", y_axis_label="w2")
    p.toolbar.logo = None
    p.segment("x0", "y0", "x1", "y1", source=src["arrows"], color=ARROW_GREY, line_width=1)
    p.scatter("x1", "y1", source=src["arrows"], marker="triangle", angle="angle", size=5,
              color=ARROW_GREY)
    inv = p.multi_line("xs", "ys", source=src["invariant_curves"], color="#b0b0b0",
                       line_dash="dotted", line_width=1)
    mins = p.multi_line("xs", "ys", source=src["minimum_set"],
                        color=CRITICAL_COLORS["global_min"], line_width=3)
    crit_l = p.multi_line("xs", "ys", source=src["critical_lines"], color="color",
                          line_width=3, alpha=0.8)
    crit_p = p.scatter("x", "y", source=src["critical_points"], size=11, color="color",
                       line_color="black")
    through = p.multi_line("xs", "ys", source=src["click_invariant"], color="color",
                           line_dash="dashed", line_width=1.2, alpha=0.9)
    flow = p.multi_line("xs", "ys", source=src["flow_path"], color="color", line_width=2.5)
    p.multi_line("xs", "ys", source=src["gd_path"], color="color", line_width=0.7, alpha=0.8)
    gd = p.scatter("x", "y", source=src["gd_points"], color="color", size=4)
    start = p.scatter("x", "y", source=src["starts"], marker="square", size=9, color="color",
                      line_color="black")
    p.add_tools(HoverTool(renderers=[crit_p, crit_l], tooltips=[("", "@label")]))
    items = [LegendItem(label="minimum set", renderers=[mins]),
             LegendItem(label="w1² - w2² = const", renderers=[inv]),
             LegendItem(label="... through the start", renderers=[through]),
             LegendItem(label=field("label"), renderers=[crit_p]),
             LegendItem(label=field("label"), renderers=[crit_l]),
             LegendItem(label="start", renderers=[start]),
             LegendItem(label="gradient flow", renderers=[flow]),
             LegendItem(label="GD iterates", renderers=[gd])]
    legend = Legend(items=items, location="top_left", label_text_font_size="9pt")
    p.add_layout(legend, "right")
    return p


def loss_figure(src: dict[str, ColumnDataSource], width: int = 470, height: int = 260):
    """Loss against t = k eta on a log axis: flow as lines, GD as dots joined by thin lines."""
    p = figure(width=width, height=height, y_axis_type="log", name="loss",
               tools="pan,wheel_zoom,reset,save", x_axis_label="t = k eta",
               y_axis_label="loss F", title="loss: flow (lines) and GD (dots)")
    p.toolbar.logo = None
    p.multi_line("xs", "ys", source=src["flow_loss"], color="color", line_width=2)
    p.multi_line("xs", "ys", source=src["gd_loss"], color="color", line_width=0.7, alpha=0.8)
    p.scatter("x", "y", source=src["gd_loss_points"], color="color", size=4)
    return p


def imbalance_figure(src: dict[str, ColumnDataSource], width: int = 470, height: int = 215):
    """The imbalance D_1 = w2^2 - w1^2 of each run: constant along the flow, moved by GD."""
    p = figure(width=width, height=height, name="imbalance", tools="pan,wheel_zoom,reset,save",
               x_axis_label="t = k eta", y_axis_label="D1 = w2² - w1²",
               title="imbalance: conserved by the flow (lines), moved by GD (dots)")
    p.toolbar.logo = None
    p.multi_line("xs", "ys", source=src["flow_imbalance"], color="color", line_width=2)
    p.multi_line("xs", "ys", source=src["gd_imbalance"], color="color", line_width=0.7)
    p.scatter("x", "y", source=src["gd_imbalance_points"], color="color", size=4)
    return p


def eta_strip(src: dict[str, ColumnDataSource], width: int = 470):
    """The eta axis: the chosen eta (triangle), the stability threshold 2 / lambda_max at the
    balanced minimum (red line) and 2 / lambda_max at each flow's end point (run colours)."""
    p = figure(width=width, height=105, name="eta_strip", tools="", toolbar_location=None,
               x_range=Range1d(0, 1), y_range=Range1d(0, 1), x_axis_label="eta",
               title="▼ eta chosen;  2/λmax: at the balanced minimum (red), at each flow's "
                     "limit (dashed)")
    p.title.text_font_size = "8pt"
    p.title.text_font_style = "normal"
    p.yaxis.visible = False
    p.ygrid.visible = False
    thr = Span(location=0.5, dimension="height", line_color="#C00000", line_width=2,
               name="threshold_span")
    p.add_layout(thr)
    p.add_layout(Label(x=0.5, y=0.55, text="2/λmax", text_color="#C00000",
                       text_font_size="9pt", x_offset=4, name="threshold_label"))
    p.segment(x0="x", y0=0.0, x1="x", y1=0.45, source=src["limit_marks"], color="color",
              line_width=2, line_dash="dashed")
    p.scatter("x", "y", source=src["eta_mark"], marker="inverted_triangle", size=13,
              color="black")
    return p, thr


def arrow_columns(arrows: dict, spacing: float) -> dict:
    """Unit directions (u, v) at (x, y) as segments of length 0.7 spacing, centred on the
    points, with the head angle for Bokeh's triangle marker (which points up at angle 0)."""
    h = 0.35 * spacing
    x, y, u, v = (np.asarray(arrows[k]) for k in "xyuv")
    return {"x0": x - h * u, "y0": y - h * v, "x1": x + h * u, "y1": y + h * v,
            "angle": np.arctan2(v, u) - np.pi / 2}


def critical_columns(data: dict, extent) -> tuple[dict, dict]:
    """Critical points and lines of the portrait data as (points, lines) columns."""
    pts: dict[str, list] = {"x": [], "y": [], "color": [], "label": []}
    for x0, y0, cls in data["critical_points"]:
        pts["x"].append(x0)
        pts["y"].append(y0)
        pts["color"].append(CRITICAL_COLORS[cls])
        pts["label"].append(CLASS_LABELS[cls])
    lines: dict[str, list] = {"xs": [], "ys": [], "color": [], "label": []}
    for y0, cls in data["critical_lines"]:
        lines["xs"].append([extent[0], extent[1]])
        lines["ys"].append([y0, y0])
        lines["color"].append(CRITICAL_COLORS[cls])
        lines["label"].append(CLASS_LABELS[cls])
    return pts, lines


TABLE_COLUMNS = (("run", "run", 35), ("start", "start w0", 120), ("eta", "eta", 55),
                 ("flow_status", "flow", 75), ("flow_loss", "F end, flow", 75),
                 ("flow_drift", "|ΔD| flow", 65), ("gd_status", "GD", 75),
                 ("gd_loss", "F end, GD", 75), ("gd_drift", "|ΔD| GD", 65),
                 ("limit", "2/λmax at limit", 95))


def runs_table(source: ColumnDataSource, width: int = 735, height: int = 150) -> DataTable:
    """One row per run: start, statuses, final losses, imbalance drifts, 2/lambda_max at the
    flow's limit (a table widget: a new row does not re-lay out the page)."""
    sci = {"flow_loss", "flow_drift", "gd_loss", "gd_drift"}
    swatch = HTMLTemplateFormatter(
        template='<span style="color:<%= color %>">&#9632;</span> <%= value %>')
    cols = [TableColumn(field=f, title=t, width=w,
                        formatter=swatch if f == "run" else ScientificFormatter(precision=2)
                        if f in sci else StringFormatter()) for f, t, w in TABLE_COLUMNS]
    return DataTable(source=source, columns=cols, width=width, height=height, index_position=None,
                     name="runs_table_widget")


def table_row(k: int, run, color: str) -> dict:
    """The table row of run k (a :class:`dlnflow.explore.model.Run`) drawn in ``color``."""
    w0 = ", ".join(f"{v:.3f}" for v in run.start[:3]) + (", ..." if run.start.size > 3 else "")
    return {"run": [k + 1], "color": [color], "start": [f"({w0})"], "eta": [f"{run.eta:.4g}"],
            "flow_status": [run.flow_status], "flow_loss": [float(run.flow_loss[-1])],
            "flow_drift": [run.flow_drift], "gd_status": [run.gd_status],
            "gd_loss": [float(run.gd_loss[-1])], "gd_drift": [run.gd_drift],
            "limit": ["-" if run.limit_threshold is None else f"{run.limit_threshold:.4g}"]}
