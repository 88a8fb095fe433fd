"""Inputs from the earlier stages and the slots copy is written for.

Reads, all from ``run_dir`` and all optional (a missing or unreadable input is reported, not fatal):
``personas.json`` and ``user_profiles.parquet`` (02), ``recommendations.parquet`` (03), and the
newest ``feedback_priors.json`` of an earlier run (05, via :mod:`contentlab.feedback.loop`). Persona
names and favourite categories are cleaned of markup on the way in (they enter prompts and guides).

A slot is (segment persona, product, channel). Each persona's products are the ones most
recommended to its members (sum of ``1 / rank`` over their top-N lists); without recommendations
they are the persona's favourite categories' best sellers, and without personas there is one
"all shoppers" persona.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from contentlab.generate.sanitise import sanitise_personas

ALL_SHOPPERS = {"persona_id": "ALL", "segment": "all", "name": "all shoppers", "favourite_categories": [],
                "price_band": "unknown", "preferred_channel": None}


@dataclass
class Inputs:
    personas: list[dict] = field(default_factory=list)
    profiles: pd.DataFrame | None = None
    recommendations: pd.DataFrame | None = None
    priors: dict | None = None
    notes: list[str] = field(default_factory=list)  # what was found / used, for the report

    @property
    def persona_map(self) -> dict[str, dict]:
        return {str(p.get("persona_id")): p for p in self.personas}


def _read_parquet(path: Path, needed: Sequence[str], notes: list[str], label: str) -> pd.DataFrame | None:
    if not path.is_file():
        notes.append(f"{label}: {path.name} not found")
        return None
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not fatal
        notes.append(f"{label}: {path.name} unreadable ({type(exc).__name__})")
        return None
    missing = [c for c in needed if c not in df.columns]
    if missing:
        notes.append(f"{label}: {path.name} lacks {missing}, ignored")
        return None
    notes.append(f"{label}: {path.name}, {len(df):,} rows")
    return df


def read_inputs(run_dir: str | Path, use_priors: bool = True, profile: str | None = None) -> Inputs:
    run_dir = Path(run_dir)
    notes: list[str] = []
    personas: list[dict] = []
    p = run_dir / "personas.json"
    if p.is_file():
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            data = data.get("personas", data) if isinstance(data, dict) else data
            personas = sanitise_personas(d for d in data if isinstance(d, dict) and d.get("persona_id") is not None)
            notes.append(f"profiling: personas.json, {len(personas)} personas")
        except (ValueError, TypeError) as exc:
            notes.append(f"profiling: personas.json unreadable ({type(exc).__name__})")
    else:
        notes.append("profiling: personas.json not found")
    profiles = _read_parquet(run_dir / "user_profiles.parquet", ["user_id", "segment"], notes, "profiling")
    recs = _read_parquet(run_dir / "recommendations.parquet", ["user_id", "rank", "product_id"], notes, "recommendations")
    priors = None
    if use_priors:
        try:
            from contentlab.feedback.loop import load_latest_priors

            priors = load_latest_priors(exclude_run_dir=run_dir, profile=profile)
        except Exception as exc:  # noqa: BLE001 - the loop's first cycle or a malformed file must not stop 04
            notes.append(f"feedback: priors unreadable ({type(exc).__name__}: {exc})")
            priors = None
        if priors:
            notes.append(f"feedback: feedback_priors.json of run {priors.get('run_id', '?')} "
                         f"({len(priors.get('cells', []))} segment x channel cells)")
        elif not any(n.startswith("feedback:") for n in notes):
            scope = f" of profile {profile!r}" if profile else ""
            notes.append(f"feedback: no earlier feedback_priors.json{scope} (first cycle): even 50/50 variant mix")
    else:
        notes.append("feedback: priors not used (use_priors=False)")
    return Inputs(personas=personas, profiles=profiles, recommendations=recs, priors=priors, notes=notes)


def _persona_members(persona: dict, profiles: pd.DataFrame | None) -> pd.Series | None:
    if profiles is None:
        return None
    if "persona_id" in profiles.columns and profiles["persona_id"].notna().any():
        m = profiles["persona_id"].astype(str) == str(persona.get("persona_id"))
        if m.any():
            return profiles.loc[m, "user_id"].astype(str)
    m = profiles["segment"].astype(str) == str(persona.get("segment"))
    return profiles.loc[m, "user_id"].astype(str)


def persona_products(persona: dict, products: pd.DataFrame, profiles: pd.DataFrame | None,
                     recommendations: pd.DataFrame | None, events: pd.DataFrame | None, n: int) -> list[tuple[str, str]]:
    """Top ``n`` (product_id, source) for a persona (see module docstring)."""
    known = set(products["product_id"].astype(str))
    members = _persona_members(persona, profiles)
    if recommendations is not None and len(recommendations):
        recs = recommendations
        if members is not None and persona.get("persona_id") != "ALL":
            recs = recs[recs["user_id"].astype(str).isin(set(members))]
        if len(recs):
            score = (1.0 / recs["rank"].astype(float).clip(lower=1)).groupby(recs["product_id"].astype(str)).sum()
            score = score[score.index.isin(known)].sort_values(ascending=False, kind="stable")
            if len(score):
                return [(pid, "recommendations") for pid in score.index[:n]]
    cats = [str(c) for c in persona.get("favourite_categories") or []]
    pool = products[products["category"].astype(str).isin(cats)] if cats and "category" in products else products
    if pool.empty:
        pool = products
    if events is not None and "event_type" in events.columns:
        buys = events[events["event_type"] == "purchase"]["product_id"].astype(str).value_counts()
        order = sorted(pool["product_id"].astype(str), key=lambda p: (-int(buys.get(p, 0)), p))
        return [(pid, "best sellers in favourite categories") for pid in order[:n]]
    return [(pid, "catalogue order") for pid in sorted(pool["product_id"].astype(str))[:n]]


def build_slots(products: pd.DataFrame, inputs: Inputs, channels: Sequence[str], n_slots: int = 60,
                products_per_persona: int = 4, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Slots ``slot_id, persona_id, segment, product_id, product_rank, channel, source`` (at most ``n_slots``)."""
    personas = inputs.personas or [ALL_SHOPPERS]
    channels = list(channels)
    per = max(1, min(products_per_persona, n_slots // max(1, len(personas) * len(channels)) or 1))
    rows = []
    for persona in personas:
        for rank, (pid, source) in enumerate(
                persona_products(persona, products, inputs.profiles, inputs.recommendations, events, per), start=1):
            for ch in channels:
                rows.append({"persona_id": str(persona.get("persona_id")), "segment": str(persona.get("segment", "")),
                             "product_id": pid, "product_rank": rank, "channel": ch, "source": source})
    slots = pd.DataFrame(rows, columns=["persona_id", "segment", "product_id", "product_rank", "channel", "source"])
    # spread a cap across personas: best-ranked products of every persona first
    slots = slots.sort_values(["product_rank", "persona_id", "channel"], kind="stable").head(int(n_slots))
    slots = slots.sort_values(["persona_id", "product_rank", "channel"], kind="stable").reset_index(drop=True)
    slots.insert(0, "slot_id", [f"s{i:04d}" for i in range(len(slots))])
    return slots


def variant_mix(priors: dict | None, segment: str, channel: str) -> dict[str, float]:
    """Share of impressions per variant for a segment x channel, from the feedback priors (50/50 without)."""
    default = {"gpt2": 0.5, "template": 0.5}
    if not priors:
        return default
    try:
        from contentlab.feedback.loop import allocation_for

        mix = allocation_for(priors, segment, channel, default=default) or default
    except Exception:  # noqa: BLE001 - malformed priors fall back to the even mix
        return default
    total = sum(float(v) for v in mix.values())
    return {k: float(v) / total for k, v in mix.items()} if total > 0 else default
