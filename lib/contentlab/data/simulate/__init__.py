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
they stop for good with probability ``p``, and their later sessions never happen. So customers differ in how
long they stay, purchase histories end before the window does, and a lifetime-value model can see drop-out
(P(alive) varies). Churn draws from its own random stream: everything else is drawn exactly as without it.

**Reviews.** A share of purchases is rated; every rating has a 1-3 sentence review whose wording
agrees with the stars and mentions the product's real colour, material, fit, delivery or value.

**Content campaign** (``exposures``, ``truth["audience"]``, ``truth["historical_copy"]``). A historical A/B log:
every impression was randomised 50/50 to copy variant ``template`` or ``gpt2`` and shown on ``email``, ``push`` or
``product_page``; the text of every content id is in ``truth["historical_copy"]``. The audience *reads* it
(:mod:`~contentlab.data.simulate.response`): P(click) and P(convert | click) are logistic in features of the text
(favourite category, the segment's planted preferred colour / material, price x price sensitivity, novelty x trend
affinity, social proof, length against the channel's norm, readability, a wrong attribute, a truncated ending,
broken sentences, repetition) and of the context (channel, hour, weekend, messages received in the last 7 days),
with planted per-segment weights (``truth["copy_weights"]``). Each segment has a planted best channel, best send
hour (also the peak of its sessions, whose channel mix favours the best channel) and fatigue point (messages per
week beyond which CTR falls): ``truth["best_channel"]``, ``truth["best_hour"]``, ``truth["fatigue_point"]``. The
variant label never enters: a variant wins where its texts read better to that segment. ``truth["response"]`` is
the reference CTR / CVR of a plain copy per segment x channel (at the best hour, no fatigue) and the AOV.
``simulate_campaign`` draws outcomes for any set of impressions with their texts from the same truth.

``truth`` keys
--------------
DataFrames (written as ``truth/<key>.parquet``): ``users`` (user_id, segment, is_fraud, dropout_prob,
dropped_out, dropout_time),
``user_factors`` (user_id, f0..f{k-1}), ``item_factors`` (product_id, f0..f{k-1}), ``item_bias``
(product_id, bias, popularity_rank), ``response`` (segment, channel, ctr, cvr, aov), ``copy_weights`` (segment,
feature, ctr_weight, cvr_weight), ``historical_copy`` (content_id, product_id, channel, variant, text).
``segments`` (``truth/segments.json``): per segment favourite_categories (locale names) and
favourite_category_keys, price_sensitivity, activity_rate, views_per_session, cart_rate,
purchase_rate, cart_abandonment, discount_prob, channel_mix, peak_hour, best_hour, best_channel, fatigue_point,
signup_window_days,
activity_trend, new_item_bonus, rating_share, acquisition_mix, age_mix, typical_price.
Everything else (``truth/truth.json``): seed, locale, start, sizes, segment_names, categories,
fraud_share, dropout, fraud (user_id -> patterns), fraud_patterns, audience (the planted audience model: per
segment intercepts, copy-feature weights, best channel / hour, fatigue point and power, favourite words, preferred
attributes; the vocabulary wrong attributes are judged with), best_hour, best_channel, fatigue_point,
exposure_channel_mix, variant_split, bought_together, pair_prob,
cold_start_products, weekend_lift, hour_profile, choice_model, rating_model, discount_levels.

A shop too large for memory: :func:`simulate_to_parquet` (:mod:`~contentlab.data.simulate.chunked`) draws the same
distribution in batches of users and writes each batch's rows straight to Parquet (the events table optionally
date-partitioned), in the memory of one batch.

Size presets are in :data:`PROFILES` (``tiny``: 300 users, 80 products, 30 days, about a tenth of
a second; ``demo``: 5,000 users, 800 products, 90 days, about 500k events in a few seconds).

The parts
---------
Each part is a function over a :class:`~contentlab.data.simulate.state.ShopState` (settings, the random stream,
the parts drawn so far), called by :func:`simulate` in a fixed order (the draws share one stream):
:mod:`~contentlab.data.simulate.catalogue` (products; their text from :mod:`~contentlab.data.simulate.text`),
:mod:`~contentlab.data.simulate.users` (segments, sign-up, fraud accounts, the users table),
:mod:`~contentlab.data.simulate.taste` (latent factors and the choice model),
:mod:`~contentlab.data.simulate.sessions` (sessions and the funnel),
:mod:`~contentlab.data.simulate.churn` (planted drop-out), :mod:`~contentlab.data.simulate.eventlog` (the events
table), :mod:`~contentlab.data.simulate.fraud`, :mod:`~contentlab.data.simulate.reviews`,
:mod:`~contentlab.data.simulate.exposures` (the historical campaign) and :mod:`~contentlab.data.simulate.truth`.
The audience model (:mod:`~contentlab.data.simulate.audience`: :func:`simulate_campaign`, over the planted response
of :mod:`~contentlab.data.simulate.response`) needs none of the others; it is what the feedback stage uses.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from contentlab.data.io import Dataset
from contentlab.data.simulate import catalogue, exposures, truth, users
from contentlab.data.simulate.audience import (
    EXPOSURE_CHANNELS,
    VARIANTS,
    expected_ctr,
    expected_cvr,
    simulate_campaign,
)
from contentlab.data.simulate.behaviour import draw_behaviour
from contentlab.data.simulate.chunked import simulate_to_parquet
from contentlab.data.simulate.spec import CHANNELS, PROFILES, SEGMENT_SPECS, SEGMENTS
from contentlab.data.simulate.state import Settings, ShopState

__all__ = [
    "CHANNELS", "EXPOSURE_CHANNELS", "PROFILES", "SEGMENTS", "SEGMENT_SPECS", "VARIANTS",
    "code_version", "expected_ctr", "expected_cvr", "simulate", "simulate_campaign", "simulate_to_parquet",
]


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
    settings = Settings(
        n_users=n_users, n_products=n_products, n_days=n_days, locale=locale, seed=seed, start=start,
        n_factors=n_factors, fraud_share=fraud_share, activity_scale=activity_scale,
        exposures_per_user=exposures_per_user, factor_weight=factor_weight, attribute_share=attribute_share,
        category_weight=category_weight, popularity_weight=popularity_weight, zipf_exponent=zipf_exponent,
        rating_intercept=rating_intercept, rating_scale=rating_scale, rating_noise=rating_noise, n_pairs=n_pairs,
        pair_prob=pair_prob, cold_start_share=cold_start_share, dropout_a=dropout_a, dropout_b=dropout_b, name=name)
    state = ShopState.begin(settings)
    # the order of the parts is the order of the draws: changing it changes every shop
    state.catalogue = catalogue.draw_catalogue(state)
    state.people = users.draw_people(state)
    draw_behaviour(state)
    state.tables["products"] = catalogue.products_table(state)
    planted = truth.truth_tables(state)
    state.tables["exposures"], planted["historical_copy"] = exposures.historical_exposures(state, planted)
    planted.update(truth.truth_summary(state))
    tables = {k: state.tables[k] for k in ("users", "products", "events", "ratings", "exposures")}
    return Dataset(
        name=name or f"simulated-{locale}-{n_users}u-{n_products}p-{n_days}d-s{seed}",
        tables=tables,
        locale=locale,
        truth=planted,
        meta={"source": "contentlab.data.simulate", "seed": int(seed), "start": str(state.start.date()),
              "n_days": int(n_days), "currency": "USD" if locale == "en" else "CNY"},
    )


def code_version() -> str:
    """Short hash of the simulator's source (every module of this package): a changed simulator makes new shops."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]
