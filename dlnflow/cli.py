"""The ``dlnflow`` command: subcommands are the modules of :mod:`dlnflow.commands`.

Each command module defines NAME, HELP, ``add_arguments(parser)`` and ``run(args) -> int``.
Bad input (an :class:`InputError`) prints one line naming the bad value and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .commands._common import OneLineParser
from .errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="dlnflow",
        description="Deep linear networks as dynamical systems: flows, maps, critical points, "
                    "rates and the figure pipeline.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=OneLineParser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
