"""Generate the gallery (docs/gallery/**): one page per figure of ``dlnflow figures --list``.

Each page is made from the analysis module and its committed quick output under
``figures/quick/`` (nothing is computed): the module docstring (the claim and the paper), the
quick PNG, the table "paper / ours / agreement" returned by the module's optional
``agreement(data) -> list[dict]`` applied to the data of ``figures/quick/<name>.json`` (or, until
a module has that function, the ``agreement`` entry its data stores, shown as it is), extra
tables the module writes (``tables``), the configurations QUICK and CONFIG, and the commands
that regenerate the figure. A figure without a committed quick PNG, or an analysis that does not
load, is a warning (a failed ``--strict`` build).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from pathlib import Path

import mkdocs_gen_files

from dlnflow.pipeline import discover

ROOT = Path(__file__).resolve().parents[2]
QUICK_DIR = ROOT / "figures" / "quick"
COLUMNS = ("quantity", "paper", "ours", "agreement")
log = logging.getLogger("mkdocs.plugins.dlnflow.gallery")


def escape(text: str) -> str:
    """Prose of a docstring as Markdown: '*', '_', '[', ']' and '<' outside backticks are
    literal."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else
                   re.sub(r"([*_\[\]])", r"\\\1", p).replace("<", "&lt;") for p in parts)


def cell(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value)
    else:
        text = str(value)
    return escape(text).replace("|", "\\|").replace("\n", " ")


def agreement_section(mod, data: dict | None) -> str:
    if data is None:
        return "No committed data (`figures/quick/<name>.json`) to read the table from.\n"
    fn = getattr(mod, "agreement", None)
    if fn is not None:
        rows = fn(data)
        lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(cell(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    text = "No table yet: this analysis has no `agreement(data)` function.\n"
    stored = data.get("agreement")
    if isinstance(stored, str):
        text += "\nWhat its data stores as agreement with the paper:\n\n> " + escape(stored) + "\n"
    elif stored is not None:
        text += ("\nWhat its data stores as agreement with the paper:\n\n```json\n"
                 + json.dumps(stored, indent=1, sort_keys=True) + "\n```\n")
    return text


def page(an, data: dict | None, has_png: bool) -> str:
    mod = an.module
    doc = inspect.getdoc(mod) or ""
    lines = [f"# {an.name}", "", f"**{escape(str(mod.TITLE))}**", ""]
    lines += [escape(doc), ""]
    if has_png:
        lines += [f"![{an.name}]({an.name}.png){{ .gallery-figure }}", "",
                  f"Quick configuration; PDF: `figures/quick/{an.name}.pdf`.", ""]
    lines += ["## Paper against ours", "", agreement_section(mod, data)]
    for extra in sorted(QUICK_DIR.glob(f"{an.name}*.md")):
        lines += [f"## Table `{extra.name}`", "", extra.read_text(encoding="utf-8"), ""]
    lines += ["## Configuration", "", "=== \"QUICK (shown above)\"", "",
              "    ```json", *("    " + x for x in json.dumps(mod.QUICK, indent=1,
                                                              sort_keys=True).splitlines()),
              "    ```", "", "=== \"CONFIG (full run)\"", "", "    ```json",
              *("    " + x for x in json.dumps(mod.CONFIG, indent=1,
                                                sort_keys=True).splitlines()), "    ```", ""]
    lines += ["## Regenerate", "", "```bash", f"dlnflow figures --quick {an.name}   "
              "# figures/quick/, a few seconds",
              f"dlnflow figures {an.name}           # figures/, the full configuration",
              "```", "", f"Source: `analyses/{an.name}.py`; test: "
              f"`tests/test_analysis_{an.name}.py`.", ""]
    return "\n".join(lines)


def main() -> None:
    registry = discover()
    index = ["# Gallery of reproduced results", "",
             "One page per figure of `dlnflow figures --list`, generated from the analysis "
             "module and its committed quick data (`figures/quick/`) when the site is built.",
             "", "| figure | what it shows |", "|---|---|"]
    nav = ["* [Overview](index.md)"]
    for name, an in registry.items():
        if an.module is None:
            log.warning("analysis %s does not load: %s", name, an.error)
            continue
        png = QUICK_DIR / f"{name}.png"
        has_png = png.is_file()
        if has_png:
            with mkdocs_gen_files.open(f"gallery/{name}.png", "wb") as fh:
                fh.write(png.read_bytes())
        else:
            log.warning("figure %s has no committed quick PNG (figures/quick/%s.png)", name, name)
        data_file = QUICK_DIR / f"{name}.json"
        data = json.loads(data_file.read_text())["data"] if data_file.is_file() else None
        with mkdocs_gen_files.open(f"gallery/{name}.md", "w") as fh:
            fh.write(page(an, data, has_png))
        index.append(f"| [`{name}`]({name}.md) | {escape(str(an.module.TITLE))} |")
        nav.append(f"* [{name}]({name}.md)")
    with mkdocs_gen_files.open("gallery/index.md", "w") as fh:
        fh.write("\n".join(index) + "\n")
    with mkdocs_gen_files.open("gallery/SUMMARY.md", "w") as fh:
        fh.write("\n".join(nav) + "\n")


main()
