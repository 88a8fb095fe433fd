"""The customers 03's single-machine models take on a Spark engine (contentlab.recommend.sampling): every customer
on DuckDB or below the engine's ``single_node_users``; above it a seeded sample of exactly that many training
customers, whose rows keep every pair they have in the whole split."""

from __future__ import annotations

import pandas as pd

from contentlab.engine import check_engine_spec
from contentlab.recommend.sampling import single_node_sample
from contentlab.recommend.split import stratified_split
from test_recommend_models import planted_shop

SPARK = check_engine_spec({"kind": "spark", "single_node_users": 50})


def _split():
    inter, _products = planted_shop(n_users=120, n_items=30, seed=2)
    return stratified_split(inter, seed=42)


def test_nothing_is_sampled_on_duckdb_or_below_the_limit():
    train, _test = _split()
    assert single_node_sample(train, check_engine_spec(None)) is None
    assert single_node_sample(train, {**SPARK, "single_node_users": None}) is None
    assert single_node_sample(train, {**SPARK, "single_node_users": train["user_id"].nunique()}) is None


def test_the_sample_is_seeded_sized_and_keeps_every_pair_of_its_customers():
    train, test = _split()
    a, b, c = (single_node_sample(train, SPARK, seed=s) for s in (7, 7, 8))
    assert a == b and a != c  # seeded
    assert len(a.users) == len(set(a.users)) == 50 and list(a.users) == sorted(a.users)
    assert set(a.users) <= set(train["user_id"]) and a.of == train["user_id"].nunique() == 120
    for frame in (train, test):
        kept = a.keep(frame)
        expected = frame[frame["user_id"].isin(a.users)].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, expected)
        assert kept["user_id"].nunique() <= 50
    assert "50 of 120 training customers" in a.describe() and "single_node_users = 50" in a.describe()
