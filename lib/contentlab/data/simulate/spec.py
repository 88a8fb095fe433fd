"""What the simulated shop is made of: size presets, the five behavioural segments, channels and the calendar.

These constants are the planted truth's specification (``truth["segments"]`` reports them back); the campaign
response lives with the audience model (:mod:`contentlab.data.simulate.audience`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEGMENTS: tuple[str, ...] = ("bargain_hunter", "trend_seeker", "loyal_premium", "casual_browser", "new_visitor")
CHANNELS: tuple[str, ...] = ("web", "app", "email", "push")

PROFILES: dict[str, dict[str, Any]] = {
    "tiny": {"n_users": 300, "n_products": 80, "n_days": 30},
    "demo": {"n_users": 5000, "n_products": 800, "n_days": 90},
}
"""Size presets: ``simulate(**PROFILES["tiny"], seed=7)``."""

# Segment specification (the planted truth). Times are in days, rates per week, hours 0-24.
SEGMENT_SPECS: dict[str, dict[str, Any]] = {
    "bargain_hunter": dict(
        share=0.24, favourites=("tshirts", "jeans", "bedding"), price_target=-0.55, price_strength=3.0,
        activity_rate=1.4, views_per_session=4.5, cart_rate=0.29, purchase_rate=0.32,
        discount_prob=0.40, discount_cart_boost=1.8, channel_mix=dict(web=0.15, app=0.45, email=0.32, push=0.08),
        peak_hour=20.5, signup=(-365, 0.3), activity_trend=0.0, new_item_bonus=0.0, rating_share=0.25,
        acquisition=dict(organic=0.2, ads=0.5, social=0.1, email=0.2),
        price_sensitivity="buys the cheapest 10-40% of a category; heavy discount use",
    ),
    "trend_seeker": dict(
        share=0.20, favourites=("dresses", "sneakers", "handbags"), price_target=0.25, price_strength=0.8,
        activity_rate=1.7, views_per_session=6.0, cart_rate=0.22, purchase_rate=0.40,
        discount_prob=0.08, discount_cart_boost=1.1, channel_mix=dict(web=0.10, app=0.55, email=0.05, push=0.30),
        peak_hour=23.5, signup=(-365, 0.3), activity_trend=0.0, new_item_bonus=1.5, rating_share=0.30,
        acquisition=dict(organic=0.2, ads=0.2, social=0.5, email=0.1),
        price_sensitivity="mid-to-upper price band, chases newly launched items",
    ),
    "loyal_premium": dict(
        share=0.14, favourites=("down_jackets", "skincare"), price_target=0.65, price_strength=3.5,
        activity_rate=1.3, views_per_session=3.5, cart_rate=0.38, purchase_rate=0.72,
        discount_prob=0.04, discount_cart_boost=1.0, channel_mix=dict(web=0.55, app=0.10, email=0.33, push=0.02),
        peak_hour=8.5, signup=(-730, -180), activity_trend=0.0, new_item_bonus=0.0, rating_share=0.45,
        acquisition=dict(organic=0.6, ads=0.1, social=0.05, email=0.25),
        price_sensitivity="buys the most expensive 30% of a category; rarely discounted",
    ),
    "casual_browser": dict(
        share=0.27, favourites=("headphones", "sportswear"), price_target=0.0, price_strength=0.5,
        activity_rate=0.8, views_per_session=3.0, cart_rate=0.14, purchase_rate=0.30,
        discount_prob=0.12, discount_cart_boost=1.2, channel_mix=dict(web=0.60, app=0.25, email=0.07, push=0.08),
        peak_hour=15.5, signup=(-365, 0.2), activity_trend=-2.0, new_item_bonus=0.0, rating_share=0.20,
        acquisition=dict(organic=0.4, ads=0.3, social=0.25, email=0.05),
        price_sensitivity="indifferent to price; mostly browses",
    ),
    "new_visitor": dict(
        share=0.15, favourites=("tshirts", "sneakers", "skincare"), price_target=-0.15, price_strength=0.8,
        activity_rate=2.6, views_per_session=4.0, cart_rate=0.26, purchase_rate=0.38,
        discount_prob=0.20, discount_cart_boost=1.3, channel_mix=dict(web=0.30, app=0.35, email=0.05, push=0.30),
        peak_hour=12.5, signup=(0.72, 0.95), activity_trend=0.0, new_item_bonus=0.3, rating_share=0.30,
        acquisition=dict(organic=0.3, ads=0.4, social=0.25, email=0.05),
        price_sensitivity="slightly below the category median",
    ),
}
# signup=(a, b): a, b < 1 in absolute value are fractions of the window, otherwise days relative to start.

# The audience's planted response to content (contentlab.data.simulate.response): per segment the base CTR / CVR of
# a plain copy, the best channel (its CTR x best_channel_boost), the best send hour (the hour-of-day peak of the
# segment's sessions, peak_hour = best_hour + 0.5), the weekend effect, the fatigue point (messages per week beyond
# which CTR falls with fatigue_power) and the copy-feature weights (log-odds per unit of each feature). The session
# channel mix above puts each segment's best channel above its share of all sessions (web and app are on-site, the
# product_page channel); the weights are jittered by +-10% from the seed when planted.
_COPY_FEATURES = ("favourite", "preferred", "price", "novelty", "social", "length", "readability", "wrong_attribute",
                  "truncated", "broken", "repetition")


def _weights(*values: float) -> dict[str, float]:
    return dict(zip(_COPY_FEATURES, values, strict=True))


_CHANNEL_ONE = {"email": 1.0, "push": 1.0, "product_page": 1.0}
_CVR_CHANNEL = {"email": 1.0, "push": 0.75, "product_page": 1.5}
AUDIENCE_SPECS: dict[str, dict[str, Any]] = {
    "bargain_hunter": dict(
        base_ctr=0.038, base_cvr=0.07, best_channel="email", best_hour=20, hour_weight=0.6, weekend_weight=0.10,
        fatigue_point=5, fatigue_power=1.6, best_channel_boost=1.8, channel_factor=_CHANNEL_ONE,
        cvr_channel_factor=_CVR_CHANNEL,
        ctr_weights=_weights(0.25, 0.35, 0.50, 0.00, 0.15, -0.30, -0.30, -0.60, -0.60, -0.40, -1.00),
        cvr_weights=_weights(0.15, 0.30, 0.30, 0.00, 0.00, 0.00, 0.00, -0.80, -0.20, 0.00, 0.00)),
    "trend_seeker": dict(
        base_ctr=0.045, base_cvr=0.065, best_channel="push", best_hour=23, hour_weight=0.6, weekend_weight=0.15,
        fatigue_point=6, fatigue_power=1.6, best_channel_boost=1.8, channel_factor=_CHANNEL_ONE,
        cvr_channel_factor=_CVR_CHANNEL,
        ctr_weights=_weights(0.30, 0.45, -0.05, 0.55, 0.20, -0.30, -0.30, -0.50, -0.60, -0.40, -1.00),
        cvr_weights=_weights(0.15, 0.30, 0.00, 0.10, 0.00, 0.00, 0.00, -0.80, -0.20, 0.00, 0.00)),
    "loyal_premium": dict(
        base_ctr=0.030, base_cvr=0.13, best_channel="email", best_hour=8, hour_weight=0.6, weekend_weight=-0.15,
        fatigue_point=2, fatigue_power=1.6, best_channel_boost=1.8, channel_factor=_CHANNEL_ONE,
        cvr_channel_factor=_CVR_CHANNEL,
        ctr_weights=_weights(0.25, 0.55, -0.35, -0.10, 0.00, -0.25, -0.20, -0.90, -0.80, -0.50, -1.20),
        cvr_weights=_weights(0.15, 0.35, -0.20, 0.00, 0.00, 0.00, 0.00, -1.00, -0.30, 0.00, 0.00)),
    "casual_browser": dict(
        base_ctr=0.028, base_cvr=0.04, best_channel="product_page", best_hour=15, hour_weight=0.5, weekend_weight=0.20,
        fatigue_point=3, fatigue_power=1.6, best_channel_boost=1.8, channel_factor=_CHANNEL_ONE,
        cvr_channel_factor=_CVR_CHANNEL,
        ctr_weights=_weights(0.35, 0.30, 0.10, 0.10, 0.20, -0.40, -0.40, -0.40, -0.50, -0.30, -0.80),
        cvr_weights=_weights(0.10, 0.20, 0.10, 0.00, 0.00, 0.00, 0.00, -0.60, -0.20, 0.00, 0.00)),
    "new_visitor": dict(
        base_ctr=0.035, base_cvr=0.065, best_channel="push", best_hour=12, hour_weight=0.5, weekend_weight=0.0,
        fatigue_point=4, fatigue_power=1.6, best_channel_boost=1.8, channel_factor=_CHANNEL_ONE,
        cvr_channel_factor=_CVR_CHANNEL,
        ctr_weights=_weights(0.20, 0.30, 0.20, 0.25, 0.45, -0.30, -0.30, -0.50, -0.60, -0.40, -1.00),
        cvr_weights=_weights(0.15, 0.25, 0.10, 0.05, 0.10, 0.00, 0.00, -0.80, -0.20, 0.00, 0.00)),
}
for _name, _aud in AUDIENCE_SPECS.items():  # the sessions' hour-of-day peak is the best send hour
    if SEGMENT_SPECS[_name]["peak_hour"] != _aud["best_hour"] + 0.5:
        raise ValueError(f"{_name}: peak_hour must be best_hour + 0.5 (the hour the segment is most active)")

WEEKEND_LIFT = 1.35
DISCOUNT_LEVELS = np.array([0.1, 0.15, 0.2, 0.3, 0.4])
COMPLEMENTS = (("dresses", "handbags"), ("jeans", "tshirts"), ("sneakers", "sportswear"),
               ("down_jackets", "jeans"), ("headphones", "sportswear"), ("skincare", "bedding"))
# global daily traffic profile (relative weight per hour 0..23): quiet nights, lunch and evening peaks
HOUR_PROFILE = np.array([0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.5, 0.9, 1.2, 1.3, 1.3, 1.4,
                         1.6, 1.5, 1.3, 1.3, 1.3, 1.4, 1.6, 1.9, 2.1, 2.1, 1.7, 1.1])
REGIONS = {"en": ("UK", "DE", "FR", "NL", "ES", "US"),
           "zh": ("Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Chengdu", "Hangzhou")}
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
SEGMENT_AGE = dict(bargain_hunter=(0.3, 0.35, 0.2, 0.1, 0.05), trend_seeker=(0.45, 0.35, 0.12, 0.05, 0.03),
                   loyal_premium=(0.05, 0.25, 0.35, 0.25, 0.10), casual_browser=(0.2, 0.3, 0.25, 0.15, 0.10),
                   new_visitor=(0.3, 0.3, 0.2, 0.12, 0.08))

EVENT_VIEW, EVENT_CART, EVENT_PURCHASE = 0, 1, 2
EVENT_TYPES = np.array(["view", "cart", "purchase"], dtype=object)
DAY = 86_400


def segment_rows(key: str) -> np.ndarray:
    """One value of the segment specification per segment, in :data:`SEGMENTS` order."""
    return np.array([SEGMENT_SPECS[s][key] for s in SEGMENTS], dtype=float)


def signup_window(lo_hi: tuple[float, float], n_days: int) -> tuple[float, float]:
    """A segment's ``signup`` range in days relative to the start (fractions of the window resolved)."""
    lo, hi = lo_hi
    return (lo * n_days if abs(lo) < 1 else lo, hi * n_days if abs(hi) < 1 else hi)
