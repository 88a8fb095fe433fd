"""What a run reports: the statuses a notebook can have, its result, the run's result, and :class:`RunError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contentlab.fmt import display_path
from contentlab.report import CellFailure

OK, FAILED, NOT_RUN, PENDING, RUNNING, MISSING = "ok", "failed", "not run", "pending", "running", "missing"
SKIPPED = "skipped"  # the notebook called contentlab.skip_stage(reason): its stage does not apply to the data
DONE = (OK, SKIPPED)  # a stage that finished: its products (if any) are there for the next ones


class RunError(Exception):
    """The request cannot run (profile, options, parameters); nothing was executed."""


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
    reused_from: str | None = None  # --incremental: the run whose execution of this stage was reused

    def manifest_entry(self) -> dict[str, Any]:
        entry = {"name": self.name, "status": self.status,
                 "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
                 "report": self.report, "metrics": self.metrics}
        if self.reused_from is not None:
            entry["reused_from"] = self.reused_from
        return entry


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
        report = display_path(self.report_dir / self.failed.report) if self.failed.report else "none"
        return f"contentlab: {self.failed.name} failed {where} ({f.message}); report: {report}"

