"""Ratings and reviews: a share of genuine purchases is rated from the latent factors, fake orders get 5 stars.

Stars are ``clip(round(rating_intercept + rating_scale * u.v + item bias + noise), 1, 5)``; every rating has a
1-3 sentence review whose wording agrees with the stars and mentions the product's real attributes
(:func:`contentlab.data.simulate.text.review_text`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contentlab.data.simulate import text
from contentlab.data.simulate.draws import strings, timestamps
from contentlab.data.simulate.spec import DAY, segment_rows
from contentlab.data.simulate.state import ShopState

REVIEW_ATTRIBUTES = ("colour", "material", "style", "noun", "noun_phrase", "apparel")


def draw_ratings(state: ShopState) -> pd.DataFrame:
    s, rng, people, taste, cat = state.settings, state.rng, state.people, state.taste, state.catalogue
    ev, is_p = state.events.arrays, state.events.is_purchase
    attrs = [{k: t[k] for k in REVIEW_ATTRIBUTES} for t in cat.texts]
    pu, pi, pt = ev["user"][is_p], ev["item"][is_p], ev["t"][is_p]
    genuine = ~people.is_fraud[pu]
    rated = genuine & (rng.random(len(pu)) < segment_rows("rating_share")[people.segment[pu]])
    ru, ri = pu[rated], pi[rated]
    rt = pt[rated] + rng.integers(2 * DAY, 14 * DAY, rated.sum())
    ruv = np.einsum("ij,ij->i", taste.user_factors[ru], taste.item_factors[ri])
    stars = np.clip(np.round(s.rating_intercept + s.rating_scale * ruv + taste.item_bias[ri]
                             + rng.normal(0, s.rating_noise, len(ru))), 1, 5)
    # fake orders: about half come with a 5-star review
    if state.fraud.fake_order_lines:
        fo = np.array(state.fraud.fake_order_lines, dtype=np.int64)
        fo = fo[rng.random(len(fo)) < 0.5]
        ru = np.concatenate([ru, fo[:, 0]])
        ri = np.concatenate([ri, fo[:, 1]])
        rt = np.concatenate([rt, fo[:, 2] + rng.integers(600, 3 * 3600, len(fo))])
        stars = np.concatenate([stars, np.full(len(fo), 5.0)])
    keep = rt < state.end_sec
    ru, ri, rt, stars = ru[keep], ri[keep], rt[keep], stars[keep]
    order = np.lexsort((ri, ru, rt))
    ru, ri, rt, stars = ru[order], ri[order], rt[order], stars[order]
    dup = np.zeros(len(ru), dtype=bool)
    dup[1:] = (ru[1:] == ru[:-1]) & (ri[1:] == ri[:-1]) & (rt[1:] == rt[:-1])
    ru, ri, rt, stars = ru[~dup], ri[~dup], rt[~dup], stars[~dup]
    reviews = [text.review_text(rng, int(x), attrs[i], s.locale) for x, i in zip(stars, ri, strict=True)]
    return pd.DataFrame({
        "user_id": strings(people.ids[ru]),
        "product_id": strings(cat.ids[ri]),
        "rating": stars.astype(float),
        "timestamp": timestamps(state.start, rt),
        "review_text": strings(reviews),
    })
