"""Publishing a run: each notebook's HTML report (:func:`contentlab.report.export_html`, checked with
:func:`contentlab.report.lint_report`), the run's ``index.html`` and ``manifest.json``, rewritten after every
notebook so a crash leaves a consistent index."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from contentlab.notebook import recorded_metrics
from contentlab.report import (
    CellFailure,
    ReportHeader,
    export_html,
    find_failure,
    lint_report,
    notebook_title,
    retarget_report,
    write_index,
)
from contentlab.run import executive, provenance
from contentlab.run.context import RunContext
from contentlab.run.results import FAILED, NotebookResult
from contentlab.serial import write_text_atomic

_log = logging.getLogger(__name__)
HIDDEN_PARAMETERS = ("run_dir", "report_dir", "inputs")  # machine paths: not shown in a report's header


def report_check_note(res: NotebookResult, detail: bool = False) -> str:
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


def publish_run(ctx: RunContext) -> None:
    """Write the run's ``manifest.json`` and ``index.html`` as they stand."""
    ctx.manifest["notebooks"] = [r.manifest_entry() for r in ctx.results]
    provenance.write_manifest(ctx.report_dir, ctx.manifest)
    write_index(ctx.report_dir, ctx.manifest, run_date=ctx.run_date,
                titles={r.name: r.title for r in ctx.results if r.title},
                failures={r.name: r.failure for r in ctx.results if r.failure is not None},
                notes=ctx.notes + [report_check_note(r) for r in ctx.results if r.report_problems],
                executive=executive.as_rows(executive.findings(ctx.manifest, ctx.run_dir)),
                chart=executive.segment_chart(ctx.run_dir))


def report_header(ctx: RunContext, res: NotebookResult) -> ReportHeader:
    params = ctx.parameters.get(res.name, {})
    shown = {k: v for k, v in params.items() if k not in HIDDEN_PARAMETERS}
    return ReportHeader(stage=res.name, run_id=ctx.run_id, profile=ctx.profile_name, run_date=ctx.run_date,
                        parameters=shown, title=res.title)


def export_report(ctx: RunContext, res: NotebookResult, executed: Any) -> None:
    """Write ``<stage>.html`` from the executed notebook and check it; an export that fails fails the stage."""
    out_html = ctx.report_dir / f"{res.name}.html"
    try:
        export_html(executed, out_html, report_header(ctx, res), res.failure, resources_path=ctx.notebooks_dir)
        res.report = out_html.name
        _check(res, out_html)
    except Exception as exc:
        res.report = None
        if res.failure is None:
            res.status = FAILED
            res.failure = CellFailure(type(exc).__name__, f"HTML export failed: {exc}")
        ctx.progress.note(f"{res.name}: HTML export failed: {type(exc).__name__}: {exc}")


def export_partial(ctx: RunContext, res: NotebookResult) -> None:
    """Best-effort report of a notebook whose execution was cut short (what ran so far)."""
    import nbformat

    for path in (ctx.report_dir / f"{res.name}.ipynb", ctx.notebook(res.name)):
        try:
            nb = nbformat.read(str(path), as_version=4)
            break
        except (OSError, ValueError):
            continue
    else:
        return
    try:
        export_html(nb, ctx.report_dir / f"{res.name}.html", report_header(ctx, res), res.failure,
                    resources_path=ctx.notebooks_dir)
        res.report = f"{res.name}.html"
        res.metrics = recorded_metrics(nb)
    except Exception:
        pass


def publish_reused_report(ctx: RunContext, res: NotebookResult, source_report_dir: Path, origin: str) -> None:
    """Copy the executed notebook and report of a stage executed in run ``origin`` (found in
    ``source_report_dir``) into this run; the report's header names this run and says where it comes from.
    Fills the result's title, metrics and (for a stage that skipped itself) its reason from the executed notebook.
    """
    import nbformat

    stage = res.name
    shutil.copy2(source_report_dir / f"{stage}.ipynb", ctx.report_dir / f"{stage}.ipynb")
    executed = nbformat.read(str(ctx.report_dir / f"{stage}.ipynb"), as_version=4)
    text = (source_report_dir / f"{stage}.html").read_text(encoding="utf-8")
    out_html = ctx.report_dir / f"{stage}.html"
    write_text_atomic(out_html, retarget_report(text, ctx.run_id, origin))
    res.title = notebook_title(executed)
    res.metrics = recorded_metrics(executed)
    res.failure = find_failure(executed)
    res.report = out_html.name
    _check(res, out_html)


def _check(res: NotebookResult, path: Path) -> None:
    res.report_problems = lint_report(path)
    if res.report_problems:
        _log.warning(report_check_note(res, detail=True))
