"""The catalogue: categories, charm prices, launch dates (cold-start items), Zipf popularity and product text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab.data.simulate import text
from contentlab.data.simulate.draws import ids, strings, timestamps
from contentlab.data.simulate.spec import DAY
from contentlab.data.simulate.state import ShopState
from contentlab.data.simulate.text import CATEGORY_KEYS


@dataclass
class Catalogue:
    category: np.ndarray  # index into CATEGORY_KEYS, per product
    price: np.ndarray  # list price
    category_median: np.ndarray  # median list price per category
    log_rel_price: np.ndarray  # log(price / its category's median)
    is_cold: np.ndarray  # launched inside the window
    launch_day: np.ndarray  # days after the start (negative: before it)
    launch_sec: np.ndarray
    texts: list[dict]  # title, brand, colour, material, style, description, noun, ... per product
    ids: np.ndarray
    pop_rank: np.ndarray  # 1 = most popular
    log_pop: np.ndarray  # -zipf_exponent * log(rank)

    @property
    def n(self) -> int:
        return len(self.ids)


def draw_catalogue(state: ShopState) -> Catalogue:
    s, rng, voc = state.settings, state.rng, state.vocab
    n, n_cat = s.n_products, len(CATEGORY_KEYS)
    prod_cat = rng.integers(0, n_cat, size=n)
    prod_cat[:n_cat] = np.arange(n_cat)  # every category present
    rng.shuffle(prod_cat)
    medians = np.array([voc[k].median_price for k in CATEGORY_KEYS])
    sigmas = np.array([voc[k].price_sigma for k in CATEGORY_KEYS])
    price = np.exp(np.log(medians[prod_cat]) + sigmas[prod_cat] * rng.standard_normal(n))
    # charm pricing: 19.99 in en, ¥199 in zh
    if s.locale == "en":
        price = np.floor(np.maximum(price, 2.0)) + 0.99
    else:
        price = np.maximum(np.round(price / 10) * 10 - 1, 9.0)
    cat_median = np.array([np.median(price[prod_cat == c]) for c in range(n_cat)])
    is_cold = rng.random(n) < s.cold_start_share
    launch_day = np.where(is_cold, rng.integers(max(1, s.n_days // 5), max(2, s.n_days - 2), n),
                          -rng.integers(1, 730, n))
    texts = text.product_texts(rng, [CATEGORY_KEYS[c] for c in prod_cat], price, s.locale)
    product_ids = ids("P", n, 4)
    pop_rank = rng.permutation(n) + 1
    return Catalogue(category=prod_cat, price=price, category_median=cat_median,
                     log_rel_price=np.log(price / cat_median[prod_cat]), is_cold=is_cold, launch_day=launch_day,
                     launch_sec=launch_day.astype(np.int64) * DAY, texts=texts, ids=product_ids, pop_rank=pop_rank,
                     log_pop=-s.zipf_exponent * np.log(pop_rank))


def products_table(state: ShopState) -> pd.DataFrame:
    c, voc = state.catalogue, state.vocab
    return pd.DataFrame({
        "product_id": strings(c.ids),
        "title": strings([t["title"] for t in c.texts]),
        "category": strings([voc[CATEGORY_KEYS[k]].name for k in c.category]),
        "product_type": strings([t["noun"] for t in c.texts]),
        "brand": strings([t["brand"] for t in c.texts]),
        "price": c.price.astype(float),
        "colour": strings([t["colour"] for t in c.texts]),
        "material": strings([t["material"] for t in c.texts]),
        "style": strings([t["style"] for t in c.texts]),
        "description": strings([t["description"] for t in c.texts]),
        "launch_date": timestamps(state.start, c.launch_sec),
    })
