"""Seeded demo simulator: a synthetic shop with planted ground truth.

``simulate(...)`` returns a :class:`~contentlab.data.io.Dataset` with the canonical tables
``users``, ``products``, ``events``, ``ratings`` and ``exposures`` (columns as in
:mod:`contentlab.data.schema`) and a ``truth`` dict that records everything that was planted, so
every downstream stage can be checked against a known right answer.

What is planted
---------------
**Segments** (``truth["users"].segment``, ``truth["segments"]``). Every user belongs to one of five
behavioural segments, each with its own

- favourite categories (2-3 of the 10 categories; about 80% of their views land there),
- price sensitivity: a preferred price relative to the category median (``price_target``, in log
  units) held with a given strength; bargain hunters buy the cheap end and more often discounted
  items, loyal premium customers the expensive end,
- activity rate (sessions per week), views per session, cart rate and cart-to-purchase rate
  (so cart abandonment and view-to-purchase rate differ),
- tenure/recency pattern: loyal premium customers signed up long before the window; new visitors
  sign up in the last quarter of the window; casual browsers fade out (activity decays over time),
- channel mix (web, app, email, push) and an hour-of-day peak.

The segments are separated well enough that K-means on standardised per-user behavioural features
recovers them (adjusted Rand index >= 0.8 at demo scale).

**Latent factors** (``truth["user_factors"]``, ``truth["item_factors"]``, ``truth["item_bias"]``).
User and item vectors ``u, v ~ N(0, k^-1/2 I)`` (so ``u.v`` has unit variance; ``attribute_share`` of each
item vector's variance comes from its brand, colour, material and style, so text-based models can
partly predict taste and help cold-start items, the rest is idiosyncratic) drive both which items
a user views (softmax over ``factor_weight * u.v + category affinity + popularity_weight * log
popularity + price-band term + new-item bonus``, items unavailable before their launch date) and
the ratings (``clip(round(rating_intercept + rating_scale * u.v + item bias + noise), 1, 5)``). Cart probability
also rises with ``u.v`` so purchases are more on-taste than views. Item popularity is Zipf-like
(``popularity ~ rank^-zipf_exponent``), a long tail that personalisation can still beat.

**Funnel and calendar.** Sessions of views; each view is carted with the segment's cart rate
(adjusted by taste and discount) and each cart purchased with the segment's purchase rate. All
purchases of a session form one order (``order_id``); baskets of several lines are common.
Planted "frequently bought together" pairs (``truth["bought_together"]``): when the first product
of a pair is bought, the second is added to the same order with probability ``pair_prob``.
Saturdays and Sundays get ``weekend_lift`` times the traffic of a weekday; hours follow a global
daily profile mixed with each segment's peak.

**Fraud** (``truth["users"].is_fraud``, ``truth["fraud"]``). ``fraud_share`` of the users are
not genuine. On top of ordinary behaviour each has one to three of: click-farm bursts (hundreds of
views seconds apart on a handful of products at night), impossible session rates (dozens of
sessions per hour on several days), fake orders (many tiny orders of the same cheap product at
odd hours, often with a 5-star review). No single column gives them away.

**Churn** (``truth["users"].dropout_prob``, ``dropped_out``, ``dropout_time``; ``truth["dropout"]``). As in
the BG/NBD model, every genuine customer has a drop-out probability ``p ~ Beta(dropout_a, dropout_b)``
(mean 1/6 by default): after each repeat purchase day (a day with a purchase other than the first one)
they stop for good with probability ``p``, and their later sessions never happen. So customers differ in how long they stay, purchase histories end
before the window does, and a lifetime-value model can see drop-out (P(alive) varies). Churn draws from
its own random stream: everything else is drawn exactly as without it.

**Reviews.** A share of purchases is rated; every rating has a 1-3 sentence review whose wording
agrees with the stars and mentions the product's real colour, material, fit, delivery or value.

**Content campaign** (``exposures``, ``truth["response"]``). A historical A/B log: every impression was
randomised 50/50 to copy variant ``template`` or ``gpt2`` and shown on ``email``, ``push`` or
``product_page``. True CTR, CVR (conversion given click) and AOV per segment x channel x variant
are in ``truth["response"]``; GPT-2 copy lifts CTR in every segment except ``loyal_premium``, where
the template wins (``truth["ctr_lift"]``, ``truth["gpt2_loses_in"]``). ``simulate_campaign`` draws
outcomes for any set of impressions from the same truth.

``truth`` keys
--------------
DataFrames (written as ``truth/<key>.parquet``): ``users`` (user_id, segment, is_fraud, dropout_prob,
dropped_out, dropout_time),
``user_factors`` (user_id, f0..f{k-1}), ``item_factors`` (product_id, f0..f{k-1}), ``item_bias``
(product_id, bias, popularity_rank), ``response`` (segment, channel, variant, ctr, cvr, aov).
``segments`` (``truth/segments.json``): per segment favourite_categories (locale names) and
favourite_category_keys, price_sensitivity, activity_rate, views_per_session, cart_rate,
purchase_rate, cart_abandonment, discount_prob, channel_mix, peak_hour, signup_window_days,
activity_trend, new_item_bonus, rating_share, acquisition_mix, age_mix, typical_price.
Everything else (``truth/truth.json``): seed, locale, start, sizes, segment_names, categories,
fraud_share, dropout, fraud (user_id -> patterns), fraud_patterns, ctr_lift, cvr_lift, gpt2_loses_in,
copy_effects, exposure_channel_mix, variant_split, bought_together, pair_prob,
cold_start_products, weekend_lift, hour_profile, choice_model, rating_model, discount_levels.

Size presets are in :data:`PROFILES` (``tiny``: 300 users, 80 products, 30 days, about a tenth of
a second; ``demo``: 5,000 users, 800 products, 90 days, about 500k events in a few seconds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contentlab.data import catalogue
from contentlab.data.catalogue import CATEGORY_KEYS
from contentlab.data.io import Dataset

SEGMENTS: tuple[str, ...] = ("bargain_hunter", "trend_seeker", "loyal_premium", "casual_browser", "new_visitor")
CHANNELS: tuple[str, ...] = ("web", "app", "email", "push")
EXPOSURE_CHANNELS: tuple[str, ...] = ("email", "push", "product_page")
VARIANTS: tuple[str, ...] = ("template", "gpt2")

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

# Planted campaign response: CTR/CVR per channel, segment multipliers, GPT-2 relative lifts.
BASE_CTR = dict(email=0.035, push=0.025, product_page=0.060)
BASE_CVR = dict(email=0.08, push=0.06, product_page=0.12)
SEGMENT_CTR_MULT = dict(bargain_hunter=1.1, trend_seeker=1.3, loyal_premium=0.9, casual_browser=0.8, new_visitor=1.0)
SEGMENT_CVR_MULT = dict(bargain_hunter=0.9, trend_seeker=0.8, loyal_premium=1.6, casual_browser=0.5, new_visitor=0.8)
GPT2_CTR_LIFT = dict(bargain_hunter=0.25, trend_seeker=0.30, loyal_premium=-0.25, casual_browser=0.20, new_visitor=0.25)
GPT2_CVR_LIFT = dict(bargain_hunter=0.05, trend_seeker=0.05, loyal_premium=-0.10, casual_browser=0.05, new_visitor=0.05)
COPY_EFFECTS = {"mentions_price": 1.10}
"""Optional copy-feature effects on CTR (multiplicative), applied by :func:`simulate_campaign` when the
assignments carry a boolean column of that name. ``truth["response"]`` is the CTR without them."""

EXPOSURE_CHANNEL_MIX = dict(email=0.4, push=0.3, product_page=0.3)
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
_ETYPE = np.array(["view", "cart", "purchase"], dtype=object)
DAY = 86_400


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _str(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype="str")


def _choice(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(probs / probs.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right")


def _hour_pmf(peak: float, mix: float = 0.7, sd: float = 1.6) -> np.ndarray:
    """Hour-of-day distribution: (1-mix) global profile + mix * circular Gaussian around ``peak``."""
    h = np.arange(24) + 0.5
    d = np.minimum(np.abs(h - peak), 24 - np.abs(h - peak))
    seg = np.exp(-0.5 * (d / sd) ** 2)
    return (1 - mix) * HOUR_PROFILE / HOUR_PROFILE.sum() + mix * seg / seg.sum()


def _segment_rows(spec: dict[str, Any], key: str) -> np.ndarray:
    return np.array([spec[s][key] for s in SEGMENTS], dtype=float)


class _RowSampler:
    """Draws one item per query row from per-row probability rows with a single ``searchsorted``.

    ``probs`` (rows x items, non-negative, rows need not be normalised) is turned *in place* into
    row-offset cumulative distributions (row ``r`` spans ``(r, r + 1]``), so memory stays at one
    rows x items float64 matrix.
    """

    def __init__(self, probs: np.ndarray):
        n_rows, self.n = probs.shape
        np.cumsum(probs, axis=1, out=probs)
        probs /= probs[:, -1:]
        probs[:, -1] = 1.0
        probs += np.arange(n_rows, dtype=float)[:, None]
        self.flat = probs.reshape(-1)

    def __call__(self, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
        q = rows + rng.random(len(rows))
        idx = np.searchsorted(self.flat, q, side="right")
        return np.minimum(idx - rows * self.n, self.n - 1)


def _available_items(rng, sampler, rows, t_sec, launch_sec, rounds=30):
    """Sample items for ``rows`` at times ``t_sec``, rejecting items not yet launched.

    Returns items and a keep-mask (rows whose every draw was unavailable are dropped; rare)."""
    items = sampler(rng, rows)
    bad = launch_sec[items] > t_sec
    for _ in range(rounds):
        if not bad.any():
            break
        idx = np.flatnonzero(bad)
        items[idx] = sampler(rng, rows[idx])
        bad[idx] = launch_sec[items[idx]] > t_sec[idx]
    return items, ~bad


def _resolve_signup(rng, lo_hi, n, n_days):
    lo, hi = lo_hi
    lo = lo * n_days if abs(lo) < 1 else lo
    hi = hi * n_days if abs(hi) < 1 else hi
    return np.floor(rng.uniform(lo, hi, size=n)).astype(int)


def simulate(
    n_users: int = 5000,
    n_products: int = 800,
    n_days: int = 90,
    locale: str = "en",
    seed: int = 42,
    start: str = "2026-01-05",
    n_factors: int = 8,
    fraud_share: float = 0.01,
    *,
    activity_scale: float = 1.0,
    exposures_per_user: float = 30.0,
    factor_weight: float = 1.6,
    attribute_share: float = 0.5,
    category_weight: float = 3.0,
    popularity_weight: float = 0.6,
    zipf_exponent: float = 1.0,
    rating_intercept: float = 2.7,
    rating_scale: float = 1.1,
    rating_noise: float = 0.5,
    n_pairs: int | None = None,
    pair_prob: float = 0.5,
    cold_start_share: float = 0.12,
    dropout_a: float = 1.0,
    dropout_b: float = 5.0,
    name: str | None = None,
) -> Dataset:
    """Simulate a shop and return its canonical tables plus the planted ``truth``.

    Parameters are sizes (``n_users``, ``n_products``, ``n_days`` from ``start``), ``locale``
    (``"en"`` or ``"zh"``: catalogue and review language; ids and codes stay ASCII), ``seed`` (same
    arguments give identical tables), ``n_factors`` (latent dimension), ``fraud_share`` (share of
    non-genuine accounts) and the strength of the planted effects (keyword-only; ``dropout_a``,
    ``dropout_b``: the Beta distribution of the planted drop-out probability, ``dropout_a=0`` plants none).
    See the module docstring for what is planted and ``truth`` for the exact values.
    """
    if locale not in catalogue.VOCAB:
        raise ValueError(f"locale must be one of {sorted(catalogue.VOCAB)}, got {locale!r}")
    if n_users < 10 or n_products < 20 or n_days < 7:
        raise ValueError("simulate needs at least 10 users, 20 products and 7 days")
    rng = np.random.default_rng(seed)
    start_ts = pd.Timestamp(start).normalize()
    end_sec = n_days * DAY
    voc = catalogue.vocab(locale)
    n_cat = len(CATEGORY_KEYS)
    cat_index = {k: i for i, k in enumerate(CATEGORY_KEYS)}
    n_seg = len(SEGMENTS)

    # ------------------------------------------------------------------ products
    prod_cat = rng.integers(0, n_cat, size=n_products)
    prod_cat[:n_cat] = np.arange(n_cat)  # every category present
    rng.shuffle(prod_cat)
    medians = np.array([voc[k].median_price for k in CATEGORY_KEYS])
    sigmas = np.array([voc[k].price_sigma for k in CATEGORY_KEYS])
    price = np.exp(np.log(medians[prod_cat]) + sigmas[prod_cat] * rng.standard_normal(n_products))
    # charm pricing: 19.99 in en, ¥199 in zh
    price = np.floor(np.maximum(price, 2.0)) + 0.99 if locale == "en" else np.maximum(np.round(price / 10) * 10 - 1, 9.0)
    cat_median = np.array([np.median(price[prod_cat == c]) for c in range(n_cat)])
    log_rel_price = np.log(price / cat_median[prod_cat])
    is_cold = rng.random(n_products) < cold_start_share
    launch_day = np.where(is_cold, rng.integers(max(1, n_days // 5), max(2, n_days - 2), n_products),
                          -rng.integers(1, 730, n_products))
    launch_sec = launch_day.astype(np.int64) * DAY
    texts = catalogue.product_texts(rng, [CATEGORY_KEYS[c] for c in prod_cat], price, locale)
    product_ids = _ids("P", n_products, 4)
    pop_rank = rng.permutation(n_products) + 1
    log_pop = -zipf_exponent * np.log(pop_rank)

    # ------------------------------------------------------------------ users
    shares = _segment_rows(SEGMENT_SPECS, "share")
    seg = _choice(rng, shares, n_users)
    seg[:n_seg] = np.arange(n_seg)  # every segment present
    signup_day = np.zeros(n_users, dtype=int)
    for s, sname in enumerate(SEGMENTS):
        m = seg == s
        signup_day[m] = _resolve_signup(rng, SEGMENT_SPECS[sname]["signup"], m.sum(), n_days)
    signup_day = np.minimum(signup_day, n_days - 2)
    active_from = np.maximum(signup_day, 0)
    n_fraud = int(round(fraud_share * n_users))
    if fraud_share > 0:
        n_fraud = max(n_fraud, 1)
    is_fraud = np.zeros(n_users, dtype=bool)
    is_fraud[rng.choice(n_users, size=n_fraud, replace=False)] = True
    user_ids = _ids("U", n_users, 5)

    # latent factors: u.v ~ unit variance
    sd = n_factors ** -0.25
    U = rng.normal(0, sd, size=(n_users, n_factors))
    # item factors: part shared through attributes (brand, colour, material, style: what a content-based
    # model can see in the text), part idiosyncratic (what only interactions reveal)
    attr_part = np.zeros((n_products, n_factors))
    for attr in ("brand", "colour", "material", "style"):
        codes, uniq = pd.factorize(pd.Series([t[attr] for t in texts]))
        attr_part += rng.normal(0, sd, size=(len(uniq), n_factors))[codes]
    attr_part /= 2.0  # sum of four unit-variance parts -> back to variance sd^2
    V = np.sqrt(attribute_share) * attr_part + np.sqrt(1 - attribute_share) * rng.normal(0, sd, (n_products, n_factors))
    item_bias = rng.normal(0, 0.3, size=n_products)

    # choice logits: user x item
    fav = np.zeros((n_seg, n_cat))
    for s, sname in enumerate(SEGMENTS):
        for j, c in enumerate(SEGMENT_SPECS[sname]["favourites"]):
            fav[s, cat_index[c]] = category_weight * (1.0 - 0.08 * j)
    user_cat = fav[seg] + rng.normal(0, 0.25, size=(n_users, n_cat))
    p_target = _segment_rows(SEGMENT_SPECS, "price_target")
    p_strength = _segment_rows(SEGMENT_SPECS, "price_strength")
    new_bonus = _segment_rows(SEGMENT_SPECS, "new_item_bonus")
    # computed in blocks of users so temporaries stay small; memory is one users x items matrix
    probs = np.empty((n_users, n_products))
    for lo_u in range(0, n_users, 2048):
        b = slice(lo_u, min(lo_u + 2048, n_users))
        sb = seg[b]
        logit = factor_weight * (U[b] @ V.T)
        logit += user_cat[b][:, prod_cat]
        logit += popularity_weight * log_pop[None, :]
        logit -= p_strength[sb][:, None] * (log_rel_price[None, :] - p_target[sb][:, None]) ** 2
        logit += new_bonus[sb][:, None] * is_cold[None, :]
        logit -= logit.max(axis=1, keepdims=True)
        probs[b] = np.exp(logit)
    sampler = _RowSampler(probs)  # takes over `probs` (turned into cumulative rows in place)
    del probs

    # ------------------------------------------------------------------ sessions
    weekday = (start_ts.day_of_week + np.arange(n_days)) % 7
    day_w = np.where(weekday >= 5, WEEKEND_LIFT, 1.0)
    trend = _segment_rows(SEGMENT_SPECS, "activity_trend")
    seg_day_cdf = np.zeros((n_seg, n_days + 1))
    for s in range(n_seg):
        w = day_w * np.exp(trend[s] * np.arange(n_days) / n_days)
        seg_day_cdf[s, 1:] = np.cumsum(w) / w.sum()
    rate = _segment_rows(SEGMENT_SPECS, "activity_rate") * activity_scale
    user_mult = rng.gamma(4.0, 0.25, size=n_users)
    # expected sessions: rate x active weeks, with the trend's share of the window that is active
    frac_active = 1.0 - seg_day_cdf[seg, active_from]
    mean_w = (n_days / 7.0) * frac_active
    n_sess_u = rng.poisson(rate[seg] * user_mult * mean_w)
    n_sess_u = np.maximum(n_sess_u, 1)  # everyone in the table shows up at least once
    s_user = np.repeat(np.arange(n_users), n_sess_u)
    n_sess = len(s_user)
    s_seg = seg[s_user]
    lo = seg_day_cdf[s_seg, active_from[s_user]]
    r = lo + rng.random(n_sess) * (1 - lo)
    s_day = np.empty(n_sess, dtype=np.int64)
    for s in range(n_seg):
        m = s_seg == s
        s_day[m] = np.searchsorted(seg_day_cdf[s], r[m], side="right") - 1
    s_day = np.clip(s_day, active_from[s_user], n_days - 1)
    hour_cdf = np.array([np.cumsum(_hour_pmf(SEGMENT_SPECS[sn]["peak_hour"])) for sn in SEGMENTS])
    hour_cdf[:, -1] = 1.0
    u01 = rng.random(n_sess)
    s_hour = np.empty(n_sess, dtype=np.int64)
    for s in range(n_seg):
        m = s_seg == s
        s_hour[m] = np.searchsorted(hour_cdf[s], u01[m], side="right")
    s_start = s_day * DAY + s_hour * 3600 + rng.integers(0, 3300, n_sess)
    chan_p = np.array([[SEGMENT_SPECS[sn]["channel_mix"][c] for c in CHANNELS] for sn in SEGMENTS])
    chan_cdf = np.cumsum(chan_p / chan_p.sum(1, keepdims=True), axis=1)
    chan_cdf[:, -1] = 1.0
    u01 = rng.random(n_sess)
    s_chan = np.empty(n_sess, dtype=np.int64)
    for s in range(n_seg):
        m = s_seg == s
        s_chan[m] = np.searchsorted(chan_cdf[s], u01[m], side="right")

    # ------------------------------------------------------------------ views
    vps = _segment_rows(SEGMENT_SPECS, "views_per_session")
    n_views_s = 1 + rng.poisson(vps[s_seg] - 1)
    v_sess = np.repeat(np.arange(n_sess), n_views_s)
    gaps = 5 + rng.exponential(40.0, size=len(v_sess)).astype(np.int64)
    cs = np.cumsum(gaps)
    first = np.concatenate([[0], np.cumsum(n_views_s)[:-1]])
    v_t = s_start[v_sess] + cs - np.repeat(cs[first] - gaps[first], n_views_s)
    v_user = s_user[v_sess]
    v_item, ok = _available_items(rng, sampler, v_user, v_t, launch_sec)
    v_sess, v_t, v_user, v_item = v_sess[ok], v_t[ok], v_user[ok], v_item[ok]
    n_v = len(v_sess)
    v_seg = seg[v_user]
    disc_p = _segment_rows(SEGMENT_SPECS, "discount_prob")
    v_disc = np.where(rng.random(n_v) < disc_p[v_seg], DISCOUNT_LEVELS[rng.integers(0, len(DISCOUNT_LEVELS), n_v)], 0.0)

    # ------------------------------------------------------------------ cart and purchase
    uv = np.einsum("ij,ij->i", U[v_user], V[v_item])
    boost = np.where(v_disc > 0, _segment_rows(SEGMENT_SPECS, "discount_cart_boost")[v_seg], 1.0)
    p_cart = _segment_rows(SEGMENT_SPECS, "cart_rate")[v_seg] * (0.5 + 1.0 / (1.0 + np.exp(-1.5 * uv))) * boost
    carted = rng.random(n_v) < np.clip(p_cart, 0, 0.95)
    c_idx = np.flatnonzero(carted)
    # one cart line per (session, product)
    key = v_sess[c_idx] * n_products + v_item[c_idx]
    _, first_c = np.unique(key, return_index=True)
    c_idx = c_idx[np.sort(first_c)]
    c_t = v_t[c_idx] + rng.integers(3, 60, len(c_idx))
    c_qty = 1 + (rng.random(len(c_idx)) < 0.10) + (rng.random(len(c_idx)) < 0.02)
    bought = rng.random(len(c_idx)) < _segment_rows(SEGMENT_SPECS, "purchase_rate")[seg[v_user[c_idx]]]
    last_view_t = np.zeros(n_sess, dtype=np.int64)
    np.maximum.at(last_view_t, v_sess, v_t)
    checkout = last_view_t + rng.integers(30, 300, n_sess)
    p_idx = c_idx[bought]
    p_qty = c_qty[bought]

    # frequently bought together pairs (complementary categories, among the popular half)
    n_pairs = n_pairs if n_pairs is not None else max(3, n_products // 40)
    pairs: list[tuple[int, int]] = []
    popular = np.argsort(pop_rank)  # most popular first
    used: set[int] = set()
    for k in range(n_pairs):
        ca, cb = COMPLEMENTS[k % len(COMPLEMENTS)]
        cand_a = [i for i in popular[: max(10, n_products // 2)] if prod_cat[i] == cat_index[ca] and i not in used
                  and not is_cold[i]]
        cand_b = [i for i in popular[: max(10, n_products // 2)] if prod_cat[i] == cat_index[cb] and i not in used
                  and not is_cold[i]]
        if not cand_a or not cand_b:
            continue
        a = cand_a[int(rng.integers(0, min(4, len(cand_a))))]
        b = cand_b[int(rng.integers(0, min(4, len(cand_b))))]
        used.update((a, b))
        pairs.append((a, b))
    partner = np.full(n_products, -1)
    for a, b in pairs:
        partner[a] = b
    p_items = v_item[p_idx]
    add = (partner[p_items] >= 0) & (rng.random(len(p_idx)) < pair_prob)
    add_sess = v_sess[p_idx][add]
    add_item = partner[p_items][add]
    add_user = v_user[p_idx][add]

    # ------------------------------------------------------------------ churn: drop-out after a purchase
    # Its own random stream, so every other draw of the simulation is the same with or without churn.
    crng = np.random.default_rng([seed, 0xC0FFEE])
    p_drop = crng.beta(dropout_a, dropout_b, size=n_users) if dropout_a > 0 else np.zeros(n_users)
    p_drop[is_fraud] = 0.0  # fraud patterns are planted apart
    buy_sess = np.unique(v_sess[p_idx])
    bs_user, bs_t = s_user[buy_sess], checkout[buy_sess]
    o = np.lexsort((bs_t, bs_user))
    bs_user, bs_t = bs_user[o], bs_t[o]
    # purchase occasions are days (as BG/NBD counts them); the first is the start of the relationship
    bs_day = bs_t // DAY
    new_day = np.r_[True, (bs_user[1:] != bs_user[:-1]) | (bs_day[1:] != bs_day[:-1])]
    first_day = np.r_[True, bs_user[1:] != bs_user[:-1]]
    chance = new_day & ~first_day
    drops = chance & (crng.random(len(bs_user)) < p_drop[bs_user])
    dropout_t = np.full(n_users, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(dropout_t, bs_user[drops], bs_t[drops])  # the first purchase after which the user stops
    keep_sess = s_start <= dropout_t[s_user]  # sessions after it never happen
    kv = keep_sess[v_sess]
    kc = keep_sess[v_sess[c_idx]]
    kp = keep_sess[v_sess[p_idx]]
    ka = keep_sess[add_sess]
    c_idx, c_t, c_qty = c_idx[kc], c_t[kc], c_qty[kc]
    p_idx, p_qty = p_idx[kp], p_qty[kp]
    add_sess, add_item, add_user = add_sess[ka], add_item[ka], add_user[ka]

    # ------------------------------------------------------------------ assemble normal events
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "user", "sess", "item", "etype", "qty", "disc")}

    def put(t, user, sess, item, etype, qty, disc):
        n = len(t)
        cols["t"].append(np.asarray(t, dtype=np.int64))
        cols["user"].append(np.asarray(user, dtype=np.int64))
        cols["sess"].append(np.asarray(sess, dtype=np.int64))
        cols["item"].append(np.asarray(item, dtype=np.int64))
        cols["etype"].append(np.full(n, etype, dtype=np.int8))
        cols["qty"].append(np.broadcast_to(np.asarray(qty, dtype=np.int64), (n,)).copy())
        cols["disc"].append(np.broadcast_to(np.asarray(disc, dtype=float), (n,)).copy())

    put(v_t[kv], v_user[kv], v_sess[kv], v_item[kv], EVENT_VIEW, 1, v_disc[kv])
    put(c_t, v_user[c_idx], v_sess[c_idx], v_item[c_idx], EVENT_CART, c_qty, v_disc[c_idx])
    put(checkout[v_sess[p_idx]], v_user[p_idx], v_sess[p_idx], v_item[p_idx], EVENT_PURCHASE, p_qty, v_disc[p_idx])
    ck = checkout[add_sess]
    put(ck - 40, add_user, add_sess, add_item, EVENT_VIEW, 1, 0.0)
    put(ck - 20, add_user, add_sess, add_item, EVENT_CART, 1, 0.0)
    put(ck, add_user, add_sess, add_item, EVENT_PURCHASE, 1, 0.0)

    # ------------------------------------------------------------------ fraud
    fraud_users = np.flatnonzero(is_fraud)
    fraud_info: dict[str, list[str]] = {}
    fake_order_lines: list[tuple[int, int, int]] = []  # (user, item, t) of fake purchases
    cheap = np.argsort(price)[: max(3, n_products // 5)]
    cheap = np.setdiff1d(cheap, np.array([i for pair in pairs for i in pair], dtype=np.int64))  # keep pairs clean
    next_sess = n_sess
    f_sess_chan: list[np.ndarray] = []
    for u in fraud_users:
        k = int(_choice(rng, np.array([0.4, 0.45, 0.15]), 1)[0]) + 1
        patterns = list(rng.choice(["click_burst", "session_rate", "fake_orders"], size=k, replace=False))
        fraud_info[str(user_ids[u])] = sorted(str(p) for p in patterns)
        lo_day = active_from[u]
        available = np.flatnonzero(launch_day <= lo_day)
        if "click_burst" in patterns:
            for _ in range(int(rng.integers(1, 4))):
                n_b = int(rng.integers(150, 400))
                t0b = int(rng.integers(lo_day, n_days)) * DAY + int(rng.integers(1, 5)) * 3600
                t = t0b + np.cumsum(rng.integers(1, 4, n_b))
                items = rng.choice(rng.choice(available, size=int(rng.integers(1, 5))), size=n_b)
                put(t, np.full(n_b, u), np.full(n_b, next_sess), items, EVENT_VIEW, 1, 0.0)
                f_sess_chan.append(np.array([0]))
                next_sess += 1
        if "session_rate" in patterns:
            for day in rng.choice(np.arange(lo_day, n_days), size=min(int(rng.integers(2, 5)), n_days - lo_day),
                                  replace=False):
                n_s = int(rng.integers(25, 45))
                s_t = day * DAY + int(rng.integers(0, 20)) * 3600 + np.cumsum(rng.integers(40, 120, n_s))
                n_vs = rng.integers(1, 4, n_s)
                sess = np.repeat(np.arange(next_sess, next_sess + n_s), n_vs)
                within = np.concatenate([np.arange(1, m + 1) for m in n_vs]) * 2
                t = np.repeat(s_t, n_vs) + within
                items = rng.choice(available, size=len(t))
                put(t, np.full(len(t), u), sess, items, EVENT_VIEW, 1, 0.0)
                f_sess_chan.append(np.full(n_s, 1))
                next_sess += n_s
        if "fake_orders" in patterns:
            item = int(rng.choice(np.intersect1d(cheap, available))) if len(np.intersect1d(cheap, available)) else \
                int(rng.choice(available))
            n_o = int(rng.integers(10, 30))
            days = rng.integers(lo_day, n_days, n_o)
            t = days * DAY + rng.integers(0, 5 * 3600, n_o)
            sess = np.arange(next_sess, next_sess + n_o)
            put(t, np.full(n_o, u), sess, np.full(n_o, item), EVENT_VIEW, 1, 0.0)
            put(t + 3, np.full(n_o, u), sess, np.full(n_o, item), EVENT_CART, 1, 0.0)
            put(t + 8, np.full(n_o, u), sess, np.full(n_o, item), EVENT_PURCHASE, 1, 0.0)
            fake_order_lines.extend((u, item, int(x) + 8) for x in t)
            f_sess_chan.append(np.full(n_o, 0))
            next_sess += n_o
    all_sess_chan = np.concatenate([s_chan, *f_sess_chan]) if f_sess_chan else s_chan

    ev = {k: np.concatenate(v) for k, v in cols.items()}
    keep = (ev["t"] < end_sec) & (ev["t"] >= 0)
    ev = {k: v[keep] for k, v in ev.items()}
    # de-duplicate on the event key (pairs may repeat an existing line), then order by time
    order = np.lexsort((ev["etype"], ev["item"], ev["sess"], ev["user"], ev["t"]))
    ev = {k: v[order] for k, v in ev.items()}
    dup = np.zeros(len(ev["t"]), dtype=bool)
    same = ((ev["t"][1:] == ev["t"][:-1]) & (ev["user"][1:] == ev["user"][:-1]) & (ev["sess"][1:] == ev["sess"][:-1])
            & (ev["item"][1:] == ev["item"][:-1]) & (ev["etype"][1:] == ev["etype"][:-1]))
    dup[1:] = same
    ev = {k: v[~dup] for k, v in ev.items()}
    # session and order ids in order of first appearance
    sess_codes, sess_first = np.unique(ev["sess"], return_index=True)
    sess_rank = np.empty(len(sess_codes), dtype=np.int64)
    sess_rank[np.argsort(sess_first)] = np.arange(len(sess_codes))
    sess_new = sess_rank[np.searchsorted(sess_codes, ev["sess"])]
    session_ids = _ids("S", len(sess_codes), 7)
    is_p = ev["etype"] == EVENT_PURCHASE
    p_sess = sess_new[is_p]
    o_codes, o_first = np.unique(p_sess, return_index=True)
    o_rank = np.empty(len(o_codes), dtype=np.int64)
    o_rank[np.argsort(o_first)] = np.arange(len(o_codes))
    order_ids = _ids("O", len(o_codes), 6)
    order_col = np.full(len(ev["t"]), None, dtype=object)
    order_col[is_p] = order_ids[o_rank[np.searchsorted(o_codes, p_sess)]]
    ev_price = np.round(price[ev["item"]] * (1 - ev["disc"]), 2)
    ts = start_ts.to_datetime64().astype("datetime64[s]") + ev["t"].astype("timedelta64[s]")
    events = pd.DataFrame({
        "timestamp": pd.Series(ts.astype("datetime64[ns]")),
        "user_id": _str(user_ids[ev["user"]]),
        "session_id": _str(session_ids[sess_new]),
        "product_id": _str(product_ids[ev["item"]]),
        "event_type": _str(_ETYPE[ev["etype"]]),
        "price": ev_price.astype(float),
        "quantity": ev["qty"].astype(np.int64),
        "order_id": pd.Series(order_col, dtype="str"),
        "channel": _str(np.array(CHANNELS, dtype=object)[all_sess_chan[ev["sess"]]]),
        "discount": ev["disc"].astype(float),
    })

    # ------------------------------------------------------------------ ratings and reviews
    attrs = [{k: t[k] for k in ("colour", "material", "style", "noun", "noun_phrase", "apparel")} for t in texts]
    pu, pi, pt = ev["user"][is_p], ev["item"][is_p], ev["t"][is_p]
    genuine = ~is_fraud[pu]
    rshare = _segment_rows(SEGMENT_SPECS, "rating_share")[seg[pu]]
    rated = genuine & (rng.random(len(pu)) < rshare)
    ru, ri = pu[rated], pi[rated]
    rt = pt[rated] + rng.integers(2 * DAY, 14 * DAY, rated.sum())
    ruv = np.einsum("ij,ij->i", U[ru], V[ri])
    stars = np.clip(np.round(rating_intercept + rating_scale * ruv + item_bias[ri] + rng.normal(0, rating_noise, len(ru))), 1, 5)
    # fake orders: about half come with a 5-star review
    if fake_order_lines:
        fo = np.array(fake_order_lines, dtype=np.int64)
        fo = fo[rng.random(len(fo)) < 0.5]
        ru = np.concatenate([ru, fo[:, 0]])
        ri = np.concatenate([ri, fo[:, 1]])
        rt = np.concatenate([rt, fo[:, 2] + rng.integers(600, 3 * 3600, len(fo))])
        stars = np.concatenate([stars, np.full(len(fo), 5.0)])
    keep = rt < end_sec
    ru, ri, rt, stars = ru[keep], ri[keep], rt[keep], stars[keep]
    order = np.lexsort((ri, ru, rt))
    ru, ri, rt, stars = ru[order], ri[order], rt[order], stars[order]
    dup = np.zeros(len(ru), dtype=bool)
    dup[1:] = (ru[1:] == ru[:-1]) & (ri[1:] == ri[:-1]) & (rt[1:] == rt[:-1])
    ru, ri, rt, stars = ru[~dup], ri[~dup], rt[~dup], stars[~dup]
    reviews = [catalogue.review_text(rng, int(s), attrs[i], locale) for s, i in zip(stars, ri)]
    rts = start_ts.to_datetime64().astype("datetime64[s]") + rt.astype("timedelta64[s]")
    ratings = pd.DataFrame({
        "user_id": _str(user_ids[ru]),
        "product_id": _str(product_ids[ri]),
        "rating": stars.astype(float),
        "timestamp": pd.Series(rts.astype("datetime64[ns]")),
        "review_text": _str(reviews),
    })

    # ------------------------------------------------------------------ tables: users, products
    first_t = np.full(n_users, end_sec, dtype=np.int64)
    np.minimum.at(first_t, ev["user"], ev["t"])
    signup_sec = np.minimum(signup_day.astype(np.int64) * DAY, (first_t // DAY) * DAY)
    acq_keys = ("organic", "ads", "social", "email")
    acq = np.empty(n_users, dtype=object)
    age = np.empty(n_users, dtype=object)
    for s, sname in enumerate(SEGMENTS):
        m = np.flatnonzero(seg == s)
        a = SEGMENT_SPECS[sname]["acquisition"]
        acq[m] = np.array(acq_keys, dtype=object)[_choice(rng, np.array([a[k] for k in acq_keys]), len(m))]
        age[m] = np.array(AGE_BANDS, dtype=object)[_choice(rng, np.array(SEGMENT_AGE[sname]), len(m))]
    gender = np.array(["F", "M", "U"], dtype=object)[_choice(rng, np.array([0.55, 0.42, 0.03]), n_users)]
    regions = np.array(REGIONS[locale], dtype=object)
    users = pd.DataFrame({
        "user_id": _str(user_ids),
        "signup_date": pd.Series((start_ts.to_datetime64().astype("datetime64[s]")
                                  + signup_sec.astype("timedelta64[s]")).astype("datetime64[ns]")),
        "region": _str(regions[_choice(rng, np.array([0.3, 0.2, 0.15, 0.15, 0.1, 0.1]), n_users)]),
        "channel": _str(acq),
        "age_band": _str(age),
        "gender": _str(gender),
    })
    products = pd.DataFrame({
        "product_id": _str(product_ids),
        "title": _str([t["title"] for t in texts]),
        "category": _str([voc[CATEGORY_KEYS[c]].name for c in prod_cat]),
        "brand": _str([t["brand"] for t in texts]),
        "price": price.astype(float),
        "colour": _str([t["colour"] for t in texts]),
        "material": _str([t["material"] for t in texts]),
        "style": _str([t["style"] for t in texts]),
        "description": _str([t["description"] for t in texts]),
        "launch_date": pd.Series((start_ts.to_datetime64().astype("datetime64[s]")
                                  + launch_sec.astype("timedelta64[s]")).astype("datetime64[ns]")),
    })

    # ------------------------------------------------------------------ truth
    dropped_out = dropout_t < end_sec
    truth_users = pd.DataFrame({
        "user_id": _str(user_ids),
        "segment": _str(np.array(SEGMENTS, dtype=object)[seg]),
        "is_fraud": is_fraud,
        "dropout_prob": p_drop,
        "dropped_out": dropped_out,
        "dropout_time": pd.Series((start_ts.to_datetime64().astype("datetime64[s]")
                                   + np.where(dropped_out, dropout_t, 0).astype("timedelta64[s]")).astype("datetime64[ns]")
                                  ).where(dropped_out),
    })
    seg_price = {}
    for s, sname in enumerate(SEGMENTS):
        fav_idx = [cat_index[c] for c in SEGMENT_SPECS[sname]["favourites"]]
        seg_price[sname] = float(np.exp(SEGMENT_SPECS[sname]["price_target"]) * np.mean(cat_median[fav_idx]))
    response = _response_table(seg_price)
    segments = {}
    for s, sname in enumerate(SEGMENTS):
        sp = SEGMENT_SPECS[sname]
        segments[sname] = {
            "share": sp["share"],
            "n_users": int((seg == s).sum()),
            "favourite_category_keys": list(sp["favourites"]),
            "favourite_categories": [voc[c].name for c in sp["favourites"]],
            "price_sensitivity": {"description": sp["price_sensitivity"], "log_price_vs_category_median": sp["price_target"],
                                  "strength": sp["price_strength"]},
            "activity_rate": sp["activity_rate"] * activity_scale,
            "views_per_session": sp["views_per_session"],
            "cart_rate": sp["cart_rate"],
            "purchase_rate": sp["purchase_rate"],
            "cart_abandonment": round(1 - sp["purchase_rate"], 4),
            "discount_prob": sp["discount_prob"],
            "channel_mix": dict(sp["channel_mix"]),
            "peak_hour": sp["peak_hour"],
            "signup_window_days": [float(x * n_days if abs(x) < 1 else x) for x in sp["signup"]],
            "activity_trend": sp["activity_trend"],
            "new_item_bonus": sp["new_item_bonus"],
            "rating_share": sp["rating_share"],
            "acquisition_mix": dict(sp["acquisition"]),
            "age_mix": dict(zip(AGE_BANDS, SEGMENT_AGE[sname])),
            "typical_price": round(seg_price[sname], 2),
        }
    fcols = {f"f{j}": U[:, j] for j in range(n_factors)}
    user_factors = pd.DataFrame({"user_id": _str(user_ids), **fcols})
    icols = {f"f{j}": V[:, j] for j in range(n_factors)}
    item_factors = pd.DataFrame({"product_id": _str(product_ids), **icols})
    item_bias_df = pd.DataFrame({"product_id": _str(product_ids), "bias": item_bias,
                                 "popularity_rank": pop_rank.astype(np.int64)})

    # ------------------------------------------------------------------ exposures (historical campaign)
    exposures = _historical_exposures(rng, n_users, active_from, seg, sampler, launch_sec, user_ids, product_ids,
                                      exposures_per_user, n_days, start_ts)
    truth: dict[str, Any] = {
        "users": truth_users,
        "segments": segments,
        "user_factors": user_factors,
        "item_factors": item_factors,
        "item_bias": item_bias_df,
        "response": response,
    }
    exposures = simulate_campaign(exposures, truth, seed=int(rng.integers(0, 2**31 - 1)), start=start_ts, n_days=n_days)
    exposures = exposures.sort_values(["timestamp", "user_id", "content_id"], kind="stable").reset_index(drop=True)

    truth.update({
        "seed": int(seed),
        "locale": locale,
        "start": str(start_ts.date()),
        "sizes": {"n_users": int(n_users), "n_products": int(n_products), "n_days": int(n_days),
                  "n_factors": int(n_factors), "n_events": int(len(events)), "n_ratings": int(len(ratings)),
                  "n_exposures": int(len(exposures)), "n_sessions": int(len(session_ids)),
                  "n_orders": int(len(order_ids)), "n_fraud": int(n_fraud)},
        "segment_names": list(SEGMENTS),
        "categories": {k: voc[k].name for k in CATEGORY_KEYS},
        "fraud_share": float(fraud_share),
        "dropout": {"a": float(dropout_a), "b": float(dropout_b), "n_dropped_out": int(dropped_out.sum()),
                    "model": "after each repeat purchase day (every purchase day but the first) a genuine customer "
                             "stops for good with probability dropout_prob ~ Beta(a, b), as in BG/NBD; fraud accounts "
                             "never drop out"},
        "fraud": fraud_info,
        "fraud_patterns": {
            "click_burst": "1-3 sessions of 150-400 views 1-3 s apart on 1-4 products, 01:00-05:00",
            "session_rate": "2-4 days with 25-45 sessions 40-120 s apart, 1-3 views each",
            "fake_orders": "10-30 single-line orders of one cheap product at 00:00-05:00, half with a 5-star review",
        },
        "ctr_lift": dict(GPT2_CTR_LIFT),
        "cvr_lift": dict(GPT2_CVR_LIFT),
        "gpt2_loses_in": [s for s in SEGMENTS if GPT2_CTR_LIFT[s] < 0],
        "copy_effects": dict(COPY_EFFECTS),
        "exposure_channel_mix": dict(EXPOSURE_CHANNEL_MIX),
        "variant_split": {"template": 0.5, "gpt2": 0.5},
        "bought_together": [[str(product_ids[a]), str(product_ids[b])] for a, b in pairs],
        "pair_prob": pair_prob,
        "cold_start_products": [str(p) for p in product_ids[is_cold]],
        "weekend_lift": WEEKEND_LIFT,
        "hour_profile": [float(x) for x in HOUR_PROFILE / HOUR_PROFILE.sum()],
        "choice_model": {"factor_weight": factor_weight, "attribute_share": attribute_share, "category_weight": category_weight,
                         "popularity_weight": popularity_weight, "zipf_exponent": zipf_exponent},
        "rating_model": {"intercept": rating_intercept, "scale": rating_scale, "noise_sd": rating_noise, "item_bias_sd": 0.3},
        "discount_levels": [float(x) for x in DISCOUNT_LEVELS],
    })
    return Dataset(
        name=name or f"simulated-{locale}-{n_users}u-{n_products}p-{n_days}d-s{seed}",
        tables={"users": users, "products": products, "events": events, "ratings": ratings, "exposures": exposures},
        locale=locale,
        truth=truth,
        meta={"source": "contentlab.data.simulate", "seed": int(seed), "start": str(start_ts.date()),
              "n_days": int(n_days), "currency": "USD" if locale == "en" else "CNY"},
    )


def _response_table(seg_price: dict[str, float]) -> pd.DataFrame:
    rows = []
    for s in SEGMENTS:
        for ch in EXPOSURE_CHANNELS:
            for var in VARIANTS:
                ctr = BASE_CTR[ch] * SEGMENT_CTR_MULT[s] * (1 + (GPT2_CTR_LIFT[s] if var == "gpt2" else 0.0))
                cvr = BASE_CVR[ch] * SEGMENT_CVR_MULT[s] * (1 + (GPT2_CVR_LIFT[s] if var == "gpt2" else 0.0))
                aov = seg_price[s] * 1.3
                rows.append((s, ch, var, round(ctr, 6), round(cvr, 6), round(aov, 2)))
    df = pd.DataFrame(rows, columns=["segment", "channel", "variant", "ctr", "cvr", "aov"])
    for c in ("segment", "channel", "variant"):
        df[c] = df[c].astype("str")
    return df


def _historical_exposures(rng, n_users, active_from, seg, sampler, launch_sec, user_ids, product_ids,
                          per_user, n_days, start_ts) -> pd.DataFrame:
    """Impressions of a past content campaign: each impression independently assigned 50/50 to a
    variant (so assignment counts follow Binomial(n, 1/2) and an SRM check passes), products drawn
    from each user's own taste, one content id per (product, channel, variant). Every user gets
    Poisson(``per_user``) impressions within their active days (new visitors get a welcome series,
    so their segment is as well measured as the others)."""
    n_imp = rng.poisson(per_user, size=n_users)
    e_user = np.repeat(np.arange(n_users), n_imp)
    n = len(e_user)
    chans = np.array(EXPOSURE_CHANNELS, dtype=object)
    e_chan = _choice(rng, np.array([EXPOSURE_CHANNEL_MIX[c] for c in EXPOSURE_CHANNELS]), n)
    day = active_from[e_user] + np.floor(rng.random(n) * (n_days - active_from[e_user])).astype(np.int64)
    t = day * DAY + rng.integers(7 * 3600, 22 * 3600, n)
    item, ok = _available_items(rng, sampler, e_user, t, launch_sec)
    e_user, e_chan, t, item = e_user[ok], e_chan[ok], t[ok], item[ok]
    var = rng.integers(0, 2, len(e_user))
    combo = (item * len(EXPOSURE_CHANNELS) + e_chan) * 2 + var
    codes, inv = np.unique(combo, return_inverse=True)
    content_ids = _ids("C", len(codes), 5)
    ts = start_ts.to_datetime64().astype("datetime64[s]") + t.astype("timedelta64[s]")
    return pd.DataFrame({
        "timestamp": pd.Series(ts.astype("datetime64[ns]")),
        "user_id": _str(user_ids[e_user]),
        "content_id": _str(content_ids[inv]),
        "product_id": _str(product_ids[item]),
        "variant": _str(np.array(VARIANTS, dtype=object)[var]),
        "channel": _str(chans[e_chan]),
        "segment": _str(np.array(SEGMENTS, dtype=object)[seg[e_user]]),
    })


def _codes(values: pd.Series, names: list[str]) -> np.ndarray:
    """Position of each value in ``names`` (-1 when absent); factorises first, so it is fast on long columns."""
    codes, uniques = pd.factorize(values.astype(str))
    lookup = pd.Index(names).get_indexer([str(u) for u in uniques])
    return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int64)


def simulate_campaign(
    assignments: pd.DataFrame,
    truth: dict[str, Any],
    seed: int = 0,
    start: str | pd.Timestamp = "2026-01-05",
    n_days: int = 14,
) -> pd.DataFrame:
    """Draw clicks, conversions and revenue for a set of impressions from the planted response.

    ``assignments`` has one row per impression with ``user_id, content_id, product_id, variant,
    channel, segment`` (optionally ``timestamp``; otherwise impressions are spread over ``n_days``
    from ``start`` in waking hours). ``segment`` should be a true segment name; rows whose segment is
    not in ``truth["response"]`` (e.g. a cluster label) use the user's true segment from
    ``truth["users"]``, and failing that the average over segments. Unknown channel/variant
    combinations raise ``ValueError``.

    Outcome model: ``clicked ~ Bernoulli(ctr * prod(copy effects))``, ``converted = clicked and
    Bernoulli(cvr)``, ``revenue = converted * aov * LogNormal(mean 1, sd 0.3 in log)``. Copy effects
    (``truth["copy_effects"]``, e.g. ``mentions_price``) apply when the assignments carry a boolean
    column of that name. Returns the exposures table (schema ``exposures``) with one row per
    assignment row, in the same order (repeated ``(timestamp, user_id, content_id)`` keys are moved
    on by whole seconds so the key stays unique).
    """
    required = ["user_id", "content_id", "product_id", "variant", "channel", "segment"]
    missing = [c for c in required if c not in assignments.columns]
    if missing:
        raise ValueError(f"assignments lack columns {missing}")
    rng = np.random.default_rng(seed)
    a = assignments.reset_index(drop=True)
    n = len(a)
    resp = truth["response"]
    seg_names = [str(x) for x in pd.unique(resp["segment"].astype(str))]
    ch_names = [str(x) for x in pd.unique(resp["channel"].astype(str))]
    var_names = [str(x) for x in pd.unique(resp["variant"].astype(str))]
    # response cube [segment (+ average), channel, variant] -> ctr, cvr, aov (NaN where not planted)
    cube = np.full((len(seg_names) + 1, len(ch_names), len(var_names), 3), np.nan)
    si = pd.Index(seg_names).get_indexer(resp["segment"].astype(str))
    ci = pd.Index(ch_names).get_indexer(resp["channel"].astype(str))
    vi = pd.Index(var_names).get_indexer(resp["variant"].astype(str))
    cube[si, ci, vi] = resp[["ctr", "cvr", "aov"]].to_numpy(float)
    with np.errstate(invalid="ignore"):
        cube[-1] = np.nanmean(cube[:-1], axis=0) if len(seg_names) else np.nan
    s_code = _codes(a["segment"], seg_names)
    unknown = s_code < 0
    if unknown.any():
        s_code[unknown] = len(seg_names)  # average over segments ...
        if truth.get("users") is not None:  # ... unless the user's true segment is known
            tu = truth["users"]
            true_seg = pd.Series(pd.Index(seg_names).get_indexer(tu["segment"].astype(str)),
                                 index=tu["user_id"].astype(str).to_numpy())
            true_seg = true_seg[~true_seg.index.duplicated()]
            found = a.loc[unknown, "user_id"].astype(str).map(true_seg).to_numpy()
            ok = ~pd.isna(found)
            idx = np.flatnonzero(unknown)[ok]
            s_code[idx] = np.where(found[ok].astype(int) >= 0, found[ok].astype(int), len(seg_names))
    c_code = _codes(a["channel"], ch_names)
    v_code = _codes(a["variant"], var_names)
    vals = cube[s_code, np.maximum(c_code, 0), np.maximum(v_code, 0)]
    bad = (c_code < 0) | (v_code < 0) | np.isnan(vals[:, 0])
    if bad.any():
        combos = a.loc[bad, ["channel", "variant"]].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"no planted response for channel/variant {combos}")
    ctr, cvr, aov = vals[:, 0].copy(), vals[:, 1], vals[:, 2]
    for feat, mult in truth.get("copy_effects", {}).items():
        if feat in a.columns:
            ctr *= np.where(a[feat].fillna(False).astype(bool).to_numpy(), mult, 1.0)
    clicked = rng.random(n) < np.clip(ctr, 0, 1)
    converted = clicked & (rng.random(n) < cvr)
    revenue = np.where(converted, aov * np.exp(rng.normal(-0.045, 0.3, n)), 0.0)
    if "timestamp" in a.columns:
        ts = pd.to_datetime(a["timestamp"]).to_numpy().astype("datetime64[s]")
    else:
        st = pd.Timestamp(start).normalize().to_datetime64().astype("datetime64[s]")
        secs = rng.integers(0, n_days, n) * DAY + rng.integers(7 * 3600, 22 * 3600, n)
        ts = st + secs.astype("timedelta64[s]")
    # the key (timestamp, user_id, content_id) must be unique: move repeats on by whole seconds
    secs = ts.astype(np.int64)
    u_code, u_uniq = pd.factorize(a["user_id"])
    k_code, k_uniq = pd.factorize(a["content_id"])
    group = u_code.astype(np.int64) * (len(k_uniq) + 1) + k_code.astype(np.int64)
    order = np.lexsort((secs, group))
    g, t = group[order], secs[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    if not new_group.all():  # within a (user, content) group: t'_i = max(t_i, t'_(i-1) + 1)
        pos = np.arange(len(t)) - np.maximum.accumulate(np.where(new_group, np.arange(len(t)), 0))
        base = t - pos
        span = int(base.max() - base.min()) + 1
        gid = np.cumsum(new_group)
        run = np.maximum.accumulate(base - base.min() + gid * span) - gid * span + base.min()
        secs[order] = run + pos
    ts = secs.astype("datetime64[s]")
    out = pd.DataFrame({
        "timestamp": pd.Series(ts.astype("datetime64[ns]")),
        "user_id": a["user_id"].astype("str"),
        "content_id": a["content_id"].astype("str"),
        "product_id": a["product_id"].astype("str"),
        "variant": a["variant"].astype("str"),
        "channel": a["channel"].astype("str"),
        "clicked": clicked,
        "converted": converted,
        "revenue": np.round(revenue, 2),
        "segment": a["segment"].astype("str"),
    })
    return out
