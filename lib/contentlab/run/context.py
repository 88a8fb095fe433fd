"""Everything one run carries from stage to stage: :class:`RunContext`."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contentlab import contract
from contentlab.run import registry
from contentlab.run.progress import Progress
from contentlab.run.results import NotebookResult

# files of a report directory that the runner writes itself (a stage's own extra reports are the others)
RUNNER_REPORT_FILES = ("manifest.json", "index.html", registry.RUNNING_FILE)


@dataclass
class RunContext:
    """One run: the request (profile, overrides, stages), where it lives, and its state as it goes."""

    profile: Mapping[str, Any]
    overrides: dict[str, Any]
    declared: Mapping[str, Mapping[str, Any]]  # stage -> parameters its notebook declares
    selected: list[str]  # the stages asked for, in pipeline order
    notebooks_dir: Path
    run_id: str
    run_dir: Path
    report_dir: Path
    started: _dt.datetime
    progress: Progress
    upstream: list[str] = field(default_factory=list)  # stages not run whose products come from source_run
    source_run: str | None = None
    cell_timeout: float | None = None
    incremental: bool = False
    previous_run: str | None = None  # the previous cycle's run id ("-": none; None: found through the registry)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> resolved parameters
    notes: list[str] = field(default_factory=list)  # shown under the run's index table
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> what it wrote, its fingerprint
    manifest: dict[str, Any] = field(default_factory=dict)
    results: list[NotebookResult] = field(default_factory=list)

    @property
    def profile_name(self) -> str:
        return str(self.profile["name"])

    @property
    def run_date(self) -> str:
        return self.started.strftime("%Y-%m-%d %H:%M:%S UTC")

    def notebook(self, stage: str) -> Path:
        return self.notebooks_dir / contract.stage(stage).notebook

    def previous_run_dir(self, stage: str) -> Path | None:
        """The previous cycle's run directory for a stage that reads one (``None`` otherwise or on the first)."""
        wanted = contract.stage(stage).previous
        if not wanted or self.previous_run == "-":
            return None
        if self.previous_run is not None:
            run_dir = registry.run_dir_of(self.previous_run)
            return run_dir if all(contract.product(n).exists(run_dir) for n in wanted) else None
        return registry.previous_run(self.profile_name, before=self.run_id,
                                     has=[contract.product(name) for name in wanted])

    def runner_report_files(self) -> list[str]:
        own = [f"{s}{suffix}" for s in contract.STAGE_NAMES for suffix in (".ipynb", ".html", ".kernel.log")]
        return [*RUNNER_REPORT_FILES, *own]
