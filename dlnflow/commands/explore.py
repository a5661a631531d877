"""`dlnflow explore`: the interactive phase portrait in the browser (a local Bokeh server)."""

from __future__ import annotations

import argparse
import sys

from ._common import emit, integer

NAME = "explore"
HELP = ("interactive phase portrait in the browser: click to start gradient flow and GD "
        "(needs the 'explore' extra: bokeh)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=integer(1, 65535), default=5006,
                        help="port to listen on (default 5006)")
    parser.add_argument("--address", default="localhost",
                        help="address to listen on (default localhost)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser (the default where there is no display)")


def run(args: argparse.Namespace) -> int:
    try:
        from ..explore.server import serve
    except ImportError as exc:
        print(f"dlnflow explore: error: needs bokeh ({exc.name} is missing); install it with "
              "pip install 'dlnflow[explore]'", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        emit({"url": url}, args.json, f"dlnflow explore: open {url}  (Ctrl-C stops the server)")
        sys.stdout.flush()

    serve(args.port, address=args.address, open_browser=False if args.no_browser else None,
          on_ready=ready)
    return 0
