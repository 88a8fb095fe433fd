"""Provenance: what a run was made of, and the manifest that records it.

``manifest.json`` (one per run, rewritten after every notebook so a crash leaves a consistent record)::

    {"run_id": ..., "profile": ...,
     "engine": "duckdb" | "spark", ["spark_master": ..., "spark_version": ...,]   # contentlab.engine
     "parameters": {"profile": {...}, "overrides": {...}, "notebooks": {stage: {name: value}}},
     "versions": {"python": ..., "contentlab": ..., "git_commit": ..., "pandas": ..., ...},
     "inputs": {input file: sha256[:16]},           # the files the run's data came from (contentlab.pipeline)
     "notebooks": [{"name", "status", "duration_s", "report", "metrics"[, "reused_from"]}, ...]}

A stage's *fingerprint* (:func:`stage_fingerprint`) is what ``--incremental`` compares: the content hashes of the
products it reads (its contract inputs), its resolved parameters (the run's own paths left out) and the code
version (every file of the ``contentlab`` package but the profiles, plus the stage's notebook).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contentlab import config, contract, serial
from contentlab.data.io import file_fingerprint
from contentlab.engine import engine_provenance
from contentlab.pipeline import input_fingerprints as pipeline_input_fingerprints

# Versions recorded in the manifest: key -> distribution name.
VERSIONED_PACKAGES = {
    "pandas": "pandas", "numpy": "numpy", "pyarrow": "pyarrow", "duckdb": "duckdb", "scipy": "scipy",
    "scikit-learn": "scikit-learn", "statsmodels": "statsmodels", "surprise": "scikit-surprise",
    "lifetimes": "lifetimes", "mlxtend": "mlxtend", "torch": "torch", "transformers": "transformers",
    "tokenizers": "tokenizers", "matplotlib": "matplotlib", "seaborn": "seaborn", "papermill": "papermill",
    "nbconvert": "nbconvert", "nbclient": "nbclient", "ipykernel": "ipykernel", "pyspark": "pyspark",
    "sqlglot": "sqlglot",
}
# parameters that name this run's directories: not part of what a stage computes
RUN_PATH_PARAMETERS = ("run_dir", "report_dir", "inputs")
# package files that do not change what a stage computes (the profiles' values reach it as parameters)
_NOT_CODE = ("profiles",)


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
    """``{input file: sha256[:16]}`` of the files the run's data came from ({} before data preparation); an
    unreadable record reads ``{"error": ...}`` (the manifest is written all the same)."""
    try:
        return serial.jsonable(pipeline_input_fingerprints(run_dir)) or {}
    except (OSError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def new_manifest(run_id: str, profile: Mapping[str, Any], overrides: Mapping[str, Any],
                 parameters: Mapping[str, Mapping[str, Any]], engine: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "profile": profile["name"],
        **engine_provenance(engine if engine is not None else profile.get("engine")),
        "parameters": {"profile": dict(profile), "overrides": dict(overrides), "notebooks": dict(parameters)},
        "versions": package_versions(),
        "inputs": {},
        "notebooks": [],
    }


def write_manifest(report_dir: Path, manifest: Mapping[str, Any]) -> Path:
    return serial.write_json(Path(report_dir) / "manifest.json", manifest)


# ---------------------------------------------------------------------------------------------------
# fingerprints


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_fingerprint(path: Path, skip: tuple[str, ...] = ()) -> str:
    """SHA-256 of a file's bytes, or of a directory's files (relative paths and bytes, in sorted order)."""
    path = Path(path)
    if path.is_file():
        return _sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if "__pycache__" in rel.parts or f.suffix == ".pyc" or (rel.parts and rel.parts[0] in skip):
            continue
        h.update(rel.as_posix().encode("utf-8") + b"\0" + _sha256_file(f).encode("ascii") + b"\n")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """The code version of the ``contentlab`` package: every file of it (modules, templates, resources)."""
    return tree_fingerprint(config.PACKAGE_DIR, skip=_NOT_CODE)


def stage_fingerprint(stage: str, notebook: Path, parameters: Mapping[str, Any], inputs: Mapping[str, str | None],
                      ) -> dict[str, Any]:
    """What a stage's results depend on: code, parameters and the content of the products it reads.

    The previous cycle's products (``previous_*``, e.g. 04's feedback priors) are left out: every cycle brings new
    ones, so counting them would mean no stage downstream of a feedback loop is ever reused; a reused stage keeps
    the mix the run it comes from computed (docs/architecture.md, "Incremental runs").
    """
    reads = contract.stage(stage).reads
    return {
        "code": {"package": package_fingerprint(), "notebook": tree_fingerprint(notebook)},
        "parameters": {k: v for k, v in parameters.items() if k not in RUN_PATH_PARAMETERS},
        "inputs": {name: tree_fingerprint(Path(path)) if path else None
                   for name, path in inputs.items() if name in reads},
    }


def fingerprint_key(fingerprint: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(serial.jsonable(fingerprint), sort_keys=True).encode("utf-8")).hexdigest()


def external_inputs(stage: str, run_dir: Path) -> dict[str, str]:
    """Files outside the run a stage read, with their fingerprints: for the stage that prepares the data, the raw
    dataset files its ``dataset.json`` lists; ``{}`` for the others (they read only products)."""
    if "dataset" not in contract.stage(stage).products:
        return {}
    found = input_fingerprints(run_dir)
    return {} if "error" in found else {str(k): str(v) for k, v in found.items()}


def external_inputs_unchanged(external: Mapping[str, str]) -> bool:
    """Whether every file in ``external`` (paths relative to the project home, or absolute) still has its
    fingerprint."""
    root = config.project_root()
    for rel, digest in external.items():
        path = root / rel
        try:
            if file_fingerprint(path) != digest:
                return False
        except OSError:
            return False
    return True
