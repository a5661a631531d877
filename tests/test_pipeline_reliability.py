"""Pipeline reliability: a tampered cache entry is never trusted, and a run killed with SIGKILL
at any moment, rerun, ends byte for byte where an uninterrupted run ends.

* Cache tampering: truncated, wrong-type (``[]``), edited (valid JSON, same keys, one number
  changed) and hash-less entries are recomputed, reported (result note, ``recomputed`` list,
  status line and log line of ``dlnflow figures``), and the outputs equal the clean ones.
* Kill test: ``dlnflow figures --quick`` on three fast figures in a subprocess, killed (SIGKILL)
  after 0.5 s, 2 s and 5 s and while a chosen file is half-written (a hook in the subprocess
  blocks inside the write and the test kills it there), rerun to completion, then every file of
  the folder (data, figures, tables, manifest, cache entries and their hashes; no leftover
  temporary file) is compared with an uninterrupted run. The fast variant chains the kills in
  one folder (CI, about a minute); ``-m slow`` kills a fresh run at each moment and inside each
  single write, rerunning each to completion. The runs import a frozen copy of the dlnflow
  under test (with its analyses), so that an edit of the sources while the test runs (which
  changes every cache key) cannot make them differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlnflow import figure_cache, pipeline
from dlnflow.cli import main
from dlnflow.plot.save import figure_bytes

FIGS = ["agd_plateau", "agd_instance_speedup", "portrait_two_layer"]   # quick: seconds each

# Runs `dlnflow figures` (argv) in a fresh interpreter. With DLNFLOW_TEST_BLOCK=<pattern>[:<n>]
# the n-th atomic write (default 1st) whose file name matches the pattern writes half of its
# bytes to its temporary file, creates the file DLNFLOW_TEST_MARK and sleeps, to be killed there.
CHILD = r"""
import fnmatch, os, sys, tempfile, time
from pathlib import Path
import dlnflow.pipeline
snap = os.environ["DLNFLOW_TEST_SNAPSHOT"]
for d in (dlnflow.pipeline.PACKAGE_DIR, dlnflow.pipeline.ANALYSES_DIR):
    assert Path(d).is_relative_to(snap), f"{d} is not in the snapshot {snap}"
spec = os.environ.get("DLNFLOW_TEST_BLOCK")
if spec:
    import dlnflow.figure_cache as dc
    import dlnflow.figure_output as do
    import dlnflow.io as dio
    pattern, _, nth = spec.partition(":")
    nth, seen, real = int(nth or 1), [0], dio.atomic_write_bytes

    def hooked(path, data):
        path = Path(path)
        if fnmatch.fnmatchcase(path.name, pattern):
            seen[0] += 1
            if seen[0] == nth:
                fd, _ = tempfile.mkstemp(dir=path.parent, prefix=f"{dio.TMP_PREFIX}{path.name}-")
                os.write(fd, data[: len(data) // 2])
                os.fsync(fd)
                Path(os.environ["DLNFLOW_TEST_MARK"]).write_text(path.name)
                time.sleep(3600)
        return real(path, data)

    dio.atomic_write_bytes = dc.atomic_write_bytes = do.atomic_write_bytes = hooked
from dlnflow.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (the cache included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """Environment of the runs: PYTHONPATH = a frozen copy of the dlnflow package under test
    and its analyses (found before an editable install's finder, which comes last)."""
    root = tmp_path_factory.mktemp("snapshot")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(pipeline.PACKAGE_DIR, root / "dlnflow", ignore=skip)
    if not (root / "dlnflow" / "analyses").is_dir():     # editable install: analyses/ apart
        shutil.copytree(pipeline.ANALYSES_DIR, root / "dlnflow" / "analyses", ignore=skip)
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "DLNFLOW_TEST_SNAPSHOT": str(root)}


def _argv(out: Path) -> list[str]:
    return [sys.executable, "-c", CHILD, "figures", "--quick", "--json", "--out", str(out),
            *FIGS]


def _run_to_end(out: Path, cwd: Path, env: dict) -> dict:
    res = subprocess.run(_argv(out), cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    assert not report["failed"], report
    return report


def _kill_after(out: Path, cwd: Path, env: dict, seconds: float) -> str:
    """Start a run, SIGKILL it after ``seconds``; what it was doing then (for the message)."""
    proc = subprocess.Popen(_argv(out), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(seconds)
        return "finished before the kill"
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return f"killed after {seconds} s"


def _kill_in_write(out: Path, cwd: Path, env: dict, pattern: str) -> str:
    """Start a run that blocks half-way through writing a file matching ``pattern``; SIGKILL it
    there. Fails if the run ends without reaching such a write."""
    mark = cwd / "blocked.mark"
    mark.unlink(missing_ok=True)
    env = {**env, "DLNFLOW_TEST_BLOCK": pattern, "DLNFLOW_TEST_MARK": str(mark)}
    proc = subprocess.Popen(_argv(out), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not mark.exists():
            if proc.poll() is not None:
                pytest.fail(f"the run ended (rc {proc.returncode}) without writing {pattern}: "
                            f"{proc.stderr.read()[-2000:]}")
            assert time.monotonic() < deadline, f"no write of {pattern} within 300 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return f"killed inside the write of {mark.read_text()}"


@pytest.fixture(scope="module")
def clean(tmp_path_factory, env):
    """An uninterrupted run into a fresh folder: (folder, its files)."""
    base = tmp_path_factory.mktemp("clean")
    _run_to_end(base / "out", base, env)
    return base / "out", _tree(base / "out")


def _assert_same(clean, out: Path, what: list[str]) -> None:
    folder, expected = clean
    got = _tree(out)
    leftovers = [n for n in got if Path(n).name.startswith(figure_cache.TMP_PREFIX)]
    assert not leftovers, f"temporary files left after {what}: {leftovers}"
    assert sorted(got) == sorted(expected), f"file sets differ after {what}"
    differ = [n for n in expected if got[n] != expected[n]]
    assert not differ, f"files differ from the uninterrupted run after {what}: {differ}"


def test_kill_chain_then_rerun_is_byte_identical(clean, env, tmp_path):
    """Seven kills in one folder (each run resumes what the killed ones left), then a run to
    the end: the folder equals the uninterrupted run's, file for file, byte for byte. The
    writes are chosen so that each is still to come when its run starts."""
    out = tmp_path / "out"
    a, b, c = FIGS
    what = [_kill_after(out, tmp_path, env, s) for s in (0.5, 2.0)]  # importing/computing a
    for pattern in (f"{b}-*.json",              # b's cache entry, half-written
                    f"{b}-*.json.sha256",        # b's entry complete, its hash half-written
                    f"{c}.png",                  # b recomputed (no hash); c's figure file
                    "manifest.json"):            # everything cached; the run's last write
        what.append(_kill_in_write(out, tmp_path, env, pattern))
    what.append(_kill_after(out, tmp_path, env, 5.0))            # anywhere (or finished)
    report = _run_to_end(out, tmp_path, env)
    assert set(report["cached"]) | set(report["computed"]) == set(FIGS)
    assert sum(w.startswith("killed") for w in what) >= 6, what
    _assert_same(clean, out, what)
    print("kill chain:", "; ".join(what), f"; then identical ({len(_tree(out))} files)")


@pytest.mark.slow
@pytest.mark.parametrize("moment", [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.5, 8.0, 10.0])
def test_kill_at_a_time_then_rerun_slow(clean, env, tmp_path, moment):
    out = tmp_path / "out"
    what = [_kill_after(out, tmp_path, env, moment)]
    _run_to_end(out, tmp_path, env)
    _assert_same(clean, out, what)
    print(f"{what[0]}, rerun: identical")


def _writes(folder: Path) -> list[str]:
    """One pattern:n per atomic write of a fresh run (cache entries, hashes, outputs,
    manifest), in the order a fresh run makes them."""
    out = []
    for fig in FIGS:
        names = [f"{fig}-*.json", f"{fig}-*.json.sha256"]
        names += sorted(n for n in os.listdir(folder) if n.startswith(f"{fig}."))
        out += names
    return [*out, "manifest.json"]


@pytest.mark.slow
def test_kill_inside_every_write_then_rerun_slow(clean, env, tmp_path):
    """A fresh run killed inside each one of its writes, then rerun to completion."""
    patterns = _writes(clean[0])
    assert len(patterns) >= 3 * 5 + 1
    for i, pattern in enumerate(patterns):
        out = tmp_path / str(i) / "out"        # the manifest records the folder's name
        what = [_kill_in_write(out, tmp_path, env, pattern)]
        _run_to_end(out, tmp_path, env)
        _assert_same(clean, out, what)
    print(f"{len(patterns)} runs killed inside a write, each rerun: all identical")


# ------------------------------------------------------------------------------ cache tampering
FIG = "agd_plateau"


def _entry(out: Path) -> Path:
    (entry,) = (out / pipeline.CACHE_DIRNAME).glob(f"{FIG}-*.json")
    return entry


def _outputs(out: Path) -> dict[str, str]:
    return {k: v for k, v in _tree(out).items() if not k.startswith(pipeline.CACHE_DIRNAME)}


def _edit_one_number(blob: bytes) -> bytes:
    record = json.loads(blob)
    record["data"]["loss_agd"][1] *= 1.5        # valid JSON, same keys, a wrong number
    return (json.dumps(record, indent=1, sort_keys=True) + "\n").encode()


TAMPER = {
    "truncated": lambda blob: blob[: len(blob) // 2],
    "wrong type": lambda blob: b"[]\n",
    "edited": _edit_one_number,
}


@pytest.fixture(scope="module")
def pinned_code():
    """These runs are in this process: pin the dlnflow part of the cache key, so that an edit
    of the sources during the test (another engineer's) cannot change it between two runs."""
    pinned = pipeline.package_hash()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "package_hash", lambda: pinned)
        yield


@pytest.fixture(scope="module")
def clean_plateau(tmp_path_factory, pinned_code):
    out = tmp_path_factory.mktemp("plateau") / "out"
    r = pipeline.run([FIG], quick=True, out=out, formats="pdf,png", progress=False)
    assert r["computed"] == [FIG] and not r["figures"][FIG]["note"]
    entry = _entry(out)
    return out, _outputs(out), entry.read_bytes(), _tree(out)


@pytest.mark.parametrize("how", sorted(TAMPER))
def test_tampered_cache_entry_is_recomputed_and_reported(clean_plateau, tmp_path, how):
    src, outputs, blob, tree = clean_plateau
    out = tmp_path / "out"
    shutil.copytree(src, out)
    _entry(out).write_bytes(TAMPER[how](blob))
    r = pipeline.run([FIG], quick=True, out=out, formats="pdf,png", progress=False)
    fig = r["figures"][FIG]
    assert fig["status"] == "computed" and fig["note"] == "cache entry failed its hash check"
    assert r["recomputed"] == [FIG] and r["computed"] == [FIG]
    assert _tree(out) == tree               # outputs, cache entry and hash: all as clean
    r = pipeline.run([FIG], quick=True, out=out, formats="pdf,png", progress=False)
    assert r["cached"] == [FIG] and not r["figures"][FIG]["note"]


def test_edited_entry_would_change_the_figure(clean_plateau):
    """The edit of the test above is one the figure shows: trusting it would draw it."""
    src, outputs, blob, _ = clean_plateau
    mod = pipeline.discover()[FIG].module
    record = json.loads(_edit_one_number(blob))
    fig = mod.render(record["data"], record["provenance"]["config"])
    try:
        assert figure_bytes(fig, "png") != (src / f"{FIG}.png").read_bytes()
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


@pytest.mark.parametrize("case", ["no hash", "hash of another file", "garbled hash",
                                  "wrong type with its hash"])
def test_entry_without_a_matching_hash_or_schema_is_recomputed(clean_plateau, tmp_path, case):
    src, outputs, blob, tree = clean_plateau
    out = tmp_path / "out"
    shutil.copytree(src, out)
    entry = _entry(out)
    sidecar = entry.with_name(entry.name + figure_cache.HASH_SUFFIX)
    if case == "no hash":                   # a run killed between the entry and its hash
        sidecar.unlink()
        why = "no recorded hash"
    elif case == "hash of another file":
        sidecar.write_text(sidecar.read_text().replace(entry.name, "other.json"))
        why = "no recorded hash"
    elif case == "garbled hash":
        sidecar.write_text("not a hash\n")
        why = "no recorded hash"
    else:                                   # consistent pair, but not a record of this key
        entry.write_bytes(b"[]\n")
        sidecar.write_text(f"{hashlib.sha256(b'[]' + bytes([10])).hexdigest()}  {entry.name}\n")
        why = "does not match its schema"
    r = pipeline.run([FIG], quick=True, out=out, formats="pdf,png", progress=False)
    assert r["figures"][FIG]["status"] == "computed"
    assert why in r["figures"][FIG]["note"]
    assert _tree(out) == tree


def test_cli_tells_the_user(clean_plateau, tmp_path, capsys):
    """`dlnflow figures` says so in its status line and on stderr; exit 0."""
    src, outputs, blob, tree = clean_plateau
    out = tmp_path / "out"
    shutil.copytree(src, out)
    _entry(out).write_bytes(_edit_one_number(blob))
    assert main(["figures", "--quick", "--out", str(out), FIG]) == 0
    cap = capsys.readouterr()
    assert re.search(rf"^{FIG}\s+recomputed \(cache entry failed its hash check\)", cap.out,
                     re.M), cap.out
    assert f"recomputing {FIG}: cache entry failed its hash check" in cap.err
    assert _tree(out) == tree


def test_stale_temporary_files_go_only_when_no_other_run_holds_the_folder(tmp_path):
    out = pipeline.check_out_dir(tmp_path / "out")
    stale = [out / ".tmp-x.png-abc", out / pipeline.CACHE_DIRNAME / ".tmp-y.json-def"]
    first = pipeline.hold_out_dir(out)          # a run in progress
    try:
        for p in stale:
            p.write_bytes(b"half")
        second = pipeline.hold_out_dir(out)     # must not touch the first run's files
        second.close()
        assert all(p.exists() for p in stale)
    finally:
        first.close()
    pipeline.hold_out_dir(out).close()          # alone: a killed run's leftovers go
    assert not any(p.exists() for p in stale)


def test_no_analysis_reads_the_clock():
    """Wall-clock times belong in the run log, not in data files (a resumed run must equal a
    clean one byte for byte)."""
    clock = re.compile(r"\b(perf_counter|monotonic|process_time)\b|time\.time\(|datetime\.now"
                       r"|[\"']seconds[\"']")
    hits = []
    for a in pipeline.discover().values():
        for i, line in enumerate(a.path.read_text().splitlines(), 1):
            if clock.search(line):
                hits.append(f"{a.path.name}:{i}: {line.strip()}")
    assert not hits, hits
