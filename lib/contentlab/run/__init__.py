"""Run the pipeline's notebooks with Papermill and publish a run: reports, ``index.html``, ``manifest.json``.

``contentlab run`` (:func:`run_pipeline`) runs the stages of :mod:`contentlab.contract` in order. For each
stage it resolves the stage's inputs through the contract (this run's products, and the previous cycle's
from the newest earlier successful run of the same profile that has them) and hands them to the notebook as the
Papermill parameter ``inputs``, next to ``profile``, ``dataset``, ``seed``, ``run_dir`` and ``report_dir``; a
stage whose required inputs are missing fails before a kernel starts. With ``--incremental`` a stage whose
fingerprint matches one an earlier run finished is reused instead of executed. With ``--only`` a subset runs; the
products the contract declares for the stages before the last selected one are copied from ``--from-run``
(default: the latest successful run of the same profile).

The rooms:

- :mod:`~contentlab.run.config`: run profiles and the parameters each notebook receives;
- :mod:`~contentlab.run.registry`: the runs on disk, their lock and the ``latest`` pointer, ``clean --keep``;
- :mod:`~contentlab.run.execute` and :mod:`~contentlab.run.progress`: executing one notebook, the progress display;
- :mod:`~contentlab.run.provenance`: versions, input fingerprints, stage fingerprints, ``manifest.json``;
- :mod:`~contentlab.run.publish`: each notebook's HTML report and the run's ``index.html``;
- :mod:`~contentlab.run.products` and :mod:`~contentlab.run.incremental`: copying products between runs;
- :mod:`~contentlab.run.orchestrate`: the run itself, one :class:`~contentlab.run.context.RunContext` at a time.

A run leaves nothing empty behind: when no stage wrote a product (e.g. 01 failed on a missing dataset file) its
``data/processed/<run_id>/`` is removed, while its reports (the failure at the top of the index) stay. Every
published report is checked with :func:`contentlab.report.lint_html`; what it finds is logged as a warning and
listed in the run's index.
"""

from contentlab.contract import STAGE_NAMES as STAGES
from contentlab.run.config import (
    RUNNER_OWNED,
    STANDARD_PARAMETERS,
    available_profiles,
    load_profile,
    notebook_parameters,
    parse_overrides,
    resolve_parameters,
)
from contentlab.run.orchestrate import NO_PREVIOUS, run_pipeline
from contentlab.run.progress import Progress
from contentlab.run.registry import (
    RUNNING_FILE,
    STAGES_FILE,
    CleanResult,
    allocate,
    clean_runs,
    is_running,
    latest_pointer,
    latest_run,
    list_runs,
    point_latest,
    prune_empty_run,
    run_succeeded,
    running,
    write_runs_index,
)
from contentlab.run.results import (
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

__all__ = [
    "STAGES", "RUNNER_OWNED", "STANDARD_PARAMETERS", "available_profiles", "load_profile", "notebook_parameters",
    "parse_overrides", "resolve_parameters", "run_pipeline", "NO_PREVIOUS", "Progress", "RUNNING_FILE", "STAGES_FILE",
    "CleanResult", "allocate", "clean_runs", "is_running", "latest_pointer", "latest_run", "list_runs",
    "point_latest", "prune_empty_run", "run_succeeded", "running", "write_runs_index", "FAILED", "MISSING",
    "NOT_RUN", "OK", "PENDING", "RUNNING", "SKIPPED", "NotebookResult", "RunError", "RunResult",
]
