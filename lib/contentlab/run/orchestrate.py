"""Running the pipeline: check the request, allocate the run, then for each stage resolve its inputs through the
contract, reuse it (``--incremental``) or execute its notebook, and publish the run after every step."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from contentlab import config, contract
from contentlab.fmt import display_path
from contentlab.notebook import recorded_metrics
from contentlab.pipeline import check_dataset_spec
from contentlab.report import CellFailure, find_failure, notebook_title
from contentlab.run import incremental, provenance, publish, registry
from contentlab.run.config import (
    INPUTS,
    load_profile,
    notebook_parameters,
    parse_overrides,
    resolve_engine,
    resolve_parameters,
)
from contentlab.run.context import RunContext
from contentlab.run.execute import execute_notebook
from contentlab.run.products import copy_upstream, snapshot, written
from contentlab.run.progress import Progress
from contentlab.run.results import (
    DONE,
    FAILED,
    MISSING,
    NOT_RUN,
    OK,
    PENDING,
    RUNNING,
    SKIPPED,
    NotebookResult,
    RunError,
    RunResult,
)

STAGES = contract.STAGE_NAMES


NO_PREVIOUS = "-"
"""``previous_run`` of a run that has no previous cycle (it reads no earlier feedback priors)."""


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
    incremental: bool = False,
    previous_run: str | None = None,
) -> RunResult:
    """Run the pipeline (or ``only`` some stages) and publish the run (:mod:`contentlab.run`).

    ``previous_run``: the run whose products the previous-cycle inputs come from (``previous_feedback_priors``);
    ``None``: the newest earlier successful run of the profile that has them; :data:`NO_PREVIOUS`: none (a first
    cycle).

    Raises :class:`RunError` (before creating anything) for a bad request. A failing notebook does not
    raise: the result's ``failed`` names it and :meth:`RunResult.failure_line` describes it.
    """
    progress = progress or Progress(enabled=False)
    prof = dict(profile) if isinstance(profile, Mapping) else load_profile(profile)
    overrides = dict(params) if isinstance(params, Mapping) else parse_overrides(params or [])
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else config.NOTEBOOKS_DIR
    if not nb_dir.is_dir():
        raise RunError(f"notebooks directory not found: {nb_dir}")

    selected = _select(only, from_run, nb_dir)
    present = [s for s in selected if (nb_dir / contract.stage(s).notebook).is_file()]
    if not present:
        raise RunError(f"no stage notebooks ({', '.join(contract.stage(s).notebook for s in selected)}) in {nb_dir}")
    declared = {s: notebook_parameters(nb_dir / contract.stage(s).notebook) for s in present}

    upstream: list[str] = []
    source_run: str | None = None
    if only:
        last = max(STAGES.index(s) for s in selected)
        upstream = [s for s in STAGES[:last] if s not in selected]
        if from_run is not None:
            if not registry.RUN_ID_OK.match(from_run) or not registry.run_dir_of(from_run).is_dir():
                raise RunError(f"--from-run {from_run}: no such run in {config.processed_dir()}")
            source_run = from_run
        elif upstream:
            source_run = registry.latest_run(profile=prof["name"], successful=True)

    # validate every parameter before creating anything
    resolve_engine(prof, overrides)  # an unknown engine or a malformed Spark master fails now
    probed = resolve_parameters(prof, overrides, declared, config.processed_dir() / "<run>",
                                config.reports_dir() / "<run>")
    for values in probed.values():  # the dataset spec too: a misspelt key fails now, not in stage 01
        if "dataset" in values:
            try:
                check_dataset_spec(values["dataset"])
            except ValueError as exc:
                raise RunError(f"profile {prof['name']}: {exc}") from None
            break
    if only:
        _check_upstream(present, source_run, from_run, prof["name"])
    if previous_run not in (None, NO_PREVIOUS) and (not registry.RUN_ID_OK.match(previous_run)
                                                    or not registry.run_dir_of(previous_run).is_dir()):
        raise RunError(f"previous run {previous_run}: no such run in {config.processed_dir()}")

    now = registry.utcnow()
    run_id, run_dir, report_dir = registry.allocate(prof["name"], run_id, now)
    ctx = RunContext(profile=prof, overrides=overrides, declared=declared, selected=selected, notebooks_dir=nb_dir,
                     run_id=run_id, run_dir=run_dir, report_dir=report_dir, started=now, progress=progress,
                     upstream=upstream, source_run=source_run, cell_timeout=cell_timeout, incremental=incremental,
                     previous_run=previous_run)
    try:
        with registry.running(report_dir):
            return _run_allocated(ctx)
    finally:
        registry.prune_empty_run(run_id)


def _select(only: Sequence[str] | None, from_run: str | None, nb_dir: Path) -> list[str]:
    if not only:
        if from_run is not None:
            raise RunError("--from-run needs --only (it supplies the products of the stages that do not run)")
        return list(STAGES)
    requested = [s.strip() for item in only for s in str(item).split(",") if s.strip()]
    unknown = [s for s in requested if s not in STAGES]
    if unknown:
        raise RunError(f"--only: unknown stage(s) {', '.join(unknown)}; stages are {', '.join(STAGES)}")
    selected = [s for s in STAGES if s in requested]
    missing = [s for s in selected if not (nb_dir / contract.stage(s).notebook).is_file()]
    if missing:
        raise RunError(f"--only: no notebook for {', '.join(missing)} in {nb_dir}")
    return selected


def _check_upstream(selected: Sequence[str], source_run: str | None, from_run: str | None, profile: str) -> None:
    """With ``--only``: every product a selected stage requires comes from a selected earlier stage or the run the
    upstream products are copied from; otherwise a :class:`RunError` says which stage to add."""
    source_dir = registry.run_dir_of(source_run) if source_run else None
    lacking: dict[str, list[contract.Product]] = {}
    for s in selected:
        for name in contract.stage(s).inputs:
            p = contract.product(name)
            if p.stage in selected or (source_dir is not None and p.exists(source_dir)):
                continue
            if p not in lacking.setdefault(p.stage, []):
                lacking[p.stage].append(p)
    if not lacking:
        return
    needs = "; ".join(f"{' and '.join(p.path for p in products)} (written by {writer})"
                      for writer, products in lacking.items())
    if from_run is not None:
        where = f"run {from_run} does not have them"
    elif source_run is not None:
        where = f"the latest successful run of profile {profile}, {source_run}, does not have them"
    else:
        where = f"there is no earlier successful run of profile {profile} to take them from"
    writers = [w for w in STAGES if w in lacking]
    stages = ",".join(s for s in STAGES if s in writers or s in selected)
    raise RunError(f"--only {','.join(selected)}: the selected stages need {needs}; {where}. Run "
                   f"{' and '.join(writers)} too (--only {stages}) or take them from a run that has them "
                   f"(--from-run RUN_ID)")


def _run_allocated(ctx: RunContext) -> RunResult:
    ctx.parameters = resolve_parameters(ctx.profile, ctx.overrides, ctx.declared, ctx.run_dir, ctx.report_dir)
    if ctx.upstream:
        if ctx.source_run is not None:
            copied = copy_upstream(registry.run_dir_of(ctx.source_run), ctx.run_dir, ctx.upstream)
            n_files = sum(len(v) for v in copied.values())
            ctx.notes.append(f"Products of {', '.join(ctx.upstream)} copied from run {ctx.source_run} "
                             f"({n_files} file{'' if n_files == 1 else 's'}).")
        else:
            ctx.notes.append(f"No earlier successful run of profile {ctx.profile_name}: products of "
                             f"{', '.join(ctx.upstream)} are not available to this run.")
        ctx.progress.note(ctx.notes[-1])

    ctx.results = [NotebookResult(name=s, status=PENDING if s in ctx.declared else MISSING) for s in ctx.selected]
    ctx.manifest = provenance.new_manifest(ctx.run_id, ctx.profile, ctx.overrides, ctx.parameters,
                                           resolve_engine(ctx.profile, ctx.overrides))
    result = RunResult(run_id=ctx.run_id, run_dir=ctx.run_dir, report_dir=ctx.report_dir, manifest=ctx.manifest,
                       notebooks=ctx.results)

    mode = ", incremental" if ctx.incremental else ""
    ctx.progress.note(f"contentlab run {ctx.run_id} (profile {ctx.profile_name}{mode}): "
                      f"{display_path(ctx.report_dir)}")
    for r in ctx.results:
        if r.status == MISSING:
            ctx.progress.note(f"  {r.name}: no notebook {r.name}.ipynb in {display_path(ctx.notebooks_dir)}, skipped")
    publish.publish_run(ctx)

    to_run = [r for r in ctx.results if r.status == PENDING]
    try:
        for position, res in enumerate(to_run, start=1):
            _run_stage(ctx, res, position, len(to_run))
            if not ctx.manifest["inputs"] or "error" in ctx.manifest["inputs"]:
                ctx.manifest["inputs"] = provenance.input_fingerprints(ctx.run_dir)
            publish.publish_run(ctx)
            if res.status not in DONE:
                result.failed = res
                break
    except KeyboardInterrupt:
        result.interrupted = True
        ctx.progress.end("interrupted")
        for r in ctx.results:
            if r.status == RUNNING:
                r.status = FAILED
                r.failure = CellFailure("Interrupted", "the run was stopped (Ctrl-C or SIGTERM) while this "
                                        "notebook was running", cell=ctx.progress.current_cell)
                result.failed = r
                publish.export_partial(ctx, r)
    finally:
        for r in ctx.results:
            if r.status in (PENDING, RUNNING):
                r.status = NOT_RUN
        publish.publish_run(ctx)
        registry.point_latest(ctx.run_id)
        try:
            registry.write_runs_index()
        except Exception as exc:
            ctx.progress.note(f"reports/index.html not updated: {type(exc).__name__}: {exc}")
    return result


def _run_stage(ctx: RunContext, res: NotebookResult, position: int, total: int) -> None:
    """Resolve the stage's inputs, then reuse it from an earlier run (``--incremental``) or execute it."""
    stage = res.name
    res.status = RUNNING
    publish.publish_run(ctx)
    try:
        inputs = contract.resolve_inputs(stage, ctx.run_dir, ctx.previous_run_dir(stage))
    except contract.ContractError as exc:
        _fail_before_start(ctx, res, position, total, exc)
        return
    fingerprint = provenance.stage_fingerprint(stage, ctx.notebook(stage), ctx.parameters[stage], inputs)
    key = provenance.fingerprint_key(fingerprint)
    if ctx.incremental:
        found = incremental.find_reusable(ctx, stage, key)
        if found is not None:
            try:
                ctx.records[stage] = incremental.reuse(ctx, res, found)
            except (OSError, ValueError) as exc:  # e.g. the earlier run was cleaned meanwhile: execute instead
                ctx.progress.note(f"{stage}: could not reuse it from run {found.run_id} "
                                  f"({type(exc).__name__}: {exc}); executing it")
                res.reused_from, res.failure, res.report_problems = None, None, []
            else:
                registry.write_stage_records(ctx.run_dir, ctx.records)
                ctx.progress.reused(position, total, stage, found.origin, _detail(res))
                return
        else:
            reason = incremental.why_not_reused(ctx, stage, fingerprint)
            if reason:
                ctx.progress.note(f"{stage}: not reused ({reason})")
    params = dict(ctx.parameters[stage])
    if INPUTS in ctx.declared[stage]:
        params[INPUTS] = inputs
    files, reports = _execute(ctx, res, params, position, total)
    ctx.records[stage] = {"status": res.status, "key": key, "fingerprint": fingerprint, "files": files,
                          "reports": reports, "external": provenance.external_inputs(stage, ctx.run_dir)}
    registry.write_stage_records(ctx.run_dir, ctx.records)


def _execute(ctx: RunContext, res: NotebookResult, params: dict[str, Any], position: int, total: int,
             ) -> tuple[list[str], list[str]]:
    """Execute the stage's notebook and export its report; returns the files it wrote (run dir, report dir)."""
    import nbformat

    stage = res.name
    nb_path = ctx.notebook(stage)
    out_nb = ctx.report_dir / f"{stage}.ipynb"
    log_path = ctx.report_dir / f"{stage}.kernel.log"
    source_nb = nbformat.read(str(nb_path), as_version=4)
    res.title = notebook_title(source_nb)
    own_reports = ctx.runner_report_files()
    before_run, before_reports = snapshot(ctx.run_dir, [registry.STAGES_FILE]), snapshot(ctx.report_dir, own_reports)
    ctx.progress.start(position, total, stage, len(source_nb.cells))
    t0 = time.monotonic()
    error: BaseException | None = None
    try:
        execute_notebook(nb_path, out_nb, params, ctx.run_dir, ctx.progress, ctx.cell_timeout, log_path)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        error = exc
    finally:
        res.duration_s = time.monotonic() - t0
        if log_path.exists() and (error is None or log_path.stat().st_size == 0):
            log_path.unlink()  # the kernel's own log matters only when something went wrong
    files = written(before_run, snapshot(ctx.run_dir, [registry.STAGES_FILE]))
    reports = written(before_reports, snapshot(ctx.report_dir, own_reports))

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
                                  cell=ctx.progress.current_cell, n_cells=len(source_nb.cells))
        if ctx.cell_timeout and failure.ename == "KeyboardInterrupt":
            # papermill interrupts the kernel when a cell exceeds the time limit
            failure.ename = "CellTimeout"
            failure.evalue = f"the cell ran longer than the {ctx.cell_timeout:g} s limit (--cell-timeout)"
        res.failure = failure
        res.status = SKIPPED if failure.skipped else FAILED
    else:
        res.status = OK
    ctx.progress.end(res.status, res.duration_s or 0.0, _detail(res))
    publish.export_report(ctx, res, executed)
    return files, reports


def _fail_before_start(ctx: RunContext, res: NotebookResult, position: int, total: int,
                       exc: contract.ContractError) -> None:
    """A stage whose required inputs are not there fails without starting a kernel; its report says why."""
    import nbformat

    source_nb = nbformat.read(str(ctx.notebook(res.name)), as_version=4)
    res.title = notebook_title(source_nb)
    res.failure = CellFailure("ContractError", str(exc), cell=None, n_cells=len(source_nb.cells))
    res.status, res.duration_s = FAILED, 0.0
    ctx.progress.start(position, total, res.name, len(source_nb.cells))
    ctx.progress.end(res.status, 0.0, _detail(res))
    publish.export_report(ctx, res, source_nb)


def _detail(res: NotebookResult) -> str:
    if res.failure is not None and res.failure.skipped:
        return f"not applicable: {res.failure.evalue}"
    if res.failure is not None:
        where = f"cell {res.failure.cell}" if res.failure.cell is not None else "before the first cell"
        return f"{where}: {res.failure.message}"
    if res.metrics:
        return f"{len(res.metrics)} metrics"
    return ""
