"""One figure of the pipeline after its data: render, write, time (:mod:`dlnflow.pipeline`).

``FigureResult`` is a figure's line in the run's report; ``render_one`` writes ``<name>.json``
(data + provenance), the figure in each format and the extra tables; ``time_table`` prints the
per-figure wall times of a report (for the log: wall-clock times never enter a data file).

Where the figure is drawn: in this process (``draw_here``), or in a child process
(:class:`dlnflow.figure_draw.DrawProcess`) while this one computes the next figure.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError
from .figure_cache import sha256_hex
from .figure_output import _write
from .io import dumps


@dataclasses.dataclass
class FigureResult:
    """A figure's entry in the run's report (JSON-ready with dataclasses.asdict)."""

    name: str
    title: str
    status: str                 # "computed", "cached" or "failed"
    files: dict[str, str]       # file name -> sha256
    key: str
    seconds: float              # wall time of the figure: cache look-up, compute, render, write
    error: str | None = None
    note: str | None = None     # why a cache entry present was not used (then recomputed)
    compute_s: float = 0.0      # wall time of compute (0 when cached)
    render_s: float = 0.0       # wall time of render and of writing the files


@dataclasses.dataclass
class Computed:
    """A figure's data (fresh or cached) on its way to rendering, with its timings so far."""

    an: Any                     # the pipeline's Analysis
    config: dict
    record: dict
    key: str
    status: str
    note: str | None
    prep_s: float               # wall time of the cache look-up and compute
    compute_s: float


def failed(an: Any, key: str, seconds: float, note: str | None, compute_s: float,
           exc: Exception, log: Callable[[str], None] | None) -> FigureResult:
    """The report entry of a figure whose compute or render raised ``exc`` (logged)."""
    if log:
        log(f"failed {an.name}: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}")
    return FigureResult(an.name, an.title, "failed", {}, key, seconds,
                        f"{type(exc).__name__}: {exc}", note, compute_s)


Draw = Callable[[Any, Any, dict, tuple[str, ...]], dict[str, bytes]]
"""``draw(an, data, config, fmts)``: the analysis's figure of ``data`` in each format (bytes)."""


def draw_here(an: Any, data: Any, config: dict, fmts: tuple[str, ...]) -> dict[str, bytes]:
    """The figure drawn in this process."""
    from .plot.save import rendered_bytes  # matplotlib: loaded when a figure is drawn

    return rendered_bytes(an.module.render, data, config, fmts)


def render_one(c: Computed, out: Path, fmts: tuple[str, ...],
               log: Callable[[str], None] | None, draw: Draw = draw_here) -> FigureResult:
    """Write ``<name>.json``, draw the figure in each format (``draw``), write the extra
    tables."""
    an, mod, tr = c.an, c.an.module, time.perf_counter()
    try:
        files: dict[str, str] = {}
        data = c.record["data"]
        data_bytes = (dumps(c.record, indent=1) + "\n").encode()
        _write(out / f"{an.name}.json", data_bytes)
        files[f"{an.name}.json"] = sha256_hex(data_bytes)
        for fmt, blob in draw(an, data, c.config, fmts).items():
            _write(out / f"{an.name}.{fmt}", blob)
            files[f"{an.name}.{fmt}"] = sha256_hex(blob)
        if hasattr(mod, "tables"):
            for fname, text in sorted(mod.tables(data, c.config).items()):
                if "/" in fname or fname.startswith("."):
                    raise InputError(f"{an.name}.tables: bad file name {fname!r}")
                _write(out / fname, text.encode("utf-8"))
                files[fname] = sha256_hex(text.encode("utf-8"))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (report and go on with the other figures)
        return failed(an, c.key, c.prep_s + time.perf_counter() - tr, c.note, c.compute_s,
                      exc, log)
    render_s = time.perf_counter() - tr
    return FigureResult(an.name, an.title, c.status, files, c.key, c.prep_s + render_s, None,
                        c.note, c.compute_s, render_s)


def time_table(report: dict[str, Any]) -> str:
    """The per-figure wall times of a run's report: ``name  compute s  render s  total s`` rows
    (render includes writing the files; compute is 0 for a cached figure), their sums and the
    run's wall time. For the log only: wall-clock times never enter a data file."""
    figs = report["figures"]
    width = max([len("figure"), *(len(n) for n in figs)])
    head = f"{'figure':<{width}}  {'compute s':>9}  {'render s':>8}  {'total s':>7}"
    rows = [head]
    tot = [0.0, 0.0, 0.0]
    for name, r in figs.items():
        vals = (float(r["compute_s"]), float(r["render_s"]), float(r["seconds"]))
        tot = [a + b for a, b in zip(tot, vals, strict=True)]
        rows.append(f"{name:<{width}}  {vals[0]:9.1f}  {vals[1]:8.1f}  {vals[2]:7.1f}")
    rows.append(f"{'total':<{width}}  {tot[0]:9.1f}  {tot[1]:8.1f}  {tot[2]:7.1f}")
    if "seconds" in report:     # less than the sum: a render overlaps the next compute
        rows.append(f"wall time of the run: {float(report['seconds']):.1f} s")
    return "\n".join(rows)
