"""The one place that knows where things live.

Layout (cookiecutter-data-science):

- ``data/raw/``        inputs; never modified by the code (simulated demo data is written once, then read-only)
- ``data/interim/``    caches that can be thrown away (e.g. the pseudonymisation salt)
- ``data/processed/<run_id>/``  intermediate artifacts of one pipeline run
- ``data/models/``     trained model checkpoints, keyed by data fingerprint + config
- ``reports/<run_id>/`` executed notebooks, HTML reports, ``index.html``, ``manifest.json``

Every path can be moved with the environment variable ``CONTENTLAB_HOME`` (the project root),
which the tests use to run the whole pipeline inside a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent.parent  # the repository checkout (lib/contentlab -> repo)
NOTEBOOKS_DIR = SOURCE_ROOT / "notebooks"
PROFILES_DIR = PACKAGE_DIR / "profiles"
RESOURCES_DIR = PACKAGE_DIR / "resources"


def project_root() -> Path:
    """Root under which data/ and reports/ live (``CONTENTLAB_HOME`` or the checkout)."""
    env = os.environ.get("CONTENTLAB_HOME")
    return Path(env).resolve() if env else SOURCE_ROOT


def data_dir() -> Path:
    return project_root() / "data"


def raw_dir() -> Path:
    return data_dir() / "raw"


def interim_dir() -> Path:
    return data_dir() / "interim"


def processed_dir() -> Path:
    return data_dir() / "processed"


def models_dir() -> Path:
    return data_dir() / "models"


def reports_dir() -> Path:
    return project_root() / "reports"


def ensure_dirs() -> None:
    for d in (raw_dir(), interim_dir(), processed_dir(), models_dir(), reports_dir()):
        d.mkdir(parents=True, exist_ok=True)


def stage_run_dir(run_dir: str | Path | None, stage: str, label: str = "") -> Path:
    """The run directory a stage works in: ``run_dir`` as given, or (a notebook opened by hand without one) a fresh
    scratch directory (:func:`scratch_run_dir`)."""
    return Path(run_dir) if run_dir else scratch_run_dir(stage, label)


def scratch_run_dir(stage: str, label: str = "") -> Path:
    """A fresh run directory under ``data/processed`` for a stage notebook opened by hand (no ``run_dir`` given):
    ``scratch-<stage>[-<label>]-<random>``. ``contentlab clean`` leaves scratch folders alone."""
    import tempfile

    ensure_dirs()
    prefix = f"scratch-{stage}-" + (f"{label}-" if label else "")
    return Path(tempfile.mkdtemp(prefix=prefix, dir=processed_dir()))
