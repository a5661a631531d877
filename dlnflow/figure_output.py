"""Where the figure pipeline writes: the output folder, the figure formats, atomic writes (the
figure's bytes in a format come from :mod:`dlnflow.plot.save`)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .figure_cache import CACHE_DIRNAME
from .io import TMP_PREFIX, atomic_write_bytes

FORMATS = ("pdf", "png", "svg")


def check_out_dir(out: str | os.PathLike) -> Path:
    """Create ``out`` (and its cache folder) and check that files can be written there."""
    out = Path(out)
    try:
        (out / CACHE_DIRNAME).mkdir(parents=True, exist_ok=True)
        # a unique name: two pipelines starting in one folder must not remove each other's test
        tempfile.NamedTemporaryFile(dir=out / CACHE_DIRNAME, prefix=f"{TMP_PREFIX}write-").close()
    except OSError as exc:
        raise InputError(f"output folder {str(out)!r} is not writable "
                         f"({exc.strerror or exc})") from None
    return out


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """'pdf,png' -> ('pdf', 'png'); InputError names an unknown format."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for f in items:
        f = f.strip().lower().lstrip(".")
        if f not in FORMATS:
            raise InputError(f"unknown figure format {f!r}; choose from {', '.join(FORMATS)}")
        if f not in out:
            out.append(f)
    if not out:
        raise InputError("give at least one figure format")
    return tuple(out)


def _write(path: Path, data: bytes) -> None:
    """Atomic write, skipped when the file already holds these bytes; readable permissions."""
    if path.is_file() and path.read_bytes() == data:
        return
    atomic_write_bytes(path, data)          # 0644, like every atomic write


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
