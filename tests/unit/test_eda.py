"""EDA computations on small hand-built datasets whose answers are worked out by hand, key metrics against a
direct pandas recomputation on a random log, and the package's workflow (the validation product read back as
ValidationReport, run_eda / analyse, every figure of the report)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from contentlab import eda, plotting
from contentlab.privacy import pseudonymise_one

T = pd.Timestamp


def _write(tmp_path, users, products, events, validation=None):
    clean = tmp_path / "clean"
    clean.mkdir(parents=True)
    users.to_parquet(clean / "users.parquet", index=False)
    if products is not None:
        products.to_parquet(clean / "products.parquet", index=False)
    events.to_parquet(clean / "events.parquet", index=False)
    if validation is not None:
        (tmp_path / "validation.json").write_text(json.dumps(validation))
    return tmp_path


def _events(rows, columns=("timestamp", "user_id", "session_id", "product_id", "event_type", "price", "quantity",
                           "order_id", "channel")):
    df = pd.DataFrame(rows, columns=list(columns))
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


# 2024-01-01 is a Monday. Sessions (see the expected values in the tests below):
#   s1 u1 web   01-01: view p1, cart p1, purchase p1 x2 @10 (o1), view p3
#   s2 u1 app   01-09: view p3, purchase p3 x1 @50 (o2)
#   s3 u2 web   01-02: view p2, cart p2
#   s4 u3 web   01-08: view p1, view p2
#   s5 u4 app   01-10: view p2, cart p2, purchase p2 x1 @20 + p1 x3 @10 (one order o3)
#   s6 u2 email 01-16: purchase p3 x1 @45 (o4), no view
HAND_EVENTS = [
    ("2024-01-01 10:00", "u1", "s1", "p1", "view", 10.0, 1, None, "web"),
    ("2024-01-01 10:01", "u1", "s1", "p1", "cart", 10.0, 2, None, "web"),
    ("2024-01-01 10:02", "u1", "s1", "p1", "purchase", 10.0, 2, "o1", "web"),
    ("2024-01-01 10:03", "u1", "s1", "p3", "view", 50.0, 1, None, "web"),
    ("2024-01-09 12:00", "u1", "s2", "p3", "view", 50.0, 1, None, "app"),
    ("2024-01-09 12:05", "u1", "s2", "p3", "purchase", 50.0, 1, "o2", "app"),
    ("2024-01-02 09:00", "u2", "s3", "p2", "view", 20.0, 1, None, "web"),
    ("2024-01-02 09:01", "u2", "s3", "p2", "cart", 20.0, 1, None, "web"),
    ("2024-01-08 18:00", "u3", "s4", "p1", "view", 10.0, 1, None, "web"),
    ("2024-01-08 18:02", "u3", "s4", "p2", "view", 20.0, 1, None, "web"),
    ("2024-01-10 08:00", "u4", "s5", "p2", "view", 20.0, 1, None, "app"),
    ("2024-01-10 08:01", "u4", "s5", "p2", "cart", 20.0, 1, None, "app"),
    ("2024-01-10 08:02", "u4", "s5", "p2", "purchase", 20.0, 1, "o3", "app"),
    ("2024-01-10 08:02", "u4", "s5", "p1", "purchase", 10.0, 3, "o3", "app"),
    ("2024-01-16 20:00", "u2", "s6", "p3", "purchase", 45.0, 1, "o4", "email"),
]

# the shape written by contentlab.data.validate.ValidationReport.to_dict()
VALIDATION = {
    "rows_in": 24, "rows_kept": 20, "rows_rejected": 4, "rows_repaired": 2,
    "tables": {
        "users": {"table": "users", "source": "/raw/users.csv", "rows_in": 6, "rows_kept": 5, "rows_rejected": 1,
                  "rows_repaired": 0, "rejected_by_rule": {"unique key": 1}, "dropped_columns": [], "notes": [],
                  "rules": [{"column": "user_id", "rule": "unique key", "count": 1, "action": "rejected",
                             "examples": ["u1"], "message": "users.csv: column 'user_id': ..."}]},
        "events": {"table": "events", "source": "/raw/events.csv", "rows_in": 18, "rows_kept": 15,
                   "rows_rejected": 3, "rows_repaired": 2, "rejected_by_rule": {"price > 0": 2, "known user": 1},
                   "dropped_columns": ["junk"], "notes": [],
                   "rules": [{"column": "price", "rule": "price > 0", "count": 2, "action": "rejected",
                              "examples": [-1.0, 0.0], "message": "..."},
                             {"column": "user_id", "rule": "known user", "count": 1, "action": "rejected",
                              "examples": ["ghost-user-1"], "message": "..."},
                             {"column": "timestamp", "rule": "tz-aware -> UTC", "count": 2, "action": "repaired",
                              "examples": ["2024-01-01 10:00:00+01:00"], "message": "..."}]},
    },
    "foreign_key_policy": "reject",
}


@pytest.fixture()
def hand_dir(tmp_path):
    users = pd.DataFrame({
        "user_id": ["u1", "u2", "u3", "u4", "u5"],
        "signup_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-08", "2024-01-09", "2024-01-10"]),
        "channel": ["ads", "organic", "ads", "social", "organic"],
    })
    products = pd.DataFrame({
        "product_id": ["p1", "p2", "p3"],
        "title": ["<script>alert(1)</script> Runner", "Trail shoe", "Leather bag"],
        "category": ["Shoes", "Shoes", "Bags"],
        "price": [10.0, 20.0, 50.0],
    })
    return _write(tmp_path, users, products, _events(HAND_EVENTS), VALIDATION)


@pytest.fixture()
def store(hand_dir):
    with eda.open_store(hand_dir) as s:
        yield s


def test_store_exposes_tables_and_columns(store):
    assert set(store.tables) == {"users", "products", "events"}
    assert store.count("events") == 15
    assert store.has_column("events", "order_id") and not store.has_column("events", "discount")
    assert store.columns("ratings") == [] and store.count("ratings") == 0


def test_session_funnel_overall(store):
    f = eda.funnel(store)
    assert len(f) == 1
    r = f.iloc[0]
    # viewing sessions s1..s5; carted s1 s3 s5; purchased s1 s2 s5; carted and purchased s1 s5
    assert (r["viewers"], r["carted"], r["purchased"], r["carted_purchased"]) == (5, 3, 3, 2)
    assert r["view_to_cart"] == pytest.approx(3 / 5)
    assert r["view_to_purchase"] == pytest.approx(3 / 5)
    assert r["cart_to_purchase"] == pytest.approx(2 / 3)
    assert (r["views"], r["carts"], r["purchases"]) == (7, 3, 5)
    assert r["purchases_per_view"] == pytest.approx(5 / 7)
    assert r["carts_per_view"] == pytest.approx(3 / 7)


def test_user_funnel_counts_purchases_in_other_sessions(store):
    r = eda.funnel(store, unit="user").iloc[0]
    # u2 viewed in s3 and bought in s6 (without a view): a converted user, not a converted session
    assert (r["viewers"], r["carted"], r["purchased"]) == (4, 3, 3)
    assert r["view_to_purchase"] == pytest.approx(3 / 4)


def test_funnel_by_category_uses_session_category_pairs(store):
    f = eda.funnel(store, by="category").set_index("group")
    assert f.attrs["grouping"] == "product category"
    shoes, bags = f.loc["Shoes"], f.loc["Bags"]
    assert (shoes["viewers"], shoes["carted"], shoes["purchased"]) == (4, 3, 2)
    assert shoes["view_to_purchase"] == pytest.approx(0.5)
    assert (bags["viewers"], bags["carted"], bags["purchased"]) == (2, 0, 1)
    assert bags["view_to_purchase"] == pytest.approx(0.5)
    assert math.isnan(bags["cart_to_purchase"])


def test_funnel_by_channel_prefers_event_channel(store):
    f = eda.funnel(store, by="channel").set_index("group")
    assert f.attrs["grouping"] == "event channel"
    assert f.loc["web", "viewers"] == 3 and f.loc["web", "view_to_purchase"] == pytest.approx(1 / 3)
    assert f.loc["app", "view_to_purchase"] == pytest.approx(1.0)
    assert f.loc["email", "viewers"] == 0 and math.isnan(f.loc["email", "view_to_purchase"])
    acq = eda.funnel(store, by="user_channel").set_index("group")
    # ads: u1 (s1, s2) and u3 (s4) -> 3 viewing sessions, 2 purchased
    assert acq.loc["ads", "viewers"] == 3 and acq.loc["ads", "purchased"] == 2


def test_orders_gmv_basket_and_repeat(store):
    bs = eda.basket_summary(store)
    assert bs["orders"] == 4
    assert bs["aov"] == pytest.approx(165 / 4)
    assert bs["mean_units"] == pytest.approx(2.0)  # units per order 2, 1, 4, 1
    assert bs["median_units"] == pytest.approx(1.5)
    assert bs["mean_lines"] == pytest.approx(5 / 4)
    dist = eda.basket_sizes(store)
    assert dict(zip(dist["units"], dist["orders"])) == {1: 2, 2: 1, 4: 1}
    rp = eda.repeat_purchase(store)
    assert (rp["purchasers"], rp["repeat_purchasers"]) == (3, 1)
    assert rp["repeat_purchase_rate"] == pytest.approx(1 / 3)
    gap = (T("2024-01-09 12:05") - T("2024-01-01 10:02")) / pd.Timedelta(days=1)
    assert rp["median_days_to_second_order"] == pytest.approx(gap)
    opu = eda.orders_per_user(store)
    assert dict(zip(opu["orders"], opu["users"])) == {1: 2, 2: 1}


def test_daily_volumes_fill_missing_days(store):
    d = eda.daily_volumes(store)
    assert len(d) == 16 and d["date"].min() == T("2024-01-01") and d["date"].max() == T("2024-01-16")
    first = d.iloc[0]
    assert (first["events"], first["active_users"], first["sessions"], first["orders"], first["units"]) == (4, 1, 1, 1, 2)
    assert first["gmv"] == pytest.approx(20.0)
    assert d.loc[d["date"] == T("2024-01-03"), "events"].item() == 0
    assert d["gmv"].sum() == pytest.approx(165.0)
    assert d["orders"].sum() == 4
    w = eda.weekly_volumes(d)
    assert list(w["gmv"]) == pytest.approx([20.0, 100.0, 45.0])
    p = eda.period_volumes(d)
    assert p.attrs["period"] == "week" and list(p["period"]) == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert list(p["days"]) == [7, 7, 2] and list(p["orders"]) == [1, 2, 1]
    m = eda.period_volumes(d, max_weeks=1)
    assert m.attrs["period"] == "month" and list(m["period"]) == ["2024-01"] and m["gmv"].item() == pytest.approx(165)


def test_cohort_retention_matrix(store):
    m = eda.cohort_retention(store, max_weeks=4)
    assert [str(i) for i in m.index] == ["2024-01-01", "2024-01-08"]
    assert m.attrs["cohort_size"] == {"2024-01-01": 2, "2024-01-08": 3}
    w1, w2 = m.iloc[0], m.iloc[1]
    assert list(w1[[0, 1, 2]]) == pytest.approx([1.0, 0.5, 0.5])
    assert list(m.columns) == [0, 1, 2]  # weeks 3-4 lie after the end of the log for every cohort
    assert list(w2[[0, 1]]) == pytest.approx([2 / 3, 0.0])  # u5 never active, still in the cohort
    assert math.isnan(w2[2])  # after the end of the log: not observed, not zero
    assert eda.mean_retention(m, 1) == pytest.approx((0.5 * 2 + 0.0 * 3) / 5)
    assert eda.mean_retention(m, 2) == pytest.approx(0.5)


def test_long_tails(store):
    ua = eda.user_activity(store)
    assert sorted(ua.counts.tolist()) == [2, 3, 4, 6]
    assert ua.summary["top10_share"] == pytest.approx(6 / 15)  # ceil(0.1 * 4) = 1 user
    assert ua.summary["coverage"] == pytest.approx(4 / 5)
    x, y = ua.lorenz()
    assert x[0] == 0 and y[0] == 0 and x[-1] == pytest.approx(1) and y[-1] == pytest.approx(1)
    assert y[1] == pytest.approx(2 / 15)
    assert ua.summary["gini"] == pytest.approx(eda.gini(np.array([6, 4, 3, 2])))
    ip = eda.item_popularity(store)
    assert sorted(ip.counts.tolist(), reverse=True) == [6, 5, 4]
    pp = eda.item_popularity(store, "purchase")
    assert sorted(pp.counts.tolist(), reverse=True) == [2, 2, 1]
    assert pp.summary["coverage"] == pytest.approx(1.0)
    table = eda.long_tail_table(ua, ip)
    assert list(table["entities"]) == [4, 3]


def test_gini_and_top_share_edge_cases():
    assert eda.gini(np.array([5, 5, 5])) == pytest.approx(0.0)
    assert eda.gini(np.array([0, 0, 0, 12])) == pytest.approx(0.75)
    assert eda.top_share(np.arange(1, 11), 0.2) == pytest.approx((10 + 9) / 55)
    assert math.isnan(eda.top_share(np.array([]), 0.1))


def test_prices_by_category(store):
    cat = eda.price_by_category(store).set_index("category")
    assert cat.loc["Shoes", "n"] == 2 and cat.loc["Shoes", "median"] == pytest.approx(15.0)
    assert cat.loc["Bags", "max"] == pytest.approx(50.0)
    paid = eda.price_by_category(store, "purchases").set_index("category")
    assert paid.loc["Bags", "n"] == 2 and paid.loc["Bags", "mean"] == pytest.approx(47.5)


def test_top_products_and_categories(store):
    tp = eda.top_products(store, n=3)
    assert list(tp["product_id"]) == ["p3", "p1", "p2"]
    assert list(tp["gmv"]) == pytest.approx([95.0, 50.0, 20.0])
    assert tp["title"].iloc[1] == "<script>alert(1)</script> Runner"  # raw here; escaped at display time
    assert list(eda.top_products(store, n=3, by="units")["product_id"]) == ["p1", "p3", "p2"]
    tc = eda.top_categories(store)
    assert list(tc["category"]) == ["Bags", "Shoes"]
    assert tc["gmv_share"].iloc[0] == pytest.approx(95 / 165)
    assert list(eda.top_categories(store, by="units")["category"]) == ["Shoes", "Bags"]


def test_validation_summary(hand_dir):
    report = eda.read_validation(hand_dir)
    t = eda.validation_tables(report).set_index("table")
    assert (t["rows_in"] == t["rows_kept"] + t["rows_rejected"]).all()
    assert t.loc["events", "rows_repaired"] == 2 and t.loc["events", "source"] == "events.csv"
    assert t.loc["events", "dropped_columns"] == "junk"
    r = eda.validation_rules(report)
    assert len(r) == 4 and set(r["action"]) == {"rejected", "repaired"}
    assert r.loc[r["rule"] == "price > 0", "rows"].item() == 2
    # user ids in example values are pseudonymised
    ex = " ".join(r["examples"])
    assert "ghost-user-1" not in ex and pseudonymise_one("ghost-user-1") in ex
    assert eda.rows_rejected(report) == 4 and eda.rows_repaired(report) == 2
    assert eda.rows_rejected(None) is None


def test_validation_summary_reads_what_the_validation_module_writes():
    from contentlab.data.validate import RuleResult, TableReport, ValidationReport

    rep = ValidationReport()
    rep.tables["events"] = TableReport(
        table="events", source="events.csv", rows_in=10, rows_kept=7, rows_rejected=3, rows_repaired=1,
        rejected=[RuleResult("events.csv", "price", "price > 0", 2, [-1.0]),
                  RuleResult("events.csv", "user_id", "known user", 1, ["ghost-user-2"])],
        repaired=[RuleResult("events.csv", "event_type", "case", 1, [" View"], action="repaired")])
    report = json.loads(json.dumps(rep.to_dict()))
    assert eda.rows_rejected(report) == rep.rows_rejected == 3
    assert eda.rows_repaired(report) == rep.rows_repaired == 1
    rules = eda.validation_rules(report)
    assert sorted(zip(rules["rule"], rules["action"], rules["rows"])) == [
        ("case", "repaired", 1), ("known user", "rejected", 1), ("price > 0", "rejected", 2)]
    assert "ghost-user-2" not in " ".join(rules["examples"])


def test_key_metrics_on_hand_data(store, hand_dir):
    m = eda.key_metrics(store, eda.read_validation(hand_dir))
    assert m["events_rows"] == 15 and m["users"] == 5 and m["products"] == 3
    assert m["rows_rejected"] == 4 and m["rows_repaired"] == 2
    assert m["gmv"] == pytest.approx(165.0) and m["orders"] == 4
    assert m["conversion_view_to_purchase"] == pytest.approx(3 / 5)
    assert m["repeat_purchase_rate"] == pytest.approx(1 / 3)
    assert (m["date_start"], m["date_end"], m["days"]) == ("2024-01-01", "2024-01-16", 16)
    assert m["top_category"] == "Bags"
    md = eda.findings_markdown(m, eda.funnel(store, by="category"), eda.funnel(store, by="channel"),
                               eda.cohort_retention(store), eda.daily_volumes(store))
    assert "60.0%" in md and "33.3%" in md and "165" in md


def test_segment_check_against_planted_truth(store, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "segment": ["a", "b", "a", "b"]}).to_parquet(
        truth / "users.parquet", index=False)
    (truth / "segments.json").write_text(json.dumps({"a": {"favourite_categories": ["Shoes"]},
                                                     "b": {"favourite_categories": ["Bags"]}}))
    seg = eda.segment_check(store, truth).set_index("segment")
    # a (u1): 2 Shoes + 1 Bag units; b (u2, u4): 4 Shoes + 1 Bag units
    assert (seg.loc["a", "users"], seg.loc["a", "purchasers"], seg.loc["a", "units"]) == (2, 1, 3)
    assert seg.loc["a", "favourite_share"] == pytest.approx(2 / 3)
    assert seg.loc["a", "others_share"] == pytest.approx(4 / 5)
    assert seg.loc["a", "lift"] == pytest.approx((2 / 3) / (4 / 5))
    assert seg.loc["b", "lift"] == pytest.approx((1 / 5) / (1 / 3))
    # price paid / category median list price (Shoes 15, Bags 50), unit-weighted
    assert seg.loc["a", "price_index"] == pytest.approx((2 * 10 / 15 + 50 / 50) / 3)
    assert seg.loc["b", "price_index"] == pytest.approx((20 / 15 + 3 * 10 / 15 + 45 / 50) / 5)
    assert eda.segment_check(store, None).empty and eda.segment_check(store, tmp_path / "nowhere").empty
    md = eda.findings_markdown(eda.key_metrics(store), segments=seg.reset_index())
    assert "lift below 1 for 2 segment(s)" in md


def test_purchase_only_data_without_categories_or_orders(tmp_path):
    """CDNOW-like: purchases only, a single "CD" category, no order ids."""
    users = pd.DataFrame({"user_id": ["a", "b", "c"], "signup_date": pd.to_datetime(["1997-01-01"] * 3)})
    products = pd.DataFrame({"product_id": ["cd1", "cd2", "cd3", "cd4"], "title": ["CD"] * 4,
                             "category": ["CD"] * 4, "price": [12.0, 15.0, 9.0, 20.0]})
    events = _events([
        ("1997-01-01", "a", "a-1", "cd1", "purchase", 12.0, 1),
        ("1997-01-05", "a", "a-2", "cd2", "purchase", 15.0, 2),
        ("1997-01-02", "b", "b-1", "cd3", "purchase", 9.0, 1),
        ("1997-01-02", "b", "b-1", "cd4", "purchase", 20.0, 1),
        ("1997-01-03", "c", "c-1", "cd4", "purchase", 20.0, 1),
    ], columns=("timestamp", "user_id", "session_id", "product_id", "event_type", "price", "quantity"))
    d = _write(tmp_path, users, products, events)
    with eda.open_store(d) as s:
        caps = eda.capabilities(s)
        assert not caps.has_funnel and not caps.has_categories and not caps.has_channel
        f = eda.funnel(s)
        assert f.empty and "no product views" in f.attrs["note"]
        m = eda.key_metrics(s, eda.read_validation(d))
        assert math.isnan(m["conversion_view_to_purchase"])
        assert m["rows_rejected"] is None
        assert m["orders"] == 4  # a user's purchases in one session form one order
        assert m["repeat_purchase_rate"] == pytest.approx(1 / 3)
        assert m["gmv"] == pytest.approx(12 + 30 + 9 + 20 + 20)
        assert eda.basket_summary(s)["mean_lines"] == pytest.approx(5 / 4)
        assert m["categories"] == 1 and "top_category" not in m  # one category: nothing to rank
        md = eda.findings_markdown(m)
        assert "not measurable" in md and "Top category" not in md


def test_missing_category_column(tmp_path):
    users = pd.DataFrame({"user_id": ["a"], "signup_date": pd.to_datetime(["2020-01-01"])})
    products = pd.DataFrame({"product_id": ["x"], "title": ["X"], "price": [3.0]})
    events = _events([("2020-01-01", "a", "s", "x", "view", 3.0, 1, None, None),
                      ("2020-01-01", "a", "s", "x", "purchase", 3.0, 1, "o", None)])
    with eda.open_store(_write(tmp_path, users, products, events)) as s:
        assert eda.funnel(s, by="category")["group"].tolist() == [eda.ALL]
        assert eda.top_categories(s)["category"].tolist() == [eda.ALL]
        assert eda.price_by_category(s)["category"].tolist() == [eda.ALL]
        # no event channel values: the channel breakdown falls back to the users table, which has none
        with pytest.raises(ValueError):
            eda.funnel(s, by="channel")


# ------------------------------------------------------------------ pandas recomputation on a random log


@pytest.fixture()
def random_dir(tmp_path):
    rng = np.random.default_rng(3)
    n_users, n_products, n_sessions = 120, 40, 900
    users = pd.DataFrame({"user_id": [f"user{i:04d}" for i in range(n_users)],
                          "signup_date": T("2024-03-01") + pd.to_timedelta(rng.integers(0, 40, n_users), unit="D")})
    products = pd.DataFrame({"product_id": [f"P{i}" for i in range(n_products)], "title": "t",
                             "category": rng.choice(["a", "b", "c"], n_products),
                             "price": rng.uniform(1, 100, n_products).round(2)})
    rows = []
    for s in range(n_sessions):
        u = users["user_id"].iloc[int(rng.zipf(1.6) % n_users)]
        t = T("2024-03-01") + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 50)))
        order = f"ord{s}" if rng.random() < 0.9 else None
        for j in range(int(rng.integers(1, 6))):
            p = int(rng.integers(0, n_products))
            kind = rng.choice(["view", "cart", "purchase"], p=[0.6, 0.25, 0.15])
            q = int(rng.integers(1, 4))
            rows.append((t + pd.Timedelta(seconds=j), u, f"s{s}", f"P{p}", kind, float(products["price"].iloc[p]), q,
                         order if kind == "purchase" else None, rng.choice(["web", "app"])))
    return _write(tmp_path, users, products, _events(rows))


def _pandas_metrics(d):
    ev = pd.read_parquet(d / "clean" / "events.parquet")
    users = pd.read_parquet(d / "clean" / "users.parquet")
    products = pd.read_parquet(d / "clean" / "products.parquet")
    ev["session"] = ev["user_id"].astype(str) + "|" + ev["session_id"].astype(str)
    ev["order"] = ev["order_id"].astype("object").where(ev["order_id"].notna(), ev["session"])
    pur = ev[ev["event_type"] == "purchase"]
    per_session = ev.pivot_table(index="session", columns="event_type", values="price", aggfunc="size", fill_value=0)
    viewed = per_session["view"] > 0
    orders_per_user = pur.groupby("user_id")["order"].nunique()
    per_user_events = ev.groupby("user_id").size().sort_values(ascending=False)
    return {
        "events_rows": len(ev), "users": len(users), "products": len(products),
        "gmv": float((pur["price"] * pur["quantity"]).sum()),
        "orders": pur["order"].nunique(),
        "conversion_view_to_purchase": float((viewed & (per_session["purchase"] > 0)).sum() / viewed.sum()),
        "repeat_purchase_rate": float((orders_per_user >= 2).mean()),
        "active_users": ev["user_id"].nunique(),
        "sessions": ev["session"].nunique(),
        "top10_user_event_share": float(per_user_events.head(math.ceil(0.1 * len(per_user_events))).sum() / len(ev)),
        "catalogue_coverage": pur["product_id"].nunique() / len(products),
        "date_start": ev["timestamp"].min().date().isoformat(),
    }


def test_key_metrics_equal_pandas_recomputation(random_dir):
    expected = _pandas_metrics(random_dir)
    with eda.open_store(random_dir) as s:
        m = eda.key_metrics(s)
        for k, v in expected.items():
            assert m[k] == pytest.approx(v), k
        daily = eda.daily_volumes(s)
        ev = pd.read_parquet(random_dir / "clean" / "events.parquet")
        dau = ev.groupby(ev["timestamp"].dt.normalize())["user_id"].nunique()
        got = daily.set_index("date")["active_users"]
        assert (got.loc[dau.index] == dau).all() and got.drop(dau.index).eq(0).all()
        assert m["mean_daily_active_users"] == pytest.approx(dau.sum() / m["days"])


def test_plot_helpers_label_every_axis(store):
    plotting.set_style()
    figs = [
        plotting.time_series(eda.daily_volumes(store), "date", ["gmv"], title="GMV per day", ylabel="GMV",
                             unit="EUR"),
        plotting.share_bars(eda.funnel(store, by="category"), "group", ["view_to_cart", "view_to_purchase"],
                            title="Funnel by category", xlabel="category"),
        plotting.heatmap_pct(eda.cohort_retention(store), title="Retention", xlabel="weeks since signup",
                             ylabel="signup week"),
        plotting.rank_frequency(eda.item_popularity(store).counts, title="Popularity", xlabel="product rank",
                                ylabel="events"),
        plotting.lorenz(*eda.user_activity(store).lorenz(), title="Lorenz", entity="users", measure="events"),
        plotting.box_from_stats(eda.price_by_category(store), title="Prices", ylabel="price", unit="EUR"),
        plotting.count_bars(eda.basket_sizes(store), "units", "orders", title="Basket size",
                            xlabel="units per order", ylabel="orders"),
    ]
    for fig in figs:
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert ax.get_title() or fig.get_suptitle()
            assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
        matplotlib.pyplot.close(fig)


def test_display_table_escapes_untrusted_text():
    df = pd.DataFrame({"title": ["<script>alert(1)</script>", "x" * 200], "gmv_share": [0.5, 0.25], "units": [3, 4]})
    page = plotting.table(df, percent=["gmv_share"], caption="<b>top</b>").to_html()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "50.0%" in page and "GMV share" in page and "&lt;b&gt;top&lt;/b&gt;" in page
    assert "x" * 200 not in page  # long text shortened


# ------------------------------------------------------------------------------------------ small cells


def test_funnel_counts_the_users_behind_each_group(store):
    cat = eda.funnel(store, by="category").set_index("group")
    # Shoes viewed in s1 (u1), s3 (u2), s4 (u3), s5 (u4); Bags in s1 and s2, both u1's
    assert cat.loc["Shoes", "users"] == 4 and cat.loc["Bags", "users"] == 1
    ch = eda.funnel(store, by="channel").set_index("group")
    assert (ch.loc["web", "users"], ch.loc["app", "users"], ch.loc["email", "users"]) == (3, 2, 0)
    assert eda.funnel(store).iloc[0]["users"] == 4 and eda.funnel(store, unit="user").iloc[0]["users"] == 4
    assert eda.funnel(store, by="user_channel").set_index("group").loc["ads", "users"] == 2  # u1, u3


def test_retention_display_withholds_small_cohorts(store):
    m = eda.cohort_retention(store, max_weeks=4)  # cohorts of 2 and 3 users
    shown, withheld = eda.retention_display(m, min_cell=3)
    assert withheld == 1
    assert list(shown.index) == ["2024-01-01 (n<3)", "2024-01-08 (n=3)"]
    assert shown.iloc[0].isna().all()  # figures withheld: blank in the heatmap
    assert list(shown.iloc[1][[0, 1]]) == pytest.approx([2 / 3, 0.0]) and math.isnan(shown.iloc[1][2])
    shown, withheld = eda.retention_display(m)  # the shared rule: fewer than 5 users
    assert withheld == 2 and shown.isna().all().all()
    assert list(shown.index) == ["2024-01-01 (n<5)", "2024-01-08 (n<5)"]
    shown, withheld = eda.retention_display(m, min_cell=2)
    assert withheld == 0 and list(shown.index) == ["2024-01-01 (n=2)", "2024-01-08 (n=3)"]
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), m.reset_index(drop=True), check_names=False)
    assert eda.retention_display(pd.DataFrame())[1] == 0


def test_findings_never_name_a_group_under_the_small_cell_rule():
    m = {"events_rows": 1000, "users": 200, "repeat_purchase_rate": 0.2, "purchasers": 50}
    fb = pd.DataFrame({"group": ["Shoes", "Bags", "Hats"], "users": [40, 30, 3], "viewers": [100, 80, 60],
                       "view_to_purchase": [0.1, 0.2, 0.5]})
    md = eda.findings_markdown(m, fb, None, None, None)
    assert "highest in *Bags* (20.0%)" in md and "lowest in *Shoes* (10.0%)" in md and "Hats" not in md


def test_top_sellers_report_their_buyers_for_the_small_cell_rule(store):
    from contentlab.report import withhold_small_cells

    top = eda.top_products(store, n=10)
    assert dict(zip(top["product_id"], top["buyers"])) == {"p3": 2, "p1": 2, "p2": 1}
    shown, withheld = withhold_small_cells(top, "buyers")
    assert withheld == 3 and shown["gmv"].isna().all() and shown["title"].notna().all()


# ------------------------------------------------------------------------------------ the package's workflow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_validation_is_read_as_the_validation_module_reports_it(hand_dir):
    """validation.json comes back as ValidationReport + AdapterReport, checked against the contract."""
    from contentlab.contract import ContractError
    from contentlab.data.adapters import AdapterReport

    q = eda.read_validation(hand_dir)
    assert isinstance(q.validation, eda.ValidationReport) and q.adapter is None
    assert (q.rows_rejected, q.rows_repaired, q.rows_excluded_by_adapter) == (4, 2, None)
    adapter = AdapterReport("online_retail", rows_read=12, rows_mapped=9, excluded={"cancellation": 2, "bad": 1},
                            flagged={"zero price": 1}, examples={"cancellation": [("C1", "x")]}, notes=["a *note*"])
    d = json.loads(json.dumps({**VALIDATION, "adapter": adapter.to_dict()}))
    q = eda.DataQuality.from_dict(d)
    assert q.adapter.to_dict() == adapter.to_dict() and q.rows_excluded_by_adapter == 3
    table = eda.adapter_summary(d)
    assert table.values.tolist() == [["cancellation", "excluded", 2], ["bad", "excluded", 1],
                                     ["zero price", "flagged", 1]]
    assert eda.adapter_markdown(q.adapter) == (
        "The **online\\_retail** adapter read 12 source rows and mapped 9; 3 rows were excluded before validation "
        "(first reason per row in the table below).\n\n- a \\*note\\*")
    assert eda.adapter_markdown(None) is None and eda.adapter_summary(VALIDATION).empty
    # a file lacking what the contract promises is an error, not a guess at other key names
    broken = {k: v for k, v in VALIDATION.items() if k != "tables"}
    (hand_dir / "validation.json").write_text(json.dumps(broken))
    with pytest.raises(ContractError, match=r"lacks key\(s\) \['tables'\]"):
        eda.read_validation(hand_dir)


def test_config_is_validated():
    assert eda.EdaConfig().retention_weeks == 12
    assert eda.EdaConfig(dataset={"kind": "demo", "n_users": 50}).dataset == {"kind": "demo", "n_users": 50}
    for bad in ({"retention_weeks": 0}, {"top_products": 2.5}, {"max_cohorts": True}, {"threads": 0}):
        with pytest.raises(ValueError, match="EdaConfig"):
            eda.EdaConfig(**bad)
    with pytest.raises(ValueError, match="unknown dataset kind 'dmeo'.*did you mean 'demo'"):
        eda.EdaConfig(dataset={"kind": "dmeo"})
    with pytest.raises(ValueError, match="needs EdaConfig.dataset"):
        eda.run_eda(eda.EdaConfig(), "unused")


def test_analyse_gives_everything_the_report_shows(hand_dir):
    (hand_dir / "dataset.json").write_text(json.dumps({"name": "hand *made*", "locale": "en", "kind": "files",
                                                       "currency": "EUR"}))
    res = eda.analyse(hand_dir, eda.EdaConfig(retention_weeks=4, top_products=2))
    with eda.open_store(hand_dir) as s:
        expected = eda.key_metrics(s, eda.read_validation(hand_dir))
        assert res.metrics() == expected and res.metrics() is not res.headline
        assert res.summary_markdown() == eda.findings_markdown(
            expected, eda.funnel(s, by="category"), eda.funnel(s, by="channel"), eda.cohort_retention(s, max_weeks=4),
            eda.daily_volumes(s), currency="EUR")
        pd.testing.assert_frame_equal(res.funnel_summary(), eda.funnel_summary(eda.funnel(s).iloc[0],
                                                                               eda.funnel(s, unit="user").iloc[0]))
    assert res.summary_markdown().startswith("## Key findings") and "GMV EUR 165" in res.summary_markdown()
    assert res.dataset_markdown().startswith("**Dataset** hand \\*made\\* (files, locale en): 15 events, 5 users")
    assert res.tables == ["users", "products", "events"] and res.currency_label == "EUR"
    assert list(res.retention.columns) == [0, 1, 2] and len(res.top_products["units"]) == 2
    assert res.quality_tables["rows_rejected"].sum() == 4 and len(res.quality_rules) == 4
    assert res.funnel_acquisition is not None and res.sold is not None and res.segments.empty
    # the small-cell rule: Shoes has 4 viewing users, Bags 1 -- neither reaches 5
    assert res.shown(res.funnel_category).empty and len(res.shown(res.funnel_category, min_cell=2)) == 1
    table, withheld = res.withhold(res.funnel_category)
    assert withheld == 2 and table["view_to_purchase"].isna().all()
    assert res.basket_markdown().startswith("4 orders; on average 2 units") and "value 41.25 EUR," in res.basket_markdown()
    assert res.repeat_markdown().startswith("**Repeat-purchase rate: 33.3%**")


def test_every_figure_of_the_report_is_labelled(hand_dir):
    from contentlab.eda import plots

    (hand_dir / "dataset.json").write_text(json.dumps({"name": "hand", "locale": "en"}))
    res = eda.analyse(hand_dir)
    assert res.currency_label == "currency units"
    plotting.set_style()
    shown, _ = eda.retention_display(res.retention, min_cell=1)
    figs = [plots.daily_volumes(res.daily, res.currency_label), plots.session_funnel(res.funnel),
            plots.conversion_by(res.shown(res.funnel_channel, min_cell=1), xlabel="channel", title="By channel"),
            plots.retention_heatmap(shown), plots.long_tails(res.activity, res.popularity, res.sold),
            plots.price_boxes(res.prices, "EUR"), plots.basket_sizes(res.baskets),
            plots.orders_per_user(res.orders_per_user), plots.category_gmv(res.top_categories, "EUR")]
    for fig in figs:
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>" or not ax.get_visible():
                continue
            assert ax.get_title() or fig.get_suptitle()
            assert ax.get_ylabel(), ax.get_title()
            assert ax.get_xlabel() or any(a.get_xlabel() for a in ax.get_shared_x_axes().get_siblings(ax)), \
                ax.get_title()  # panels sharing an x axis: labelled once
        matplotlib.pyplot.close(fig)
    assert len(figs[4].axes[1].get_lines()) >= 3  # users, products by events, products by purchases
    # nothing to draw: no figure (the notebook says why instead)
    assert plots.conversion_by(res.shown(res.funnel_category), xlabel="c", title="t") is None
    assert plots.session_funnel(res.funnel.iloc[0:0]) is None and plots.basket_sizes(res.baskets.iloc[0:0]) is None
    assert plots.category_gmv(res.top_categories.head(1), "EUR") is None


def test_run_eda_prepares_and_analyses_a_retail_export(tmp_path, monkeypatch):
    """Purchases only, messy rows: 01 prepares the run directory (the contract's products) and reports on it."""
    from contentlab import contract

    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path / "home"))
    spec = {"kind": "online_retail", "path": str(FIXTURES / "online_retail" / "Online_Retail.csv")}
    res = eda.run_eda(eda.EdaConfig(dataset=spec, profile="retail"), tmp_path / "run", inputs={})
    assert all(contract.product(p).exists(tmp_path / "run") for p in contract.stage("01_eda").products)
    validation = contract.product("validation").read(tmp_path / "run")
    m = res.metrics()
    assert m["rows_rejected"] == validation["rows_rejected"] == res.quality.rows_rejected
    assert m["rows_excluded_by_adapter"] == validation["adapter"]["rows_excluded"] > 0
    assert math.isnan(m["conversion_view_to_purchase"]) and res.funnel_category is None
    assert "funnel cannot be measured" in res.caps.funnel_note() and "not measurable" in res.summary_markdown()
    assert res.adapter_markdown().startswith("The **online\\_retail** adapter read")
    assert set(res.adapter_table["action"]) == {"excluded"}
