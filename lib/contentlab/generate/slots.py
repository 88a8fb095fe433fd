"""The slots copy is written for, and the variant mix per slot.

A slot is (segment persona, product, channel). Each persona's products are the ones most
recommended to its members (sum of ``1 / rank`` over their top-N lists); without recommendations
they are the persona's favourite categories' best sellers, and without personas there is one
"all shoppers" persona. Each slot carries the copy style its copy is written in: the persona's (from profiling),
unless the feedback priors set one for its segment. When the priors carry a publishing policy (the loop's later
cycles) and 05 found a copy signal of another style helping the segment's clicks, the persona's last product is
written in that **challenger** style (:func:`challenger_style`): the next campaign shows the segment both styles,
and 05's policy keeps whichever drew more clicks.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from contentlab.copystyle import GENERAL, check_style
from contentlab.generate.inputs import StageInputs
from contentlab.priors import allocation_for, copy_style_for, policy_of, segment_policy

ALL_SHOPPERS = {"persona_id": "ALL", "segment": "all", "name": "all shoppers", "favourite_categories": [],
                "price_band": "unknown", "preferred_channel": None, "copy_style": GENERAL}


def slot_style(persona: dict, priors: dict | None = None) -> tuple[str, str]:
    """(copy style, where it comes from) for a persona's slots: the feedback priors' style for its segment when they
    set one, else the persona's ``copy_style`` from profiling, else ``general``."""
    override = copy_style_for(priors, str(persona.get("segment", "")))
    if override:
        return override, "feedback priors"
    style = persona.get("copy_style")
    if style:
        return check_style(style), "profiling"
    return GENERAL, "default"


STYLE_SIGNALS: dict[str, str] = {"mentions_price": "value", "mentions_novelty": "novelty",
                                 "mentions_social_proof": "social_proof"}
"""The copy signal (:func:`contentlab.priors.copy_signals`) that speaks for each copy style."""


def challenger_style(priors: dict | None, segment: str, current: str) -> str | None:
    """The style a policy-following cycle tries beside ``current`` for ``segment``, chosen by the copy-feature
    effects 05 estimated: among the styles whose signal (:data:`STYLE_SIGNALS`) has a proven positive effect on
    the segment's clicks (the policy's ``rerank_weights``), the strongest one the segment's campaigns have not shown
    yet (the policy's ``styles_tried``: a style tried and not kept is not tried again). ``None`` without a policy or
    such an effect: nothing speaks for another style, and no traffic is spent on one."""
    if policy_of(priors) is None:
        return None
    sp = segment_policy(priors, segment)
    tried = set(sp["styles_tried"]) | {current}
    effects = sorted(((float(w["coef"]), STYLE_SIGNALS[name]) for name, w in sp["rerank_weights"].items()
                      if name in STYLE_SIGNALS and float(w["coef"]) > 0), reverse=True)
    for _, style in effects:
        if style not in tried:
            return style
    return None


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


def build_slots(products: pd.DataFrame, inputs: StageInputs, channels: Sequence[str], n_slots: int = 60,
                products_per_persona: int = 4, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Slots ``slot_id, persona_id, segment, product_id, product_rank, channel, source, style, style_source`` (at
    most ``n_slots``); ``style`` is the copy style the slot's copy is written in (:func:`slot_style`; the last of a
    persona's products takes the :func:`challenger_style` when the priors carry a policy and the persona has at
    least two products)."""
    personas = inputs.personas or [ALL_SHOPPERS]
    channels = list(channels)
    per = max(1, min(products_per_persona, n_slots // max(1, len(personas) * len(channels)) or 1))
    rows = []
    for persona in personas:
        style, style_source = slot_style(persona, inputs.priors)
        chosen = persona_products(persona, products, inputs.profiles, inputs.recommendations, events, per)
        challenger = challenger_style(inputs.priors, str(persona.get("segment", "")), style) \
            if len(chosen) >= 2 else None
        for rank, (pid, source) in enumerate(chosen, start=1):
            st, st_source = style, style_source
            if challenger is not None and rank == len(chosen):
                st, st_source = challenger, f"challenger (the policy tries it against {style})"
            for ch in channels:
                rows.append({"persona_id": str(persona.get("persona_id")), "segment": str(persona.get("segment", "")),
                             "product_id": pid, "product_rank": rank, "channel": ch, "source": source,
                             "style": st, "style_source": st_source})
    slots = pd.DataFrame(rows, columns=["persona_id", "segment", "product_id", "product_rank", "channel", "source",
                                        "style", "style_source"])
    # spread a cap across personas: best-ranked products of every persona first
    slots = slots.sort_values(["product_rank", "persona_id", "channel"], kind="stable").head(int(n_slots))
    slots = slots.sort_values(["persona_id", "product_rank", "channel"], kind="stable").reset_index(drop=True)
    slots.insert(0, "slot_id", [f"s{i:04d}" for i in range(len(slots))])
    return slots


def variant_mix(priors: dict | None, segment: str, channel: str) -> dict[str, float]:
    """Share of impressions per variant for a segment x channel, from the feedback priors
    (:func:`contentlab.priors.allocation_for`; 50/50 without)."""
    default = {"gpt2": 0.5, "template": 0.5}
    mix = allocation_for(priors, segment, channel, default=default) or default
    total = sum(float(v) for v in mix.values())
    return {k: float(v) / total for k, v in mix.items()} if total > 0 else default
