"""``contentlab run --incremental``: a stage whose fingerprint matches a stage an earlier run finished is not
executed again; its products and reports are copied from that run (Ploomber's idea).

The fingerprint (:func:`contentlab.run.provenance.stage_fingerprint`) is the content of the products the stage
reads, its resolved parameters and the code version; the stage that prepares the data also depends on the raw
dataset files, which must still hash as they did. Every run records its stages' fingerprints and the files each
wrote (``data/processed/<run_id>/.contentlab-stages.json``), whether or not it ran incrementally, so any earlier
run still on disk can be reused from. A reused stage keeps its status and recorded metrics; the manifest adds
``"reused_from": <run id>`` to its entry (the run that executed the notebook) and the index says so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contentlab.run import provenance, registry
from contentlab.run.context import RunContext
from contentlab.run.products import copy_files
from contentlab.run.publish import publish_reused_report
from contentlab.run.results import DONE, NotebookResult


@dataclass
class Reusable:
    """A stage an earlier run finished with the same fingerprint."""

    run_id: str  # the run to copy from
    origin: str  # the run that executed the notebook (run_id itself, or the run it had reused the stage from)
    status: str
    record: dict[str, Any]


def find_reusable(ctx: RunContext, stage: str, key: str) -> Reusable | None:
    """The newest earlier run that finished ``stage`` with fingerprint ``key`` and still holds all it wrote."""
    for manifest in registry.earlier_runs(before=ctx.run_id):
        run_id = str(manifest["run_id"])
        entry = next((nb for nb in manifest.get("notebooks", []) if nb.get("name") == stage), None)
        if entry is None or entry.get("status") not in DONE:
            continue
        record = registry.read_stage_records(registry.run_dir_of(run_id)).get(stage)
        if not record or record.get("key") != key or record.get("status") != entry.get("status"):
            continue
        if not _complete(run_id, stage, record):
            continue
        if not provenance.external_inputs_unchanged(record.get("external") or {}):
            continue
        return Reusable(run_id=run_id, origin=str(record.get("reused_from") or run_id),
                        status=str(entry["status"]), record=record)
    return None


def _complete(run_id: str, stage: str, record: Mapping[str, Any]) -> bool:
    run_dir, report_dir = registry.run_dir_of(run_id), registry.report_dir_of(run_id)
    reports = [f"{stage}.ipynb", f"{stage}.html", *record.get("reports", [])]
    return (all((run_dir / rel).is_file() for rel in record.get("files", []))
            and all((report_dir / rel).is_file() for rel in reports))


def reuse(ctx: RunContext, res: NotebookResult, found: Reusable) -> dict[str, Any]:
    """Copy what ``found`` wrote into this run and fill ``res`` as that run left it; returns this run's record."""
    t0 = time.monotonic()
    source_run_dir = registry.run_dir_of(found.run_id)
    source_report_dir = registry.report_dir_of(found.run_id)
    copy_files(source_run_dir, ctx.run_dir, found.record.get("files", []))
    copy_files(source_report_dir, ctx.report_dir, found.record.get("reports", []))
    publish_reused_report(ctx, res, source_report_dir, found.origin)
    res.status = found.status
    res.reused_from = found.origin
    res.duration_s = time.monotonic() - t0
    return {**found.record, "reused_from": found.origin}


def why_not_reused(ctx: RunContext, stage: str, fingerprint: Mapping[str, Any]) -> str | None:
    """What differs from the newest earlier run of the profile that finished ``stage`` (``None`` without one)."""
    for manifest in registry.earlier_runs(before=ctx.run_id):
        if manifest.get("profile") != ctx.profile_name:
            continue
        record = registry.read_stage_records(registry.run_dir_of(str(manifest["run_id"]))).get(stage)
        if not record or record.get("status") not in DONE or not isinstance(record.get("fingerprint"), dict):
            continue
        before = record["fingerprint"]
        changed = []
        if before.get("code") != fingerprint["code"]:
            changed.append("code")
        params = _changed(before.get("parameters") or {}, fingerprint["parameters"])
        if params:
            changed.append("parameters " + ", ".join(params))
        inputs = _changed(before.get("inputs") or {}, fingerprint["inputs"])
        if inputs:
            changed.append("inputs " + ", ".join(inputs))
        if not changed:
            if not _complete(str(manifest["run_id"]), stage, record):
                return f"run {manifest['run_id']} no longer holds all its products"
            if not provenance.external_inputs_unchanged(record.get("external") or {}):
                return "the raw dataset files changed"
            return None
        return f"changed since run {manifest['run_id']}: {'; '.join(changed)}"
    return None


def _changed(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(now) if provenance.fingerprint_key({"v": before.get(k)})
                  != provenance.fingerprint_key({"v": now.get(k)}))
