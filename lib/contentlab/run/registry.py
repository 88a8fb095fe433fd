"""The run registry: every run on disk, its lock and the ``latest`` pointer, and ``clean --keep``.

One run::

    reports/<run_id>/            report_dir: <stage>.ipynb (executed), <stage>.html, index.html, manifest.json
    data/processed/<run_id>/     run_dir: the stages' products (contentlab.contract), .contentlab-stages.json
    reports/latest -> <run_id>   the newest finished run (``latest.txt`` where symlinks are unavailable)
    reports/index.html           every run, newest first

``run_id`` is ``YYYYmmddTHHMMSS-<profile>`` (UTC); a suffix ``-2``, ``-3``... keeps it unique, so repeated or
concurrent runs never overwrite anything. A run's ``manifest.json`` is what the registry reads: which profile,
which stages with which status. ``run_dir/.contentlab-stages.json`` records per stage what it wrote and the
fingerprint ``--incremental`` compares (:mod:`contentlab.run.incremental`).

This is the only module that looks through ``data/processed/`` and ``reports/`` for runs: a stage is handed the
products of the previous cycle (:func:`previous_run`) and never scans for them itself.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contentlab import config, serial
from contentlab.run.results import MISSING, OK, SKIPPED, RunError

LOCK_FILE = ".contentlab.lock"
RUNNING_FILE = ".running.lock"  # in reports/<run_id>/, locked while the run is in progress (see clean_runs)
STAGES_FILE = ".contentlab-stages.json"  # in data/processed/<run_id>/: what each stage wrote, its fingerprint
MANIFEST = "manifest.json"

RUN_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_TIMESTAMP = re.compile(r"^(\d{8}T\d{6})")


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def run_dir_of(run_id: str) -> Path:
    return config.processed_dir() / run_id


def report_dir_of(run_id: str) -> Path:
    return config.reports_dir() / run_id


def allocate(profile_name: str, run_id: str | None, now: _dt.datetime) -> tuple[str, Path, Path]:
    """Create a fresh (run_id, run_dir, report_dir); never reuses an existing directory."""
    config.ensure_dirs()
    if run_id is not None:
        if not RUN_ID_OK.match(run_id) or run_id in ("latest",):
            raise RunError(f"--run-id {run_id!r}: use letters, digits, '-' and '_'")
        candidates: Iterable[str] = [run_id]
    else:
        base = f"{now:%Y%m%dT%H%M%S}-{profile_name}"
        candidates = [base] + [f"{base}-{i}" for i in range(2, 1000)]
    for candidate in candidates:
        report_dir, run_dir = report_dir_of(candidate), run_dir_of(candidate)
        try:
            report_dir.mkdir()
        except FileExistsError:
            continue
        try:
            run_dir.mkdir()
        except FileExistsError:
            report_dir.rmdir()
            continue
        return candidate, run_dir, report_dir
    if run_id is not None:
        raise RunError(f"run {run_id} already exists (reports or data/processed); runs are never overwritten")
    raise RunError("could not allocate a run directory")  # pragma: no cover


# ---------------------------------------------------------------------------------------------------
# reading the registry


def list_runs() -> list[dict[str, Any]]:
    """Manifests of all runs under ``reports/``, oldest first (unreadable ones and loops' manifests skipped)."""
    runs = []
    root = config.reports_dir()
    if not root.is_dir():
        return runs
    for path in sorted(root.glob(f"*/{MANIFEST}")):
        if path.parent.is_symlink():
            continue
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("kind") != "loop":  # a loop's own report is not a run
            runs.append(manifest)
    return runs


def run_succeeded(manifest: Mapping[str, Any]) -> bool:
    statuses = [nb.get("status") for nb in manifest.get("notebooks", [])]
    return bool(statuses) and OK in statuses and all(s in (OK, SKIPPED, MISSING) for s in statuses)


def run_order(run_id: str, directories: Iterable[Path] | None = None) -> str:
    """Sort key of a run: the timestamp of its id, else the time its directories were last written."""
    m = _TIMESTAMP.match(run_id)
    if m:
        return m.group(1)
    if directories is None:
        directories = (report_dir_of(run_id), run_dir_of(run_id))
    mtimes = [d.stat().st_mtime for d in directories if d.exists()]
    stamp = _dt.datetime.fromtimestamp(max(mtimes, default=0.0), _dt.UTC)
    return f"{stamp:%Y%m%dT%H%M%S}"


def earlier_runs(before: str | None = None) -> list[dict[str, Any]]:
    """Manifests of the runs whose products are on disk, newest first; with ``before``, only runs older than it."""
    runs = [m for m in list_runs() if m.get("run_id") and run_dir_of(str(m["run_id"])).is_dir()]
    keyed = sorted(((run_order(str(m["run_id"])), str(m["run_id"])), m) for m in runs)
    if before is not None:
        limit = (run_order(before), before)
        keyed = [(k, m) for k, m in keyed if k < limit]
    return [m for _, m in reversed(keyed)]


def latest_run(profile: str | None = None, successful: bool = True) -> str | None:
    """Id of the newest run (of ``profile``, if given) whose products are on disk; successful ones only by default."""
    for manifest in reversed(list_runs()):
        if profile is not None and manifest.get("profile") != profile:
            continue
        if successful and not run_succeeded(manifest):
            continue
        run_id = manifest.get("run_id")
        if run_id and run_dir_of(run_id).is_dir():
            return run_id
    return None


def previous_run(profile: str, before: str, has: Iterable[Any]) -> Path | None:
    """The run directory of the previous cycle: the newest successful run of ``profile`` older than ``before``
    that holds every product in ``has`` (:class:`contentlab.contract.Product`); ``None`` on the first cycle."""
    wanted = list(has)
    for manifest in earlier_runs(before):
        if manifest.get("profile") != profile or not run_succeeded(manifest):
            continue
        run_dir = run_dir_of(str(manifest["run_id"]))
        if all(p.exists(run_dir) for p in wanted):
            return run_dir
    return None


def read_manifest(run_id: str) -> dict[str, Any] | None:
    try:
        return json.loads((report_dir_of(run_id) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------
# what each stage of a run wrote


def read_stage_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``run_dir/.contentlab-stages.json``: stage -> record ({} for a run without one)."""
    try:
        data = json.loads((Path(run_dir) / STAGES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def write_stage_records(run_dir: Path, records: Mapping[str, Mapping[str, Any]]) -> None:
    serial.write_json(Path(run_dir) / STAGES_FILE, dict(records), indent=1)


# ---------------------------------------------------------------------------------------------------
# locks and the latest pointer


def latest_pointer() -> str | None:
    """The run ``reports/latest`` (or ``reports/latest.txt``) points at."""
    root = config.reports_dir()
    link = root / "latest"
    if link.is_symlink():
        return Path(os.readlink(link)).name
    txt = root / "latest.txt"
    if txt.is_file():
        return txt.read_text(encoding="utf-8").strip() or None
    return None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (no-op where ``fcntl`` is unavailable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def running(report_dir: Path) -> Iterator[None]:
    """Hold ``report_dir/.running.lock`` while the run is in progress (released by the OS if the process dies)."""
    path = report_dir / RUNNING_FILE
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            fcntl = None
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def is_running(run_id: str) -> bool:
    """Whether a ``contentlab run`` process is working on ``run_id`` right now."""
    path = report_dir_of(run_id) / RUNNING_FILE
    if not path.is_file():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: trust the file
        return True
    try:
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False  # a run that died: its lock file is left, nobody holds it


def _newer_or_equal(a: str, b: str) -> bool:
    ma, mb = _TIMESTAMP.match(a), _TIMESTAMP.match(b)
    if ma and mb:
        return ma.group(1) >= mb.group(1)
    return True


def point_latest(run_id: str) -> Path:
    """Point ``reports/latest`` at ``run_id`` (atomic symlink swap under a lock).

    A run that started earlier than the one ``latest`` already points at leaves it alone. Where
    symlinks are unavailable, ``reports/latest.txt`` holds the run id instead.
    """
    root = config.reports_dir()
    link = root / "latest"
    with locked(root / LOCK_FILE):
        current = latest_pointer()
        if current and current != run_id and (root / current).is_dir() and not _newer_or_equal(run_id, current):
            return link if link.is_symlink() else root / "latest.txt"
        tmp = root / f".latest.{os.getpid()}.tmp"
        try:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(run_id, tmp, target_is_directory=True)
            os.replace(tmp, link)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            pointer = root / "latest.txt"
            staging = root / f".latest.{os.getpid()}.txt"
            staging.write_text(run_id + "\n", encoding="utf-8")
            staging.replace(pointer)
            return pointer
        with contextlib.suppress(FileNotFoundError):
            (root / "latest.txt").unlink()
        return link


def write_runs_index() -> Path:
    """Rewrite ``reports/index.html`` (all runs, newest first) under the reports lock."""
    root = config.reports_dir()
    with locked(root / LOCK_FILE):
        return _write_runs_index_locked(root)


def _write_runs_index_locked(root: Path) -> Path:
    from contentlab.report import render_runs_index

    text = render_runs_index(list_runs(), latest=latest_pointer())
    staging = root / f".index.{os.getpid()}.html"
    staging.write_text(text, encoding="utf-8")
    staging.replace(root / "index.html")
    return root / "index.html"


# ---------------------------------------------------------------------------------------------------
# clean


@dataclass
class CleanResult:
    kept: list[str]
    removed: list[str]
    paths: list[Path]  # directories deleted (or that would be, with dry_run)


def clean_runs(keep: int = 1, dry_run: bool = False) -> CleanResult:
    """Delete old runs: their ``reports/<run_id>/`` and ``data/processed/<run_id>/``; then rewrite ``reports/index.html``.

    Kept: the ``keep`` newest runs, the run ``reports/latest`` points at, and any run still in progress
    (:func:`is_running`). A run is a directory of ``reports/`` with a ``manifest.json`` or one named like a run id
    (``YYYYmmddTHHMMSS-<profile>``), in ``reports/`` or ``data/processed/``. Nothing else under ``data/`` is
    touched. Runs under the reports lock, so it never races ``latest`` being switched by a finishing run.
    """
    if keep < 1:
        raise RunError(f"--keep must be at least 1 (the latest run is always kept), got {keep}")
    reports, processed = config.reports_dir(), config.processed_dir()
    if not reports.is_dir() and not processed.is_dir():
        return CleanResult(kept=[], removed=[], paths=[])
    reports.mkdir(parents=True, exist_ok=True)
    with locked(reports / LOCK_FILE):
        ids: set[str] = set()
        for root in (reports, processed):
            if not root.is_dir():
                continue
            for d in root.iterdir():
                if not d.is_dir() or d.is_symlink() or d.name.startswith("."):
                    continue
                if _TIMESTAMP.match(d.name) or (root == reports and (d / MANIFEST).is_file()):
                    ids.add(d.name)
        order = {r: run_order(r, (reports / r, processed / r)) for r in ids}
        newest_first = sorted(ids, key=lambda r: (order[r], r), reverse=True)
        latest = latest_pointer()
        kept = set(newest_first[:keep]) | {r for r in ids if r == latest or is_running(r)}
        removed = [r for r in newest_first if r not in kept]
        paths = [d for r in removed for d in (reports / r, processed / r) if d.is_dir()]
        if not dry_run:
            for d in paths:
                shutil.rmtree(d)
            if latest is not None and latest not in ids:  # a pointer to a run that no longer exists
                for stale in (reports / "latest", reports / "latest.txt"):
                    if stale.is_symlink() or stale.is_file():
                        stale.unlink()
            _write_runs_index_locked(reports)
    return CleanResult(kept=[r for r in newest_first if r in kept], removed=removed, paths=paths)


def holds_products(run_dir: Path) -> bool:
    """Whether a run directory holds any file a stage wrote (the runner's own bookkeeping does not count)."""
    return any(p.is_file() and not (p.parent == run_dir and STAGES_FILE in p.name) for p in run_dir.rglob("*"))


def prune_empty_run(run_id: str) -> list[Path]:
    """Remove what a run left behind that holds nothing useful; returns the directories removed.

    ``data/processed/<run_id>/`` goes when no stage wrote a file into it (e.g. 01 failed on a missing dataset
    file). ``reports/<run_id>/`` goes, with its data directory, when the run was never published (no
    ``manifest.json``); a published run keeps its reports, so a failed run's index still shows the failure.
    """
    removed = []
    report_dir, run_dir = report_dir_of(run_id), run_dir_of(run_id)
    published = (report_dir / MANIFEST).is_file()
    if report_dir.is_dir() and not report_dir.is_symlink() and not published:
        shutil.rmtree(report_dir, ignore_errors=True)
        removed.append(report_dir)
    if run_dir.is_dir() and not run_dir.is_symlink() and (not published or not holds_products(run_dir)):
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed
