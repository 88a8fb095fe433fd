"""simulate_to_parquet: a shop drawn in batches of users and written straight to Parquet is one valid shop (ids
numbered across batches, every table passing validation), of the same distribution as ``simulate`` gives with the
same settings (the same catalogue, the planted segment mix, funnel rates, activity and fraud share), with its planted
truth written as ``simulate``'s; the events table reads the same flat or date-partitioned."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from contentlab.data.io import read_dataset, read_table, table_files
from contentlab.data.simulate import SEGMENT_SPECS, SEGMENTS, simulate, simulate_to_parquet
from contentlab.data.simulate.chunked import batch_sizes
from contentlab.data.validate import validate_tables

SHOP = dict(n_users=900, n_products=80, n_days=30, seed=5)


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    out = tmp_path_factory.mktemp("chunked") / "shop"
    meta = simulate_to_parquet(out, **SHOP, chunk_users=300)
    return out, meta


@pytest.fixture(scope="module")
def in_memory():
    return simulate(**SHOP)


def test_batches_split_the_users_evenly():
    assert batch_sizes(900, 300) == [300, 300, 300]
    assert batch_sizes(901, 300) == [226, 225, 225, 225]
    assert batch_sizes(50, 300) == [50]
    assert all(min(batch_sizes(n, 20)) >= 10 for n in range(10, 200))
    with pytest.raises(ValueError, match="chunk_users must be at least 20"):
        simulate_to_parquet("unused", chunk_users=10)


def test_the_batches_make_one_valid_shop(chunked):
    out, meta = chunked
    assert meta["batches"] == 3
    ds = read_dataset(out)
    assert meta["rows"] == {t: len(df) for t, df in ds.tables.items()}
    clean, report = validate_tables(ds.tables, {})
    assert (report.rows_rejected, report.rows_repaired) == (0, 0), report.messages()
    assert {t: len(df) for t, df in clean.items()} == meta["rows"]  # nothing excluded
    users, ev = ds.users, ds.events
    assert users["user_id"].is_unique and len(users) == SHOP["n_users"]
    assert list(users["user_id"].iloc[[0, 299, 300, 899]]) == ["U00001", "U00300", "U00301", "U00900"]
    assert set(ev["user_id"]) <= set(users["user_id"])
    # sessions and orders are numbered across batches: one user per session and per order
    assert (ev.groupby("session_id")["user_id"].nunique() == 1).all()
    orders = ev.dropna(subset=["order_id"])
    assert (orders.groupby("order_id")["user_id"].nunique() == 1).all()
    assert (orders.groupby("order_id")["session_id"].nunique() == 1).all()
    assert not ev.duplicated(["timestamp", "user_id", "session_id", "product_id", "event_type"]).any()
    # a content id means one (product, channel, variant) in every batch
    exp = ds.exposures
    assert (exp.groupby("content_id")[["product_id", "channel", "variant"]].nunique() == 1).all().all()


def test_the_truth_is_written_as_simulate_writes_it(chunked, in_memory):
    out, meta = chunked
    truth = read_dataset(out).truth
    assert set(truth) == set(in_memory.truth)
    sizes = truth["sizes"]
    assert (sizes["n_users"], sizes["n_events"], sizes["n_ratings"], sizes["n_exposures"]) == (
        900, meta["rows"]["events"], meta["rows"]["ratings"], meta["rows"]["exposures"])
    ev = read_table(out / "events.parquet")
    assert sizes["n_sessions"] == ev["session_id"].nunique()
    assert sizes["n_orders"] == ev["order_id"].nunique()
    tu = truth["users"]
    assert list(tu["user_id"]) == list(read_table(out / "users.parquet")["user_id"])
    assert sizes["n_fraud"] == int(tu["is_fraud"].sum()) == len(truth["fraud"]) == 9  # 1% of each batch of 300
    assert set(truth["fraud"]) == set(tu.loc[tu["is_fraud"], "user_id"])
    assert sum(s["n_users"] for s in truth["segments"].values()) == 900
    for name in SEGMENTS:
        assert truth["segments"][name]["n_users"] == int((tu["segment"] == name).sum())
    assert truth["dropout"]["n_dropped_out"] == int(tu["dropped_out"].sum())
    assert len(truth["user_factors"]) == 900 and list(truth["user_factors"]["user_id"]) == list(tu["user_id"])
    copy = truth["historical_copy"]
    assert set(read_table(out / "exposures.parquet")["content_id"]) == set(copy["content_id"])
    assert json.loads((out / "dataset.json").read_text())["has_truth"] is True


def test_same_distribution_as_simulate(chunked, in_memory):
    out, _ = chunked
    ds, ref = read_dataset(out), in_memory
    # the shared parts come first from the shop's seed: the same catalogue
    pd.testing.assert_frame_equal(ds.products, ref.products)
    ev, rev = ds.events, ref.events
    assert not ev.equals(rev)  # another draw of the same shop

    def shape(d, ev):  # of the genuine customers (fraud patterns are planted on top of ordinary behaviour)
        tu = d.truth["users"]
        seg = tu.loc[~tu["is_fraud"]].set_index("user_id")["segment"]
        ev = ev.loc[ev["user_id"].isin(seg.index)]
        e = ev.assign(segment=ev["user_id"].map(seg).to_numpy())
        n = e.groupby(["segment", "event_type"]).size().unstack(fill_value=0)
        users = seg.value_counts()
        total = n.sum()
        return {"share": users / users.sum(), "events_per_user": len(ev) / len(seg),
                "cart_per_view": n["cart"] / n["view"], "purchase_per_cart": n["purchase"] / n["cart"],
                "all_cart_per_view": total["cart"] / total["view"],
                "all_purchase_per_cart": total["purchase"] / total["cart"],
                "sessions_per_user": ev["session_id"].nunique() / len(seg)}

    a, b = shape(ds, ev), shape(ref, rev)
    for name in SEGMENTS:  # a few hundred users each: the segments' funnels within sampling noise
        assert a["share"][name] == pytest.approx(SEGMENT_SPECS[name]["share"], abs=0.05), name
        assert a["cart_per_view"][name] == pytest.approx(b["cart_per_view"][name], rel=0.3), name
        assert a["purchase_per_cart"][name] == pytest.approx(b["purchase_per_cart"][name], rel=0.3), name
    assert a["all_cart_per_view"] == pytest.approx(b["all_cart_per_view"], rel=0.1)
    assert a["all_purchase_per_cart"] == pytest.approx(b["all_purchase_per_cart"], rel=0.1)
    assert a["events_per_user"] == pytest.approx(b["events_per_user"], rel=0.15)
    assert a["sessions_per_user"] == pytest.approx(b["sessions_per_user"], rel=0.15)
    assert len(ds.ratings) / len(ev) == pytest.approx(len(ref.ratings) / len(rev), rel=0.25)
    assert len(ds.exposures) / 900 == pytest.approx(len(ref.exposures) / 900, rel=0.15)


def test_the_same_arguments_give_the_same_shop_and_a_partitioned_events_table_holds_the_same_rows(tmp_path,
                                                                                                   chunked):
    out, _ = chunked
    by_day = simulate_to_parquet(tmp_path / "day", **SHOP, chunk_users=300, partition_events="day")
    assert by_day["events_partitioning"] == "day"
    flat = read_table(out / "events.parquet")
    files = table_files(tmp_path / "day" / "events.parquet")
    days = {f.parent.name for f in files}
    assert days == {f"event_date={d}" for d in flat["timestamp"].dt.strftime("%Y-%m-%d")}
    for f in files[:5]:  # every file holds its day's rows and the canonical columns only
        part = pd.read_parquet(f)
        assert list(part.columns) == list(flat.columns)
        assert (part["timestamp"].dt.strftime("%Y-%m-%d") == f.parent.name.split("=")[1]).all()
    day = read_table(tmp_path / "day" / "events.parquet")
    key = ["timestamp", "user_id", "session_id", "product_id", "event_type"]
    pd.testing.assert_frame_equal(day.sort_values(key, ignore_index=True), flat.sort_values(key, ignore_index=True))
    for t in ("users", "ratings", "exposures", "products"):
        pd.testing.assert_frame_equal(read_table(tmp_path / "day" / f"{t}.parquet"), read_table(out / f"{t}.parquet"))
    assert np.array_equal(pd.read_parquet(tmp_path / "day" / "truth" / "user_factors.parquet").to_numpy()[:, 1:],
                          pd.read_parquet(out / "truth" / "user_factors.parquet").to_numpy()[:, 1:])
