"""Figures drawn in a child process (figure_draw.DrawProcess): the bytes of in-process drawing,
an edited analysis drawn anew, a failing render reported as that figure's failure, prints of an
analysis kept out of the answers; the pipeline draws there when it makes several figures."""

import hashlib

import pytest

from dlnflow import pipeline
from dlnflow.figure_draw import DrawProcess
from dlnflow.figure_run import draw_here

ANALYSIS = (
    'NAME = "{name}"\nTITLE = "t {name}"\nCONFIG = {{"v": {val}}}\nQUICK = {{"v": {val}}}\n'
    "def compute(config):\n    import numpy as np\n"
    "    return {{'x': (np.arange(4.0) * config['v']).tolist()}}\n"
    "def render(data, config):\n    from dlnflow.plot import style\n"
    "    print('drawing {name}')\n"
    "    fig, ax = style.figure()\n    ax.plot(data['x'], {style!r})\n"
    "    ax.set_xlabel(r'$k \\eta$')\n    {extra}\n    return fig\n")


def _write(d, name, val=1.0, style="-", extra="pass"):
    (d / f"{name}.py").write_text(ANALYSIS.format(name=name, val=val, style=style, extra=extra))


@pytest.fixture
def analyses(tmp_path):
    d = tmp_path / "an"
    d.mkdir()
    _write(d, "one", 1.0)
    _write(d, "two", 2.0, "o--")
    _write(d, "bad", 3.0, extra="raise ValueError('no figure for v = 3')")
    return d


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_child_draws_the_bytes_of_in_process_drawing_and_reloads_an_edit(analyses):
    reg = pipeline.discover(analyses)
    data = {"x": [0.0, 1.0, 4.0, 9.0]}
    draw = DrawProcess()
    try:
        for name in ("one", "two"):
            assert draw(reg[name], data, {}, ("pdf", "png")) == \
                draw_here(reg[name], data, {}, ("pdf", "png"))
        first = draw(reg["one"], data, {}, ("png",))
        _write(analyses, "one", 1.0, "s:")             # the same name, another line style
        edited = pipeline.discover(analyses)["one"]
        again = draw(edited, data, {}, ("png",))
        assert again != first
        assert again == draw_here(edited, data, {}, ("png",))
        with pytest.raises(ValueError, match="no figure for v = 3") as err:
            draw(reg["bad"], data, {}, ("png",))
        assert "in render" in str(err.value.__cause__)        # the child's traceback
        assert draw(reg["two"], data, {}, ("png",)) == draw_here(reg["two"], data, {}, ("png",))
    finally:
        draw.close()


def test_pipeline_of_several_figures_writes_the_single_figure_runs_bytes(analyses, tmp_path):
    """Several figures (drawn in the child) against one run per figure (drawn in-process)."""
    together = tmp_path / "together"
    r = pipeline.run(["one", "bad", "two"], out=together, directory=analyses,
                     formats="pdf,png", progress=False)
    assert r["computed"] == ["one", "two"] and r["failed"] == ["bad"]
    assert r["figures"]["bad"]["error"] == "ValueError: no figure for v = 3"
    alone = tmp_path / "alone"
    for name in ("one", "two"):
        assert pipeline.run([name], out=alone, directory=analyses, formats="pdf,png",
                            progress=False)["computed"] == [name]
    got, want = _digests(together), _digests(alone)
    figures = [n for n in want if n.endswith((".pdf", ".png", ".json")) and n != "manifest.json"]
    assert len(figures) == 6
    assert {n: got[n] for n in figures} == {n: want[n] for n in figures}
