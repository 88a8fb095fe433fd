"""The loop, 05's side: the feedback priors for the next cycle, built from the campaign's counts.

:func:`build_priors` turns aggregated counts per segment x channel x variant into Beta posteriors and
Thompson-sampling traffic shares; :func:`~contentlab.priors.write_priors` writes the document into the run
directory. Its JSON shape, its validation and the views 04 uses to choose its variant mix are in the neutral module
:mod:`contentlab.priors` (re-exported here for 05); the runner hands the file to the next cycle's 04.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from contentlab.feedback import bayes
from contentlab.priors import SCHEMA_VERSION, allocation_for, priors_frame, read_priors, validate_priors, write_priors

__all__ = ["build_priors", "SCHEMA_VERSION", "allocation_for", "priors_frame", "read_priors", "validate_priors",
           "write_priors"]


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
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
