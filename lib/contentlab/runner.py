"""Run the pipeline's notebooks with Papermill and publish a run: reports, ``index.html``, ``manifest.json``.

One run::

    reports/<run_id>/            report_dir: <stage>.ipynb (executed), <stage>.html, index.html, manifest.json
    data/processed/<run_id>/     run_dir: the stages' products (docs/architecture.md)
    reports/latest -> <run_id>   the newest finished run (``latest.txt`` where symlinks are unavailable)
    reports/index.html           every run, newest first

``run_id`` is ``YYYYmmddTHHMMSS-<profile>`` (UTC); a suffix ``-2``, ``-3``... keeps it unique, so repeated or
concurrent runs never overwrite anything. ``manifest.json`` and ``index.html`` are rewritten after every
notebook, so a crash leaves a consistent index. A run leaves nothing empty behind: when no stage wrote a product
(e.g. 01 failed on a missing dataset file) its ``data/processed/<run_id>/`` is removed, while its reports (the
failure at the top of the index) stay. Every published report is checked with
:func:`contentlab.report.lint_html`; what it finds is logged as a warning and listed in the run's index.

Parameters: every notebook gets ``profile``, ``dataset``, ``seed``, ``run_dir`` and ``report_dir`` (each only if
its ``parameters`` cell declares it), then the profile's ``notebooks.<stage>`` entries, then ``--params``
overrides (``key=value`` for every notebook that declares ``key``; ``stage.key=value`` for one notebook;
``dataset.n_users=1000`` reaches into a dict parameter). An override naming a parameter that no selected
notebook declares is an error before anything runs.

With ``only`` a subset of stages runs; the products of the other stages before the last selected one
are copied from ``from_run`` (default: the latest successful run of the same profile), using the
per-stage product list each run keeps in ``run_dir/.contentlab-products.json``.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import datetime as _dt
import importlib
import importlib.metadata
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

import yaml

from contentlab import config
from contentlab.notebook import _jsonable, recorded_metrics
from contentlab.pipeline import STAGES, check_dataset_spec
from contentlab.report import (
    CellFailure, ReportHeader, export_html, find_failure, lint_report, notebook_title, own_cell_numbers, write_index,
)

KERNEL_NAME = "python3"  # jupyter_client starts it with the running interpreter (sys.executable)
COMMON_PARAMETERS = ("profile", "dataset", "seed", "run_dir", "report_dir")
RUNNER_OWNED = ("profile", "run_dir", "report_dir")  # set by the runner, never by --params
PRODUCTS_FILE = ".contentlab-products.json"
LOCK_FILE = ".contentlab.lock"
RUNNING_FILE = ".running.lock"  # in reports/<run_id>/, locked while the run is in progress (see clean_runs)

OK, FAILED, NOT_RUN, PENDING, RUNNING, MISSING = "ok", "failed", "not run", "pending", "running", "missing"
SKIPPED = "skipped"  # the notebook called contentlab.skip_stage(reason): its stage does not apply to the data

# Versions recorded in the manifest: key -> distribution name.
VERSIONED_PACKAGES = {
    "pandas": "pandas", "numpy": "numpy", "pyarrow": "pyarrow", "duckdb": "duckdb", "scipy": "scipy",
    "scikit-learn": "scikit-learn", "statsmodels": "statsmodels", "surprise": "scikit-surprise",
    "lifetimes": "lifetimes", "mlxtend": "mlxtend", "torch": "torch", "transformers": "transformers",
    "tokenizers": "tokenizers", "matplotlib": "matplotlib", "seaborn": "seaborn", "papermill": "papermill",
    "nbconvert": "nbconvert", "nbclient": "nbclient", "ipykernel": "ipykernel",
}

_log = logging.getLogger(__name__)

_RUN_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_TIMESTAMP = re.compile(r"^(\d{8}T\d{6})")


class RunError(Exception):
    """The request cannot run (profile, options, parameters); nothing was executed."""


# ---------------------------------------------------------------------------------------------------
# profiles and parameters


def available_profiles() -> list[str]:
    return sorted(p.stem for p in config.PROFILES_DIR.glob("*.yaml"))


def load_profile(spec: str | Path = "demo") -> dict[str, Any]:
    """Load a run profile by packaged name (``demo``, ``tiny``) or YAML path; validated, with ``source``."""
    spec_str = str(spec)
    path = Path(spec_str).expanduser()
    if not (spec_str.endswith((".yaml", ".yml")) or os.sep in spec_str or path.is_file()):
        path = config.PROFILES_DIR / f"{spec_str}.yaml"
        if not path.is_file():
            raise RunError(f"unknown profile {spec_str!r}; packaged profiles: {', '.join(available_profiles())} "
                           "(or give a path to a .yaml file)")
    if not path.is_file():
        raise RunError(f"profile file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RunError(f"profile {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunError(f"profile {path} must be a mapping")
    profile = dict(data)
    profile.setdefault("name", path.stem)
    name = str(profile["name"])
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise RunError(f"profile {path}: name {name!r} may only use letters, digits, '-' and '_'")
    profile["name"] = name
    if not isinstance(profile.get("dataset"), dict):
        raise RunError(f"profile {path}: 'dataset' must be a mapping (the dataset spec)")
    seed = profile.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RunError(f"profile {path}: 'seed' must be an integer, got {seed!r}")
    profile["seed"] = seed
    notebooks = profile.get("notebooks") or {}
    if not isinstance(notebooks, dict):
        raise RunError(f"profile {path}: 'notebooks' must map stage names to parameter overrides")
    unknown = sorted(set(notebooks) - set(STAGES))
    if unknown:
        raise RunError(f"profile {path}: unknown stage(s) under 'notebooks': {', '.join(unknown)}; "
                       f"stages are {', '.join(STAGES)}")
    for stage, values in notebooks.items():
        if values is not None and not isinstance(values, dict):
            raise RunError(f"profile {path}: notebooks.{stage} must be a mapping of parameters")
    profile["notebooks"] = {stage: dict(notebooks.get(stage) or {}) for stage in STAGES if stage in notebooks}
    profile["source"] = str(path.resolve())
    return profile


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "01_eda.top_n=5", "dataset.n_users=200"]`` -> ``{"a": 1, ...}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise RunError(f"--params expects KEY=VALUE, got {item!r}")
        parts = key.split(".")
        if not all(p.isidentifier() or p in STAGES for p in parts) or parts[-1] in STAGES:
            raise RunError(f"--params: {key!r} is not a parameter name (use key, stage.key or key.subkey)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        out[key] = value
    return out


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """Parameters declared in a notebook's ``parameters`` cell: name -> default (source text)."""
    import papermill

    try:
        params = papermill.inspect_notebook(str(path))
    except Exception as exc:  # noqa: BLE001 - unreadable notebook or parameters cell
        raise RunError(f"cannot read the parameters of {path}: {type(exc).__name__}: {exc}") from None
    return {name: info.get("default") for name, info in params.items()}


def _set_path(target: dict, path: Sequence[str], value: Any, what: str) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise RunError(f"{what}: {part!r} is not a mapping, cannot set {'.'.join(path)}")
        node = child
    node[path[-1]] = value


def _declared_default(default_src: Any) -> Any:
    try:
        return ast.literal_eval(default_src) if isinstance(default_src, str) else default_src
    except (ValueError, SyntaxError):
        return None


def resolve_parameters(profile: Mapping[str, Any], overrides: Mapping[str, Any],
                       declared: Mapping[str, Mapping[str, Any]], run_dir: Path, report_dir: Path
                       ) -> dict[str, dict[str, Any]]:
    """The parameters each notebook in ``declared`` (stage -> declared parameters) receives."""
    common: dict[str, Any] = {
        "profile": profile["name"], "dataset": copy.deepcopy(profile["dataset"]), "seed": profile["seed"],
        "run_dir": str(run_dir), "report_dir": str(report_dir),
    }
    everywhere: list[tuple[list[str], Any, bool]] = []
    targeted: dict[str, list[tuple[list[str], Any, bool]]] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] in STAGES:
            stage, path = parts[0], parts[1:]
            if stage not in declared:
                raise RunError(f"--params {key}: stage {stage} is not part of this run")
            if not path:
                raise RunError(f"--params {key}: name a parameter, e.g. {stage}.top_n=10")
            targeted.setdefault(stage, []).append((path, value, True))
            continue
        if parts[0] in RUNNER_OWNED:
            hint = "use --profile" if parts[0] == "profile" else "it is set by the runner"
            raise RunError(f"--params {key}: {parts[0]!r} cannot be overridden ({hint})")
        if parts[0] in common:
            _set_path(common, parts, value, f"--params {key}")
            continue
        if not any(parts[0] in params for params in declared.values()):
            raise RunError(f"--params {key}: no notebook in this run declares a parameter {parts[0]!r} "
                           f"(declared: {_declared_list(declared)})")
        everywhere.append((parts, value, False))

    resolved: dict[str, dict[str, Any]] = {}
    for stage, params in declared.items():
        values = {k: copy.deepcopy(v) for k, v in common.items() if k in params}
        for key, value in (profile.get("notebooks") or {}).get(stage, {}).items():
            if key not in params:
                raise RunError(f"profile {profile['name']}: notebooks.{stage}.{key} is not a parameter of "
                               f"{stage} (declared: {', '.join(sorted(params)) or 'none'})")
            values[key] = copy.deepcopy(value)
        for parts, value, is_targeted in everywhere + targeted.get(stage, []):
            name = parts[0]
            if name not in params:
                if is_targeted:
                    raise RunError(f"--params {stage}.{'.'.join(parts)}: {stage} has no parameter {name!r} "
                                   f"(declared: {', '.join(sorted(params)) or 'none'})")
                continue
            if name in RUNNER_OWNED:
                raise RunError(f"--params {stage}.{name}: {name!r} is set by the runner")
            if len(parts) > 1 and name not in values:
                base = _declared_default(params[name])
                values[name] = base if isinstance(base, dict) else {}
            _set_path(values, parts, copy.deepcopy(value), f"--params {stage}.{'.'.join(parts)}")
        resolved[stage] = values
    return resolved


def _declared_list(declared: Mapping[str, Mapping[str, Any]]) -> str:
    names = sorted({n for params in declared.values() for n in params} - set(COMMON_PARAMETERS))
    return ", ".join(names) or "none besides the common ones"


# ---------------------------------------------------------------------------------------------------
# runs on disk


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _allocate(profile_name: str, run_id: str | None, now: _dt.datetime) -> tuple[str, Path, Path]:
    """Create a fresh (run_id, run_dir, report_dir); never reuses an existing directory."""
    config.ensure_dirs()
    if run_id is not None:
        if not _RUN_ID_OK.match(run_id) or run_id in ("latest",):
            raise RunError(f"--run-id {run_id!r}: use letters, digits, '-' and '_'")
        candidates: Iterable[str] = [run_id]
    else:
        base = f"{now:%Y%m%dT%H%M%S}-{profile_name}"
        candidates = [base] + [f"{base}-{i}" for i in range(2, 1000)]
    for candidate in candidates:
        report_dir = config.reports_dir() / candidate
        run_dir = config.processed_dir() / candidate
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


def list_runs() -> list[dict[str, Any]]:
    """Manifests of all runs under ``reports/``, oldest first (unreadable ones skipped)."""
    runs = []
    root = config.reports_dir()
    if not root.is_dir():
        return runs
    for path in sorted(root.glob("*/manifest.json")):
        if path.parent.is_symlink():
            continue
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return runs


def run_succeeded(manifest: Mapping[str, Any]) -> bool:
    statuses = [nb.get("status") for nb in manifest.get("notebooks", [])]
    return bool(statuses) and OK in statuses and all(s in (OK, SKIPPED, MISSING) for s in statuses)


def latest_run(profile: str | None = None, successful: bool = True) -> str | None:
    """Id of the newest run (of ``profile``, if given) whose products are on disk; successful ones only by default."""
    for manifest in reversed(list_runs()):
        if profile is not None and manifest.get("profile") != profile:
            continue
        if successful and not run_succeeded(manifest):
            continue
        run_id = manifest.get("run_id")
        if run_id and (config.processed_dir() / run_id).is_dir():
            return run_id
    return None


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
def _locked(path: Path):
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
def _running(report_dir: Path):
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
    path = config.reports_dir() / run_id / RUNNING_FILE
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
    with _locked(root / LOCK_FILE):
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
    with _locked(root / LOCK_FILE):
        return _write_runs_index_locked(root)


def _write_runs_index_locked(root: Path) -> Path:
    from contentlab.report import render_runs_index

    text = render_runs_index(list_runs(), latest=latest_pointer())
    staging = root / f".index.{os.getpid()}.html"
    staging.write_text(text, encoding="utf-8")
    staging.replace(root / "index.html")
    return root / "index.html"


@dataclass
class CleanResult:
    kept: list[str]
    removed: list[str]
    paths: list[Path]  # directories deleted (or that would be, with dry_run)


def _run_order(run_id: str, directories: Iterable[Path]) -> str:
    """Sort key of a run: the timestamp of its id, else the time its directories were last written."""
    m = _TIMESTAMP.match(run_id)
    if m:
        return m.group(1)
    mtimes = [d.stat().st_mtime for d in directories if d.exists()]
    stamp = _dt.datetime.fromtimestamp(max(mtimes, default=0.0), _dt.timezone.utc)
    return f"{stamp:%Y%m%dT%H%M%S}"


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
    with _locked(reports / LOCK_FILE):
        ids: set[str] = set()
        for root in (reports, processed):
            if not root.is_dir():
                continue
            for d in root.iterdir():
                if not d.is_dir() or d.is_symlink() or d.name.startswith("."):
                    continue
                if _TIMESTAMP.match(d.name) or (root == reports and (d / "manifest.json").is_file()):
                    ids.add(d.name)
        order = {r: _run_order(r, (reports / r, processed / r)) for r in ids}
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


def _holds_products(run_dir: Path) -> bool:
    """Whether a run directory holds any file a stage wrote (the runner's own bookkeeping does not count)."""
    own = {PRODUCTS_FILE, PRODUCTS_FILE + ".tmp"}
    return any(p.is_file() and not (p.parent == run_dir and p.name in own) for p in run_dir.rglob("*"))


def prune_empty_run(run_id: str) -> list[Path]:
    """Remove what a run left behind that holds nothing useful; returns the directories removed.

    ``data/processed/<run_id>/`` goes when no stage wrote a file into it (e.g. 01 failed on a missing dataset
    file). ``reports/<run_id>/`` goes, with its data directory, when the run was never published (no
    ``manifest.json``); a published run keeps its reports, so a failed run's index still shows the failure.
    """
    removed = []
    report_dir = config.reports_dir() / run_id
    run_dir = config.processed_dir() / run_id
    published = (report_dir / "manifest.json").is_file()
    if report_dir.is_dir() and not report_dir.is_symlink() and not published:
        shutil.rmtree(report_dir, ignore_errors=True)
        removed.append(report_dir)
    if run_dir.is_dir() and not run_dir.is_symlink() and (not published or not _holds_products(run_dir)):
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed


def report_check_note(res: "NotebookResult", detail: bool = False) -> str:
    """One line for the run's index (kinds and counts) or, with ``detail``, the log (with the text found)."""
    n = len(res.report_problems)
    kinds: dict[str, int] = {}
    for problem in res.report_problems:
        kind = problem.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    summary = ", ".join(f"{k} × {v}" for k, v in kinds.items())
    text = (f"Report check: {res.report or res.name} shows {n} thing{'s' if n != 1 else ''} a report must not "
            f"({summary})")
    if detail:
        text += ": " + "; ".join(res.report_problems[:5]) + (f"; and {n - 5} more" if n > 5 else "")
    return text + "."


# ---------------------------------------------------------------------------------------------------
# products (for --only)


def _snapshot(run_dir: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for path in run_dir.rglob("*"):
        if path.is_file() and path.name != PRODUCTS_FILE:
            st = path.stat()
            out[path.relative_to(run_dir).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def _read_products(run_dir: Path) -> dict[str, list[str]] | None:
    try:
        data = json.loads((run_dir / PRODUCTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {str(k): [str(p) for p in v] for k, v in data.items()} if isinstance(data, dict) else None


def _write_products(run_dir: Path, products: Mapping[str, Iterable[str]]) -> None:
    tmp = run_dir / (PRODUCTS_FILE + ".tmp")
    tmp.write_text(json.dumps({k: sorted(set(v)) for k, v in products.items()}, indent=1), encoding="utf-8")
    tmp.replace(run_dir / PRODUCTS_FILE)


def copy_upstream(source_run_dir: Path, run_dir: Path, stages: Sequence[str]) -> dict[str, list[str]]:
    """Copy the products of ``stages`` from an earlier run's directory; returns stage -> copied files.

    Without a product list in the source (a run made by other means) its whole directory is copied.
    """
    products = _read_products(source_run_dir)
    copied: dict[str, list[str]] = {}
    if products is None:
        files = {"(all)": sorted(_snapshot(source_run_dir))}
    else:
        files = {stage: products.get(stage, []) for stage in stages}
    for stage, rels in files.items():
        for rel in rels:
            src = source_run_dir / rel
            if not src.is_file():
                continue
            dst = run_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied.setdefault(stage, []).append(rel)
    return copied


# ---------------------------------------------------------------------------------------------------
# versions and inputs


def package_versions() -> dict[str, Any]:
    """Python, ContentLab (version, git commit) and the key packages' versions."""
    from contentlab import __version__

    versions: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "contentlab": __version__,
        "git_commit": None,
        "git_dirty": None,
    }
    root = config.SOURCE_ROOT
    if (root / ".git").exists() and shutil.which("git"):
        try:
            commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                    text=True, timeout=10)
            if commit.returncode == 0:
                versions["git_commit"] = commit.stdout.strip() or None
                status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                        capture_output=True, text=True, timeout=20)
                if status.returncode == 0:
                    versions["git_dirty"] = bool(status.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    for key, dist in VERSIONED_PACKAGES.items():
        try:
            versions[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[key] = None
    return versions


def input_fingerprints(run_dir: Path) -> dict[str, Any]:
    """``contentlab.pipeline.input_fingerprints(run_dir)`` where the pipeline provides it, else ``{}``."""
    try:
        pipeline = importlib.import_module("contentlab.pipeline")
    except Exception as exc:  # noqa: BLE001 - a broken pipeline module must not lose the manifest
        return {"error": f"{type(exc).__name__}: {exc}"}
    func = getattr(pipeline, "input_fingerprints", None)
    if func is None:
        return {}
    try:
        return _jsonable(func(run_dir)) or {}
    except Exception as exc:  # noqa: BLE001
        return {"error": f"{type(exc).__name__}: {exc}"}


# ---------------------------------------------------------------------------------------------------
# progress


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Terminal progress: notebook i/n, cell i/n, elapsed.

    On a terminal one status line is redrawn every second; otherwise (CI, cron) plain lines are written:
    one when a notebook starts and ends, and one when a cell starts if nothing was written for
    ``interval`` seconds (plus a heartbeat while one cell runs long).
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool = True, interval: float = 15.0):
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = ""
        self._stage = ""
        self._cell: int | None = None
        self._n_cells = 0
        self._t0 = 0.0
        self._last_line = 0.0
        self.current_cell: int | None = None

    # lines -------------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K" + text + "\n")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
            self._last_line = time.monotonic()

    def _status(self) -> str:
        cell = f"cell {self._cell}/{self._n_cells}" if self._cell else "starting kernel"
        return f"{self._label} {self._stage}  {cell}  {_clock(time.monotonic() - self._t0)}"

    def note(self, text: str) -> None:
        if self.enabled:
            self._write(text)

    # notebook ------------------------------------------------------------------------------------
    def start(self, index: int, total: int, stage: str, n_cells: int) -> None:
        self._label, self._stage, self._n_cells = f"[{index}/{total}]", stage, n_cells
        self._cell = None
        self.current_cell = None
        self._t0 = time.monotonic()
        if not self.enabled:
            return
        self._write(f"{self._label} {stage}: running {n_cells} cells")
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, name="contentlab-progress", daemon=True)
        self._thread.start()

    def cell(self, number: int | None) -> None:
        if number is None:
            return
        self._cell = number
        self.current_cell = number
        if self.enabled and not self.tty and time.monotonic() - self._last_line >= self.interval:
            self._write(self._status())

    def end(self, status: str, duration: float | None = None, detail: str = "") -> None:
        if duration is None:
            duration = time.monotonic() - self._t0
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.enabled:
            extra = f" ({detail})" if detail else ""
            self._write(f"{self._label} {self._stage}: {status} in {_clock(duration)}{extra}")

    def _tick(self) -> None:
        heartbeat = max(60.0, self.interval)
        while not self._stop.wait(1.0):
            if self.tty:
                with self._lock:
                    self.stream.write("\r\x1b[K" + self._status())
                    self.stream.flush()
            elif time.monotonic() - self._last_line >= heartbeat:
                self._write(self._status() + " (still running)")


# ---------------------------------------------------------------------------------------------------
# executing one notebook


def _engine_with_progress(on_cell: Callable[[Any, int], None]):
    from papermill.engines import NBClientEngine

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            original = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index is not None:
                    on_cell(nb_man.nb, cell_index)
                return original(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return ProgressEngine


def _kernel_manager(log_path: Path):
    """A kernel manager whose kernel process writes its own stdout/stderr to ``log_path``, not the terminal."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            # The notebooks run in this interpreter's environment, whatever a "python3" kernelspec
            # elsewhere on the machine says.
            cmd = super().format_kernel_cmd(extra_arguments)
            if cmd and "ipykernel_launcher" in cmd and self.kernel_spec.language == "python":
                cmd[0] = sys.executable
            return cmd

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            handle = open(log_path, "ab")  # noqa: SIM115 - handed to the kernel process
            kw.setdefault("stdout", handle)
            kw.setdefault("stderr", handle)
            try:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                handle.close()  # the child process holds its own descriptor

    return LoggedKernelManager


_ENGINE = "contentlab-progress"


def _execute(nb_path: Path, out_path: Path, params: dict, cwd: Path, progress: Progress,
             cell_timeout: float | None, log_path: Path) -> None:
    """Execute one notebook with Papermill into ``out_path`` (raises on a failing cell)."""
    import papermill
    from papermill.engines import papermill_engines

    cache: dict[int, list[int | None]] = {}

    def on_cell(nb: Any, index: int) -> None:
        numbers = cache.get(len(nb.cells))
        if numbers is None:
            numbers = cache[len(nb.cells)] = own_cell_numbers(nb)
        progress.cell(numbers[index] if index < len(numbers) else None)

    papermill_engines.register(_ENGINE, _engine_with_progress(on_cell))
    papermill.execute_notebook(
        str(nb_path), str(out_path), parameters=params, engine_name=_ENGINE, kernel_name=KERNEL_NAME,
        progress_bar=False, log_output=False, cwd=str(cwd), request_save_on_cell_execute=True,
        execution_timeout=int(math.ceil(cell_timeout)) if cell_timeout else None, kernel_manager_class=_kernel_manager(log_path),
    )


# ---------------------------------------------------------------------------------------------------
# the run


@dataclass
class NotebookResult:
    name: str
    status: str = PENDING
    duration_s: float | None = None
    report: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    failure: CellFailure | None = None
    report_problems: list[str] = field(default_factory=list)  # what contentlab.report.lint_html found

    def manifest_entry(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status,
                "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
                "report": self.report, "metrics": self.metrics}


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    report_dir: Path
    manifest: dict[str, Any]
    notebooks: list[NotebookResult]
    failed: NotebookResult | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.interrupted

    @property
    def index(self) -> Path:
        return self.report_dir / "index.html"

    def failure_line(self) -> str | None:
        """``contentlab: 02_profiling failed at cell 7 (ValueError: ...); report: reports/.../02_profiling.html``."""
        if self.failed is None or self.failed.failure is None:
            return None
        f = self.failed.failure
        where = f"at cell {f.cell}" if f.cell is not None else "before its first cell"
        report = _display_path(self.report_dir / self.failed.report) if self.failed.report else "none"
        return f"contentlab: {self.failed.name} failed {where} ({f.message}); report: {report}"


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd().absolute()))
    except ValueError:
        return str(path)


def run_pipeline(
    profile: str | Path | Mapping[str, Any] = "demo",
    *,
    only: Sequence[str] | None = None,
    params: Mapping[str, Any] | Iterable[str] | None = None,
    notebooks_dir: str | Path | None = None,
    run_id: str | None = None,
    from_run: str | None = None,
    cell_timeout: float | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run the pipeline (or ``only`` some stages) and publish the run; see the module docstring.

    Raises :class:`RunError` (before creating anything) for a bad request. A failing notebook does not
    raise: the result's ``failed`` names it and :meth:`RunResult.failure_line` describes it.
    """
    progress = progress or Progress(enabled=False)
    prof = dict(profile) if isinstance(profile, Mapping) else load_profile(profile)
    if isinstance(params, Mapping):
        overrides = dict(params)
    else:
        overrides = parse_overrides(params or [])
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else config.NOTEBOOKS_DIR
    if not nb_dir.is_dir():
        raise RunError(f"notebooks directory not found: {nb_dir}")

    if only:
        requested = [s.strip() for item in only for s in str(item).split(",") if s.strip()]
        unknown = [s for s in requested if s not in STAGES]
        if unknown:
            raise RunError(f"--only: unknown stage(s) {', '.join(unknown)}; stages are {', '.join(STAGES)}")
        selected = [s for s in STAGES if s in requested]
        missing = [s for s in selected if not (nb_dir / f"{s}.ipynb").is_file()]
        if missing:
            raise RunError(f"--only: no notebook for {', '.join(missing)} in {nb_dir}")
    else:
        selected = list(STAGES)
        if from_run is not None:
            raise RunError("--from-run needs --only (it supplies the products of the stages that do not run)")
    present = [s for s in selected if (nb_dir / f"{s}.ipynb").is_file()]
    if not present:
        raise RunError(f"no stage notebooks ({', '.join(f'{s}.ipynb' for s in selected)}) in {nb_dir}")

    declared = {s: notebook_parameters(nb_dir / f"{s}.ipynb") for s in present}

    upstream: list[str] = []
    source_run: str | None = None
    if only:
        last = max(STAGES.index(s) for s in selected)
        upstream = [s for s in STAGES[:last] if s not in selected]
        if from_run is not None:
            if not _RUN_ID_OK.match(from_run) or not (config.processed_dir() / from_run).is_dir():
                raise RunError(f"--from-run {from_run}: no such run in {config.processed_dir()}")
            source_run = from_run
        elif upstream:
            source_run = latest_run(profile=prof["name"], successful=True)

    now = _utcnow()
    # validate every parameter before creating anything
    probe = config.processed_dir() / "<run>"
    probed = resolve_parameters(prof, overrides, declared, probe, config.reports_dir() / "<run>")
    for values in probed.values():  # the dataset spec too: a misspelt key fails now, not in stage 01
        if "dataset" in values:
            try:
                check_dataset_spec(values["dataset"])
            except ValueError as exc:
                raise RunError(f"profile {prof['name']}: {exc}") from None
            break

    run_id, run_dir, report_dir = _allocate(prof["name"], run_id, now)
    try:
        with _running(report_dir):
            return _run_allocated(prof, overrides, declared, selected, present, upstream, source_run, nb_dir, run_id,
                                  run_dir, report_dir, now, cell_timeout, progress)
    finally:
        prune_empty_run(run_id)


def _run_allocated(prof: Mapping[str, Any], overrides: dict[str, Any], declared: Mapping[str, Mapping[str, Any]],
                   selected: Sequence[str], present: Sequence[str], upstream: Sequence[str], source_run: str | None,
                   nb_dir: Path, run_id: str, run_dir: Path, report_dir: Path, now: _dt.datetime,
                   cell_timeout: float | None, progress: Progress) -> RunResult:
    parameters = resolve_parameters(prof, overrides, declared, run_dir, report_dir)
    run_date = now.strftime("%Y-%m-%d %H:%M:%S UTC")

    notes: list[str] = []
    products: dict[str, list[str]] = {}
    if upstream:
        if source_run is not None:
            copied = copy_upstream(config.processed_dir() / source_run, run_dir, upstream)
            products.update({k: v for k, v in copied.items() if k in STAGES})
            n_files = sum(len(v) for v in copied.values())
            notes.append(f"Products of {', '.join(upstream)} copied from run {source_run} "
                         f"({n_files} file{'' if n_files == 1 else 's'}).")
        else:
            notes.append(f"No earlier successful run of profile {prof['name']}: products of "
                         f"{', '.join(upstream)} are not available to this run.")
        progress.note(notes[-1])

    results = [NotebookResult(name=s, status=PENDING if s in present else MISSING) for s in selected]
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "profile": prof["name"],
        "parameters": {
            "profile": {k: v for k, v in prof.items()},
            "overrides": overrides,
            "notebooks": parameters,
        },
        "versions": package_versions(),
        "inputs": {},
        "notebooks": [],
    }
    result = RunResult(run_id=run_id, run_dir=run_dir, report_dir=report_dir, manifest=manifest, notebooks=results)

    def publish() -> None:
        manifest["notebooks"] = [r.manifest_entry() for r in results]
        data = json.dumps(_jsonable(manifest), indent=2, ensure_ascii=False)
        tmp = report_dir / "manifest.json.tmp"
        tmp.write_text(data + "\n", encoding="utf-8")
        tmp.replace(report_dir / "manifest.json")
        write_index(report_dir, manifest, run_date=run_date,
                    titles={r.name: r.title for r in results if r.title},
                    failures={r.name: r.failure for r in results if r.failure is not None},
                    notes=notes + [report_check_note(r) for r in results if r.report_problems])

    progress.note(f"contentlab run {run_id} (profile {prof['name']}): {_display_path(report_dir)}")
    for r in results:
        if r.status == MISSING:
            progress.note(f"  {r.name}: no notebook {r.name}.ipynb in {_display_path(nb_dir)}, skipped")
    publish()

    to_run = [r for r in results if r.status == PENDING]
    try:
        for position, res in enumerate(to_run, start=1):
            _run_one(res, position, len(to_run), nb_dir, run_dir, report_dir, parameters[res.name], prof,
                     run_id, run_date, cell_timeout, progress, products, publish)
            if not manifest["inputs"] or "error" in manifest["inputs"]:
                manifest["inputs"] = input_fingerprints(run_dir)
            publish()
            if res.status not in (OK, SKIPPED):
                result.failed = res
                break
    except KeyboardInterrupt:
        result.interrupted = True
        progress.end("interrupted")
        for r in results:
            if r.status == RUNNING:
                r.status = FAILED
                r.failure = CellFailure("Interrupted", "the run was stopped (Ctrl-C or SIGTERM) while this "
                                        "notebook was running", cell=progress.current_cell)
                result.failed = r
                _export_partial(r, report_dir, nb_dir, parameters[r.name], prof, run_id, run_date)
    finally:
        for r in results:
            if r.status in (PENDING, RUNNING):
                r.status = NOT_RUN
        publish()
        point_latest(run_id)
        try:
            write_runs_index()
        except Exception as exc:  # noqa: BLE001 - a convenience page; never fails a run
            progress.note(f"reports/index.html not updated: {type(exc).__name__}: {exc}")
    return result


def _report_header(stage: str, params: Mapping[str, Any], prof: Mapping[str, Any], run_id: str, run_date: str,
                   title: str | None) -> ReportHeader:
    shown = {k: v for k, v in params.items() if k not in ("run_dir", "report_dir")}
    return ReportHeader(stage=stage, run_id=run_id, profile=str(prof["name"]), run_date=run_date,
                        parameters=shown, title=title)


def _export_partial(res: NotebookResult, report_dir: Path, nb_dir: Path, params: Mapping[str, Any],
                    prof: Mapping[str, Any], run_id: str, run_date: str) -> None:
    """Best-effort report of a notebook whose execution was cut short (what ran so far)."""
    import nbformat

    for path in (report_dir / f"{res.name}.ipynb", nb_dir / f"{res.name}.ipynb"):
        try:
            nb = nbformat.read(str(path), as_version=4)
            break
        except (OSError, ValueError):
            continue
    else:
        return
    try:
        export_html(nb, report_dir / f"{res.name}.html",
                    _report_header(res.name, params, prof, run_id, run_date, res.title), res.failure,
                    resources_path=nb_dir)
        res.report = f"{res.name}.html"
        res.metrics = recorded_metrics(nb)
    except Exception:  # noqa: BLE001 - interrupted anyway; the manifest records the state
        pass


def _run_one(res: NotebookResult, position: int, total: int, nb_dir: Path, run_dir: Path, report_dir: Path,
             params: dict[str, Any], prof: Mapping[str, Any], run_id: str, run_date: str,
             cell_timeout: float | None, progress: Progress, products: dict[str, list[str]],
             publish: Callable[[], None]) -> None:
    import nbformat

    stage = res.name
    nb_path = nb_dir / f"{stage}.ipynb"
    out_nb = report_dir / f"{stage}.ipynb"
    out_html = report_dir / f"{stage}.html"
    log_path = report_dir / f"{stage}.kernel.log"
    source_nb = nbformat.read(str(nb_path), as_version=4)
    res.title = notebook_title(source_nb)
    res.status = RUNNING
    publish()
    before = _snapshot(run_dir)
    progress.start(position, total, stage, len(source_nb.cells))
    t0 = time.monotonic()
    error: BaseException | None = None
    try:
        _execute(nb_path, out_nb, params, run_dir, progress, cell_timeout, log_path)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the run stops
        error = exc
    finally:
        res.duration_s = time.monotonic() - t0
        after = _snapshot(run_dir)
        changed = [rel for rel, sig in after.items() if before.get(rel) != sig]
        if changed:
            products[stage] = sorted(set(products.get(stage, [])) | set(changed))
        _write_products(run_dir, products)
        if log_path.exists() and (error is None or log_path.stat().st_size == 0):
            log_path.unlink()  # the kernel's own log matters only when something went wrong

    try:
        executed = nbformat.read(str(out_nb), as_version=4)
        res.metrics = recorded_metrics(executed)
    except (OSError, ValueError):  # not written (kernel never started) or cut short
        executed = source_nb
        res.metrics = {}
    if error is not None:
        failure = find_failure(executed)
        if failure is None:
            failure = CellFailure(ename=getattr(error, "ename", None) or type(error).__name__,
                                  evalue=str(getattr(error, "evalue", None) or error).strip(),
                                  cell=progress.current_cell, n_cells=len(source_nb.cells))
        if cell_timeout and failure.ename == "KeyboardInterrupt":
            # papermill interrupts the kernel when a cell exceeds the time limit
            failure.ename = "CellTimeout"
            failure.evalue = f"the cell ran longer than the {cell_timeout:g} s limit (--cell-timeout)"
        res.failure = failure
        res.status = SKIPPED if failure.skipped else FAILED
    else:
        res.status = OK
    detail = ""
    if res.failure is not None and res.failure.skipped:
        detail = f"not applicable: {res.failure.evalue}"
    elif res.failure is not None:
        where = f"cell {res.failure.cell}" if res.failure.cell is not None else "before the first cell"
        detail = f"{where}: {res.failure.message}"
    elif res.metrics:
        detail = f"{len(res.metrics)} metrics"
    progress.end(res.status, res.duration_s or 0.0, detail)
    header = _report_header(stage, params, prof, run_id, run_date, res.title)
    try:
        export_html(executed, out_html, header, res.failure, resources_path=nb_dir)
        res.report = out_html.name
        res.report_problems = lint_report(out_html)
        if res.report_problems:
            _log.warning(report_check_note(res, detail=True))
    except Exception as exc:  # noqa: BLE001 - the run must still be published
        res.report = None
        if res.failure is None:
            res.status = FAILED
            res.failure = CellFailure(type(exc).__name__, f"HTML export failed: {exc}")
        progress.note(f"{stage}: HTML export failed: {type(exc).__name__}: {exc}")
