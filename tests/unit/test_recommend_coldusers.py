"""The two-tower deep user model and the cold-user slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend import make_context
from contentlab.recommend.coldusers import (
    SegmentPopularityRecommender,
    TwoTowerRecommender,
    cold_user_slice,
    cold_user_table,
    item_features,
    profile_features,
)
from contentlab.recommend.models import PopularityRecommender
from contentlab.recommend.split import stratified_split
from test_recommend_models import planted_shop

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def shop():
    inter, products = planted_shop(n_users=300, n_items=60, seed=7)
    products = products.assign(price=np.linspace(5, 300, len(products)))
    # profiles: a segment that follows the planted category taste (what profiling finds on real behaviour)
    fav = inter.merge(products[["product_id", "category"]], on="product_id").groupby("user_id")["category"].agg(
        lambda s: s.value_counts().index[0])
    profiles = pd.DataFrame({"user_id": fav.index, "segment": fav.to_numpy(), "n_sessions": 3, "active_days": 2,
                             "events_per_session": 4.0, "ch_share__web": 1.0})
    train, test = stratified_split(inter, seed=42)
    return train, test, products, profiles


def test_features_are_standardised_and_follow_the_profiles(shop):
    train, _test, products, profiles = shop
    users = sorted(train["user_id"].unique())
    x = profile_features([*users, "nobody"], profiles)
    assert x.shape[0] == len(users) + 1
    assert np.allclose(x.mean(axis=0), 0, atol=1e-9)  # constant columns (sessions, ...) stay 0
    assert profile_features(users, None).shape == (len(users), 0)
    z = item_features(products["product_id"].tolist(), products, factors=np.ones((len(products), 2)))
    assert z.shape == (len(products), 2 + products["category"].nunique() + 1)


def test_cold_user_slice_keeps_customers_with_short_histories(shop):
    train, test, products, _profiles = shop
    ctx = make_context(train, test, products["product_id"].tolist())
    cold = cold_user_slice(ctx, max_train=5)
    assert cold.users and all(len(s) <= 5 for s in cold.seen)
    assert len(cold.users) == sum(len(s) <= 5 for s in ctx.seen)


def test_two_tower_beats_popularity_for_new_customers_and_is_seeded(shop):
    train, test, products, profiles = shop
    items = products["product_id"].tolist()
    ctx = make_context(train, test, items)
    tt = TwoTowerRecommender(products, profiles, epochs=20, seed=3).fit(train, items)
    again = TwoTowerRecommender(products, profiles, epochs=20, seed=3).fit(train, items)
    users = ctx.users[:5]
    assert np.array_equal(tt.score(users), again.score(users))
    table = cold_user_table({"two_tower": tt, "popularity": PopularityRecommender().fit(train, items),
                             "segment_popularity": SegmentPopularityRecommender(profiles).fit(train, items)},
                            ctx, max_train=6)
    scores = table.set_index("model")["ndcg_at_10"]
    assert table.attrs["users"] == len(cold_user_slice(ctx, 6).users) > 20
    assert scores["two_tower"] > scores["popularity"], scores.to_dict()
    assert scores["segment_popularity"] > scores["popularity"], scores.to_dict()
