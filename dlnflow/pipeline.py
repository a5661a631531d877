"""The figure pipeline: discover ``analyses/*.py``, compute (cached), render, write, manifest.

Contract of an analysis module (docs/CONTRIBUTING.md): NAME, TITLE, CONFIG, QUICK,
``compute(config) -> data``, ``render(data, config) -> Figure``, optional ``tables``.

* Cache: ``<out>/.cache/<name>-<key>.json``, key = sha256 of (name, config, quick flag, code
  version); code version = sha256 of the analysis source, the private helpers ``analyses/_*.py``
  and every ``dlnflow/**/*.py``. A figure's data is cached as soon as it is computed, so an
  interrupted run resumes where it stopped; ``force`` recomputes.
* A cache entry is trusted only if it proves itself: beside it, ``<entry>.sha256`` (the format
  of ``sha256sum``) records the sha256 of the entry's exact bytes, written after the entry (and
  removed before an entry is rewritten), so an interrupted write leaves no recorded hash. An
  entry is used only when that hash matches and the record loads (a dict with ``data`` and the
  provenance of this key); anything else (truncated, edited, wrong type, no hash) is recomputed
  and the run says why (the result's ``note``, and a line in the log).
* Temporary files of killed runs (``.tmp-*``) are removed at the start of a run that finds no
  other pipeline working in the same folder (a shared lock on ``<out>/.cache/.lock``).
* Rendering always goes through the JSON data (lists, not arrays), fresh or cached, so a
  re-render from the cache draws exactly what a fresh run draws.
* Outputs ``<out>/<name>.<fmt>`` (pdf, png, svg without timestamps: byte-identical on reruns),
  ``<out>/<name>.json`` (data + provenance), extra tables, and ``<out>/manifest.json`` (each
  figure's files and their sha256). All writes are atomic (:mod:`dlnflow.io`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import InputError
from .io import TMP_PREFIX, atomic_write_bytes, dumps, to_jsonable

PACKAGE_DIR = Path(__file__).resolve().parent


def _analyses_dir() -> Path:
    """Folder of the ``dlnflow.analyses`` package: ``<site-packages>/dlnflow/analyses`` in a
    wheel, the repository's top-level ``analyses/`` in an editable install (package-dir
    mapping, see setup.py)."""
    spec = importlib.util.find_spec("dlnflow.analyses")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return PACKAGE_DIR / "analyses"


ANALYSES_DIR = _analyses_dir()
FORMATS = ("pdf", "png", "svg")
DEFAULT_FORMATS = ("pdf", "png")
DEFAULT_OUT = Path("figures")
CACHE_DIRNAME = ".cache"
MANIFEST = "manifest.json"
HASH_SUFFIX = ".sha256"
LOCK_NAME = ".lock"
REQUIRED = ("NAME", "TITLE", "CONFIG", "QUICK", "compute", "render")
SAVE_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
    "png": {"Software": None},
    "svg": {"Date": None},
}
VERSION_PACKAGES = ("dlnflow", "jax", "jaxlib", "diffrax", "equinox", "optimistix", "numpy",
                    "scipy", "matplotlib", "networkx")


@dataclasses.dataclass(frozen=True)
class Analysis:
    """A discovered analysis module (or the reason it could not be loaded)."""

    name: str
    path: Path
    module: ModuleType | None
    error: str | None = None

    @property
    def title(self) -> str:
        if self.module is None:
            return f"(not loadable: {self.error})"
        return str(self.module.TITLE)


# ------------------------------------------------------------------------------ registry
def _load(path: Path, package_dir: bool) -> ModuleType:
    name = path.stem
    if package_dir:
        return importlib.import_module(f"dlnflow.analyses.{name}")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"_dlnflow_analysis_{digest}_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def discover(directory: str | os.PathLike | None = None) -> dict[str, Analysis]:
    """All analysis modules ``<directory>/<name>.py`` (default: the ``analyses`` package),
    sorted by name. Files starting with '_' are helpers, not analyses. A module that fails to
    import or misses part of the contract is listed with its error instead of aborting."""
    d = Path(directory).resolve() if directory is not None else ANALYSES_DIR
    if not d.is_dir():
        raise InputError(f"analyses folder {str(d)!r} does not exist")
    package_dir = d == ANALYSES_DIR
    out: dict[str, Analysis] = {}
    for path in sorted(d.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            mod = _load(path, package_dir)
        except Exception as exc:  # noqa: BLE001 (a broken module must not hide the others)
            out[path.stem] = Analysis(path.stem, path, None, f"{type(exc).__name__}: {exc}")
            continue
        missing = [a for a in REQUIRED if not hasattr(mod, a)]
        if missing:
            err = f"missing {', '.join(missing)}"
        elif mod.NAME != path.stem:
            err = f"NAME {mod.NAME!r} differs from the file name {path.stem!r}"
        else:
            err = None
        out[path.stem] = Analysis(path.stem, path, None if err else mod, err)
    return out


# ------------------------------------------------------------------------------ versions
def _hash_files(paths: Sequence[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def package_hash() -> str:
    """sha256 of every dlnflow/**/*.py source (path and bytes), without dlnflow.analyses (inside
    dlnflow/ in a wheel, not in an editable install; each analysis is in its code_version)."""
    paths = [p for p in PACKAGE_DIR.rglob("*.py") if ANALYSES_DIR not in p.parents]
    return _hash_files(paths, PACKAGE_DIR)


def code_version(analysis: Analysis, pkg_hash: str | None = None) -> str:
    """sha256 of the analysis source, its folder's helpers (_*.py) and the dlnflow sources."""
    helpers = [p for p in analysis.path.parent.glob("_*.py") if p.name != "__init__.py"]
    local = _hash_files([analysis.path, *helpers], analysis.path.parent)
    return hashlib.sha256(f"{local}:{pkg_hash or package_hash()}".encode()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python and the numerical packages (provenance)."""
    out = {"python": platform.python_version()}
    for pkg in VERSION_PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def cache_key(name: str, config: dict, quick: bool, code: str) -> str:
    """sha256 of the name, the JSON form of the configuration, the quick flag and the code."""
    text = dumps({"name": name, "config": config, "quick": bool(quick), "code": code})
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------ output
def check_out_dir(out: str | os.PathLike) -> Path:
    """Create ``out`` (and its cache folder) and check that files can be written there."""
    out = Path(out)
    try:
        (out / CACHE_DIRNAME).mkdir(parents=True, exist_ok=True)
        # a unique name: two pipelines starting in one folder must not remove each other's test
        with tempfile.NamedTemporaryFile(dir=out / CACHE_DIRNAME, prefix=f"{TMP_PREFIX}write-"):
            pass
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


def _write(path: Path, data: bytes) -> None:
    """Atomic write, skipped when the file already holds these bytes; readable permissions."""
    if path.is_file() and path.read_bytes() == data:
        return
    atomic_write_bytes(path, data)          # 0644, like every atomic write


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------ cache
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
    if recorded != _sha256(blob):
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
    atomic_write_bytes(_hash_path(entry), f"{_sha256(blob)}  {entry.name}\n".encode("ascii"))
    return blob


def _hold_out_dir(out: Path) -> Any:
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
            try:
                p.unlink()
            except OSError:
                pass
    fcntl.flock(fh, fcntl.LOCK_SH)
    return fh


# ------------------------------------------------------------------------------ runner
@dataclasses.dataclass
class FigureResult:
    name: str
    title: str
    status: str                 # "computed", "cached" or "failed"
    files: dict[str, str]       # file name -> sha256
    key: str
    seconds: float
    error: str | None = None
    note: str | None = None     # why a cache entry present was not used (then recomputed)


def select(registry: dict[str, Analysis], names: Sequence[str] | None) -> list[Analysis]:
    """The analyses named (all loadable ones if none); InputError on an unknown name."""
    if not names:
        return list(registry.values())
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise InputError(f"unknown figure {unknown[0]!r}; known: "
                         f"{', '.join(registry) or '(none)'}")
    return [registry[n] for n in dict.fromkeys(names)]


def run(names: Sequence[str] | None = None, *, quick: bool = False,
        out: str | os.PathLike | None = None, formats: str | Sequence[str] = DEFAULT_FORMATS,
        force: bool = False, directory: str | os.PathLike | None = None,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Compute what is missing (or everything with ``force``), render and write the figures.

    Returns a JSON-ready report: out folder, per figure its status (computed/cached/failed),
    files with sha256, seconds, note (why a cache entry was rejected); and the lists
    ``computed``, ``cached``, ``failed`` and ``recomputed`` (computed because its cache entry
    was rejected: a subset of ``computed``).
    """
    from tqdm import tqdm

    fmts = parse_formats(formats)
    registry = discover(directory)
    chosen = select(registry, names)
    out = Path(out) if out is not None else (DEFAULT_OUT / "quick" if quick else DEFAULT_OUT)
    out = check_out_dir(out)
    lock = _hold_out_dir(out)
    try:
        pkg = package_hash()
        versions = package_versions()
        results: list[FigureResult] = []
        bar = tqdm(chosen, desc="figures", unit="fig", leave=False, file=sys.stderr,
                   disable=None if progress is None else not progress)
        for an in bar:
            bar.set_postfix_str(an.name)
            results.append(_run_one(an, quick, out, fmts, force, pkg, versions, log))
        _update_manifest(out, results, quick)
    finally:
        if lock is not None:
            lock.close()
    report = {
        "out": str(out), "quick": quick, "formats": list(fmts),
        "figures": {r.name: dataclasses.asdict(r) for r in results},
        "computed": [r.name for r in results if r.status == "computed"],
        "cached": [r.name for r in results if r.status == "cached"],
        "failed": [r.name for r in results if r.status == "failed"],
        "recomputed": [r.name for r in results if r.status == "computed" and r.note],
    }
    return report


def _run_one(an: Analysis, quick: bool, out: Path, fmts: tuple[str, ...], force: bool,
             pkg: str, versions: dict[str, str], log: Callable[[str], None] | None
             ) -> FigureResult:
    t0 = time.perf_counter()
    if an.module is None:
        return FigureResult(an.name, an.title, "failed", {}, "", 0.0, an.error)
    mod = an.module
    config = to_jsonable(dict(mod.QUICK if quick else mod.CONFIG))
    code = code_version(an, pkg)
    key = cache_key(an.name, config, quick, code)
    cache_path = out / CACHE_DIRNAME / f"{an.name}-{key[:20]}.json"
    record, note = (None, None) if force else load_cache_entry(cache_path, key)
    status = "cached"
    try:
        if record is None:
            if log:
                log(f"recomputing {an.name}: {note}" if note else f"computing {an.name}")
            tc = time.perf_counter()
            data = mod.compute(json.loads(dumps(config)))
            provenance = {"analysis": an.name, "title": str(mod.TITLE), "config": config,
                          "quick": bool(quick), "key": key, "code_version": code,
                          "versions": versions}
            blob = store_cache_entry(cache_path, {"data": to_jsonable(data),
                                                  "provenance": provenance})
            record = json.loads(blob)      # render from the JSON form, as from the cache
            status = "computed"
            if log:
                log(f"computed {an.name} in {time.perf_counter() - tc:.1f} s")
        files: dict[str, str] = {}
        data = record["data"]
        data_bytes = (dumps(record, indent=1) + "\n").encode()
        _write(out / f"{an.name}.json", data_bytes)
        files[f"{an.name}.json"] = _sha256(data_bytes)
        from .plot.style import paper_style

        with paper_style():
            fig = mod.render(data, config)
        try:
            for fmt in fmts:
                blob = figure_bytes(fig, fmt)
                _write(out / f"{an.name}.{fmt}", blob)
                files[f"{an.name}.{fmt}"] = _sha256(blob)
        finally:
            import matplotlib.pyplot as plt
            plt.close(fig)
        if hasattr(mod, "tables"):
            for fname, text in sorted(mod.tables(data, config).items()):
                if "/" in fname or fname.startswith("."):
                    raise InputError(f"{an.name}.tables: bad file name {fname!r}")
                _write(out / fname, text.encode("utf-8"))
                files[fname] = _sha256(text.encode("utf-8"))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (report and go on with the other figures)
        tb = traceback.format_exc(limit=-3)
        if log:
            log(f"failed {an.name}: {type(exc).__name__}: {exc}\n{tb}")
        return FigureResult(an.name, an.title, "failed", {}, key, time.perf_counter() - t0,
                            f"{type(exc).__name__}: {exc}", note)
    return FigureResult(an.name, an.title, status, files, key, time.perf_counter() - t0,
                        None, note)


def _update_manifest(out: Path, results: list[FigureResult], quick: bool) -> None:
    """Merge this run's figures into ``<out>/manifest.json`` (sorted, no timestamps)."""
    path = out / MANIFEST
    old = _read_json(path) or {}
    figures = dict(old.get("figures", {})) if isinstance(old, dict) else {}
    for r in results:
        if r.status == "failed":
            continue
        figures[r.name] = {"files": r.files, "key": r.key, "quick": quick, "title": r.title}
    text = dumps({"figures": figures, "out": out.name}, indent=1) + "\n"
    _write(path, text.encode("utf-8"))


def list_figures(directory: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """One entry per analysis: name and title (or the load error)."""
    return [{"name": a.name, "title": a.title, "ok": a.module is not None}
            for a in discover(directory).values()]
