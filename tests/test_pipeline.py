"""Pipeline: second run recomputes nothing and writes identical bytes; errors exit with 2."""

import hashlib
import json

import pytest

from dlnflow import pipeline
from dlnflow.cli import main


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_second_run_recomputes_nothing_and_is_byte_identical(tmp_path):
    out = tmp_path / "figs"
    r1 = pipeline.run(["portrait_deep"], quick=True, out=out, formats="pdf,png,svg",
                      progress=False)
    assert r1["computed"] == ["portrait_deep"] and not r1["failed"]
    first = _digests(out)
    assert {"portrait_deep.pdf", "portrait_deep.png", "portrait_deep.svg",
            "portrait_deep.json", "manifest.json"} <= set(first)
    r2 = pipeline.run(["portrait_deep"], quick=True, out=out, formats="pdf,png,svg",
                      progress=False)
    assert r2["computed"] == [] and r2["cached"] == ["portrait_deep"]
    assert _digests(out) == first
    manifest = json.loads((out / "manifest.json").read_text())
    files = manifest["figures"]["portrait_deep"]["files"]
    for name, digest in files.items():
        assert first[name] == digest
    # provenance: config, quick flag, versions
    data = json.loads((out / "portrait_deep.json").read_text())
    assert data["provenance"]["quick"] is True
    assert data["provenance"]["config"]["depth"] == 4
    assert "jax" in data["provenance"]["versions"]
    assert data["data"]["solver"] == "DOP853"


def test_resume_force_and_code_key(tmp_path):
    """A half-done run resumes: only the missing figure is computed; --force recomputes."""
    d = tmp_path / "an"
    d.mkdir()
    for name, val in (("one", 1.0), ("two", 2.0)):
        (d / f"{name}.py").write_text(
            f'NAME = "{name}"\nTITLE = "t {name}"\nCONFIG = {{"v": {val}}}\n'
            f'QUICK = {{"v": {val}}}\n'
            "def compute(config):\n    import numpy as np\n"
            "    return {'x': np.arange(3) * config['v']}\n"
            "def render(data, config):\n    from dlnflow.plot import style\n"
            "    fig, ax = style.figure()\n    ax.plot(data['x'])\n    return fig\n")
    (d / "broken.py").write_text("raise RuntimeError('boom')\n")
    out = tmp_path / "o"
    r = pipeline.run(["one"], out=out, directory=d, formats="png", progress=False)
    assert r["computed"] == ["one"]
    r = pipeline.run(["one", "two"], out=out, directory=d, formats="png", progress=False)
    assert r["computed"] == ["two"] and r["cached"] == ["one"]
    r = pipeline.run(["one"], out=out, directory=d, formats="png", force=True, progress=False)
    assert r["computed"] == ["one"]
    # a change of the analysis source changes the key: recomputed
    (d / "one.py").write_text((d / "one.py").read_text() + "\n# edit\n")
    r = pipeline.run(["one"], out=out, directory=d, formats="png", progress=False)
    assert r["computed"] == ["one"]
    reg = pipeline.discover(d)
    assert reg["broken"].module is None and "boom" in reg["broken"].error
    r = pipeline.run(["broken"], out=out, directory=d, formats="png", progress=False)
    assert r["failed"] == ["broken"]


def test_bad_name_is_one_line_exit_2(tmp_path, capsys):
    code = main(["figures", "no_such_figure", "--quick", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "no_such_figure" in err


def test_unwritable_out_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["figures", "portrait_deep", "--quick", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "not writable" in err


def test_bad_format_and_list(capsys):
    assert main(["figures", "--format", "jpg", "--out", "/tmp"]) == 2
    assert "jpg" in capsys.readouterr().err
    assert main(["figures", "--list", "--json"]) == 0
    listed = {f["name"] for f in json.loads(capsys.readouterr().out)["figures"]}
    assert {"portrait_two_layer", "portrait_deep", "gd_basins", "gd_orbit_diagram",
            "flow_vs_gd_loss"} <= listed


@pytest.mark.parametrize("text", ["pdf,png", "svg", "png, pdf"])
def test_parse_formats(text):
    assert set(pipeline.parse_formats(text)) <= set(pipeline.FORMATS)
