"""The planted truth: everything the simulator planted, as written to ``truth/`` (keys in the package docstring).

:func:`truth_tables` gives the frames and the segment description (what the audience model needs to draw the
historical campaign); :func:`truth_summary` everything else, once the tables are drawn. Nothing here draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.simulate import audience, churn, fraud
from contentlab.data.simulate import response as R
from contentlab.data.simulate.draws import strings, timestamps
from contentlab.data.simulate.spec import (
    AGE_BANDS,
    AUDIENCE_SPECS,
    DISCOUNT_LEVELS,
    HOUR_PROFILE,
    SEGMENT_AGE,
    SEGMENT_SPECS,
    SEGMENTS,
    WEEKEND_LIFT,
    signup_window,
)
from contentlab.data.simulate.state import ShopState
from contentlab.data.simulate.text import CATEGORY_KEYS


def typical_prices(state: ShopState) -> dict[str, float]:
    """Per segment: its planted price level relative to the category median times its favourites' median price."""
    cat_index = {c: i for i, c in enumerate(CATEGORY_KEYS)}
    out = {}
    for name in SEGMENTS:
        fav_idx = [cat_index[c] for c in SEGMENT_SPECS[name]["favourites"]]
        median = np.mean(state.catalogue.category_median[fav_idx])
        out[name] = float(np.exp(SEGMENT_SPECS[name]["price_target"]) * median)
    return out


def segment_description(state: ShopState, typical_price: dict[str, float]) -> dict[str, dict[str, Any]]:
    s, seg, voc = state.settings, state.people.segment, state.vocab
    out = {}
    for k, name in enumerate(SEGMENTS):
        sp = SEGMENT_SPECS[name]
        out[name] = {
            "share": sp["share"],
            "n_users": int((seg == k).sum()),
            "favourite_category_keys": list(sp["favourites"]),
            "favourite_categories": [voc[c].name for c in sp["favourites"]],
            "price_sensitivity": {"description": sp["price_sensitivity"],
                                  "log_price_vs_category_median": sp["price_target"], "strength": sp["price_strength"]},
            "activity_rate": sp["activity_rate"] * s.activity_scale,
            "views_per_session": sp["views_per_session"],
            "cart_rate": sp["cart_rate"],
            "purchase_rate": sp["purchase_rate"],
            "cart_abandonment": round(1 - sp["purchase_rate"], 4),
            "discount_prob": sp["discount_prob"],
            "channel_mix": dict(sp["channel_mix"]),
            "peak_hour": sp["peak_hour"],
            "best_hour": int(AUDIENCE_SPECS[name]["best_hour"]),
            "best_channel": AUDIENCE_SPECS[name]["best_channel"],
            "fatigue_point": int(AUDIENCE_SPECS[name]["fatigue_point"]),
            "signup_window_days": [float(x) for x in signup_window(sp["signup"], s.n_days)],
            "activity_trend": sp["activity_trend"],
            "new_item_bonus": sp["new_item_bonus"],
            "rating_share": sp["rating_share"],
            "acquisition_mix": dict(sp["acquisition"]),
            "age_mix": dict(zip(AGE_BANDS, SEGMENT_AGE[name], strict=True)),
            "typical_price": round(typical_price[name], 2),
        }
    return out


def favourite_words(state: ShopState) -> dict[str, list[str]]:
    """Per segment: the words that name its favourite categories (display names, their singular, the nouns)."""
    out = {}
    for name in SEGMENTS:
        words: set[str] = set()
        for key in SEGMENT_SPECS[name]["favourites"]:
            v = state.vocab[key]
            low = v.name.lower()
            words |= {low, low.rstrip("s"), low.replace("-", "").rstrip("s")}
            words |= {n.lower() for n in v.nouns}
        out[name] = sorted(w for w in words if len(w) >= 2)
    return out


def attribute_choices(state: ShopState) -> dict[str, list[str]]:
    """Per segment: the colours and materials of its favourite categories (its preferred attributes are drawn
    from these)."""
    out = {}
    for name in SEGMENTS:
        vals: set[str] = set()
        for key in SEGMENT_SPECS[name]["favourites"]:
            vals |= set(state.vocab[key].colours) | set(state.vocab[key].materials)
        out[name] = sorted(vals)
    return out


def plant_audience(state: ShopState) -> dict[str, Any]:
    """The planted audience model (``truth["audience"]``; needs the products table)."""
    return R.plant_model(state.settings.seed, state.settings.locale, state.tables["products"], favourite_words(state),
                         attribute_choices(state))


def users_truth(state: ShopState) -> pd.DataFrame:
    """``truth["users"]``: per user its segment, whether it is fraud, its drop-out probability and drop-out."""
    people, dropout = state.people, state.dropout
    dropped_out = dropout.dropped_out(state.end_sec)
    return pd.DataFrame({
        "user_id": strings(people.ids),
        "segment": strings(np.array(SEGMENTS, dtype=object)[people.segment]),
        "is_fraud": people.is_fraud,
        "dropout_prob": dropout.prob,
        "dropped_out": dropped_out,
        "dropout_time": timestamps(state.start, np.where(dropped_out, dropout.time, 0)).where(dropped_out),
    })


def user_factors_truth(state: ShopState) -> pd.DataFrame:
    """``truth["user_factors"]``: user_id, f0..f{k-1}."""
    k = state.settings.n_factors
    return pd.DataFrame({"user_id": strings(state.people.ids),
                         **{f"f{j}": state.taste.user_factors[:, j] for j in range(k)}})


def item_truth(state: ShopState, taste: Any = None) -> dict[str, pd.DataFrame]:
    """``truth["item_factors"]`` and ``truth["item_bias"]`` (of ``taste``, anything with ``item_factors`` and
    ``item_bias``; ``state.taste`` by default)."""
    taste = state.taste if taste is None else taste
    cat, k = state.catalogue, state.settings.n_factors
    return {
        "item_factors": pd.DataFrame({"product_id": strings(cat.ids),
                                      **{f"f{j}": taste.item_factors[:, j] for j in range(k)}}),
        "item_bias": pd.DataFrame({"product_id": strings(cat.ids), "bias": taste.item_bias,
                                   "popularity_rank": cat.pop_rank.astype(np.int64)}),
    }


def truth_tables(state: ShopState) -> dict[str, Any]:
    """``users``, ``segments``, ``user_factors``, ``item_factors``, ``item_bias``, the planted ``audience`` with its
    reference ``response`` and ``copy_weights``."""
    prices = typical_prices(state)
    model = plant_audience(state)
    return {
        "users": users_truth(state),
        "segments": segment_description(state, prices),
        "user_factors": user_factors_truth(state),
        **item_truth(state),
        "audience": model,
        "response": R.reference_response(model, prices),
        "copy_weights": R.copy_weights_table(model),
    }


def truth_summary(state: ShopState) -> dict[str, Any]:
    """Everything else that was planted, with the sizes of the drawn tables (``state.tables`` complete)."""
    s, people, cat, funnel = state.settings, state.people, state.catalogue, state.funnel
    t = state.tables
    return {
        "seed": int(s.seed),
        "locale": s.locale,
        "start": str(state.start.date()),
        "sizes": {"n_users": int(s.n_users), "n_products": int(s.n_products), "n_days": int(s.n_days),
                  "n_factors": int(s.n_factors), "n_events": int(len(t["events"])), "n_ratings": int(len(t["ratings"])),
                  "n_exposures": int(len(t["exposures"])), "n_sessions": int(state.events.n_sessions),
                  "n_orders": int(state.events.n_orders), "n_fraud": int(people.n_fraud)},
        "segment_names": list(SEGMENTS),
        "categories": {k: state.vocab[k].name for k in CATEGORY_KEYS},
        "fraud_share": float(s.fraud_share),
        "dropout": {"a": float(s.dropout_a), "b": float(s.dropout_b),
                    "n_dropped_out": int(state.dropout.dropped_out(state.end_sec).sum()), "model": churn.MODEL},
        "fraud": state.fraud.patterns,
        "fraud_patterns": dict(fraud.PATTERNS),
        "best_hour": {x: int(AUDIENCE_SPECS[x]["best_hour"]) for x in SEGMENTS},
        "best_channel": {x: AUDIENCE_SPECS[x]["best_channel"] for x in SEGMENTS},
        "fatigue_point": {x: int(AUDIENCE_SPECS[x]["fatigue_point"]) for x in SEGMENTS},
        "exposure_channel_mix": dict(audience.EXPOSURE_CHANNEL_MIX),
        "variant_split": dict(audience.VARIANT_SPLIT),
        "bought_together": [[str(cat.ids[a]), str(cat.ids[b])] for a, b in funnel.pairs],
        "pair_prob": s.pair_prob,
        "cold_start_products": [str(p) for p in cat.ids[cat.is_cold]],
        "weekend_lift": WEEKEND_LIFT,
        "hour_profile": [float(x) for x in HOUR_PROFILE / HOUR_PROFILE.sum()],
        "choice_model": {"factor_weight": s.factor_weight, "attribute_share": s.attribute_share,
                         "category_weight": s.category_weight, "popularity_weight": s.popularity_weight,
                         "zipf_exponent": s.zipf_exponent},
        "rating_model": {"intercept": s.rating_intercept, "scale": s.rating_scale, "noise_sd": s.rating_noise,
                         "item_bias_sd": 0.3},
        "discount_levels": [float(x) for x in DISCOUNT_LEVELS],
    }
