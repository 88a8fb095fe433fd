"""Profiling on data shaped like the real public datasets: what the data cannot measure is left out (and said),
never turned into a finding.

* CDNOW: date-only timestamps (every event at midnight), purchases only, heavy buyers repeating the same CD
  price: no time-burst signal is used, no heavy buyer is flagged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contentlab import pipeline
from contentlab.profiling import ProfilingConfig, profile_users
from contentlab.profiling.features import user_features
from contentlab.profiling.risk import RISK_SIGNALS
from contentlab.store import EventStore

PRICE_POINTS = (9.98, 10.78, 11.77, 12.49, 12.99, 13.97, 14.37, 14.96, 15.36)


def _cdnow_master_file(path: Path, n_light: int = 500, n_heavy: int = 25, seed: int = 0) -> list[str]:
    """A CDNOW_master.txt-format log (customer, YYYYMMDD, CDs, dollars): first purchases in Q1 1997, light buyers
    with 1-4 orders, heavy buyers with 30-90 orders at two or three personal price points, several orders on
    some days. Returns the heavy buyers' ids."""
    rng = np.random.default_rng(seed)
    start, days = pd.Timestamp("1997-01-01"), 546
    lines, heavy = [], []
    for i in range(n_light + n_heavy):
        cid = f"{i + 1:05d}"
        first = int(rng.integers(0, 90))
        if i >= n_light:
            heavy.append(cid)
            n = int(rng.integers(30, 90))
            own = rng.choice(PRICE_POINTS, size=int(rng.integers(2, 4)), replace=False)
            day_list = np.sort(np.r_[first, rng.integers(first, days, n - 1)])
            day_list = np.r_[day_list, day_list[: n // 8]]  # some days with two orders
        else:
            n = int(rng.integers(1, 5))
            own = rng.choice(PRICE_POINTS, size=n)
            day_list = np.sort(np.r_[first, rng.integers(first, days, n - 1)])
        for d in np.sort(day_list):
            cds = int(rng.choice([1, 1, 1, 2, 3]))
            lines.append(f"{cid} {(start + pd.Timedelta(days=int(d))):%Y%m%d} {cds} {cds * float(rng.choice(own)):.2f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return heavy


def _prepared_store(spec: dict, run_dir: Path) -> EventStore:
    pipeline.prepare_data(spec, run_dir)
    return EventStore(run_dir / pipeline.CLEAN_DIR)


@pytest.fixture(scope="module")
def cdnow_shaped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cdnow_shaped")
    heavy = _cdnow_master_file(tmp / "CDNOW_master.txt")
    store = _prepared_store({"kind": "cdnow", "path": str(tmp / "CDNOW_master.txt")}, tmp / "run")
    return store, heavy


def test_date_only_log_disables_the_clock_features(cdnow_shaped):
    store, _ = cdnow_shaped
    fs = user_features(store)
    assert fs.time_resolution == "day"
    for col in ("max_events_per_minute", "median_gap_s", "night_share", "mean_hour"):
        assert col in fs.unmeasurable and fs.frame[col].isna().all(), col
    assert "recorded to the day" in fs.skipped["time resolution"]
    # purchases only: sessions are orders, so the browsing signals are not used either
    for col in ("events_per_session", "sessions_per_active_day", "purchase_without_view_share"):
        assert col in fs.unmeasurable and fs.frame[col].isna().all(), col
    assert "purchases only" in fs.skipped["browsing signals"]


def test_no_heavy_buyer_is_flagged_on_cdnow_shaped_data(cdnow_shaped):
    store, heavy = cdnow_shaped
    res = profile_users(store, ProfilingConfig(k_max=4))
    prof = res.profiles.set_index("user_id")
    assert len(heavy) == 25 and prof.loc[heavy, "frequency"].min() >= 30
    # heavy buyers repeat their price points many times: the signal is extreme, but a habit alone flags nobody
    assert (prof.loc[heavy, "repeat_amount_orders"] >= 10).all()
    assert not prof.loc[heavy, "is_flagged"].any(), res.risk.table.loc[res.risk.table["is_flagged"], "reasons"]
    burst = RISK_SIGNALS["max_events_per_minute"][2]
    assert burst in res.risk.disabled and "max_events_per_minute" not in res.risk.signals
    assert not res.risk.table["reasons"].str.contains(burst, regex=False).any()


def _lifetimes_file(name: str) -> Path | None:
    from contentlab.data.adapters import cdnow_default_path

    try:
        return cdnow_default_path(name)
    except FileNotFoundError:
        return None


@pytest.mark.skipif(_lifetimes_file("CDNOW_sample.txt") is None, reason="lifetimes' CDNOW_sample.txt not installed")
def test_real_cdnow_sample_heavy_buyers_are_not_flagged(tmp_path):
    store = _prepared_store({"kind": "cdnow", "file": "CDNOW_sample.txt"}, tmp_path)
    res = profile_users(store, ProfilingConfig(k_max=4))
    prof = res.profiles
    heaviest = prof.nlargest(39, "frequency")
    assert heaviest["frequency"].min() >= 15
    assert not heaviest["is_flagged"].any()


# ------------------------------------------------------------------------------------- MovieLens: ratings only

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Thriller")


def _movielens_files(folder: Path, n_users: int = 240, n_items: int = 150, seed: int = 1) -> None:
    """ML-100K-format u.data (user, item, rating, unix time; tab-separated) and u.item (genre flags): users rate in
    bursts (a few dozen films seconds apart, as MovieLens users do), mostly films of their favourite genre."""
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, len(GENRES), n_items)
    t0 = int(pd.Timestamp("1997-09-20").timestamp())
    rows = []
    for u in range(1, n_users + 1):
        fav = int(rng.integers(0, len(GENRES)))
        weights = np.where(genre == fav, 6.0, 1.0)
        heavy = rng.random() < 0.25
        t = t0 + int(rng.integers(0, 200)) * 86400
        for _ in range(int(rng.integers(3, 8)) if heavy else int(rng.integers(1, 3))):
            n = int(rng.integers(15, 45)) if heavy else int(rng.integers(5, 15))
            items = rng.choice(n_items, size=min(n, n_items), replace=False, p=weights / weights.sum())
            ts = t + np.cumsum(rng.integers(4, 30, len(items)))
            rows += [(u, int(i) + 1, int(rng.integers(1, 6)), int(s)) for i, s in zip(items, ts)]
            t = int(ts[-1]) + int(rng.integers(1, 30)) * 86400
    pd.DataFrame(rows).drop_duplicates([0, 1]).to_csv(folder / "u.data", sep="\t", header=False, index=False)
    flags = np.zeros((n_items, 19), dtype=int)
    flags[np.arange(n_items), 1 + genre] = 1  # column 0 of the 19 flags is "unknown"
    with (folder / "u.item").open("w", encoding="latin-1") as f:
        for i in range(n_items):
            f.write(f"{i + 1}|Film {i + 1} (1996)|01-Jan-1996||http://example.org/{i + 1}|"
                    + "|".join(map(str, flags[i])) + "\n")


@pytest.fixture(scope="module")
def movielens_shaped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("movielens_shaped")
    (tmp / "ml").mkdir()
    _movielens_files(tmp / "ml")
    return _prepared_store({"kind": "movielens", "path": str(tmp / "ml" / "u.data")}, tmp / "run")


def test_ratings_only_dataset_profiles_on_the_ratings(movielens_shaped):
    store = movielens_shaped
    assert store.count("events") == 0 and store.count("ratings") > 3000
    fs = user_features(store)
    assert fs.activity == "ratings" and "activity" in fs.skipped
    assert fs.reference_time == pd.Timestamp(store.scalar("SELECT MAX(timestamp) FROM ratings"))
    f = fs.frame.set_index("user_id")
    assert (f["n_events"] == f.index.map(store.sql("SELECT user_id, COUNT(*) AS n FROM ratings GROUP BY user_id")
                                         .set_index("user_id")["n"])).all()
    # rating bursts are how people rate films, not click farms: the burst and browsing signals are not used
    for col in ("max_events_per_minute", "median_gap_s", "events_per_session"):
        assert col in fs.unmeasurable and f[col].isna().all(), col
    res = profile_users(store, ProfilingConfig(k_max=5))
    assert not res.profiles["is_flagged"].any()
    # no purchases: no RFM scores and no CLV, each with its reason; the users are still segmented
    assert res.profiles["R"].isna().all() and res.profiles["clv"].isna().all()
    assert res.clv.bgnbd is None and any("no purchases" in n for n in res.clv.notes)
    assert res.clustering is not None and res.clustering.k >= 2
    names = set(res.clustering.names.values())
    assert not any(w in n for n in names for w in ("Buyer", "Customer", "Visitor", "Spender", "Shopper")), names


def test_no_activity_at_all_is_a_clear_error(tmp_path):
    from contentlab.profiling import NoActivityError  # the notebook catches it by this name

    pd.DataFrame({c: pd.Series(dtype=t) for c, t in (("timestamp", "datetime64[ns]"), ("user_id", "str"),
                                                       ("session_id", "str"), ("product_id", "str"),
                                                       ("event_type", "str"), ("price", "float"),
                                                       ("quantity", "int64"))}).to_parquet(tmp_path / "events.parquet")
    with pytest.raises(NoActivityError, match="no events and no timestamped ratings"):
        user_features(EventStore(tmp_path))


# ------------------------------------------------------------------------------ UCI Online Retail: purchases only

def _online_retail_csv(path: Path, seed: int = 3) -> None:
    """UCI Online Retail layout (InvoiceNo, StockCode, Description, Quantity, InvoiceDate to the minute, UnitPrice,
    CustomerID, Country) made from a simulated shop's purchases: a sales ledger, no views, no categories."""
    from contentlab.data.simulate import simulate

    ds = simulate(n_users=400, n_products=120, n_days=60, seed=seed)
    ev = ds.events[ds.events["event_type"] == "purchase"].merge(ds.products[["product_id", "title"]], on="product_id")
    pd.DataFrame({
        "InvoiceNo": ev["order_id"].str.replace("O", "5", regex=False),
        "StockCode": ev["product_id"].str.replace("P", "8", regex=False),
        "Description": ev["title"].str.upper(),
        "Quantity": ev["quantity"],
        "InvoiceDate": ev["timestamp"].dt.strftime("%m/%d/%Y %H:%M"),
        "UnitPrice": ev["price"].round(2),
        "CustomerID": ev["user_id"].str.replace("U", "1", regex=False).astype(float),
        "Country": "United Kingdom",
    }).to_csv(path, index=False)


@pytest.fixture(scope="module")
def retail_shaped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retail_shaped")
    _online_retail_csv(tmp / "online_retail.csv")
    store = _prepared_store({"kind": "online_retail", "path": str(tmp / "online_retail.csv")}, tmp / "run")
    res = profile_users(store, ProfilingConfig(k_max=6))
    return store, res


def test_purchase_only_shop_names_only_what_the_data_shows(retail_shaped):
    from contentlab.profiling import build_personas

    store, res = retail_shaped
    assert store.count("events") == store.scalar("SELECT COUNT(*) FROM events WHERE event_type = 'purchase'")
    assert res.features.population == "customers" and res.features.time_resolution == "minute"
    names = list(res.clustering.names.values())
    assert len(set(names)) == len(names) == res.clustering.k
    # nobody in a sales ledger is a visitor who did not buy, a browser or a cart abandoner
    assert not any(w in n for n in names for w in ("Visitor", "Browser", "Cart", "Raters")), names
    personas = build_personas(res.profiles, min_size=5)
    assert personas and len({p["name"] for p in personas}) == len(personas)
    # price bands compare a segment with everyone: they cannot all be "premium"
    bands = [p["price_band"] for p in personas]
    assert len(personas) < 2 or len(set(bands)) > 1 or bands[0] == "mid-range", bands
    pi_all = res.profiles.loc[res.profiles["cluster"] >= 0, "price_index"].mean()
    for p in personas:
        ratio = p["metrics"]["price_index"] / pi_all
        assert p["price_band"] == ("budget" if ratio < 0.9 else "premium" if ratio > 1.1 else "mid-range")
    # an invoice's lines share one minute: "most events in one minute" would measure basket size, so it is off
    assert "max_events_per_minute" in res.features.unmeasurable
    assert not res.risk.table["reasons"].str.contains("in one minute", regex=False).any()


def test_tenure_names_follow_the_population():
    from contentlab.profiling.segments import name_clusters

    rng = np.random.default_rng(2)
    labels = pd.Series(np.repeat([0, 1], 100))
    f = pd.DataFrame({"tenure_days": np.r_[rng.normal(10, 2, 100), rng.normal(300, 20, 100)],
                      "n_views": rng.integers(0, 5, 200), "frequency": rng.integers(0, 3, 200)})
    assert name_clusters(f, labels)[0] == "New Visitors"  # a browsing log: some visitors never bought
    assert name_clusters(f.assign(n_views=0), labels)[0] == "New Customers"  # a sales ledger: all bought
    assert name_clusters(f.assign(n_views=0, frequency=0), labels)[0] == "New Raters"
    assert name_clusters(f, labels, population="customers")[0] == "New Customers"
    # without a distinctive trait, a favoured category names the cluster, else "Mainstream"
    g = pd.DataFrame({"tenure_days": rng.normal(100, 5, 200), "cat_share__Drama": np.r_[np.full(100, 0.7), np.full(100, 0.1)],
                      "cat_share__Comedy": np.r_[np.full(100, 0.3), np.full(100, 0.9)]})
    assert sorted(name_clusters(g, labels, population="raters").values()) == ["Comedy Fans", "Drama Fans"]
