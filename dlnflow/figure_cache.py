"""The figure cache: ``<out>/.cache/<name>-<key>.json`` entries that prove themselves.

Beside each entry, ``<entry>.sha256`` (the format of ``sha256sum``) records the sha256 of the
entry's exact bytes, written after the entry and removed before it is rewritten, so an
interrupted write leaves no recorded hash. An entry is used only when that hash matches and the
record loads (a dict with ``data`` and the provenance of its key). A shared lock on
``<out>/.cache/.lock`` marks a pipeline at work in a folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from .io import TMP_PREFIX, atomic_write_bytes, dumps

CACHE_DIRNAME = ".cache"
HASH_SUFFIX = ".sha256"
LOCK_NAME = ".lock"


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data`` (the hashes of the manifest and the cache)."""
    return hashlib.sha256(data).hexdigest()


def _hash_path(entry: Path) -> Path:
    return entry.with_name(entry.name + HASH_SUFFIX)


def _recorded_hash(entry: Path) -> str | None:
    """The sha256 recorded beside ``entry`` ("<hex>  <file name>"), None if absent/malformed."""
    try:
        text = _hash_path(entry).read_text(encoding="ascii")
    except (OSError, ValueError):
        return None
    parts = text.split()
    if (len(parts) != 2 or parts[1] != entry.name or len(parts[0]) != 64
            or any(c not in "0123456789abcdef" for c in parts[0])):
        return None
    return parts[0]


def load_cache_entry(entry: Path, key: str) -> tuple[dict | None, str | None]:
    """``(record, None)`` for a trustworthy entry; ``(None, None)`` when there is none;
    ``(None, why)`` for one that must not be used (its hash, its type or its key is wrong)."""
    try:
        blob = entry.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cache entry is unreadable ({exc.strerror or exc})"
    recorded = _recorded_hash(entry)
    if recorded is None:
        return None, "cache entry has no recorded hash"
    if recorded != sha256_hex(blob):
        return None, "cache entry failed its hash check"
    try:
        record = json.loads(blob)
    except ValueError:
        return None, "cache entry is not valid JSON"
    prov = record.get("provenance") if isinstance(record, dict) else None
    if not isinstance(prov, dict) or "data" not in record or prov.get("key") != key:
        return None, "cache entry does not match its schema"
    return record, None


def store_cache_entry(entry: Path, record: dict) -> bytes:
    """Write ``record`` (the bytes of ``<out>/<name>.json``) and then its hash; returns the
    bytes. The old hash goes first, so a write cut short never leaves a matching pair."""
    blob = (dumps(record, indent=1) + "\n").encode()
    _hash_path(entry).unlink(missing_ok=True)
    atomic_write_bytes(entry, blob)
    atomic_write_bytes(_hash_path(entry), f"{sha256_hex(blob)}  {entry.name}\n".encode("ascii"))
    return blob


def hold_out_dir(out: Path) -> Any:
    """A shared lock on ``<out>/.cache/.lock`` for the whole run (released when the process
    ends, killed or not). A run that can take it exclusively first, i.e. with no other pipeline
    working here, removes the temporary files (``.tmp-*``) that killed runs left behind."""
    try:
        import fcntl
    except ImportError:         # not POSIX: no clean-up (the leftovers are harmless)
        return None
    fh = open(out / CACHE_DIRNAME / LOCK_NAME, "a+b")     # held until the run ends
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fcntl.flock(fh, fcntl.LOCK_SH)
        return fh
    for folder in (out, out / CACHE_DIRNAME):
        for p in folder.glob(f"{TMP_PREFIX}*"):
            with contextlib.suppress(OSError):     # gone already, or not ours to remove
                p.unlink()
    fcntl.flock(fh, fcntl.LOCK_SH)
    return fh
