"""Interactions from events / ratings, the seeded splits and the evaluation protocols."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend.interactions import build_interactions, describe_source, drop_users, not_applicable_reason
from contentlab.recommend.protocol import in_source_order, resolve_protocol, split_for_protocol
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


def write_movielens_u_data(path, n_users=300, n_items=400, seed=0, min_ratings=20):
    """A MovieLens-100k-format ``u.data`` (tab-separated ``user item rating unix_ts``, no header, rows in no
    particular order) from a seeded low-rank taste model: every user rates at least ``min_ratings`` movies (as in
    ML-100k), counts are heavy-tailed, popular movies are rated more often, ratings 1-5 follow taste + biases."""
    rng = np.random.default_rng(seed)
    f = 4
    taste = rng.normal(size=(n_users, f))
    traits = rng.normal(size=(n_items, f))
    pop = rng.normal(size=n_items) * 1.2
    user_bias = rng.normal(scale=0.4, size=n_users)
    item_bias = rng.normal(scale=0.5, size=n_items)
    counts = np.minimum(min_ratings + rng.geometric(1 / 35, size=n_users) - 1, n_items // 2)
    rows = []
    for u in range(n_users):
        logits = pop + 0.8 * traits @ taste[u]
        p = np.exp(logits - logits.max())
        items = rng.choice(n_items, size=counts[u], replace=False, p=p / p.sum())
        score = 3.5 + user_bias[u] + item_bias[items] + 0.5 * traits[items] @ taste[u] + rng.normal(0, 0.6, len(items))
        ratings = np.clip(np.rint(score), 1, 5).astype(int)
        ts = 874_724_710 + rng.integers(0, 18_500_000, len(items))
        rows += [(u + 1, int(i) + 1, int(r), int(t)) for i, r, t in zip(items, ratings, ts)]
    order = rng.permutation(len(rows))
    path.write_text("".join("{}\t{}\t{}\t{}\n".format(*rows[n]) for n in order), encoding="ascii")
    return len(rows)


def recommenders_stratified(data, ratio, filter_by, seed):
    """microsoft/recommenders' ``_do_stratification`` (random variant, ``python_stratified_split``), restated:
    ``np.random.seed``, one ``rand`` per row in row order, sort, rank, ``rank <= round(threshold * count)``."""
    col = "user_id" if filter_by == "user" else "product_id"
    data = data.copy()
    np.random.seed(seed)
    data["random"] = np.random.rand(data.shape[0])
    data = data.sort_values([col, "random"])
    groups = data.groupby(col)
    data["count"] = groups[col].transform("count")
    data["rank"] = groups.cumcount() + 1
    data = data.drop("random", axis=1)
    splits, prev = [], None
    for threshold in np.cumsum([ratio, 1 - ratio]):
        condition = data["rank"] <= round(threshold * data["count"])
        if prev is not None:
            condition &= data["rank"] > round(prev * data["count"])
        splits.append(data[condition].drop(["rank", "count"], axis=1))
        prev = threshold
    return splits


def _pairs(d):
    return set(zip(d["user_id"].astype(str), d["product_id"].astype(str)))


def test_split_rounding_rules_by_hand():
    """One user per count. Training rows with ratio 0.75 (worked out by hand):

    count   0.75*count   recommenders round (half to even)   ContentLab rank/count <= 0.75   round half up
      1        0.75            1                                   0                              1
      2        1.5             2   (1.5 -> 2, even)                1                              2
      5        3.75            4                                   3                              4
      6        4.5             4   (4.5 -> 4, even)                4                              5
     10        7.5             8   (7.5 -> 8, even)                7                              8
     14       10.5            10   (10.5 -> 10, even)             10                             11
     20       15              15                                  15                             15
    """
    counts = [1, 2, 5, 6, 10, 14, 20]
    data = pd.DataFrame([(f"u{c:02d}", f"p{n:02d}") for c in counts for n in range(c)],
                        columns=["user_id", "product_id"])
    expected_round = {1: 1, 2: 2, 5: 4, 6: 4, 10: 8, 14: 10, 20: 15}
    expected_ratio = {1: 0, 2: 1, 5: 3, 6: 4, 10: 7, 14: 10, 20: 15}
    for rule, expected in (("round", expected_round), ("ratio", expected_ratio)):
        train, test = stratified_split(data, ratio=0.75, filter_by="user", seed=42, rule=rule)
        got = train.groupby("user_id").size().reindex([f"u{c:02d}" for c in counts], fill_value=0)
        assert got.tolist() == [expected[c] for c in counts], rule
        assert len(train) + len(test) == len(data) and not _pairs(train) & _pairs(test)
    # not round-half-up: 6 -> 4 and 14 -> 10 (half-up would give 5 and 11)
    assert expected_round[6] != int(np.floor(0.75 * 6 + 0.5)) and expected_round[14] != int(np.floor(0.75 * 14 + 0.5))
    # the recommenders restatement agrees with the hand-computed table
    ref_train, _ = recommenders_stratified(data, 0.75, "user", 42)
    assert ref_train.groupby("user_id").size().to_dict() == {f"u{c:02d}": expected_round[c] for c in counts if
                                                             expected_round[c]}
    with pytest.raises(ValueError, match="rule"):
        stratified_split(data, rule="floor")


@pytest.mark.parametrize("filter_by", ["user", "item"])
def test_round_rule_matches_recommenders_and_ratio_rule_differs(filter_by):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"user_id": [f"u{n}" for n in rng.integers(0, 40, 600)],
                         "product_id": [f"p{n}" for n in rng.integers(0, 60, 600)],
                         "rating": rng.integers(1, 6, 600).astype(float)}).drop_duplicates(["user_id", "product_id"])
    train, test = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=42, rule="round")
    ref_train, ref_test = recommenders_stratified(data, 0.75, filter_by, 42)
    assert _pairs(train) == _pairs(ref_train) and _pairs(test) == _pairs(ref_test)
    assert len(train) + len(test) == len(data)
    # the ratio rule draws the same order and keeps a prefix of it: its training rows are a subset
    r_train, r_test = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=42, rule="ratio")
    assert _pairs(r_train) < _pairs(train) and len(r_train) + len(r_test) == len(data)
    col = "user_id" if filter_by == "user" else "product_id"
    n = data.groupby(col).size()
    assert len(train) - len(r_train) == int((np.round(0.75 * n) - np.floor(0.75 * n)).sum())
    again, _ = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=42, rule="round")
    assert _pairs(again) == _pairs(train)
    other, _ = stratified_split(data, ratio=0.75, filter_by=filter_by, seed=1, rule="round")
    assert _pairs(other) != _pairs(train)


def test_contentlab_ratio_rule_keeps_one_held_out_row_per_group():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"user_id": [f"u{n}" for n in rng.integers(0, 50, 500)],
                         "product_id": [f"p{n}" for n in rng.integers(0, 80, 500)]}).drop_duplicates()
    train, test = stratified_split(data, ratio=0.75, filter_by="user", seed=42)
    n = data.groupby("user_id").size()
    assert (test.groupby("user_id").size().reindex(n.index, fill_value=0) >= 1).all()
    assert (train.groupby("user_id").size().reindex(n.index, fill_value=0) == np.floor(0.75 * n)).all()


def test_protocols_resolve_and_refuse_conflicts():
    p = resolve_protocol("recommenders", seed=7)
    assert (p.name, p.ratio, p.rule, p.seed, p.k, p.cold_item_share, p.unit) == (
        "recommenders", 0.75, "round", 42, 10, 0.0, "item")  # their MovieLens benchmark stratifies by item
    assert "python_stratified_split" in p.definition() and "round(0.75" in p.definition()
    assert resolve_protocol("recommenders", split="stratified_user").unit == "user"
    assert resolve_protocol("contentlab").unit == "user"
    c = resolve_protocol("contentlab", seed=7, cold_item_share=0.1)
    assert (c.rule, c.seed, c.cold_item_share) == ("ratio", 7, 0.1)
    assert "rank / count" in c.definition() and "cold-item slice" in c.definition()
    assert dict(c.rows())["protocol"] == "contentlab"
    with pytest.raises(ValueError, match="k=5"):
        resolve_protocol("recommenders", k=5)
    with pytest.raises(ValueError, match="split='time'"):
        resolve_protocol("recommenders", split="time")
    with pytest.raises(ValueError, match="train_ratio=0.8"):
        resolve_protocol("recommenders", train_ratio=0.8)
    with pytest.raises(ValueError, match="unknown protocol"):
        resolve_protocol("microsoft")


def test_contentlab_protocol_is_the_previous_split():
    rng = np.random.default_rng(5)
    inter = pd.DataFrame({"user_id": [f"u{n}" for n in rng.integers(0, 60, 900)],
                          "product_id": [f"p{n:02d}" for n in rng.integers(0, 50, 900)], "rating": 1.0})
    inter = inter.drop_duplicates(["user_id", "product_id"]).sort_values(["user_id", "product_id"])
    inter = inter.reset_index(drop=True)
    flagged = {"u1", "u2"}
    proto = resolve_protocol("contentlab", cold_item_share=0.1, seed=7)
    train, test, cold = split_for_protocol(inter, proto, exclude_users=flagged)
    kept = inter[~inter["user_id"].isin(flagged)].reset_index(drop=True)
    ref_train, ref_test = split_interactions(kept, "stratified_user", ratio=0.75, seed=7)
    ref_train, ref_test, ref_cold = hold_out_items(ref_train, ref_test, 0.1, None, seed=7)
    assert _pairs(train) == _pairs(ref_train) and _pairs(test) == _pairs(ref_test) and cold == ref_cold
    assert len(cold) == 5 and not (set(train["user_id"]) | set(test["user_id"])) & flagged


def test_movielens_file_runs_under_both_protocols_from_the_ratings_table(tmp_path):
    """A ratings-only dataset (MovieLens u.data; its events table is empty) through the real pipeline preparation:
    ``auto`` picks the ratings, and the recommenders protocol reproduces python_stratified_split on the raw file
    (read as recommenders reads it: pandas, tab-separated, in file order), flagged users removed after the split."""
    from contentlab import pipeline

    raw = tmp_path / "ml" / "u.data"
    raw.parent.mkdir()
    n_rows = write_movielens_u_data(raw, n_users=300, n_items=400, seed=11)
    run_dir = tmp_path / "run"
    ds = pipeline.prepare_data({"kind": "movielens", "path": str(raw)}, run_dir)
    assert len(ds.events) == 0 and len(ds.ratings) == n_rows
    with EventStore(run_dir / "clean") as store:
        inter = build_interactions(ds.events, ds.ratings, store=store)  # defaults: source="auto"
    assert inter.attrs["source"] == "explicit" and len(inter) == n_rows
    assert "events table has 0 rows" in inter.attrs["source_note"] and "Explicit" in describe_source(inter)
    catalogue = sorted(set(ds.products["product_id"].astype(str)) | set(inter["product_id"]))
    assert not_applicable_reason(inter, catalogue) is None

    file = pd.read_csv(raw, sep="\t", header=None, names=["user_id", "product_id", "rating", "timestamp"])
    ref_train, ref_test = recommenders_stratified(file, 0.75, "user", 42)
    flagged = {"7", "123"}
    train, test, cold = split_for_protocol(inter, resolve_protocol("recommenders", split="stratified_user"),
                                           ratings=ds.ratings, exclude_users=flagged)
    def ref_keep(d):
        return _pairs(d[~d["user_id"].astype(str).isin(flagged)])

    assert _pairs(train) == ref_keep(ref_train) and _pairs(test) == ref_keep(ref_test) and cold == []
    # the preset's default stratifies per item, as recommenders' MovieLens benchmark does
    item_train, item_test = recommenders_stratified(file, 0.75, "item", 42)
    d_train, d_test, _ = split_for_protocol(inter, resolve_protocol("recommenders"), ratings=ds.ratings,
                                            exclude_users=flagged)
    assert _pairs(d_train) == ref_keep(item_train) and _pairs(d_test) == ref_keep(item_test)
    assert _pairs(d_test) != _pairs(test)
    # the rule matters on this file: the ContentLab rule holds out more (counts where round() rounds up)
    c_train, c_test, c_cold = split_for_protocol(inter, resolve_protocol("contentlab", cold_item_share=0.0),
                                                 exclude_users=flagged)
    n = file[~file["user_id"].astype(str).isin(flagged)].groupby("user_id").size()
    assert len(c_test) - len(test) == int((np.round(0.75 * n) - np.floor(0.75 * n)).sum()) > 0
    # ... and so does the file's row order: the same rule on (user, product)-sorted rows draws another split
    sorted_train, _ = stratified_split(inter, ratio=0.75, seed=42, rule="round")
    assert len(sorted_train) == len(ref_train) and _pairs(sorted_train) != _pairs(ref_train)


def test_in_source_order_follows_the_ratings_table():
    ratings = pd.DataFrame({"user_id": ["b", "a", "b", "a"], "product_id": ["p2", "p1", "p1", "p1"],
                            "rating": [1.0, 2.0, 3.0, 5.0], "timestamp": [T0] * 4})
    inter = build_interactions(None, ratings, source="explicit")
    assert list(zip(inter["user_id"], inter["product_id"])) == [("a", "p1"), ("b", "p1"), ("b", "p2")]
    ordered = in_source_order(inter, ratings)
    assert list(zip(ordered["user_id"], ordered["product_id"])) == [("b", "p2"), ("a", "p1"), ("b", "p1")]
    assert ordered.attrs["source"] == "explicit"
    graded = build_interactions(events_frame(), source="graded")
    assert in_source_order(graded, ratings) is graded  # implicit pairs keep their (user, product) order


def test_auto_source_takes_the_table_that_has_data():
    ev, ratings = events_frame(), pd.DataFrame({"user_id": ["a", "c"], "product_id": ["p1", "p9"],
                                                 "rating": [4.0, 2.0], "timestamp": [T0, T0]})
    both = build_interactions(ev, ratings)
    assert both.attrs["source"] == "graded" and "ratings table's 2 rows are not used" in both.attrs["source_note"]
    only_ratings = build_interactions(ev.iloc[0:0], ratings)
    assert only_ratings.attrs["source"] == "explicit" and len(only_ratings) == 2
    # events that carry no weight give no pair: auto falls through to the ratings
    zero = build_interactions(ev, ratings, weights={"view": 0, "cart": 0, "purchase": 0})
    assert zero.attrs["source"] == "explicit" and "none of their event types has a positive weight" in \
        zero.attrs["source_note"]
    nothing = build_interactions(ev.iloc[0:0], ratings.iloc[0:0])
    assert nothing.attrs["source"] == "none" and len(nothing) == 0
    assert list(nothing.columns) == ["user_id", "product_id", "rating", "timestamp", "n_events"]
    with pytest.raises(ValueError, match="events table has 0 rows"):
        build_interactions(ev.iloc[0:0], ratings, source="graded")
    with pytest.raises(ValueError, match="ratings table has 0 rows"):
        build_interactions(ev, None, source="explicit")


def test_auto_source_with_an_empty_events_file_in_the_store(tmp_path):
    """The run's clean tables hold an events.parquet with 0 rows for a ratings-only dataset: present is not data."""
    events_frame().iloc[0:0].to_parquet(tmp_path / "events.parquet", index=False)
    pd.DataFrame({"user_id": ["a", "b", "b"], "product_id": ["p1", "p1", "p2"], "rating": [4.0, 2.0, 5.0],
                  "timestamp": [T0] * 3}).to_parquet(tmp_path / "ratings.parquet", index=False)
    with EventStore(tmp_path) as store:
        inter = build_interactions(store=store)
    assert inter.attrs["source"] == "explicit" and len(inter) == 3


def test_not_applicable_reasons_name_what_is_missing():
    ev = events_frame()
    nothing = build_interactions(ev.iloc[0:0], None)
    assert not_applicable_reason(nothing, ["p1", "p2"]) == (
        "there are no customer-product interactions to learn from: the events table and the ratings table both have "
        "0 rows")
    zero = build_interactions(ev, None, weights={"view": 0, "cart": 0, "purchase": 0})
    reason = not_applicable_reason(zero, ["p1", "p2", "p3"])
    assert "the events table has 7 rows but none of their event types has a positive weight" in reason
    assert "view=0, cart=0, purchase=0" in reason and "ratings table has 0 rows" in reason
    flagged = drop_users(build_interactions(ev, None), {"a", "b"})
    assert "all 4 customer-product pairs belong to accounts flagged" in not_applicable_reason(flagged, ["p1", "p2"])
    single = build_interactions(ev[ev["product_id"] == "p1"], None)
    reason = not_applicable_reason(single, ["p1"])
    assert "the catalogue has 1 product: there is nothing to rank" in reason
    full = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "product_id": ["p1", "p2", "p1", "p2"], "rating": 4.0,
                         "timestamp": T0})
    reason = not_applicable_reason(build_interactions(None, full), ["p1", "p2"])
    assert reason == ("every one of the 2 customers has already interacted with all 2 products of the catalogue: no "
                      "product is left to recommend")
    assert not_applicable_reason(build_interactions(ev, None), ["p1", "p2", "p3"]) is None


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
