"""Where the figure pipeline writes: the output folder, figure formats and their bytes."""

from __future__ import annotations

import io
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
SAVE_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
    "png": {"Software": None},
    "svg": {"Date": None},
}


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


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """The Figure saved as ``fmt`` with no timestamps (identical bytes on reruns)."""
    from .plot.style import paper_style

    buf = io.BytesIO()
    with paper_style():
        fig.savefig(buf, format=fmt, metadata=SAVE_METADATA[fmt])
    return buf.getvalue()


def rendered_bytes(render: Any, data: Any, config: Any, fmts: tuple[str, ...]
                   ) -> dict[str, bytes]:
    """``render(data, config)`` drawn in the paper style and saved in each format (the
    figure closed afterwards): format -> bytes."""
    from .plot.style import paper_style

    with paper_style():
        fig = render(data, config)
    try:
        return {fmt: figure_bytes(fig, fmt) for fmt in fmts}
    finally:
        import matplotlib.pyplot as plt
        plt.close(fig)


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
