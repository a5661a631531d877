"""plot.save: a figure laid out once and drawn once per format; the PNG is matplotlib's own
savefig(bbox="tight") of a fresh figure, the PDF page is the PNG's box, reruns give the same
bytes."""

import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from dlnflow.plot import style
from dlnflow.plot.save import SAVE_METADATA, figure_bytes, freeze_layout, rendered_bytes


def _figure(data=None, config=None):
    """Two constrained panels with mathtext, a legend and a colorbar (what the layout moves)."""
    fig, (ax, bx) = style.figure(columns=2, aspect=0.4, ncols=2)
    t = np.linspace(0.0, 3.0, 50)
    ax.semilogy(t, np.exp(-2 * t), label=r"$e^{-2t}$")
    ax.semilogy(t, np.exp(-t), "--", label=r"$e^{-t}$")
    style.time_axes(ax, r"loss $F - F^*$", xlog=False, ylog=True)
    ax.legend()
    im = bx.imshow(np.arange(64.0).reshape(8, 8), origin="lower", extent=(-2, 2, -2, 2))
    fig.colorbar(im, ax=bx, label="iterations")
    bx.set_title(r"basins, $\eta = 0.6 < \eta^* = 1/|y|$")
    return fig


def _savefig_png() -> bytes:
    """The reference: a fresh figure through matplotlib's own bbox "tight" path, PNG alone."""
    with style.paper_style():
        fig = _figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata=SAVE_METADATA["png"])
    plt.close(fig)
    return buf.getvalue()


def test_png_is_matplotlibs_tight_png_of_a_fresh_figure():
    out = rendered_bytes(_figure, None, None, ("pdf", "png"))
    assert out["png"] == _savefig_png()


def test_pdf_page_is_the_png_box():
    """One box for every format: the PDF page (points) is the PNG (pixels at savefig.dpi)."""
    out = rendered_bytes(_figure, None, None, ("pdf", "png"))
    w_px, h_px = Image.open(io.BytesIO(out["png"])).size
    box = re.search(rb"/MediaBox \[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", out["pdf"])
    assert box is not None
    dpi = style.RC["savefig.dpi"]
    # PNG sizes are the box rounded to whole pixels: half a pixel, in points
    assert float(box[1]) == pytest.approx(w_px / dpi * 72, abs=0.5 * 72 / dpi)
    assert float(box[2]) == pytest.approx(h_px / dpi * 72, abs=0.5 * 72 / dpi)


def test_one_layout_draw_then_one_draw_per_format():
    draws = []

    def counted(data, config):
        fig = _figure()
        real = fig.draw
        fig.draw = lambda renderer: (draws.append(1), real(renderer))[1]
        return fig

    rendered_bytes(counted, None, None, ("pdf", "png", "svg"))
    assert len(draws) == 1 + 3          # savefig's own "tight" path: 3 draws per format


def test_reruns_give_identical_bytes():
    first = rendered_bytes(_figure, None, None, ("pdf", "png", "svg"))
    assert rendered_bytes(_figure, None, None, ("pdf", "png", "svg")) == first


def test_freeze_layout_keeps_the_artists_where_the_layout_put_them():
    """After freeze_layout the figure has no layout engine: saving moves no axes."""
    fig = _figure()
    try:
        box = freeze_layout(fig)
        assert fig.get_layout_engine() is None
        before = [ax.get_position().bounds for ax in fig.axes]
        for fmt in ("pdf", "png"):
            figure_bytes(fig, fmt, box)
            assert [ax.get_position().bounds for ax in fig.axes] == before
    finally:
        plt.close(fig)
