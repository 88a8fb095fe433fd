"""Shared fixtures.

Tests live in ``tests/unit/`` and ``tests/pipeline/``; this folder (``realdata``: writers of real public formats) and
``tests/unit/`` (the seeded data writers of the unit tests, e.g. ``test_recommend_data.write_movielens_u_data``)
are importable from both.

``tiny_run`` runs the whole pipeline once per test session on the ``tiny`` profile in a temporary
project home (``CONTENTLAB_HOME``), through the real command line, and hands every stage's tests the
manifest and the directories. With pytest-xdist the workers share one run (file lock + cache).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(Path(__file__).resolve().parent / "unit"))


@dataclass
class PipelineRun:
    home: Path
    run_id: str
    manifest: dict
    returncode: int
    stdout: str
    stderr: str

    @property
    def report_dir(self) -> Path:
        return self.home / "reports" / self.run_id

    @property
    def run_dir(self) -> Path:
        return self.home / "data" / "processed" / self.run_id

    def notebook(self, name: str) -> dict:
        for nb in self.manifest["notebooks"]:
            if nb["name"] == name:
                return nb
        raise KeyError(f"{name} not in manifest: {[n['name'] for n in self.manifest['notebooks']]}")

    def metrics(self, name: str) -> dict:
        return self.notebook(name)["metrics"]


def run_cli(args: list[str], home: Path, timeout: int = 1200) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONTENTLAB_HOME=str(home), CONTENTLAB_SALT="test-salt", PYTHONHASHSEED="0")
    return subprocess.run(
        [sys.executable, "-m", "contentlab", *args],
        cwd=str(REPO), env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, worker_id) -> PipelineRun:
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # shared by all xdist workers of this session
    home = root / "tiny_home"
    done = root / "tiny_run.json"
    with FileLock(str(root / "tiny_run.lock")):
        if not done.exists():
            home.mkdir(parents=True, exist_ok=True)
            proc = run_cli(["run", "--profile", "tiny"], home)
            manifest_path = home / "reports" / "latest" / "manifest.json"
            manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
            done.write_text(json.dumps({
                "run_id": manifest.get("run_id", ""), "manifest": manifest,
                "returncode": proc.returncode, "stdout": proc.stdout[-20000:], "stderr": proc.stderr[-20000:],
            }))
        info = json.loads(done.read_text())
    run = PipelineRun(home=home, run_id=info["run_id"], manifest=info["manifest"], returncode=info["returncode"],
                      stdout=info["stdout"], stderr=info["stderr"])
    assert run.returncode == 0, f"tiny pipeline failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    return run


def assert_recorded_metrics(metrics: dict, expected: dict, shares: set, rel: float, abs_: float) -> None:
    """A stage's recorded metrics equal ``expected``: the same names in the same order; text, flags and mappings
    exactly, shares (``shares``) within ``abs_``, counts and amounts within ``rel``."""
    assert list(metrics) == list(expected), "the recorded metric names (or their order) changed"
    for name, value in expected.items():
        if isinstance(value, (str, bool, dict)) or value is None:
            assert metrics[name] == value, name
        elif name in shares:
            assert metrics[name] == pytest.approx(value, abs=abs_), name
        else:
            assert metrics[name] == pytest.approx(value, rel=rel), name


def assert_sections_in_order(page: str, sections: list[str], report: str,
                             heading: str = r"<h[1-6][^>]*>\s*{}") -> None:
    """Every section heading is in the report ``page``, in the order given (the summary moved to the top first);
    ``heading`` is the pattern of one heading, ``{}`` standing for the escaped section title."""
    positions = []
    for section in sections:
        m = re.search(heading.format(re.escape(section)), page)
        assert m, f"section {section!r} missing from the {report} report"
        positions.append(m.start())
    assert positions == sorted(positions), "summary first, then the sections in notebook order"


def comparable_manifest(manifest: dict, home: Path | None = None) -> dict:
    """A manifest without what differs between two runs of the same work: run ids, timings, ``reused_from`` (and
    the project home, for a run in a copy of it)."""
    text = json.dumps(manifest)
    if home is not None:
        text = text.replace(str(home), "HOME")
    for run_id in set(re.findall(r"\d{8}T\d{6}-[A-Za-z0-9_]+(?:-\d+)?", text)):
        text = text.replace(run_id, "RUN")
    out = json.loads(text)
    for nb in out["notebooks"]:
        nb.pop("duration_s")
        nb.pop("reused_from", None)
    return out

