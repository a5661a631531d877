"""The store of finished cells: one ``<key>.npz`` file per cell in a folder, written atomically.

The key (:func:`dlnflow.sweep.grid.cell_key`) hashes the function's name, the cell, the
configuration and the source file of the function, so a rerun of the same sweep finds the cells
it has and computes only the others, and a changed configuration or cell function never reuses a
stale cell; the full code hash (all of dlnflow) is recorded in the file. A file is
written to a temporary name and renamed (:mod:`dlnflow.io`): it is complete or absent. A file
that does not load (truncated by a full disk, edited) counts as missing and is recomputed.
Failed cells are not stored: a rerun tries them again.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io import atomic_write_bytes
from .cell import Values

META = "__meta__"


class CellStore:
    """Finished cells of sweeps under ``path`` (created when missing)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"store {str(self.path)!r} exists and is not a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"store {str(self.path)!r}: cannot create ({exc.strerror})") from None

    def file(self, key: str) -> Path:
        """The ``.npz`` file of the cell stored under ``key``."""
        return self.path / f"{key}.npz"

    def get(self, key: str) -> tuple[Values, dict[str, Any]] | None:
        """The values stored under ``key`` and what was stored about them, or None (absent or
        unreadable)."""
        try:
            with np.load(self.file(key), allow_pickle=False) as z:
                meta = json.loads(str(z[META]))
                values = {name: (tuple(dims), np.array(z[f"v_{name}"]))
                          for name, dims in meta.pop("dims").items()}
                return values, meta
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            return None

    def put(self, key: str, values: Values, about: dict[str, Any]) -> None:
        """Store ``values`` under ``key`` with ``about`` (function, cell, code hash)."""
        meta = {**about, "dims": {name: list(dims) for name, (dims, _) in values.items()}}
        buf = io.BytesIO()
        arrays: dict[str, Any] = {META: np.asarray(json.dumps(meta, sort_keys=True)),
                                  **{f"v_{name}": arr for name, (_, arr) in values.items()}}
        np.savez(buf, **arrays)
        atomic_write_bytes(self.file(key), buf.getvalue())

    def __len__(self) -> int:
        return sum(1 for _ in self.path.glob("*.npz"))
