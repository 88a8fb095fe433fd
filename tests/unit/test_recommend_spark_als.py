"""Spark MLlib ALS in the recommendation stage: its top-N lists computed on Spark are the protocol's (full
catalogue, training products excluded, the same tie rule), its per-partition metrics are the package's metric code
(exactly the values it gives in pandas on the same lists), and its ranking agrees with Spark's own
``recommendForAllUsers``. One local Spark session (``local[1]``) for the module."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend import RecommendConfig, evaluate_model, make_context
from contentlab.recommend import metrics as M
from contentlab.recommend.models import RandomRecommender
from contentlab.recommend.spark_als import (
    SparkALSRecommender,
    als_search,
    evaluate_on_spark,
    restrict_result,
    spark_per_user_metrics,
    spark_top_k,
)
from contentlab.recommend.split import stratified_split
from test_recommend_models import planted_shop

pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")

SPARK = {"kind": "spark", "master": "local[1]", "conf": {"spark.sql.shuffle.partitions": "2"}}
K = 10
NEVER_BOUGHT = ["zz_new_1", "zz_new_2", "zz_new_3"]  # catalogue products without any interaction


@pytest.fixture(scope="module")
def spark():
    from contentlab.engine import spark_session, stop_spark

    yield spark_session(SPARK)
    stop_spark()


@pytest.fixture(scope="module")
def shop():
    inter, products = planted_shop(n_users=160, n_items=50, seed=5)
    train, test = stratified_split(inter, seed=42)
    items = products["product_id"].tolist() + NEVER_BOUGHT
    return train, test, items, products


@pytest.fixture(scope="module")
def fitted(spark, shop):
    train, _test, items, _products = shop
    return SparkALSRecommender(spark, seed=42, rank=8, regParam=0.1, alpha=10.0, maxIter=8).fit(train, items)


def _ctx(shop):
    train, test, items, products = shop
    return make_context(train, test, items, k=K, products=products)


@pytest.mark.slow  # a Spark session and ALS fits
def test_per_partition_metrics_are_the_package_metrics_in_pandas_exactly(spark, shop, fitted):
    ctx = _ctx(shop)
    tops = spark_top_k(fitted, K)
    got = tops.toPandas().set_index("user")
    users = fitted.ids.users.get_indexer(ctx.users)
    top = np.vstack(got.loc[users, "top"].to_numpy()).astype(np.int64)  # the same top-N, on the driver
    expected = M.per_user_ranking(top, ctx.relevant, K)
    for partitions in (None, 3):  # one partition per shuffle partition, and three user partitions
        spark_side = spark_per_user_metrics(spark, tops, users, ctx.relevant, K, partitions=partitions)
        assert np.array_equal(np.vstack(spark_side["top"].to_numpy()), top)
        pd.testing.assert_frame_equal(spark_side[expected.columns.tolist()].astype({"n_relevant": int}), expected,
                                      check_exact=True)
        means = M.ranking_means(spark_side, K)
        reference = M.summarize(top, ctx.relevant, K)
        assert {name: means[name] for name in means} == {name: reference[name] for name in means}
    assert expected["ndcg"].gt(0).any() and expected["ndcg"].lt(1).any()  # not a degenerate ranking


@pytest.mark.slow  # a Spark session and ALS fits
def test_als_scored_on_a_sample_of_customers_is_evaluate_model_on_that_sample(shop, fitted):
    """ALS scored on every customer, then restricted to a sample (the single-machine models' customers): exactly what
    the package's own evaluate_model gives for the same fitted model on the sample's split."""
    from contentlab.recommend.sampling import single_node_sample

    train, test, items, products = shop
    full = evaluate_on_spark(fitted, _ctx(shop), fit=False)
    sample = single_node_sample(train, {**SPARK, "single_node_users": 40}, seed=3)
    assert len(sample.users) == 40 and sample.of == train["user_id"].nunique()
    ctx = make_context(sample.keep(train), sample.keep(test), items, k=K, products=products)
    assert 0 < len(ctx.users) <= 40 and set(ctx.users) <= set(sample.users)
    got = restrict_result(full, ctx)
    reference = evaluate_model(fitted, ctx, fit=False, rating_metrics=False)
    assert np.array_equal(got.top, reference.top)
    for name in ("ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10", "coverage",
                 "novelty", "diversity"):
        assert got.row[name] == pytest.approx(reference.row[name], abs=1e-12), name
    assert got.row["ndcg_at_10"] != pytest.approx(full.row["ndcg_at_10"], abs=1e-9)  # a different set of customers


@pytest.mark.slow  # a Spark session and ALS fits
def test_spark_top_n_is_the_protocols_full_catalogue_top_n(shop, fitted):
    """evaluate_on_spark gives what the package's own harness gives for the same model scored on the driver:
    the same lists (training products excluded, never-bought products at score 0, ties to the lower position), the
    same per-customer metrics and the same results row."""
    ctx = _ctx(shop)
    on_spark = evaluate_on_spark(fitted, ctx, fit=False)
    driver = evaluate_model(fitted, ctx, fit=False, rating_metrics=False)
    assert np.array_equal(on_spark.top, driver.top)
    pd.testing.assert_frame_equal(on_spark.per_user, driver.per_user, check_exact=True)
    for name in ("ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10", "n_eval_users",
                 "coverage", "novelty", "diversity"):
        assert on_spark.row[name] == driver.row[name], name
    for row, seen in zip(on_spark.top, ctx.seen):
        assert not set(row.tolist()) & set(seen.tolist()), "a training product was recommended"
    new = [ctx.items.index(p) for p in NEVER_BOUGHT]
    assert not fitted.item_factors[new].any()  # no interactions: zero factors, score 0
    # the whole catalogue is ranked: with k = the catalogue, each list is every product but the customer's own
    every = spark_top_k(fitted, len(ctx.items)).toPandas().set_index("user")
    for user, seen in zip(fitted.ids.users.get_indexer(ctx.users), ctx.seen):
        row = np.asarray(every.loc[user, "top"])
        assert set(row[row >= 0].tolist()) == set(range(len(ctx.items))) - set(seen.tolist())
        assert (row < 0).sum() == len(set(seen.tolist()))


@pytest.mark.slow  # a Spark session and ALS fits
def test_spark_top_n_agrees_with_spark_recommend_for_all_users(shop, fitted):
    """Spark's own recommendForAllUsers ranks the products ALS saw (float32 scores) and keeps the customer's own:
    once those are removed, its order is ours wherever no two scores are within float32 noise."""
    train = shop[0]
    known = np.zeros(len(fitted.items), dtype=bool)
    known[fitted.ids.items.get_indexer(train["product_id"].unique())] = True
    ref = fitted.model.recommendForAllUsers(int(known.sum())).toPandas().set_index("user")
    ours = spark_top_k(fitted, K).toPandas().set_index("user")
    seen = train.assign(u=fitted.ids.users.get_indexer(train["user_id"]),
                        i=fitted.ids.items.get_indexer(train["product_id"])).groupby("u")["i"].agg(set)
    checked = 0
    for user, recs in ref["recommendations"].items():
        items = [int(r["item"]) for r in recs if int(r["item"]) not in seen[user]]
        scores = np.array([float(r["rating"]) for r in recs if int(r["item"]) not in seen[user]])
        mine = [i for i in ours.loc[user, "top"].tolist() if i >= 0 and known[i]]
        n = len(mine)
        if n and np.all(np.abs(np.diff(scores[:n + 1])) > 1e-5):
            assert mine == items[:n], user
            checked += 1
    assert checked >= 0.8 * len(ref)


@pytest.mark.slow  # a Spark session and ALS fits
def test_als_beats_random_and_the_search_uses_the_validation_split(spark, shop):
    train, _test, items, _products = shop
    ctx = _ctx(shop)
    val_fit, val_eval = stratified_split(train, seed=43)
    table, best = als_search(spark, (val_fit, val_eval), items, {"rank": [4, 8], "alpha": [1.0, 10.0]},
                             {"maxIter": 5}, k=K, seed=42)
    assert len(table) == 4 and list(table.columns) == ["rank", "alpha", "ndcg_at_10", "fit_s"]
    assert table["ndcg_at_10"].is_monotonic_decreasing
    assert (best["rank"], best["alpha"]) == (int(table.at[0, "rank"]), float(table.at[0, "alpha"]))
    assert best["maxIter"] == 5 and isinstance(best["rank"], int)
    als = evaluate_on_spark(SparkALSRecommender(spark, seed=42, **best), ctx).row["ndcg_at_10"]
    rand = evaluate_model(RandomRecommender(seed=42), ctx, rating_metrics=False).row["ndcg_at_10"]
    assert als > 1.5 * rand


def test_als_settings_are_checked_by_name():
    with pytest.raises(ValueError, match=r"model_params\['ALS'\]: ALS settings \['rnak'\] are not ALS settings"):
        RecommendConfig(model_params={"ALS": {"rnak": [8]}})
    with pytest.raises(ValueError, match=r"model_params\['ALS'\]: ALS rank must be a positive integer \(got 0\)"):
        RecommendConfig(model_params={"ALS": {"rank": [0, 8]}})
    with pytest.raises(ValueError, match=r"ALS regParam must be a number ≥ 0 \(got 'high'\)"):
        RecommendConfig(model_params={"ALS": {"regParam": "high"}})
    with pytest.raises(ValueError, match=r"engine.kind 'sparks' is not an engine"):
        RecommendConfig(engine={"kind": "sparks"})
    cfg = RecommendConfig(engine={"kind": "spark", "master": "local[1]"}, model_params={"ALS": {"rank": 4}})
    assert cfg.on_spark and not RecommendConfig().on_spark
    # a setting left out keeps its default: lists are searched, single values kept
    assert cfg.als == ({"regParam": [0.01, 0.1], "alpha": [1.0, 10.0]},
                       {"rank": 4, "regParam": 0.1, "alpha": 10.0, "maxIter": 10})
    assert RecommendConfig().als[0] == {"rank": [8, 16], "regParam": [0.01, 0.1], "alpha": [1.0, 10.0]}
