"""Interactions from events / ratings and the seeded splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend.interactions import build_interactions, describe_source
from contentlab.recommend.split import hold_out_items, split_interactions, stratified_split, time_split
from contentlab.store import EventStore

T0 = pd.Timestamp("2026-01-05")


def events_frame() -> pd.DataFrame:
    rows = [
        # user a: views p1 twice, carts p1, buys p2; views p3
        (T0, "a", "p1", "view"), (T0 + pd.Timedelta(hours=1), "a", "p1", "view"),
        (T0 + pd.Timedelta(hours=2), "a", "p1", "cart"), (T0 + pd.Timedelta(days=1), "a", "p2", "purchase"),
        (T0 + pd.Timedelta(days=2), "a", "p3", "view"),
        # user b: buys p1 (after viewing it)
        (T0 + pd.Timedelta(days=3), "b", "p1", "view"), (T0 + pd.Timedelta(days=3, hours=1), "b", "p1", "purchase"),
    ]
    df = pd.DataFrame(rows, columns=["timestamp", "user_id", "product_id", "event_type"])
    df["session_id"] = "s"
    df["price"] = 10.0
    df["quantity"] = 1
    return df


def test_graded_interactions():
    inter = build_interactions(events_frame(), source="graded")
    got = {(r.user_id, r.product_id): (r.rating, r.n_events) for r in inter.itertuples()}
    assert got == {("a", "p1"): (3.0, 3), ("a", "p2"): (5.0, 1), ("a", "p3"): (1.0, 1), ("b", "p1"): (5.0, 2)}
    first = inter.set_index(["user_id", "product_id"])["timestamp"]
    assert first[("b", "p1")] == T0 + pd.Timedelta(days=3)  # a pair's time is its first interaction
    assert "strongest event" in describe_source(inter)


def test_weighted_interactions_log_scale():
    inter = build_interactions(events_frame(), source="weighted", weights={"view": 1, "cart": 2, "purchase": 4})
    # sums: a/p1 = 1+1+2 = 4, a/p2 = 4, a/p3 = 1, b/p1 = 1+4 = 5 (the maximum -> 5.0)
    r = inter.set_index(["user_id", "product_id"])["rating"]
    assert r[("b", "p1")] == pytest.approx(5.0)
    assert r[("a", "p3")] == pytest.approx(1 + 4 * np.log1p(1) / np.log1p(5))
    assert r[("a", "p1")] == pytest.approx(r[("a", "p2")])


def test_zero_weight_events_are_ignored_and_users_excluded():
    inter = build_interactions(events_frame(), source="graded", weights={"view": 0, "cart": 0, "purchase": 5},
                               exclude_users={"b"})
    assert list(zip(inter["user_id"], inter["product_id"])) == [("a", "p2")]


def test_explicit_ratings_keep_latest():
    ratings = pd.DataFrame({"user_id": ["a", "a", "b"], "product_id": ["p1", "p1", "p1"], "rating": [2.0, 4.0, 5.0],
                            "timestamp": [T0, T0 + pd.Timedelta(days=1), T0]})
    inter = build_interactions(None, ratings, source="auto")
    assert inter.attrs["source"] == "explicit"
    r = inter.set_index(["user_id", "product_id"])["rating"]
    assert r[("a", "p1")] == 4.0 and r[("b", "p1")] == 5.0
    with pytest.raises(ValueError):
        build_interactions(events_frame(), None, source="explicit")


def test_store_and_frame_give_the_same_interactions(tmp_path):
    ev = events_frame()
    ev.to_parquet(tmp_path / "events.parquet", index=False)
    with EventStore(tmp_path) as store:
        via_store = build_interactions(store=store, source="graded")
    via_frame = build_interactions(ev, source="graded")
    pd.testing.assert_frame_equal(via_store, via_frame, check_dtype=False)


def _recommenders_stratified(data, ratio, filter_by, seed):
    """microsoft/recommenders' _do_stratification (random variant), restated."""
    col = "user_id" if filter_by == "user" else "product_id"
    data = data.copy()
    np.random.seed(seed)
    data["random"] = np.random.rand(data.shape[0])
    data = data.sort_values([col, "random"])
    groups = data.groupby(col)
    data["count"] = groups[col].transform("count")
    data["rank"] = (groups.cumcount() + 1) / data["count"]
    return data[data["rank"] <= ratio], data[data["rank"] > ratio]


@pytest.mark.parametrize("filter_by", ["user", "item"])
def test_stratified_split_matches_recommenders(filter_by):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"user_id": [f"u{n}" for n in rng.integers(0, 40, 600)],
                         "product_id": [f"p{n}" for n in rng.integers(0, 60, 600)],
                         "rating": rng.integers(1, 6, 600).astype(float)}).drop_duplicates(["user_id", "product_id"])
    train, test = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=42)
    ref_train, ref_test = _recommenders_stratified(data, 0.75, filter_by, 42)
    key = lambda d: set(zip(d["user_id"], d["product_id"]))
    assert key(train) == key(ref_train) and key(test) == key(ref_test)
    assert len(train) + len(test) == len(data)
    col = "user_id" if filter_by == "user" else "product_id"
    share = train.groupby(col).size() / data.groupby(col).size()
    assert (share.dropna() >= 0.5).all()  # every group keeps most of its rows in training
    again, _ = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=42)
    assert key(again) == key(train)
    other, _ = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=1)
    assert key(other) != key(train)


def test_time_split_and_cold_items():
    inter = build_interactions(events_frame(), source="graded")
    train, test = time_split(inter, holdout_days=1.5)
    assert set(test["product_id"]) == {"p3", "p1"} and set(test["user_id"]) == {"a", "b"}
    assert train["timestamp"].max() <= inter["timestamp"].max() - pd.Timedelta(days=1.5)
    products = pd.DataFrame({"product_id": ["p1", "p2", "p3"],
                             "launch_date": [T0 - pd.Timedelta(days=30), T0, T0 - pd.Timedelta(days=5)]})
    tr, te, cold = hold_out_items(inter, inter.iloc[0:0], 1 / 3, products)
    assert cold == ["p2"]  # the newest launch
    assert "p2" not in set(tr["product_id"]) and set(te["product_id"]) == {"p2"}
    with pytest.raises(ValueError):
        split_interactions(inter, "nope")
