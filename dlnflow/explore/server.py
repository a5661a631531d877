"""Serving the explorer: a Bokeh server started programmatically (``bokeh.server.server``)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.server.server import Server

from ..errors import InputError
from .app import ExploreApp, make_document
from .model import Setting


def has_display() -> bool:
    """Whether a browser window can be opened here (a desktop, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def make_server(port: int = 5006, *, address: str = "localhost",
                setting: Setting | None = None) -> Server:
    """A started Bokeh server with the explorer at ``/``. The setting is warmed first
    (portrait, compiled runs), so that no click waits for a compilation."""
    setting = setting or Setting()
    app = Application(FunctionHandler(functools.partial(make_document, setting=setting)))
    try:
        server = Server({"/": app}, port=port, address=address,
                        allow_websocket_origin=sorted(
                            {f"{a}:{port}" for a in (address, "localhost", "127.0.0.1")}))
    except OSError as exc:
        raise InputError(f"--port {port}: cannot listen on {address}:{port} "
                         f"({exc.strerror})") from None
    # after the port is ours (a busy port fails at once): a throwaway page and one click, so
    # that the compiled runs and Bokeh's own first-use paths are ready for the first visitor
    page = ExploreApp(setting, Document())
    h = setting.extent[1]
    page.click(-0.4 * h, 0.45 * h)
    server.start()
    return server


def serve(port: int = 5006, *, address: str = "localhost", open_browser: bool | None = None,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Run the explorer until interrupted. ``on_ready(url)`` is called once it listens;
    ``open_browser`` (None: when :func:`has_display`) opens the page in a browser."""
    server = make_server(port, address=address)
    url = f"http://{address}:{server.port}/"
    if on_ready is not None:
        on_ready(url)
    if has_display() if open_browser is None else open_browser:
        server.io_loop.add_callback(server.show, "/")
    try:
        with contextlib.suppress(KeyboardInterrupt):    # Ctrl-C ends the server quietly
            server.io_loop.start()
    finally:
        server.stop()
