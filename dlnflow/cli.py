"""The ``dlnflow`` command: subcommands are the modules of :mod:`dlnflow.commands`.

Each command module defines NAME, HELP, ``add_arguments(parser)`` and ``run(args) -> int``.
Bad input (an :class:`InputError`, or a value argparse refuses) prints one line naming the flag
and the bad value and exits with status 2.

Values that start with '-': argparse takes a token such as ``-0.5,1,1``, ``-1e-3`` or ``-inf``
after an option for another option (it only knows plain negative numbers like ``-1`` and
``-.5``) and fails with "expected one argument". Before parsing, ``--opt VALUE`` is therefore
rewritten as ``--opt=VALUE`` (argparse's own syntax, which always binds) whenever ``--opt`` takes
one value and VALUE starts with a single '-' and is not an option of the command: so
``--init -0.5,1,1`` and ``--etas -0.1,0.1`` work, and ``--target -x`` is refused as a bad number
rather than a missing one. Writing ``--init=-0.5,1,1`` yourself works everywhere.
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib
import importlib.util
import pkgutil
import sys

from . import commands
from .commands._common import OneLineParser
from .errors import InputError


def build_parser(command: str | None = None, lazy: bool = False) -> argparse.ArgumentParser:
    """The ``dlnflow`` parser. ``lazy``: only the subcommand ``command`` (None: none) gets its
    arguments, so only its module is imported; the others are listed with their help, read
    from their sources (``dlnflow --help`` imports no command module)."""
    parser = OneLineParser(
        prog="dlnflow",
        description="Deep linear networks as dynamical systems: flows, maps, critical points, "
                    "rates and the figure pipeline.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=OneLineParser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        listed = _listing(info.name) if lazy else None
        if listed is not None and listed[0] != command:
            sub.add_parser(listed[0], help=listed[1], description=listed[1])
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        p.set_defaults(_run=mod.run)
    return parser


def _listing(module: str) -> tuple[str, str] | None:
    """(NAME, HELP) of a command module read from its source without importing it; None when
    either is not a plain string constant there."""
    spec = importlib.util.find_spec(f"{commands.__name__}.{module}")
    if spec is None or spec.origin is None:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, TypeError):
        return None
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name) and node.targets[0].id in ("NAME", "HELP"):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                return None
    if not all(isinstance(found.get(k), str) for k in ("NAME", "HELP")):
        return None
    return found["NAME"], found["HELP"]


def bind_dash_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` with ``--opt VALUE`` joined into ``--opt=VALUE`` where ``--opt`` (or a unique
    abbreviation of it) takes one value and VALUE starts with a single '-' and is not an option
    of the command (see the module docstring)."""
    sub = _subparsers(parser)
    if not argv or argv[0] not in sub:
        return list(argv)
    actions = [a for a in sub[argv[0]]._actions if a.option_strings]
    options = {s: a for a in actions for s in a.option_strings}
    out, i = [argv[0]], 1
    while i < len(argv):
        tok = argv[i]
        out.append(tok)
        i += 1
        if tok == "--":
            out.extend(argv[i:])
            break
        action = _resolve(options, tok)
        if action is None or action.nargs is not None or i >= len(argv):
            continue
        value = argv[i]
        if value.startswith("-") and not value.startswith("--") and value not in options:
            out[-1] = f"{tok}={value}"
            i += 1
    return out


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _resolve(options: dict[str, argparse.Action], tok: str) -> argparse.Action | None:
    """The action a token names: the option itself or a unique abbreviation of a long option
    (as argparse resolves it); None for values, '--opt=value' tokens and ambiguous prefixes."""
    if not tok.startswith("-") or "=" in tok:
        return None
    if tok in options:
        return options[tok]
    if tok.startswith("--"):
        hits = {id(a): a for s, a in options.items() if s.startswith(tok)}
        if len(hits) == 1:
            return next(iter(hits.values()))
    return None


def main(argv: list[str] | None = None) -> int:
    """Run ``dlnflow argv`` and return its exit status (argparse's exits, --help and refused
    options, are returned too, so that in-process callers always get a status).

    As the process's command (``argv`` None), the objects of the imports so far (JAX, the
    command's modules) are handed to the garbage collector's permanent generation
    (``gc.freeze``): they live until the process ends, and neither the collections during the
    command nor the one at exit walk them again (0.1 s of a 1 s ``dlnflow flow`` call).
    In-process callers, which pass ``argv``, keep their collector as it is."""
    command = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None, lazy=True)
    if command:
        gc.freeze()
    try:
        args = parser.parse_args(bind_dash_values(parser, argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except InputError as exc:
        print(f"dlnflow {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
