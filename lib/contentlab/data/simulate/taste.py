"""Taste: latent user and item factors, item bias, and the choice model that decides which items a user views.

``u, v ~ N(0, k^-1/2 I)`` so ``u.v`` has unit variance; ``attribute_share`` of each item vector's variance comes from
its brand, colour, material and style (what a content-based model can see in the text), the rest is idiosyncratic.
A user views item ``i`` with probability proportional to ``exp(factor_weight * u.v + category affinity +
popularity_weight * log popularity - price-band penalty + new-item bonus)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab.data.simulate.draws import RowSampler
from contentlab.data.simulate.spec import SEGMENT_SPECS, SEGMENTS, segment_rows
from contentlab.data.simulate.state import ShopState
from contentlab.data.simulate.text import CATEGORY_KEYS

BLOCK = 2048  # users per block of the choice logits (temporaries stay small)


@dataclass
class ItemTaste:
    """The item side of the taste model: latent factors and rating bias per item."""

    item_factors: np.ndarray  # items x k
    item_bias: np.ndarray


@dataclass
class Taste:
    user_factors: np.ndarray  # users x k
    item_factors: np.ndarray  # items x k
    item_bias: np.ndarray  # rating offset per item
    sampler: RowSampler  # draws the item a user views


def draw_taste(state: ShopState, items: ItemTaste | None = None) -> Taste:
    """Latent user factors, the item side (drawn here unless ``items`` is given, as a shop simulated in batches of
    users shares it) and the choice model of the users of ``state.people``."""
    s, rng, cat, seg = state.settings, state.rng, state.catalogue, state.people.segment
    k, n_users, n_items = s.n_factors, len(seg), cat.n
    sd = k ** -0.25  # u.v ~ unit variance
    user_f = rng.normal(0, sd, size=(n_users, k))
    if items is None:
        items = draw_item_taste(state)
    item_f, item_bias = items.item_factors, items.item_bias

    # choice logits: user x item
    cat_index = {c: i for i, c in enumerate(CATEGORY_KEYS)}
    fav = np.zeros((len(SEGMENTS), len(CATEGORY_KEYS)))
    for i, name in enumerate(SEGMENTS):
        for j, c in enumerate(SEGMENT_SPECS[name]["favourites"]):
            fav[i, cat_index[c]] = s.category_weight * (1.0 - 0.08 * j)
    user_cat = fav[seg] + rng.normal(0, 0.25, size=(n_users, len(CATEGORY_KEYS)))
    p_target = segment_rows("price_target")
    p_strength = segment_rows("price_strength")
    new_bonus = segment_rows("new_item_bonus")
    # computed in blocks of users so temporaries stay small; memory is one users x items matrix
    probs = np.empty((n_users, n_items))
    for lo in range(0, n_users, BLOCK):
        b = slice(lo, min(lo + BLOCK, n_users))
        sb = seg[b]
        logit = s.factor_weight * (user_f[b] @ item_f.T)
        logit += user_cat[b][:, cat.category]
        logit += s.popularity_weight * cat.log_pop[None, :]
        logit -= p_strength[sb][:, None] * (cat.log_rel_price[None, :] - p_target[sb][:, None]) ** 2
        logit += new_bonus[sb][:, None] * cat.is_cold[None, :]
        logit -= logit.max(axis=1, keepdims=True)
        probs[b] = np.exp(logit)
    return Taste(user_factors=user_f, item_factors=item_f, item_bias=item_bias,
                 sampler=RowSampler(probs))  # the sampler takes over `probs` (cumulative rows, in place)


def draw_item_taste(state: ShopState) -> ItemTaste:
    """Item factors (``attribute_share`` of their variance from brand, colour, material and style) and item bias."""
    s, rng, cat = state.settings, state.rng, state.catalogue
    k, n_items = s.n_factors, cat.n
    sd = k ** -0.25
    attr_part = np.zeros((n_items, k))
    for attr in ("brand", "colour", "material", "style"):
        codes, uniq = pd.factorize(pd.Series([t[attr] for t in cat.texts]))
        attr_part += rng.normal(0, sd, size=(len(uniq), k))[codes]
    attr_part /= 2.0  # sum of four unit-variance parts -> back to variance sd^2
    item_f = np.sqrt(s.attribute_share) * attr_part + np.sqrt(1 - s.attribute_share) * rng.normal(0, sd, (n_items, k))
    item_bias = rng.normal(0, 0.3, size=n_items)
    return ItemTaste(item_factors=item_f, item_bias=item_bias)
