"""``dlnflow figures``: compute (cached), render and write the figures of ``analyses/``."""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ._common import add_executor_arguments, emit

NAME = "figures"
HELP = ("regenerate the figures of analyses/ (cached data, byte-identical outputs, manifest); "
        "--quick for the fast configurations")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="figures to make (default: all; see --list)")
    parser.add_argument("--quick", action="store_true",
                        help="use each analysis's QUICK configuration (seconds each)")
    parser.add_argument("--out", default=None,
                        help="output folder (default figures/, or figures/quick/ with --quick)")
    parser.add_argument("--format", default="pdf,png",
                        help="comma-separated formats among pdf,png,svg (default pdf,png)")
    parser.add_argument("--force", action="store_true",
                        help="recompute even when cached data exist")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    add_executor_arguments(parser, "the analyses' sweep cells")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .. import pipeline

    if args.list:
        items = pipeline.list_figures()
        width = max((len(i["name"]) for i in items), default=0)
        text = "\n".join(f"{i['name']:<{width}}  {i['title']}" for i in items) or "(none)"
        emit({"figures": items}, args.json, text)
        return 0
    try:
        formats = pipeline.parse_formats(args.format)
    except InputError as exc:
        raise InputError(f"--format: {exc}") from None
    from .sweep import executor_from_args

    executor, workers = executor_from_args(args)
    log = None if args.json else (lambda s: tqdm.write(s, file=sys.stderr))
    report = pipeline.run(args.names, quick=args.quick, out=args.out, formats=formats,
                          force=args.force, progress=None if not args.json else False, log=log,
                          executor=None if executor == "local" else executor, workers=workers)
    lines = []
    for name, r in report["figures"].items():
        extra = f": {r['error']}" if r["error"] else f" ({', '.join(r['files'])})"
        status = r["status"]
        if r.get("note"):       # a cache entry was there but not used: say why
            status = f"{'recomputed' if status == 'computed' else status} ({r['note']})"
        lines.append(f"{name:<24} {status:<8} {r['seconds']:7.1f} s{extra}")
    lines.append(f"out: {report['out']}  computed {len(report['computed'])}, cached "
                 f"{len(report['cached'])}, failed {len(report['failed'])}")
    emit(report, args.json, "\n".join(lines))
    print(pipeline.time_table(report), file=sys.stderr)    # wall times: the log, not the data
    return 1 if report["failed"] else 0
