"""The per-figure time table: compute/render/total wall times of a run, in the log only."""

import json

from dlnflow import pipeline
from dlnflow.cli import main

ANALYSIS = (
    'NAME = "{name}"\nTITLE = "t {name}"\nCONFIG = {{"v": {val}}}\nQUICK = {{"v": {val}}}\n'
    "def compute(config):\n    import numpy as np\n"
    "    return {{'x': np.arange(3) * config['v']}}\n"
    "def render(data, config):\n    from dlnflow.plot import style\n"
    "    fig, ax = style.figure()\n    ax.plot(data['x'])\n    return fig\n")


def _rows(table: str) -> dict[str, list[float]]:
    lines = table.splitlines()
    assert lines[0].split() == ["figure", "compute", "s", "render", "s", "total", "s"]
    assert lines[-1].startswith("wall time of the run: ") and lines[-1].endswith(" s")
    return {ln.split()[0]: [float(v) for v in ln.split()[1:]] for ln in lines[1:-1]}


def test_time_table_rows_add_up_and_stay_out_of_the_data(tmp_path):
    d = tmp_path / "an"
    d.mkdir()
    for name, val in (("one", 1.0), ("two", 2.0)):
        (d / f"{name}.py").write_text(ANALYSIS.format(name=name, val=val))
    out = tmp_path / "o"
    pipeline.run(["one"], out=out, directory=d, formats="png", progress=False)
    report = pipeline.run(["one", "two"], out=out, directory=d, formats="png", progress=False)
    figs = report["figures"]
    assert figs["one"]["status"] == "cached" and figs["one"]["compute_s"] == 0.0
    assert figs["two"]["status"] == "computed" and figs["two"]["compute_s"] > 0.0
    for r in figs.values():          # compute and render are disjoint parts of the total
        assert r["render_s"] > 0.0
        assert r["compute_s"] + r["render_s"] <= r["seconds"] + 1e-9
    rows = _rows(pipeline.time_table(report))
    assert list(rows) == ["one", "two", "total"]
    for name in ("one", "two"):      # rounded to 0.1 s as printed
        want = [figs[name]["compute_s"], figs[name]["render_s"], figs[name]["seconds"]]
        assert all(abs(a - b) <= 0.05 + 1e-12 for a, b in zip(rows[name], want, strict=True))
    for col in range(3):             # the total row is the column sum (each rounded once)
        exact = sum(r[k] for r in figs.values()
                    for k in [("compute_s", "render_s", "seconds")[col]])
        assert abs(rows["total"][col] - exact) <= 0.05 + 1e-12
    # each figure's look-up, compute and render are disjoint parts of the run
    assert max(r["seconds"] for r in figs.values()) <= report["seconds"]
    for p in out.rglob("*.json"):    # wall times never enter a data file or the manifest
        assert "compute_s" not in p.read_text() and "render_s" not in p.read_text()
        json.loads(p.read_text())


def test_cli_prints_the_table_on_stderr(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["figures", "portrait_deep", "--quick", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    rows = _rows(captured.err[captured.err.index("figure "):])
    assert list(rows) == ["portrait_deep", "total"]
    assert rows["total"] == rows["portrait_deep"]
    assert "compute s" not in captured.out
