"""The loop: ``feedback_priors.json``, written by 05 and read by 04 on the next cycle.

05 writes ``<run_dir>/feedback_priors.json`` with :func:`write_priors`; the runner hands the previous cycle's file to
04 as ``inputs["previous_feedback_priors"]`` (found through the run registry), which reads it with
:func:`read_priors` and uses :func:`allocation_for` / :func:`priors_frame` to choose its variant mix per segment
and channel. (:func:`load_latest_priors`, the older scan of ``data/processed/``, is deprecated.)

JSON shape (``schema_version`` 1)::

    {
      "schema_version": 1,
      "run_id": "20261123T113000-demo",            # the run that measured it (run_dir's name)
      "profile": "demo",                           # its run profile (null outside a profiled run)
      "created": "2026-11-23T11:31:02Z",           # UTC, ISO 8601
      "source": {"exposures_source": "campaign", "dataset": "demo", "exposures": 123456},
      "metric": "ctr",                             # what the allocation optimises: "ctr" or "cpi" (conversions/impression)
      "prior": {"alpha": 1.0, "beta": 1.0},        # Beta prior the posteriors start from
      "allocation": {"method": "thompson", "min_share": 0.05, "draws": 20000, "seed": 42},
      "variants": ["template", "gpt2"],
      "control": "template",
      "cells": [                                   # one per segment x channel seen in the campaign
        {
          "segment": "bargain_hunter",             # 02's profile segment (what 04 generates for)
          "channel": "email",
          "variants": {
            "gpt2": {
              "impressions": 2000, "clicks": 90, "conversions": 12, "revenue": 640.5,
              "ctr": {"alpha": 91.0, "beta": 1911.0, "mean": 0.04545},    # Beta posterior of clicks/impressions
              "cvr": {"alpha": 13.0, "beta": 79.0, "mean": 0.1413},       # Beta posterior of conversions/clicks
              "p_best": 0.93                       # P(this variant has the highest rate of `metric`)
            },
            "template": {...}
          },
          "recommended_allocation": {"gpt2": 0.90, "template": 0.10},     # Thompson shares, sum to 1
          "winner": "gpt2"                         # significant after correction, else null
        }
      ],
      "channels": {"email": {"recommended_allocation": {...}, "winner": "gpt2" | null}},   # pooled over segments
      "extra": {...}                               # optional, free-form (e.g. truth agreement)
    }

Readers should ignore keys they do not know; new keys may be added without changing ``schema_version``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab import config
from contentlab.feedback import bayes

PRIORS_FILE = "feedback_priors.json"
SCHEMA_VERSION = 1
_RUN_ID = re.compile(r"^(\d{8}T\d{6})")


def _cell_variants(group: pd.DataFrame, metric: str, prior: tuple[float, float], draws: int, seed: int,
                   min_share: float) -> tuple[dict, dict]:
    """Posterior per variant and the Thompson allocation for one cell of aggregated counts."""
    names = [str(v) for v in group["variant"]]
    imp = group["impressions"].to_numpy(float)
    clk = group["clicks"].to_numpy(float)
    conv = group["conversions"].to_numpy(float)
    rev = group["revenue"].to_numpy(float) if "revenue" in group else np.zeros(len(names))
    if metric == "ctr":
        k_m = clk
    elif metric == "cpi":
        k_m = conv
    else:
        raise ValueError(f"metric must be 'ctr' or 'cpi', got {metric!r}")
    a_ctr, b_ctr = (np.atleast_1d(v) for v in bayes.beta_posterior(clk, imp, prior))
    a_cvr, b_cvr = (np.atleast_1d(v) for v in bayes.beta_posterior(conv, clk, prior))
    a_m, b_m = (np.atleast_1d(v) for v in bayes.beta_posterior(k_m, imp, prior))
    summary = bayes.posterior_summary(k_m, imp, names, prior=prior, draws=draws, seed=seed)
    share = bayes.thompson_allocation(a_m, b_m, draws=draws, seed=seed, min_share=min_share)
    out = {}
    for i, name in enumerate(names):
        out[name] = {
            "impressions": int(imp[i]), "clicks": int(clk[i]), "conversions": int(conv[i]),
            "revenue": float(rev[i]),
            "ctr": {"alpha": float(a_ctr[i]), "beta": float(b_ctr[i]), "mean": float(a_ctr[i] / (a_ctr[i] + b_ctr[i]))},
            "cvr": {"alpha": float(a_cvr[i]), "beta": float(b_cvr[i]), "mean": float(a_cvr[i] / (a_cvr[i] + b_cvr[i]))},
            "p_best": float(summary[name]["p_best"]),
        }
    return out, {name: float(share[i]) for i, name in enumerate(names)}


def build_priors(counts: pd.DataFrame, *, run_id: str, profile: str | None = None, control: str = "template",
                 metric: str = "ctr",
                 prior: tuple[float, float] = (1.0, 1.0), min_share: float = 0.05, draws: int = 20000,
                 seed: int = 0, winners: dict[tuple[str, str], str | None] | None = None,
                 channel_winners: dict[str, str | None] | None = None, source: dict | None = None,
                 extra: dict | None = None) -> dict:
    """Assemble the priors document from aggregated counts.

    ``counts`` has one row per ``segment x channel x variant`` with ``impressions``, ``clicks``, ``conversions``
    (and optionally ``revenue``). ``winners`` maps ``(segment, channel)`` to the significant winner (or None).
    """
    need = {"segment", "channel", "variant", "impressions", "clicks", "conversions"}
    missing = need - set(counts.columns)
    if missing:
        raise ValueError(f"counts need columns {sorted(missing)}")
    winners = winners or {}
    channel_winners = channel_winners or {}
    cells = []
    for (seg, ch), group in counts.sort_values(["segment", "channel", "variant"]).groupby(["segment", "channel"],
                                                                                        sort=True):
        variants, alloc = _cell_variants(group, metric, prior, draws, seed, min_share)
        cells.append({"segment": str(seg), "channel": str(ch), "variants": variants,
                      "recommended_allocation": alloc, "winner": winners.get((str(seg), str(ch)))})
    channels = {}
    pooled = counts.groupby(["channel", "variant"], as_index=False)[
        [c for c in ("impressions", "clicks", "conversions", "revenue") if c in counts]].sum()
    for ch, group in pooled.groupby("channel", sort=True):
        _, alloc = _cell_variants(group, metric, prior, draws, seed, min_share)
        channels[str(ch)] = {"recommended_allocation": alloc, "winner": channel_winners.get(str(ch))}
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "profile": profile,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source or {},
        "metric": metric,
        "prior": {"alpha": float(prior[0]), "beta": float(prior[1])},
        "allocation": {"method": "thompson", "min_share": float(min_share), "draws": int(draws), "seed": int(seed)},
        "variants": sorted(str(v) for v in counts["variant"].unique()),
        "control": control,
        "cells": cells,
        "channels": channels,
        "extra": extra or {},
    }


def write_priors(run_dir: str | Path, priors: dict | None = None, **build_kwargs: Any) -> Path:
    """Write ``run_dir/feedback_priors.json`` (atomically) and return its path.

    Pass a document built by :func:`build_priors`, or its arguments (``counts=...``, ...) to build one here;
    ``run_id`` defaults to the run directory's name.
    """
    run_dir = Path(run_dir)
    if priors is None:
        build_kwargs.setdefault("run_id", run_dir.name)
        priors = build_priors(**build_kwargs)
    validate_priors(priors)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / PRIORS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(priors, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def validate_priors(priors: dict) -> None:
    """Raise ``ValueError`` if the document does not have the documented shape."""
    for key in ("schema_version", "run_id", "created", "variants", "cells"):
        if key not in priors:
            raise ValueError(f"feedback priors lack {key!r}")
    for cell in priors["cells"]:
        for key in ("segment", "channel", "variants", "recommended_allocation"):
            if key not in cell:
                raise ValueError(f"feedback priors cell lacks {key!r}")
        share = sum(cell["recommended_allocation"].values())
        if abs(share - 1.0) > 1e-6:
            raise ValueError(f"allocation for {cell['segment']}/{cell['channel']} sums to {share}, not 1")
        for v in cell["variants"].values():
            for m in ("ctr", "cvr"):
                if v[m]["alpha"] <= 0 or v[m]["beta"] <= 0:
                    raise ValueError("Beta parameters must be positive")


def read_priors(path: str | Path) -> dict:
    """Read and check one priors file (a path to the file or to its run directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / PRIORS_FILE
    priors = json.loads(path.read_text(encoding="utf-8"))
    validate_priors(priors)
    priors.setdefault("path", str(path))
    return priors


def _run_sort_key(run_dir: Path) -> tuple:
    m = _RUN_ID.match(run_dir.name)
    stamp = m.group(1) if m else ""
    return (stamp, (run_dir / PRIORS_FILE).stat().st_mtime)


def load_latest_priors(exclude_run_dir: str | Path | None = None, processed_dir: str | Path | None = None,
                       profile: str | None = None) -> dict | None:
    """The newest ``feedback_priors.json`` under ``config.processed_dir()`` (or ``processed_dir``), or ``None``.

    Deprecated: the runner resolves the previous cycle through the run registry and hands it to 04 as
    ``inputs["previous_feedback_priors"]`` (:func:`contentlab.contract.resolve_inputs`); a stage never scans
    ``data/processed/``. This scan stays only until 04 reads its input, then goes.

    Runs are ordered by the timestamp in their run id (``YYYYmmddTHHMMSS-<profile>``), then by file time.
    ``exclude_run_dir`` (typically the current run) is skipped. With ``profile``, only priors recorded by a run
    of that profile (their ``"profile"`` field) count, so a demo cycle never learns from a tiny test run.
    Unreadable files are skipped, not fatal.
    The returned dict gains ``"path"``: where it was read from.
    """
    root = Path(processed_dir) if processed_dir else config.processed_dir()
    if not root.is_dir():
        return None
    exclude = Path(exclude_run_dir).resolve() if exclude_run_dir else None
    runs = [d for d in root.iterdir() if d.is_dir() and (d / PRIORS_FILE).is_file()
            and (exclude is None or d.resolve() != exclude)]
    for run in sorted(runs, key=_run_sort_key, reverse=True):
        try:
            priors = read_priors(run / PRIORS_FILE)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            continue
        if profile is None or priors.get("profile") == profile:
            return priors
    return None


def allocation_for(priors: dict | None, segment: str, channel: str | None = None,
                   default: dict[str, float] | None = None) -> dict[str, float] | None:
    """Recommended variant shares for a segment (and channel); falls back to the channel, then ``default``.

    Without a channel the segment's cells are averaged, weighted by impressions.
    """
    if not priors:
        return default
    cells = [c for c in priors.get("cells", []) if c["segment"] == str(segment)
             and (channel is None or c["channel"] == str(channel))]
    if cells:
        weights = np.array([sum(v["impressions"] for v in c["variants"].values()) for c in cells], float)
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(cells), 1.0 / len(cells))
        names = sorted({k for c in cells for k in c["recommended_allocation"]})
        return {n: float(sum(w * c["recommended_allocation"].get(n, 0.0) for w, c in zip(weights, cells)))
                for n in names}
    if channel is not None and str(channel) in priors.get("channels", {}):
        return dict(priors["channels"][str(channel)]["recommended_allocation"])
    return default


def priors_frame(priors: dict) -> pd.DataFrame:
    """One row per segment x channel x variant: counts, posterior means, P(best), recommended share."""
    rows = []
    for c in priors.get("cells", []):
        for name, v in c["variants"].items():
            rows.append({"segment": c["segment"], "channel": c["channel"], "variant": name,
                         "impressions": v["impressions"], "clicks": v["clicks"], "conversions": v["conversions"],
                         "ctr_alpha": v["ctr"]["alpha"], "ctr_beta": v["ctr"]["beta"], "ctr_mean": v["ctr"]["mean"],
                         "cvr_alpha": v["cvr"]["alpha"], "cvr_beta": v["cvr"]["beta"], "cvr_mean": v["cvr"]["mean"],
                         "p_best": v["p_best"], "recommended_share": c["recommended_allocation"][name],
                         "winner": c.get("winner")})
    return pd.DataFrame(rows)
