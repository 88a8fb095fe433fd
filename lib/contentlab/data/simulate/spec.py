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
        discount_prob=0.40, discount_cart_boost=1.8, channel_mix=dict(web=0.15, app=0.50, email=0.30, push=0.05),
        peak_hour=20.5, signup=(-365, 0.3), activity_trend=0.0, new_item_bonus=0.0, rating_share=0.25,
        acquisition=dict(organic=0.2, ads=0.5, social=0.1, email=0.2),
        price_sensitivity="buys the cheapest 10-40% of a category; heavy discount use",
    ),
    "trend_seeker": dict(
        share=0.20, favourites=("dresses", "sneakers", "handbags"), price_target=0.25, price_strength=0.8,
        activity_rate=1.7, views_per_session=6.0, cart_rate=0.22, purchase_rate=0.40,
        discount_prob=0.08, discount_cart_boost=1.1, channel_mix=dict(web=0.10, app=0.60, email=0.05, push=0.25),
        peak_hour=23.0, signup=(-365, 0.3), activity_trend=0.0, new_item_bonus=1.5, rating_share=0.30,
        acquisition=dict(organic=0.2, ads=0.2, social=0.5, email=0.1),
        price_sensitivity="mid-to-upper price band, chases newly launched items",
    ),
    "loyal_premium": dict(
        share=0.14, favourites=("down_jackets", "skincare"), price_target=0.65, price_strength=3.5,
        activity_rate=1.3, views_per_session=3.5, cart_rate=0.38, purchase_rate=0.72,
        discount_prob=0.04, discount_cart_boost=1.0, channel_mix=dict(web=0.60, app=0.10, email=0.28, push=0.02),
        peak_hour=8.5, signup=(-730, -180), activity_trend=0.0, new_item_bonus=0.0, rating_share=0.45,
        acquisition=dict(organic=0.6, ads=0.1, social=0.05, email=0.25),
        price_sensitivity="buys the most expensive 30% of a category; rarely discounted",
    ),
    "casual_browser": dict(
        share=0.27, favourites=("headphones", "sportswear"), price_target=0.0, price_strength=0.5,
        activity_rate=0.8, views_per_session=3.0, cart_rate=0.14, purchase_rate=0.30,
        discount_prob=0.12, discount_cart_boost=1.2, channel_mix=dict(web=0.45, app=0.20, email=0.10, push=0.25),
        peak_hour=15.5, signup=(-365, 0.2), activity_trend=-2.0, new_item_bonus=0.0, rating_share=0.20,
        acquisition=dict(organic=0.4, ads=0.3, social=0.25, email=0.05),
        price_sensitivity="indifferent to price; mostly browses",
    ),
    "new_visitor": dict(
        share=0.15, favourites=("tshirts", "sneakers", "skincare"), price_target=-0.15, price_strength=0.8,
        activity_rate=2.6, views_per_session=4.0, cart_rate=0.26, purchase_rate=0.38,
        discount_prob=0.20, discount_cart_boost=1.3, channel_mix=dict(web=0.35, app=0.35, email=0.05, push=0.25),
        peak_hour=12.0, signup=(0.72, 0.95), activity_trend=0.0, new_item_bonus=0.3, rating_share=0.30,
        acquisition=dict(organic=0.3, ads=0.4, social=0.25, email=0.05),
        price_sensitivity="slightly below the category median",
    ),
}
# signup=(a, b): a, b < 1 in absolute value are fractions of the window, otherwise days relative to start.

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
