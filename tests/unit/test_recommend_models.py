"""Ranking mode, content/hybrid, search, reasons and outputs on planted low-rank data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend import (
    ContentRecommender,
    HybridRecommender,
    PopularityRecommender,
    RandomRecommender,
    RankingRecommender,
    SurpriseRecommender,
    evaluate_model,
    make_context,
    outputs,
    reasons,
    search,
)
from contentlab.recommend.content import tune_hybrid_weight
from contentlab.recommend.ranking import augmented_training, sample_negatives
from contentlab.recommend.split import hold_out_items, stratified_split

CATS = ["shoes", "bags", "coats", "lamps"]
COLOURS = ["red", "blue", "green", "black"]


def planted_shop(n_users=400, n_items=120, seed=0):
    """Users choose items by a planted low-rank affinity (category + colour taste) plus popularity."""
    rng = np.random.default_rng(seed)
    cat = rng.integers(0, 4, n_items)
    col = rng.integers(0, 4, n_items)
    taste_c = rng.normal(size=(n_users, 4)) * 2.0
    taste_k = rng.normal(size=(n_users, 4)) * 1.5
    pop = rng.normal(size=n_items) * 0.8
    logits = taste_c[:, cat] + taste_k[:, col] + pop[None, :]
    rows = []
    for u in range(n_users):
        p = np.exp(logits[u] - logits[u].max())
        p /= p.sum()
        for i in rng.choice(n_items, size=rng.integers(6, 20), replace=False, p=p):
            rows.append((f"u{u:03d}", f"p{i:03d}", float(rng.choice([1.0, 3.0, 5.0], p=[0.5, 0.25, 0.25])),
                         pd.Timestamp("2026-01-01") + pd.Timedelta(hours=int(rng.integers(0, 999)))))
    inter = pd.DataFrame(rows, columns=["user_id", "product_id", "rating", "timestamp"])
    products = pd.DataFrame({
        "product_id": [f"p{i:03d}" for i in range(n_items)],
        "title": [f"{COLOURS[col[i]]} {CATS[cat[i]][:-1]} model {i}" for i in range(n_items)],
        "category": [CATS[c] for c in cat], "colour": [COLOURS[c] for c in col],
        "description": [f"A {COLOURS[col[i]]} piece from our {CATS[cat[i]]} range." for i in range(n_items)],
        "launch_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n_items), unit="D"),
    })
    return inter, products


@pytest.fixture(scope="module")
def shop():
    inter, products = planted_shop()
    train, test = stratified_split(inter, seed=42)
    train, test, cold = hold_out_items(train, test, 0.1, products, seed=42)
    items = products["product_id"].tolist()
    ctx = make_context(train, test, items, products=products, cold_items=cold)
    return inter, products, train, test, cold, items, ctx


def test_negative_sampler():
    u = np.repeat(np.arange(50), 5)
    i = np.concatenate([np.random.default_rng(n).choice(40, 5, replace=False) for n in range(50)])
    nu, ni = sample_negatives(u, i, 50, 40, neg_ratio=3, pop_exponent=0.5, seed=1)
    pos = set(zip(u.tolist(), i.tolist()))
    neg = list(zip(nu.tolist(), ni.tolist()))
    assert not pos & set(neg)  # never a positive
    assert len(set(neg)) == len(neg)  # never twice
    assert np.bincount(nu, minlength=50).tolist() == [15] * 50  # ratio x positives per user
    again = sample_negatives(u, i, 50, 40, neg_ratio=3, pop_exponent=0.5, seed=1)
    assert np.array_equal(again[0], nu) and np.array_equal(again[1], ni)
    # a user who has seen almost everything gets only what is left
    nu2, _ = sample_negatives(np.zeros(38, int), np.arange(38), 1, 40, neg_ratio=4)
    assert len(nu2) == 2


def test_popularity_exponent_shifts_negatives_to_popular_items():
    rng = np.random.default_rng(0)
    items = np.concatenate([np.zeros(300, int), rng.integers(1, 200, 300)])  # item 0 is very popular
    users = np.arange(600)
    share = []
    for alpha in (0.0, 1.0):
        nu, ni = sample_negatives(users, items, 600, 200, neg_ratio=4, pop_exponent=alpha, seed=2)
        share.append(np.mean(ni == 0))
    assert share[1] > 5 * share[0]


def test_augmented_training_scale_and_unknown_new_items(shop):
    _, _, train, _, cold, items, _ = shop
    us, its, rs, scale = augmented_training(train, items, neg_ratio=2, positive="binary")
    assert scale == (0.0, 1.0)
    assert (rs == 1.0).sum() == len(train) and (rs == 0.0).sum() == pytest.approx(2 * len(train), rel=0.01)
    assert not set(cold) & set(its)  # products without training interactions are never sampled
    _, _, rs2, scale2 = augmented_training(train, items, positive="rating")
    assert scale2 == (0.0, 5.0) and set(np.unique(rs2)) == {0.0, 1.0, 3.0, 5.0}


def test_ranking_mode_beats_popularity_and_rating_mode(shop):
    *_, ctx = shop
    rows = {m.name: evaluate_model(m, ctx).row for m in [
        PopularityRecommender(), RandomRecommender(),
        SurpriseRecommender("SVD", name="svd_rating", random_state=0),
        RankingRecommender(neg_ratio=3, pop_exponent=0.5, n_factors=8, n_epochs=30, lr_all=0.02, reg_all=0.02)]}
    ndcg = {k: v["ndcg_at_10"] for k, v in rows.items()}
    assert ndcg["svd_ranking"] > 1.2 * ndcg["popularity"] > ndcg["random"]
    assert ndcg["svd_ranking"] > 1.5 * ndcg["svd_rating"]
    assert np.isnan(rows["svd_ranking"]["rmse"]) and rows["svd_rating"]["rmse"] > 0
    for row in rows.values():
        assert 0 <= row["precision_at_10"] <= row["hit_rate_at_10"] <= 1
        assert row["n_eval_users"] == len(ctx.users)


def test_content_and_hybrid_help_cold_items(shop):
    _, products, train, test, cold, items, ctx = shop
    assert cold and not set(cold) & set(train["product_id"])
    cf = RankingRecommender(neg_ratio=3, pop_exponent=0.5, n_factors=8, n_epochs=30, lr_all=0.02)
    content = ContentRecommender(products)
    r_cf, r_ct = evaluate_model(cf, ctx), evaluate_model(content, ctx)
    hyb = HybridRecommender(cf, content, 0.5, refit_parts=False).fit(train, items)
    r_h = evaluate_model(hyb, ctx, fit=False)
    # collaborative scores cannot tell new products apart; text and attributes can
    assert r_ct.row["cold_ndcg_at_10"] > r_cf.row["cold_ndcg_at_10"] + 0.05
    assert r_h.row["cold_ndcg_at_10"] > r_cf.row["cold_ndcg_at_10"]
    # with weight 1 the hybrid ranks exactly like its collaborative part
    pure = HybridRecommender(cf, content, 1.0, refit_parts=False).fit(train, items)
    assert np.array_equal(evaluate_model(pure, ctx, fit=False).top, r_cf.top)
    w, table = tune_hybrid_weight(cf, content, lambda m: evaluate_model(m, ctx, fit=False).row["ndcg_at_10"],
                                  (0.0, 0.5, 1.0))
    assert w in (0.0, 0.5, 1.0) and table["score"].max() == pytest.approx(
        table.loc[table["weight_cf"] == w, "score"].iloc[0])


def test_content_scores_are_cosine_of_profiles(shop):
    _, products, train, _, _, items, _ = shop
    m = ContentRecommender(products).fit(train, items)
    u = train["user_id"].iloc[0]
    hist = train[train["user_id"] == u]
    pos = [items.index(p) for p in hist["product_id"]]
    X = m.item_vectors.toarray()
    prof = (hist["rating"].to_numpy()[:, None] * X[pos]).sum(axis=0)
    expect = X @ (prof / np.linalg.norm(prof))
    np.testing.assert_allclose(m.score([u])[0], expect, atol=1e-12)
    assert np.all(m.score(["unknown-user"]) == 0)


def test_searches(shop):
    _, _, train, _, _, items, _ = shop
    table, best, _ = search.surprise_search("SVD", {"n_factors": [2, 10], "n_epochs": [5]}, train, cv=2, n_jobs=1)
    assert len(table) == 2 and {"mean_test_rmse", "mean_test_mae"} <= set(table.columns)
    assert best["n_factors"] == table.iloc[0]["n_factors"]
    assert table["mean_test_rmse"].is_monotonic_increasing
    grid = {"neg_ratio": [1, 3], "pop_exponent": [0.5], "n_factors": [8], "n_epochs": [10], "lr_all": [0.02]}
    rtable, rbest = search.ranking_search(grid, train, items, n_jobs=1)
    assert len(rtable) == 2 and rbest["neg_ratio"] == rtable.iloc[0]["neg_ratio"]
    assert rtable["ndcg_at_10"].is_monotonic_decreasing
    assert len(search.candidates({"a": [1, 2, 3], "b": [4, 5]}, randomized=True, n_iter=3, seed=0)) == 3


def test_reasons_and_outputs(shop, tmp_path):
    inter, products, train, _, _, items, ctx = shop
    model = PopularityRecommender().fit(train, items)
    users = ctx.users[:20]
    top, scores = __import__("contentlab.recommend.topn", fromlist=["top_k"]).top_k(model.score, users, 5,
                                                                                    ctx.seen[:20])
    recs = reasons.recommendation_frame(users, items, top, scores, model.name)
    assert recs.groupby("user_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()
    # a rule whose antecedent user 0 has and whose consequent is recommended to user 0
    u0 = users[0]
    have = train.loc[train["user_id"] == u0, "product_id"].iloc[0]
    target = recs.loc[recs["user_id"] == u0, "product_id"].iloc[0]
    rules = pd.DataFrame({"segment": ["all"], "antecedents": [[have]], "consequents": [[target]], "lift": [3.0]})
    profiles = pd.DataFrame({"user_id": users, "segment": "trend_seeker", "is_flagged": False})
    recs["reason"] = reasons.explain(recs, train, products, profiles, rules).to_numpy()
    title = products.set_index("product_id").loc[have, "title"]
    assert recs.loc[(recs["user_id"] == u0) & (recs["product_id"] == target), "reason"].iloc[0] == f"often bought with {title}"
    assert recs["reason"].str.len().gt(5).all()
    favs = reasons.segment_favourites(train, products, profiles)
    assert set(favs) == {"trend_seeker"}
    path = outputs.write_recommendations(recs, tmp_path)
    back = pd.read_parquet(path)
    assert list(back.columns) == ["user_id", "rank", "product_id", "score", "model", "reason"]
    outputs.write_best_model(tmp_path, "svd_ranking", {"neg_ratio": np.int64(3)}, "ndcg_at_10", np.float64(0.3))
    rec = json.loads((tmp_path / "recommender" / "best_model.json").read_text())
    assert rec == {"model": "svd_ranking", "params": {"neg_ratio": 3}, "metric": "ndcg_at_10", "value": 0.3}


def test_select_best_and_popularity_bias():
    table = pd.DataFrame({"model": ["a", "b", "c"], "kind": ["x"] * 3, "ndcg_at_10": [0.1, 0.3, np.nan],
                          "rmse": [1.0, 0.9, 0.8]})
    assert outputs.select_best(table, "ndcg_at_10")["model"] == "b"
    assert outputs.select_best(table, "rmse")["model"] == "c"
    counts = np.arange(20, dtype=float)  # item 19 most popular
    bias = outputs.popularity_bias(np.array([[19, 18], [0, 19]]), counts)
    assert bias.loc[bias["popularity_decile"] == 10, "share"].iloc[0] == pytest.approx(0.75)
    assert bias["share"].sum() == pytest.approx(1.0)


def test_segment_breakdown():
    from contentlab.recommend import segment_breakdown

    per_user = pd.DataFrame({"user_id": list("abcdefghij"),
                             "precision": [0.1, 0.3, 0.2, 0.0, 0.1, 0.1, 0.2, 0.0, 0.3, 0.1],
                             "recall": [1.0, 0.5, 0.0, 0.0, 0.5, 0.5, 1.0, 0.0, 0.5, 1.0],
                             "ndcg": [0.4, 0.2, 0.6, 0.0, 0.3, 0.1, 0.5, 0.0, 0.7, 0.2],
                             "hit_rate": [1, 1, 1, 0, 1, 1, 1, 0, 1, 1]})
    profiles = pd.DataFrame({"user_id": list("abcdefghi"), "segment": ["x"] * 5 + ["y"] * 3 + ["z"]})
    out = segment_breakdown(per_user, profiles).set_index("segment")
    assert out.loc["x", "users"] == 5 and out.loc["x", "ndcg"] == pytest.approx(0.3)
    assert out.loc["x", "hit_rate"] == pytest.approx(0.8)
    assert out.loc["x", "precision"] == pytest.approx(0.14)
    assert out.loc["x", "recall"] == pytest.approx(0.4)
    assert segment_breakdown(per_user, None).empty


def test_segment_breakdown_applies_the_small_cell_rule():
    """Segments under MIN_CELL (5) evaluated users are never shown on their own: merged when the merged group
    reaches 5 (its means are over all its users), else left out and counted."""
    from contentlab.privacy import MERGED_LABEL, MIN_CELL
    from contentlab.recommend import segment_breakdown

    assert MIN_CELL == 5
    users = [f"u{n}" for n in range(14)]
    ndcg = np.round(np.linspace(0.0, 0.65, 14), 2)
    per_user = pd.DataFrame({"user_id": users, "precision": ndcg / 2, "recall": ndcg, "ndcg": ndcg,
                             "hit_rate": (ndcg > 0.2).astype(int)})
    # big: 8 users; small1: 3; small2: 2; one user has no profile ("unprofiled", 1) -> 3 + 2 + 1 = 6 merged
    profiles = pd.DataFrame({"user_id": users[:13], "segment": ["big"] * 8 + ["small1"] * 3 + ["small2"] * 2})
    out = segment_breakdown(per_user, profiles)
    assert out["users"].tolist() == [8, 6] and out["segment"].tolist() == ["big", MERGED_LABEL]
    assert (out["users"] >= MIN_CELL).all()
    merged = out.set_index("segment").loc[MERGED_LABEL]
    assert merged["ndcg"] == pytest.approx(ndcg[8:].mean())
    assert merged["hit_rate"] == pytest.approx((ndcg[8:] > 0.2).mean())
    assert out.attrs["suppressed_users"] == 0 and out.attrs["merged_segments"] == 3

    # small groups that stay under 5 even merged are left out, and counted
    profiles = pd.DataFrame({"user_id": users, "segment": ["big"] * 11 + ["small1"] * 2 + ["small2"]})
    out = segment_breakdown(per_user, profiles)
    assert out["segment"].tolist() == ["big"] and out["users"].tolist() == [11]
    assert out.attrs["suppressed_users"] == 3
    assert out.loc[0, "ndcg"] == pytest.approx(ndcg[:11].mean())
