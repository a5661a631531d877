"""Generate the command-line reference (docs/cli.md) from ``dlnflow.cli.build_parser()``.

Every subcommand (the modules of ``dlnflow/commands/``), every option with its metavar, default,
choices and help: read from the argparse parser itself, so a new command or option appears
without an edit here.
"""

from __future__ import annotations

import argparse
import os

import mkdocs_gen_files

from dlnflow.cli import _subparsers, build_parser


def cell(text: object) -> str:
    """Help text as a table cell: '|' and newlines escaped, '*' and '<' literal."""
    return (str(text).replace("|", "\\|").replace("\n", " ").replace("*", "\\*")
            .replace("<", "&lt;"))


def flag(action: argparse.Action) -> str:
    names = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
    if action.nargs == 0:
        return names
    metavar = action.metavar or (action.dest.upper() if action.option_strings else None)
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    return f"{names} `{metavar}`" if metavar and action.option_strings else names


def default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.nargs == 0:
        return "off" if not action.default else "on"
    if action.default is None or action.default == argparse.SUPPRESS:
        return "-"
    return f"`{action.default}`"


def options_table(parser: argparse.ArgumentParser) -> str:
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = action.help or ""
        if action.help == argparse.SUPPRESS:
            continue
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            text += f" (choices: {', '.join(map(str, action.choices))})"
        if "%(default)" in text:
            text = text % {"default": action.default}
        rows.append(f"| {flag(action)} | {default(action)} | {cell(text)} |")
    return "\n".join(rows)


def main() -> None:
    os.environ["COLUMNS"] = "100"      # usage lines wrapped the same on every machine
    parser = build_parser()
    sub = _subparsers(parser)
    lines = ["# Command-line reference", "",
             "Generated from `dlnflow.cli.build_parser()` when the site is built: every "
             "subcommand of `dlnflow`, every option and its default. Bad values exit with status "
             "2 and one line naming the option; values that start with '-' may follow their "
             "option (`--init -0.5,1,1`).", "", "```text", parser.format_usage().strip(), "```",
             "", "| command | what it does |", "|---|---|"]
    lines += [f"| [`{n}`](#{n}) | {cell(p.description)} |" for n, p in sorted(sub.items())]
    for name, p in sorted(sub.items()):
        lines += ["", f"## {name}", "", cell(p.description or ""), "", "```text",
                  p.format_usage().strip(), "```", "", options_table(p)]
    with mkdocs_gen_files.open("cli.md", "w") as fh:
        fh.write("\n".join(lines) + "\n")


main()
