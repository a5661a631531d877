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
* Figure i is rendered and written (:mod:`dlnflow.figure_run`) on one background thread while
  figure i + 1 computes; with more than one figure to make, that thread has it drawn in a
  child process (:mod:`dlnflow.figure_draw`: drawing on a thread of this process would hold
  the GIL the compute needs). The report carries wall seconds per figure (compute, render)
  and for the run, which ``dlnflow figures`` prints as a table on stderr (never in a data
  file).
* A process holding more than ``RELEASE_ABOVE`` after a figure's compute hands memory back
  (JAX's in-memory executables, freed heap; the persistent compilation cache keeps the loops).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import InputError
from .figure_cache import (
    CACHE_DIRNAME,
    hold_out_dir,
    load_cache_entry,
    store_cache_entry,
)
from .figure_draw import DrawProcess
from .figure_output import (  # noqa: F401  (FORMATS: the formats the CLI accepts)
    FORMATS,
    _read_json,
    _write,
    check_out_dir,
    parse_formats,
)
from .figure_run import (  # noqa: F401  (FigureResult, time_table: the pipeline's API)
    Computed,
    FigureResult,
    draw_here,
    failed,
    render_one,
    time_table,
)
from .io import dumps, to_jsonable
from .provenance import package_versions
from .resources import release_memory, resident_bytes

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
DEFAULT_FORMATS = ("pdf", "png")
DEFAULT_OUT = Path("figures")
MANIFEST = "manifest.json"
REQUIRED = ("NAME", "TITLE", "CONFIG", "QUICK", "compute", "render")
RELEASE_ABOVE = 2**30
"""Resident bytes above which memory is handed back after a figure's compute
(``resources.release_memory``: JAX's in-memory compiled functions, freed heap)."""

@dataclasses.dataclass(frozen=True)
class Analysis:
    """A discovered analysis module (or the reason it could not be loaded)."""

    name: str
    path: Path
    module: ModuleType | None
    error: str | None = None

    @property
    def title(self) -> str:
        """The analysis's one-line TITLE (what ``dlnflow figures --list`` prints), or why its
        module could not be loaded."""
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


def cache_key(name: str, config: dict, quick: bool, code: str) -> str:
    """sha256 of the name, the JSON form of the configuration, the quick flag and the code."""
    text = dumps({"name": name, "config": config, "quick": bool(quick), "code": code})
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------ runner
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
        log: Callable[[str], None] | None = None, executor: Any = None,
        workers: int | None = None) -> dict[str, Any]:
    """Compute what is missing (or everything with ``force``), render and write the figures.

    ``executor`` (and ``workers``): where the analyses' sweeps run their cells (see
    :func:`dlnflow.sweep.executors.resolve`: "local", "dask", a scheduler address, a Client);
    None keeps the default, in this process. The numbers, and so the cache, do not depend on it.

    Returns a JSON-ready report: out folder, per figure its status (computed/cached/failed),
    files with sha256, wall seconds (``seconds``, ``compute_s``, ``render_s``), note (why a
    cache entry was rejected); the run's wall ``seconds``; and the lists
    ``computed``, ``cached``, ``failed`` and ``recomputed`` (computed because its cache entry
    was rejected: a subset of ``computed``).
    """
    from tqdm import tqdm

    fmts = parse_formats(formats)
    registry = discover(directory)
    chosen = select(registry, names)
    out = Path(out) if out is not None else (DEFAULT_OUT / "quick" if quick else DEFAULT_OUT)
    out = check_out_dir(out)
    scope: Any = contextlib.nullcontext()
    if executor is not None or workers is not None:
        from .sweep import executor_scope

        scope = executor_scope(executor, workers)
    lock = hold_out_dir(out)
    t_run = time.perf_counter()
    try:
        pkg = package_hash()
        versions = package_versions()
        results: list[FigureResult] = []
        bar = tqdm(chosen, desc="figures", unit="fig", leave=False, file=sys.stderr,
                   disable=None if progress is None else not progress)
        # Figure i is rendered and written on one background thread while figure i + 1
        # computes, drawn in a child process when there is a next figure to overlap with.
        # One render thread, in order: the bytes are those of a serial run.
        pending: list[Future | FigureResult] = []
        draw = None
        if len(chosen) > 1:
            with contextlib.suppress(OSError):          # no Python to start: drawn here
                draw = DrawProcess()
        try:
            with scope, ThreadPoolExecutor(max_workers=1, thread_name_prefix="render") as pool:
                for an in bar:
                    bar.set_postfix_str(an.name)
                    done = _compute_one(an, quick, out, force, pkg, versions, log)
                    pending.append(done if isinstance(done, FigureResult) else pool.submit(
                        render_one, done, out, fmts, log, draw or draw_here))
                    if (resident_bytes() or 0) > RELEASE_ABOVE:
                        release_memory()
                results = [p if isinstance(p, FigureResult) else p.result() for p in pending]
        finally:
            if draw is not None:
                draw.close()
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
        "seconds": time.perf_counter() - t_run,
    }
    return report


def _compute_one(an: Analysis, quick: bool, out: Path, force: bool, pkg: str,
                 versions: dict[str, str], log: Callable[[str], None] | None
                 ) -> Computed | FigureResult:
    """The figure's data from the cache or from ``compute`` (then cached), or its failure."""
    t0 = time.perf_counter()
    if an.module is None:
        return FigureResult(an.name, an.title, "failed", {}, "", 0.0, an.error)
    mod = an.module
    config = to_jsonable(dict(mod.QUICK if quick else mod.CONFIG))
    code = code_version(an, pkg)
    key = cache_key(an.name, config, quick, code)
    cache_path = out / CACHE_DIRNAME / f"{an.name}-{key[:20]}.json"
    record, note = (None, None) if force else load_cache_entry(cache_path, key)
    if record is not None:
        return Computed(an, config, record, key, "cached", note, time.perf_counter() - t0, 0.0)
    if log:
        log(f"recomputing {an.name}: {note}" if note else f"computing {an.name}")
    tc = time.perf_counter()
    try:
        data = mod.compute(json.loads(dumps(config)))
        provenance = {"analysis": an.name, "title": str(mod.TITLE), "config": config,
                      "quick": bool(quick), "key": key, "code_version": code,
                      "versions": versions}
        blob = store_cache_entry(cache_path, {"data": to_jsonable(data),
                                              "provenance": provenance})
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 (report and go on with the other figures)
        end = time.perf_counter()
        return failed(an, key, end - t0, note, end - tc, exc, log)
    compute_s = time.perf_counter() - tc
    if log:
        log(f"computed {an.name} in {compute_s:.1f} s")
    # render from the JSON form, as from the cache
    return Computed(an, config, json.loads(blob), key, "computed", note,
                    time.perf_counter() - t0, compute_s)


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


def list_figures(directory: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """One entry per analysis: name and title (or the load error)."""
    return [{"name": a.name, "title": a.title, "ok": a.module is not None}
            for a in discover(directory).values()]
