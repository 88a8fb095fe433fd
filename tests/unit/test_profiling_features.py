"""Per-user features through the EventStore on a hand-built shop whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.profiling.features import CAT_PREFIX, CH_PREFIX, user_features
from contentlab.store import EventStore

T = pd.Timestamp
COLS = ["timestamp", "user_id", "session_id", "product_id", "event_type", "price", "quantity", "order_id", "channel"]


@pytest.fixture()
def shop(tmp_path):
    ev = pd.DataFrame([
        # u1, session s1: view a, cart a, buy 2 x a (order o1); session s2 (Saturday): view b, buy b (o2)
        (T("2024-01-01 10:00"), "u1", "s1", "a", "view", 10.0, 1, None, "web"),
        (T("2024-01-01 10:01"), "u1", "s1", "a", "cart", 10.0, 1, None, "web"),
        (T("2024-01-01 10:02"), "u1", "s1", "a", "purchase", 10.0, 2, "o1", "web"),
        (T("2024-01-06 12:00"), "u1", "s2", "b", "view", 30.0, 1, None, "app"),
        (T("2024-01-06 12:05"), "u1", "s2", "b", "purchase", 30.0, 1, "o2", "app"),
        # u2: views and an abandoned cart, no purchase
        (T("2024-01-03 09:00"), "u2", "s3", "b", "view", 30.0, 1, None, "app"),
        (T("2024-01-03 09:00:30"), "u2", "s3", "b", "cart", 30.0, 1, None, "app"),
        (T("2024-01-10 23:00"), "u2", "s4", "c", "view", 5.0, 1, None, "app"),
    ], columns=COLS)
    ev.to_parquet(tmp_path / "events.parquet", index=False)
    pd.DataFrame({"product_id": ["a", "b", "c"], "title": ["A", "B", "C"], "category": ["x", "x", "y"],
                  "price": [10.0, 30.0, 5.0]}).to_parquet(tmp_path / "products.parquet", index=False)
    pd.DataFrame({"user_id": ["u1", "u2", "u3"], "signup_date": [T("2023-12-31"), T("2024-01-02"), T("2024-01-05")],
                  "channel": ["ads", "organic", "email"]}).to_parquet(tmp_path / "users.parquet", index=False)
    return EventStore(tmp_path)


def test_features_by_hand(shop):
    fs = user_features(shop)
    f = fs.frame.set_index("user_id")
    assert list(f.index) == ["u1", "u2", "u3"]  # users without events are kept
    assert fs.reference_time == T("2024-01-10 23:00")
    u1, u2, u3 = f.loc["u1"], f.loc["u2"], f.loc["u3"]
    # activity and RFM inputs
    assert (u1["n_events"], u1["n_views"], u1["n_carts"], u1["n_purchases"], u1["n_sessions"]) == (5, 2, 1, 2, 2)
    assert u1["frequency"] == 2 and u1["monetary"] == pytest.approx(10 * 2 + 30)
    assert u1["aov"] == pytest.approx(25.0)
    assert u1["recency_days"] == pytest.approx((T("2024-01-10 23:00") - T("2024-01-06 12:05")) / pd.Timedelta(days=1))
    assert u1["tenure_days"] == pytest.approx((T("2024-01-10 23:00") - T("2023-12-31")) / pd.Timedelta(days=1))
    assert u2["frequency"] == 0 and pd.isna(u2["recency_days"])
    assert u3["n_events"] == 0 and u3["monetary"] == 0
    # funnel: u1 bought in both sessions; u2 abandoned its only cart session
    assert u1["cart_abandonment"] == 0 and u2["cart_abandonment"] == 1
    assert u1["view_to_purchase"] == pytest.approx(1.0) and u2["view_to_purchase"] == 0
    # price index: category x median list price = 20; u1 saw a (10) three times and b (30) twice
    assert u1["price_index"] == pytest.approx((3 * 0.5 + 2 * 1.5) / 5)
    assert u1["price_index_paid"] == pytest.approx((0.5 + 1.5) / 2)
    assert u2["price_index"] == pytest.approx((1.5 + 1.5 + 1.0) / 3)  # c is the median of category y
    # time pattern: 2024-01-06 is a Saturday
    assert u1["weekend_share"] == pytest.approx(2 / 5)
    # circular mean of 09:00, 09:00 and 23:00: 23:00 is 10 hours before 09:00 across midnight, so ~07:25
    angles = np.radians(np.array([9.0, 9.0, 23.0]) * 15)  # hour + minute / 60
    expected = (np.degrees(np.arctan2(np.sin(angles).mean(), np.cos(angles).mean())) % 360) / 15
    assert u2["mean_hour"] == pytest.approx(expected, abs=1e-6)
    assert 7 < u2["mean_hour"] < 8
    # category and channel shares
    assert u1[CAT_PREFIX + "x"] == 1.0 and u2[CAT_PREFIX + "y"] == pytest.approx(1 / 3)
    assert u1[CH_PREFIX + "web"] == pytest.approx(3 / 5)
    assert u1["preferred_channel"] == "web" and u2["preferred_channel"] == "app"
    assert u3["preferred_channel"] == "email"  # no events: acquisition channel
    assert f.loc["u1", "favourite_category"] == "x"
    # risk signals
    assert u2["max_events_per_minute"] == 2 and u1["max_events_per_minute"] == 1
    assert u1["median_gap_s"] == pytest.approx(60.0)
    assert u1["repeat_amount_orders"] == 0
    assert "novelty_share" in fs.skipped and "discount_share" in fs.skipped


def test_single_category_skips_affinity(tmp_path):
    ev = pd.DataFrame([(T("2024-01-01"), "u1", "s1", "CD", "purchase", 12.0, 1, "o1", None)], columns=COLS)
    ev.drop(columns="channel").to_parquet(tmp_path / "events.parquet", index=False)
    pd.DataFrame({"product_id": ["CD"], "title": ["CD"], "category": ["CD"], "price": [12.0]}).to_parquet(
        tmp_path / "products.parquet", index=False)
    fs = user_features(EventStore(tmp_path))
    assert not fs.has_categories
    assert "single product category" in fs.skipped["category affinity"]
    assert fs.frame.loc[0, "price_index"] == pytest.approx(1.0)
