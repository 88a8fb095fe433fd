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
      "extra": {...},                              # optional, free-form (e.g. truth agreement)
      "policy": {                                  # optional: the publishing policy the next cycle follows
        "version": 1,                              # POLICY_VERSION
        "learned_from": "20261123T113000-demo",    # the run whose campaign it was learned from
        "exploration": 0.1,                        # share of users the next campaign shows random choices
        "segments": {
          "bargain_hunter": {
            "channel": "email",                    # channel to publish on (null: the copy's own mix)
            "hour": 19,                            # send hour 0-23 (null: spread over waking hours)
            "frequency_cap": 3,                    # messages per week (null: uncapped, the campaign's default)
            "copy_style": null,                    # a copy style for 04 (null: 04's default)
            "rerank_weights": {"mentions_price": {"coef": 0.21, "mean": 0.0, "sd": 1.0}, ...},
                                                   # click log-odds per copy feature ((x - mean) / sd)
            "variant_shares": {"email": {"gpt2": 0.9, "template": 0.1}, ...},  # Thompson shares per channel
            "copy_stats": {"email": {"c_1a2b3c4d5e6f": [420, 31], ...}}  # per channel and copy: impressions,
                                                   # clicks, summed over every cycle so far (the campaign's
                                                   # Thompson sampling over copies starts from them)
            "winning_copy": [{"content_id": "c_1a2b3c4d5e6f", "product_id": "P12", "channel": "email",
                              "prompt": "...", "text": "...", "lift": 0.35}],  # copies whose CTR beat the
                                                   # segment's average (lift over it): 04 fine-tunes on them
            "styles_tried": ["value", "quality"]   # the copy styles the segment's campaigns have shown, oldest
                                                   # first: 04 writes a challenger style the policy tried least
                                                   # recently beside the chosen one
          }
        },
        "notes": ["..."]                           # why each choice was made, in words
      }
    }

Readers should ignore keys they do not know; new keys may be added without changing ``schema_version``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab import contract
from contentlab.copystyle import ALL_STYLES

__all__ = ["SCHEMA_VERSION", "POLICY_VERSION", "PRODUCT", "validate_priors", "validate_policy", "write_priors",
           "read_priors", "of_profile", "allocation_for", "copy_style_for", "priors_frame", "policy_of", "segment_policy",
           "rerank_score", "copy_signals", "favourite_words", "PRICE_PATTERN", "TEXT_SIGNALS"]

SCHEMA_VERSION = 1
POLICY_VERSION = 1
POLICY_KEYS = ("channel", "hour", "frequency_cap", "copy_style", "rerank_weights", "variant_shares", "copy_stats",
               "winning_copy", "styles_tried")
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
    if priors.get("policy") is not None:
        validate_policy(priors["policy"])


def validate_policy(policy: Any) -> None:
    """Raise ``ValueError`` if a publishing policy (the priors' ``"policy"``) does not have the documented shape."""
    if not isinstance(policy, dict):
        raise ValueError(f"the policy must be a JSON object, not {type(policy).__name__}")
    if policy.get("version") != POLICY_VERSION:
        raise ValueError(f"policy version {policy.get('version')!r} is not {POLICY_VERSION}")
    eps = policy.get("exploration", 0.0)
    if not isinstance(eps, (int, float)) or not 0.0 <= float(eps) <= 1.0:
        raise ValueError(f"policy exploration must be a share in [0, 1], not {eps!r}")
    segments = policy.get("segments")
    if not isinstance(segments, dict):
        raise ValueError("the policy lacks 'segments' (a mapping segment -> choices)")
    for seg, p in segments.items():
        if not isinstance(p, dict):
            raise ValueError(f"policy of segment {seg!r} must be an object")
        unknown = set(p) - set(POLICY_KEYS)
        if unknown:
            raise ValueError(f"policy of segment {seg!r} has unknown keys {sorted(unknown)}")
        hour = p.get("hour")
        if hour is not None and (not isinstance(hour, int) or not 0 <= hour <= 23):
            raise ValueError(f"policy hour of segment {seg!r} must be an hour 0-23, not {hour!r}")
        cap = p.get("frequency_cap")
        if cap is not None and (not isinstance(cap, int) or cap < 1):
            raise ValueError(f"policy frequency cap of segment {seg!r} must be a positive integer, not {cap!r}")
        for w in (p.get("rerank_weights") or {}).values():
            if not {"coef", "mean", "sd"} <= set(w) or not float(w["sd"]) > 0:
                raise ValueError(f"rerank weight of segment {seg!r} needs coef, mean and a positive sd")
        for ch, stats in (p.get("copy_stats") or {}).items():
            for cid, nk in stats.items():
                if (not isinstance(nk, (list, tuple)) or len(nk) != 2 or not 0 <= int(nk[1]) <= int(nk[0])):
                    raise ValueError(f"copy stats of {seg}/{ch}/{cid} must be [impressions, clicks] with "
                                     "0 <= clicks <= impressions")
        for w in p.get("winning_copy") or []:
            if not isinstance(w, dict) or not str(w.get("text") or "").strip() or float(w.get("lift", -1)) < 0:
                raise ValueError(f"winning copy of segment {seg!r} needs a text and a lift >= 0")
        tried = p.get("styles_tried") or []
        if not isinstance(tried, list) or not set(map(str, tried)) <= set(ALL_STYLES):
            raise ValueError(f"styles tried by segment {seg!r} must be a list of copy styles ({', '.join(ALL_STYLES)}), "
                             f"not {tried!r}")
        for ch, shares in (p.get("variant_shares") or {}).items():
            total = sum(float(x) for x in shares.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"variant shares of {seg}/{ch} sum to {total}, not 1")


def policy_of(priors: dict | None) -> dict | None:
    """The publishing policy in ``priors`` (``None`` without one: the documents of earlier versions have none)."""
    if not priors or not isinstance(priors.get("policy"), dict):
        return None
    return priors["policy"]


def segment_policy(priors_or_policy: dict | None, segment: str) -> dict[str, Any]:
    """One segment's choices (every key of ``POLICY_KEYS``; ``None`` / empty where the policy has nothing)."""
    pol = priors_or_policy
    if pol is not None and "cells" in pol:
        pol = policy_of(pol)
    got = ((pol or {}).get("segments") or {}).get(str(segment)) or {}
    out: dict[str, Any] = {k: got.get(k) for k in POLICY_KEYS}
    out["rerank_weights"] = dict(out["rerank_weights"] or {})
    out["variant_shares"] = dict(out["variant_shares"] or {})
    out["copy_stats"] = {ch: dict(v) for ch, v in (out["copy_stats"] or {}).items()}
    out["winning_copy"] = list(out["winning_copy"] or [])
    out["styles_tried"] = [str(x) for x in out["styles_tried"] or []]
    return out


def rerank_score(weights: dict[str, dict[str, float]], features: dict[str, float]) -> float:
    """The click log-odds a policy's ``rerank_weights`` give a copy with ``features`` (a feature the weights do not
    name, or a missing/NaN value, adds nothing)."""
    total = 0.0
    for name, w in weights.items():
        x = features.get(name)
        if x is None or x != x:
            continue
        total += float(w["coef"]) * (float(x) - float(w["mean"])) / float(w["sd"])
    return total


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


# ---------------------------------------------------------------------------------------------------------------
# Copy signals: the text features 05 regresses clicks on and 04 reranks its candidates by (one definition for both)

PRICE_PATTERN = re.compile(r"(\$|€|£|¥|￥|\bprice[sd]?\b|\bsale\b|\bdeal\b|\bdiscount|\b\d+\s?% off\b|\boff\b|"
                           r"\bsave\b|\bcheap|\bbargain|\bafford|价|元|折|优惠|特价|划算)", re.IGNORECASE)
NOVELTY_PATTERN = re.compile(r"(\bnew\b|\bnewest\b|\blatest\b|\bjust in\b|\bfresh\b|\bthis season\b|新品|新款|上新)",
                             re.IGNORECASE)
SOCIAL_PATTERN = re.compile(r"(\bbest.?sell|\bpopular\b|\bfavou?rite of\b|\breviews?\b|\brated\b|\bstars?\b|"
                            r"\bcustomers?\b|\bloved\b|热销|好评|人气)", re.IGNORECASE)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_ENDS = re.compile(r"([.!?。！？][\"'”’)）]*|\d)\s*$")
TEXT_SIGNALS = ("length_words", "mentions_price", "mentions_novelty", "mentions_social_proof", "repetition",
                "ends_cleanly")
"""The signals :func:`copy_signals` measures (besides ``mentions_favourite_category``)."""


def copy_signals(text: str, favourite_words: Any = None) -> dict[str, float]:
    """Features of one copy text, measured the same way by 05 (the click regression) and 04 (reranking):
    ``length_words`` (CJK: characters / 2), ``mentions_price`` / ``_novelty`` / ``_social_proof`` (0/1),
    ``repetition`` (share of word pairs that repeat an earlier one), ``ends_cleanly`` (ends on a sentence mark or a
    number, 0/1) and, when ``favourite_words`` is given, ``mentions_favourite_category`` (names one of them)."""
    t = str(text or "")
    cjk = bool(re.search(r"[\u4e00-\u9fff]", t))
    words = [w.lower() for w in _WORDS.findall(t)]
    toks = list(t.replace(" ", "")) if cjk else words
    pairs = list(zip(toks, toks[1:]))
    out = {
        "length_words": len(t) / 2.0 if cjk else float(len(t.split())),
        "mentions_price": float(bool(PRICE_PATTERN.search(t))),
        "mentions_novelty": float(bool(NOVELTY_PATTERN.search(t))),
        "mentions_social_proof": float(bool(SOCIAL_PATTERN.search(t))),
        "repetition": 1.0 - len(set(pairs)) / len(pairs) if pairs else 0.0,
        "ends_cleanly": float(bool(_ENDS.search(t.strip()))) if t.strip() else 0.0,
    }
    if favourite_words is not None:
        low = t.lower()
        out["mentions_favourite_category"] = float(any(w and str(w).lower() in low for w in favourite_words))
    return {k: (0.0 if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def favourite_words(personas: Any) -> dict[str, list[str]]:
    """Per persona segment, the words that name its favourite categories ("T-Shirts": "t-shirt", "tshirt", ...)."""
    out = {}
    for p in personas if isinstance(personas, list) else []:
        cats = [str(c) for c in p.get("favourite_categories") or []]
        words = set()
        for c in cats:  # "T-Shirts" should match "t-shirt" and "tshirt"
            low = c.lower()
            words |= {low, low.rstrip("s"), low.replace("-", "").rstrip("s"), low.replace("-", " ").rstrip("s")}
        out[str(p.get("segment"))] = sorted(w for w in words if len(w) >= 3)
    return out
