"""Helpers used inside the stage notebooks.

``record(name, value)`` stores a key metric in the executing notebook's output metadata
(the way microsoft/recommenders' ``store_metadata`` does), so the runner, the run index and the
tests can read it back from the executed ``.ipynb`` with :func:`recorded_metrics`.
The output carries only a private MIME type, so HTML reports do not show it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contentlab.serial import jsonable

METRIC_MIME = "application/vnd.contentlab.metric+json"


def record(name: str, value: Any) -> Any:
    """Record a key metric of the running notebook; returns the JSON-safe value.

    Outside a notebook (plain Python) this is a no-op apart from the conversion.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"metric name must be an identifier, got {name!r}")
    clean = jsonable(value)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return clean
    if get_ipython() is not None:
        display({METRIC_MIME: {"name": name, "value": clean}}, raw=True, metadata={"contentlab": {"metric": name}})
    return clean


class StageNotApplicable(Exception):
    """Raised by :func:`skip_stage`; the runner reports the stage as ``skipped`` and goes on."""


def skip_stage(reason: str) -> None:
    """End this notebook here because its stage does not apply to the data (e.g. no exposure log yet).

    Under ``contentlab run`` the stage is marked ``skipped`` (not failed): its report opens with the
    reason, later stages still run and the run exits 0. Cells after this call do not run. Called inside an
    ``except`` block, the exception being handled is not chained to it: the reason is the whole message.
    """
    raise StageNotApplicable(" ".join(str(reason).split())) from None


def recorded_metrics(notebook: str | Path | Any) -> dict[str, Any]:
    """Metrics recorded by :func:`record` in an executed notebook (path or nbformat node).

    A metric recorded twice keeps its last value.
    """
    if isinstance(notebook, (str, Path)):
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    else:
        nb = notebook
    out: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            payload = data.get(METRIC_MIME)
            if payload is None:
                continue
            if isinstance(payload, str):
                payload = json.loads(payload)
            out[payload["name"]] = payload["value"]
    return out
