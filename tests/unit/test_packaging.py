"""The project's own files: dependency declarations agree, notebooks are clean, outputs stay out of git."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _normalise(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", req)
    assert m, req
    name = re.sub(r"[-_.]+", "-", m.group(1).lower())
    return name, m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    """environment.yml installs what pyproject.toml declares, its extras (the spark engine) included."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert conda_python == ["python=3.11"]
    env_reqs = dict(_normalise(r) for r in pip_section if not r.startswith("-"))
    py_reqs = dict(_normalise(r) for r in deps)
    assert env_reqs == py_reqs, {
        "only in pyproject": sorted(set(py_reqs.items()) - set(env_reqs.items())),
        "only in environment.yml": sorted(set(env_reqs.items()) - set(py_reqs.items())),
    }


LOCK = REPO / "requirements" / "lock.txt"


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version and ";" not in version, f"lock line is not an exact pin: {line!r}"
        pins[_normalise(name)[0]] = version
    return pins


def test_lock_pins_every_declared_dependency_within_its_range():
    from packaging.specifiers import SpecifierSet

    pins = _lock()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    for req in deps:
        name, spec = _normalise(req)
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned in requirements/lock.txt"
        assert SpecifierSet(spec).contains(pins[name], prereleases=True), (name, spec, pins[name])
    for tool in ("pip", "setuptools", "wheel"):
        assert tool in pins, f"the lock pins the installer too: {tool} missing"


def test_setup_and_environment_install_from_the_lock():
    make = (REPO / "Makefile").read_text()
    assert make.count("-c $(LOCK)") >= 3 and "LOCK   := requirements/lock.txt" in make
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-c requirements/lock.txt" in pip_section


def _in_project_venv() -> bool:
    return Path(sys.prefix).resolve() == (REPO / ".venv").resolve()


@pytest.mark.skipif(not _in_project_venv(), reason="checks the environment `make setup` built (.venv)")
def test_lock_is_complete_for_the_installed_environment():
    """Every distribution installed in .venv is in the lock at exactly that version (local build tags such as
    torch's +cpu aside): nothing the project needs is resolved freshly on another day."""
    from importlib import metadata

    pins = _lock()
    missing, differ = [], []
    for dist in metadata.distributions():
        name = _normalise(dist.metadata["Name"])[0]
        if name == "contentlab":
            continue
        version = dist.version.split("+")[0]
        if name not in pins:
            missing.append(f"{name}=={dist.version}")
        elif pins[name] != version:
            differ.append(f"{name}: installed {dist.version}, lock {pins[name]}")
    assert not missing and not differ, {"not in the lock": missing, "other version": differ}


def test_torch_is_pinned_to_the_cpu_build():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_are_committed_without_outputs_and_have_a_parameters_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "".join(first_md["source"]).lstrip().startswith("# "), f"{path.name} opens with an H1 title"


def test_every_stage_has_its_notebook():
    from contentlab.pipeline import STAGES

    assert [p.stem for p in NOTEBOOKS] == list(STAGES)


def test_data_and_reports_are_ignored_by_git():
    probe = ["data/raw/x.parquet", "data/processed/run/x.parquet", "data/models/m.pt", "data/interim/salt",
             "reports/run/index.html", "reports/latest"]
    out = subprocess.run(["git", "check-ignore", *probe], cwd=REPO, capture_output=True, text=True)
    assert sorted(out.stdout.split()) == sorted(probe)
    kept = subprocess.run(["git", "check-ignore", "data/raw/README.md", "reports/README.md"], cwd=REPO,
                          capture_output=True, text=True)
    assert kept.stdout.strip() == ""
