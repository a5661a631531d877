"""Every Python example of README.md and docs/**/*.md runs, and prints what the page says.

Blocks fenced ```python exec="on" ...``` are run by markdown-exec when the site is built
(``mkdocs build --strict`` fails if one raises) and their output is shown from that run; every
other ```python block is run here, the blocks of one file in order in one namespace (a page is
one session). Where a block is followed directly by a ```text block, that block is the expected
output and stdout must equal it (trailing spaces ignored).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def blocks(path: Path) -> list[tuple[str, str | None]]:
    """(code, expected output or None) of the test-run Python blocks of a Markdown file."""
    found = [(m.group(1), m.group(2), m.group(3), m.start(), m.end())
             for m in FENCE.finditer(path.read_text(encoding="utf-8"))]
    text = path.read_text(encoding="utf-8")
    out = []
    for i, (lang, info, body, _, end) in enumerate(found):
        if lang != "python" or 'exec="on"' in info:
            continue
        expected = None
        if i + 1 < len(found) and found[i + 1][0] == "text" and \
                not text[end:found[i + 1][3]].strip():
            expected = found[i + 1][2]
        out.append((body, expected))
    return out


def files() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.md"))
    return [p for p in [ROOT / "README.md", *docs] if p.is_file() and blocks(p)]


def test_examples_are_found():
    """The README's first session is among the examples (a guard against a parser that finds
    nothing, which would pass every test below vacuously)."""
    assert any("dl.simulate(" in code for code, _ in blocks(ROOT / "README.md"))


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_examples_run(path: Path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                 # examples that write files write them here
    namespace: dict = {"__name__": "__docs__"}
    for n, (code, expected) in enumerate(blocks(path)):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{path.name}[block {n}]", "exec"), namespace)  # noqa: S102
        if expected is not None:
            got = [line.rstrip() for line in out.getvalue().rstrip().splitlines()]
            assert got == [line.rstrip() for line in expected.rstrip().splitlines()], \
                f"{path.name} block {n}: printed output differs from the page"
