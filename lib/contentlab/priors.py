"""The feedback priors: the document 05 writes for the next cycle and 04 reads to choose its variant mix.

This module is the contract between the two stages for the contract's ``feedback_priors`` product
(:mod:`contentlab.contract`): its JSON shape, its validation, how it is written and read back, and the pure views
both sides use (:func:`allocation_for`, :func:`priors_frame`, :func:`of_profile`). It imports no stage: 05
(:mod:`contentlab.feedback.loop`) builds the document from its campaign counts and writes it with
:func:`write_priors`; the runner hands the previous cycle's file to 04 as ``inputs["previous_feedback_priors"]``
and 04 reads it through the contract and checks it with :func:`validate_priors`.

JSON shape (``schema_version`` 1)::

    {
      "schema_version": 1,
      "run_id": "20261123T113000-demo",            # the run that measured it (run_dir's name)
      "profile": "demo",                           # its run profile (null outside a profiled run)
      "created": "2026-11-23T11:31:02Z",           # UTC, ISO 8601
      "source": {"exposures_source": "campaign", "dataset": "demo", "exposures": 123456},
      "metric": "ctr",                             # what the allocation optimises: "ctr" or "cpi" (conversions per
                                                   # impression)
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
      "copy_styles": {"bargain_hunter": "value"},  # optional: per segment, the copy style 04 writes in (one of
                                                   # contentlab.copystyle.ALL_STYLES), overriding 02's choice
      "extra": {...}                               # optional, free-form (e.g. truth agreement)
    }

Readers should ignore keys they do not know; new keys may be added without changing ``schema_version``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab import contract
from contentlab.copystyle import ALL_STYLES

__all__ = ["SCHEMA_VERSION", "PRODUCT", "validate_priors", "write_priors", "read_priors", "of_profile",
           "allocation_for", "copy_style_for", "priors_frame"]

SCHEMA_VERSION = 1
PRODUCT = "feedback_priors"
"""The priors' name in :mod:`contentlab.contract` (its file name is spelt there)."""


def validate_priors(priors: Any) -> None:
    """Raise ``ValueError`` if the document does not have the documented shape."""
    if not isinstance(priors, dict):
        raise ValueError(f"feedback priors must be a JSON object, not {type(priors).__name__}")
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
    styles = priors.get("copy_styles")
    if styles is not None:
        if not isinstance(styles, dict):
            raise ValueError(f"feedback priors' copy_styles must map segments to styles, not {type(styles).__name__}")
        bad = {str(k): v for k, v in styles.items() if v not in ALL_STYLES}
        if bad:
            raise ValueError(f"feedback priors' copy_styles {bad} are not copy styles ({', '.join(ALL_STYLES)})")


def write_priors(run_dir: str | Path, priors: dict) -> Path:
    """Check the document and write it (atomically) where the contract puts it in ``run_dir``; returns the path."""
    validate_priors(priors)
    return contract.product(PRODUCT).write(run_dir, priors)


def read_priors(path: str | Path) -> dict:
    """Read and check one priors file (a path to the file, or to the run directory that holds it).

    The returned dict gains ``"path"``: where it was read from."""
    path = Path(path)
    if path.is_dir():
        path = contract.product(PRODUCT).at(path)
    priors = contract.product(PRODUCT).read_path(path)
    validate_priors(priors)
    priors.setdefault("path", str(path))
    return priors


def of_profile(priors: dict | None, profile: str | None) -> bool:
    """Whether ``priors`` were measured by a run of ``profile`` (their ``"profile"`` field); any profile counts when
    ``profile`` is None. A demo cycle never learns from a tiny test run, nor "demo" from a profile named "demo-2"."""
    return priors is not None and (profile is None or priors.get("profile") == profile)


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


def copy_style_for(priors: dict | None, segment: str) -> str | None:
    """The copy style the priors set for ``segment`` (their optional ``copy_styles``), None when they set none:
    then 02's choice for the persona stands."""
    if not priors:
        return None
    style = (priors.get("copy_styles") or {}).get(str(segment))
    return str(style) if style in ALL_STYLES else None


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
