"""The historical content campaign (the ``exposures`` table): who was shown which copy, and how they responded.

Each impression was independently assigned 50/50 to a variant (so assignment counts follow Binomial(n, 1/2) and an
SRM check passes), products drawn from each user's own taste, one content id per (product, channel, variant). Every
user gets Poisson(``exposures_per_user`` x a Gamma(1.5) intensity of their own) impressions within their active days
(so how often users are messaged varies, and fatigue can be seen; new visitors get a welcome series, so their
segment is as well measured as the others), sent between 07:00 and midnight.

The copy of every content id is written here (:func:`historical_copy`, recorded as ``truth["historical_copy"]``):
the ``template`` variant is a plain copy from the product's title and description, the ``gpt2`` variant a freer
style that often adds novelty or social-proof words and sometimes goes wrong (a colour the product does not have, a
cut-off ending, a repeated phrase). Outcomes come from the audience model, which reads the text
(:func:`contentlab.data.simulate.audience.simulate_campaign`): how the variants compare per segment follows from
what their texts say, never from their labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.simulate.audience import EXPOSURE_CHANNEL_MIX, EXPOSURE_CHANNELS, VARIANTS, simulate_campaign
from contentlab.data.simulate.draws import available_items, choice, ids, strings, timestamps
from contentlab.data.simulate.spec import DAY, SEGMENTS
from contentlab.data.simulate.state import ShopState
from contentlab.data.simulate.text import CATEGORY_KEYS

_PHRASES = {
    "en": {"novelty": ("New in: ", "Just landed: ", "The latest drop: "),
           "social": (" Loved by our customers.", " A bestseller this month.", " Rated highly in reviews."),
           "price": " Now {price}.", "more": " Find yours today."},
    "zh": {"novelty": ("新品上市：", "本季新款：", "刚刚上新："),
           "social": ("好评如潮。", "本月热销爆款。", "老顾客都在回购。"),
           "price": "到手价{price}。", "more": "快来选购吧。"},
}


def _sentences(text: str, locale: str) -> list[str]:
    if locale == "en":
        return [s.strip() + ("" if s.strip().endswith((".", "!", "?")) else ".") for s in text.split(". ") if s.strip()]
    return [s + "。" for s in text.split("。") if s]


def historical_copy(state: ShopState, item: np.ndarray, chan: np.ndarray, var: np.ndarray) -> list[str]:
    """The text of each historical content id (``item``, ``chan``, ``var``: its product, channel and variant)."""
    rng, cat, loc = state.rng, state.catalogue, state.settings.locale
    ph = _PHRASES[loc]
    sep = " " if loc == "en" else ""
    out = []
    for it, ch, v in zip(item, chan, var):
        t = cat.texts[it]
        price = f"${cat.price[it]:.2f}" if loc == "en" else f"¥{cat.price[it]:.0f}"
        desc = _sentences(t["description"], loc)
        title = t["title"] + ("." if loc == "en" else "。")
        channel = EXPOSURE_CHANNELS[ch]
        n_desc = {"push": 0, "product_page": 1, "email": 2}[channel]
        if VARIANTS[v] == "template":
            parts = [title, *desc[:n_desc]]
            if rng.random() < 0.5:
                parts.append(ph["price"].format(price=price).strip())
            out.append(sep.join(parts))
            continue
        parts = [*desc[: n_desc + 1]]
        if rng.random() < 0.55:
            parts[0] = ph["novelty"][rng.integers(3)] + parts[0]
        if rng.random() < 0.45:
            parts.append(ph["social"][rng.integers(3)].strip())
        if rng.random() < 0.3:
            parts.append(ph["price"].format(price=price).strip())
        if channel == "email":
            parts.append(ph["more"].strip())
        text = sep.join(parts)
        u = rng.random(3)
        if u[0] < 0.15:  # names a colour the product does not have
            others = [c for c in state.vocab[CATEGORY_KEYS[cat.category[it]]].colours if c != t["colour"]]
            wrong = others[rng.integers(len(others))]
            text = text.replace(t["colour"], wrong) if t["colour"] in text else \
                text + (f" Also lovely in {wrong}." if loc == "en" else f"{wrong}也很好看。")
        if u[1] < 0.12:  # cut off mid-sentence
            words = text.split(" ") if loc == "en" else list(text)
            cut = max(3, int(len(words) * rng.uniform(0.5, 0.9)))
            text = (" " if loc == "en" else "").join(words[:cut]).rstrip(".。")
        if u[2] < 0.10:  # a phrase repeated
            words = text.split(" ") if loc == "en" else list(text)
            k = min(len(words), 4)
            text = (" " if loc == "en" else "").join(words[:k] + words[:k] + words[k:])
        out.append(text)
    return out


def impression_draws(state: ShopState) -> dict[str, np.ndarray]:
    """Who sees what, where and when: per impression its user (index), channel, time (seconds after the start),
    product (index) and variant (index into VARIANTS)."""
    s, rng, people, cat = state.settings, state.rng, state.people, state.catalogue
    intensity = rng.gamma(1.5, 1 / 1.5, size=people.n)
    n_imp = rng.poisson(s.exposures_per_user * intensity)
    e_user = np.repeat(np.arange(people.n), n_imp)
    n = len(e_user)
    e_chan = choice(rng, np.array([EXPOSURE_CHANNEL_MIX[c] for c in EXPOSURE_CHANNELS]), n)
    active_from = people.active_from[e_user]
    day = active_from + np.floor(rng.random(n) * (s.n_days - active_from)).astype(np.int64)
    t = day * DAY + rng.integers(7 * 3600, 24 * 3600, n)
    item, ok = available_items(rng, state.taste.sampler, e_user, t, cat.launch_sec)
    e_user, e_chan, t, item = e_user[ok], e_chan[ok], t[ok], item[ok]
    var = rng.integers(0, 2, len(e_user))
    return {"user": e_user, "channel": e_chan, "t": t, "item": item, "variant": var}


def content_code(item: np.ndarray, channel: np.ndarray, variant: np.ndarray) -> np.ndarray:
    """One integer per (product, channel, variant): what a content id stands for."""
    return (item * len(EXPOSURE_CHANNELS) + channel) * 2 + variant


def copy_table(state: ShopState, codes: np.ndarray, content_ids: np.ndarray) -> pd.DataFrame:
    """The copy of the content ids ``content_ids`` (one per :func:`content_code` in ``codes``), drawn now:
    ``content_id, product_id, channel, variant, text``."""
    c_var = codes % 2
    c_chan = (codes // 2) % len(EXPOSURE_CHANNELS)
    c_item = codes // 2 // len(EXPOSURE_CHANNELS)
    texts = np.array(historical_copy(state, c_item, c_chan, c_var), dtype=object)
    return pd.DataFrame({
        "content_id": strings(content_ids),
        "product_id": strings(state.catalogue.ids[c_item]),
        "channel": strings(np.array(EXPOSURE_CHANNELS, dtype=object)[c_chan]),
        "variant": strings(np.array(VARIANTS, dtype=object)[c_var]),
        "text": strings(texts),
    })


def impressions_table(state: ShopState, draws: dict[str, np.ndarray], content_ids: np.ndarray,
                      texts: np.ndarray) -> pd.DataFrame:
    """The impressions of ``draws`` with their content ids and texts (one per impression)."""
    people, cat = state.people, state.catalogue
    e_user = draws["user"]
    return pd.DataFrame({
        "timestamp": timestamps(state.start, draws["t"]),
        "user_id": strings(people.ids[e_user]),
        "content_id": strings(content_ids),
        "product_id": strings(cat.ids[draws["item"]]),
        "variant": strings(np.array(VARIANTS, dtype=object)[draws["variant"]]),
        "channel": strings(np.array(EXPOSURE_CHANNELS, dtype=object)[draws["channel"]]),
        "segment": strings(np.array(SEGMENTS, dtype=object)[people.segment[e_user]]),
        "text": strings(texts),
    })


def historical_impressions(state: ShopState) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The campaign's impressions (``timestamp, user_id, content_id, product_id, variant, channel, segment, text``)
    and its copy (``content_id, product_id, channel, variant, text``)."""
    d = impression_draws(state)
    codes, inv = np.unique(content_code(d["item"], d["channel"], d["variant"]), return_inverse=True)
    content_ids = ids("C", len(codes), 5)
    copy = copy_table(state, codes, content_ids)
    texts = copy["text"].to_numpy(dtype=object)
    return impressions_table(state, d, content_ids[inv], texts[inv]), copy


def historical_exposures(state: ShopState, truth: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exposures table (the impressions with outcomes drawn from the planted audience, ordered by time) and the
    campaign's copy (``truth["historical_copy"]``)."""
    impressions, copy = historical_impressions(state)
    exposures = simulate_campaign(impressions, truth, seed=int(state.rng.integers(0, 2**31 - 1)), start=state.start,
                                  n_days=state.settings.n_days, products=state.tables["products"])
    exposures = exposures.sort_values(["timestamp", "user_id", "content_id"], kind="stable").reset_index(drop=True)
    return exposures, copy
