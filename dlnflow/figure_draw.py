"""Figures drawn in a child process, beside the figure pipeline's compute.

``DrawProcess`` starts ``python -m dlnflow.figure_draw`` (which loads matplotlib at once, while
the parent computes) and sends it, one at a time, an analysis's source path, its data and
configuration and the formats; the child loads the analysis as the pipeline does, draws the
figure (:func:`dlnflow.plot.save.rendered_bytes`) and answers the bytes per format, or the
exception raised (re-raised in the parent, the child's traceback as its cause). Requests and
answers are pickles on the child's stdin and stdout (its prints go to stderr). A child whose
parent dies reads the end of its input and exits; it writes no file.

Why a process: drawing is Python-bound matplotlib. On a thread of the computing process it
holds the GIL that the compute's JAX dispatches wait for, and the two went no faster together
than one after the other (quick pipeline, 2 loaded cores: 57 s either way, 31 s of it
compute). A child process draws on another core while the compute runs.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any


class DrawProcess:
    """A child process drawing figures: ``draw(an, data, config, fmts) -> {fmt: bytes}`` (the
    ``figure_run.Draw`` of the pipeline); ``close`` ends the child."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))   # what this imports
        self._proc = subprocess.Popen([sys.executable, "-m", "dlnflow.figure_draw"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._lock = threading.Lock()

    def _send(self, obj: Any) -> None:
        assert self._proc.stdin is not None
        pickle.dump(obj, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.flush()

    def __call__(self, an: Any, data: Any, config: dict, fmts: tuple[str, ...]
                 ) -> dict[str, bytes]:
        with self._lock:
            self._send((str(an.path), data, config, tuple(fmts)))
            try:
                ok, value = pickle.load(self._proc.stdout)   # type: ignore[arg-type]
            except EOFError:
                raise RuntimeError(f"the drawing process ended (exit status "
                                   f"{self._proc.wait()})") from None
        if not ok:
            exc, text = value
            raise exc from ChildTraceback(text)
        return value

    def close(self) -> None:
        """End the child (it exits at the end of its input)."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class ChildTraceback(Exception):
    """The traceback, as text, of an exception raised in the drawing process (its cause)."""


_MODULES: dict[tuple[str, str], Any] = {}
"""In the child: the analysis modules loaded, by (path, sha256 of the source)."""


def _draw(path: str, data: Any, config: dict, fmts: tuple[str, ...]) -> dict[str, bytes]:
    from .pipeline import ANALYSES_DIR, _load
    from .plot.save import rendered_bytes

    p = Path(path)
    key = (path, hashlib.sha256(p.read_bytes()).hexdigest())
    if key not in _MODULES:                  # an edited analysis is loaded again
        _MODULES[key] = _load(p, p.parent == ANALYSES_DIR)
    return rendered_bytes(_MODULES[key].render, data, config, fmts)


def main() -> None:
    """The child's loop: a request on stdin, its answer on stdout, until stdin ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr                  # prints of an analysis must not enter the answers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which ends the input
    from .plot import save  # noqa: F401  (matplotlib and the paper style, before any request)

    while True:
        try:
            request = pickle.load(stdin)
        except EOFError:
            return
        answer: tuple[bool, Any]
        try:
            answer = (True, _draw(*request))
        except Exception as error:  # noqa: BLE001 (the parent raises it: this figure failed)
            answer = (False, (error, traceback.format_exc()))
        try:
            blob = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 (an exception that does not pickle: its text)
            failed, text = answer[1]
            blob = pickle.dumps((False, (RuntimeError(f"{type(failed).__name__}: {failed}"),
                                         text)))
        stdout.write(blob)
        stdout.flush()


if __name__ == "__main__":
    main()
