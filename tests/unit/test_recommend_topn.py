"""Fast top-N scoring equals Surprise's own predictions; top-k lists equal Surprise's documented recipe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from surprise import SVD, Dataset, Reader

from contentlab.recommend.models import SurpriseRecommender, to_surprise
from contentlab.recommend.topn import surprise_recipe_top_n, surprise_scores, surprise_top_k, top_k, top_k_from_scores


def low_rank_ratings(n_users=120, n_items=70, n_factors=3, per_user=(4, 25), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(size=(n_users, n_factors)), rng.normal(size=(n_items, n_factors))
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=rng.integers(*per_user), replace=False)
        for i in items:
            r = float(np.clip(np.round(3 + P[u] @ Q[i] + rng.normal(scale=0.4)), 1, 5))
            rows.append((f"u{u:03d}", f"p{i:03d}", r))
    return pd.DataFrame(rows, columns=["user_id", "product_id", "rating"])


@pytest.fixture(scope="module")
def ratings():
    return low_rank_ratings()


def test_build_trainset_equals_surprise(ratings):
    ours = to_surprise(ratings, (1, 5))
    ref = Dataset.load_from_df(ratings[["user_id", "product_id", "rating"]].astype({"user_id": object, "product_id": object}),
                               Reader(rating_scale=(1, 5))).build_full_trainset()
    assert ours._raw2inner_id_users == ref._raw2inner_id_users
    assert ours._raw2inner_id_items == ref._raw2inner_id_items
    assert dict(ours.ur) == dict(ref.ur) and dict(ours.ir) == dict(ref.ir)
    assert ours.n_ratings == ref.n_ratings and ours.global_mean == pytest.approx(ref.global_mean, abs=1e-12)
    a, b = SVD(random_state=3, n_epochs=5).fit(ours), SVD(random_state=3, n_epochs=5).fit(ref)
    assert np.array_equal(a.pu, b.pu) and np.array_equal(a.bi, b.bi)


ALGOS = [
    ("SVD", {}),
    ("SVD", {"biased": False}),
    ("SVDpp", {"n_epochs": 4, "n_factors": 5}),
    ("NMF", {}),
    ("BaselineOnly", {}),
    ("KNNBaseline", {}),  # item-based (the wrapper's default)
    ("KNNBaseline", {"k": 3}),  # heavy users take the k most similar neighbours
    ("KNNBaseline", {"sim_options": {"name": "pearson_baseline", "user_based": True}}),
]


@pytest.mark.parametrize("algo,params", ALGOS, ids=[f"{a}-{n}" for n, (a, _) in enumerate(ALGOS)])
def test_scores_equal_surprise_predict(ratings, algo, params):
    items = sorted(ratings["product_id"].unique()) + ["p_new"]  # an item unknown to the model
    users = sorted(ratings["user_id"].unique())[:25] + ["u_new"]  # and an unknown user
    model = SurpriseRecommender(algo, **params).fit(ratings, items)
    fast = model.score(users)
    ref = np.array([[model.algo.predict(u, i, clip=False).est for i in items] for u in users])
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-9)
    clipped = surprise_scores(model.algo, users, items, clip=True)
    ref_c = np.array([[model.algo.predict(u, i).est for i in items] for u in users])
    np.testing.assert_allclose(clipped, ref_c, rtol=0, atol=1e-9)


def test_unclipped_scores_leave_the_rating_scale(ratings):
    """The comparison is made before clipping: some SVD estimates really fall outside 1-5."""
    model = SurpriseRecommender("SVD", n_epochs=60, lr_all=0.02, reg_all=0.0).fit(ratings, sorted(ratings["product_id"].unique()))
    s = model.score(sorted(ratings["user_id"].unique()))
    assert (s > 5).any() or (s < 1).any()


def test_top_k_from_scores_order_ties_and_exclusion():
    s = np.array([[0.1, 0.9, 0.5, 0.9, -np.inf], [1.0, 2.0, 3.0, 4.0, 5.0]])
    idx, val = top_k_from_scores(s, 3)
    assert idx.tolist() == [[1, 3, 2], [4, 3, 2]]  # tie 0.9/0.9 broken by lower position
    idx, _ = top_k_from_scores(np.array([[1.0, -np.inf, -np.inf]]), 3)
    assert idx.tolist() == [[0, -1, -1]]
    idx, _ = top_k(lambda users: np.tile(np.arange(5.0), (len(users), 1)), ["a", "b"], 2,
                   seen=[np.array([4]), np.array([], dtype=np.int64)], chunk_size=1)
    assert idx.tolist() == [[3, 2], [4, 3]]


def test_fast_top_k_equals_surprise_recipe(ratings):
    algo = SVD(random_state=0, n_epochs=10).fit(to_surprise(ratings, (1, 5)))
    ts = algo.trainset
    recipe = surprise_recipe_top_n(algo, ts, n=10)
    items = [ts.to_raw_iid(i) for i in range(ts.n_items)]  # the anti-testset's item order
    users = [ts.to_raw_uid(u) for u in range(ts.n_users)]
    idx, val = surprise_top_k(algo, users, items, k=10, clip=True, chunk_size=37)
    for row, u in enumerate(users):
        assert [items[j] for j in idx[row]] == [iid for iid, _ in recipe[u]]
        np.testing.assert_allclose(val[row], [est for _, est in recipe[u]], atol=1e-12)
