"""Tests for the demo simulator: determinism, schema conformance and that the planted truth is
visible in the generated tables (what the profiling, recommendation and feedback stages rely on)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contentlab.data.io import read_dataset, write_dataset
from contentlab.data.schema import TABLES
from contentlab.data.simulate import PROFILES, SEGMENT_SPECS, SEGMENTS, simulate, simulate_campaign

_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def tiny():
    return simulate(**PROFILES["tiny"], seed=7)


@pytest.fixture(scope="module")
def small():
    """Big enough for per-segment statistics, still about a second to generate."""
    return simulate(n_users=1200, n_products=200, n_days=45, seed=11)


def _genuine(ds) -> pd.Series:
    tu = ds.truth["users"]
    return tu.loc[~tu["is_fraud"], "user_id"]


# ------------------------------------------------------------------------------ determinism
def test_same_seed_same_data_different_seed_different_data(tiny):
    again = simulate(**PROFILES["tiny"], seed=7)
    for name, df in tiny.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name], obj=name)
    for key in ("users", "user_factors", "item_factors", "response", "copy_weights", "historical_copy"):
        pd.testing.assert_frame_equal(tiny.truth[key], again.truth[key], obj=key)
    assert tiny.truth["segments"] == again.truth["segments"]
    plain = {k: v for k, v in tiny.truth.items() if not isinstance(v, pd.DataFrame)}
    assert plain == {k: v for k, v in again.truth.items() if not isinstance(v, pd.DataFrame)}
    other = simulate(**PROFILES["tiny"], seed=8)
    assert not other.events.equals(tiny.events)
    assert not other.products["title"].equals(tiny.products["title"])


def _digest(obj) -> str:
    """Short hash of a table (column names, dtypes and every value, bit for bit) or of a JSON-able truth entry."""
    h = hashlib.sha256()
    if isinstance(obj, pd.DataFrame):
        h.update(json.dumps([[c, str(t)] for c, t in obj.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    else:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# What the simulator produced for these seeds when it was recorded: any change to a draw, its order or a
# column shows up here. A deliberate change to the simulated shop re-records them (and says so in its commit).
_COMMON = {
    "truth.locale": "50eac10e7966a04e", "truth.start": "be2877b2e99fca95", "truth.segment_names": "a35dfe4cf0fedafc",
    "truth.categories": "b8a94d81a1bfa735", "truth.fraud_share": "312b95ee5a344d2f",
    "truth.fraud_patterns": "f4b0310b85507a5d", "truth.best_hour": "faa0fb9a6c871c6c",
    "truth.best_channel": "6ca9807895f39a09", "truth.fatigue_point": "572e67a50ccb1357",
    "truth.exposure_channel_mix": "8c09a4ad3f2aa89a",
    "truth.variant_split": "d6d325306a868bd2", "truth.pair_prob": "d2cbad71ff333de6",
    "truth.weekend_lift": "98737cf8964673a0", "truth.hour_profile": "1da9d278765239c6",
    "truth.choice_model": "3f6a85024da15ed0", "truth.rating_model": "7c19ba3415bb24e7",
    "truth.discount_levels": "d3c8ca33771f7fad",
}
RECORDED = {
    "tiny": {
        "users": "15f96397ad7911a4", "products": "00bdc263d49dfd3a", "events": "97ad0adbbd4a1775",
        "ratings": "3061866a31231f65", "exposures": "56c80a1f08e03332", "truth.users": "f3e404568c646571",
        "truth.segments": "973380c6d84d1e1a", "truth.user_factors": "220f07fd9decf52f",
        "truth.item_factors": "0e73db0d834a7a5d", "truth.item_bias": "5a446051a0f34fa3",
        "truth.audience": "8b33bce0dda7095a", "truth.response": "df2c1bf70695ce82",
        "truth.copy_weights": "2d546283d6963ade", "truth.historical_copy": "fa0169518977ddee",
        "truth.seed": "7902699be42c8a8e", "truth.sizes": "9f4da13e92a2fe57",
        "truth.dropout": "f4eb25309c6e5fca", "truth.fraud": "65dfe05f609e7a31",
        "truth.bought_together": "1a6d45e88693dac2", "truth.cold_start_products": "63072ba7f4e15ebe", **_COMMON,
    },
    "small": {
        "users": "a04968904d05e42b", "products": "2f441644f2c6d1c2", "events": "a744b51072126dd9",
        "ratings": "d83be76f84a5bc17", "exposures": "c43f26d149faf975", "truth.users": "677d5e304bfcc8c6",
        "truth.segments": "0b449e75cf425908", "truth.user_factors": "b1adaa3535b1f956",
        "truth.item_factors": "b0d5a3c5376450ac", "truth.item_bias": "816988874db53cad",
        "truth.audience": "2603fdf022f56263", "truth.response": "d88d1597a2c85939",
        "truth.copy_weights": "a79c5c3f78dfbca6", "truth.historical_copy": "a1afbb77ac139fd1",
        "truth.seed": "4fc82b26aecb47d2", "truth.sizes": "d4225719aa5bd331",
        "truth.dropout": "35c80a345bd3782f", "truth.fraud": "969a1df0e610a95b",
        "truth.bought_together": "0fde7dc88c352584", "truth.cold_start_products": "a97cc402d9701029", **_COMMON,
    },
}


@pytest.mark.parametrize("shop", ["tiny", "small"])
def test_same_seed_gives_the_recorded_tables_and_truth(shop, request):
    ds = request.getfixturevalue(shop)
    got = {**{k: _digest(v) for k, v in ds.tables.items()}, **{f"truth.{k}": _digest(v) for k, v in ds.truth.items()}}
    assert got == RECORDED[shop], {k: v for k, v in got.items() if RECORDED[shop].get(k) != v}


# ------------------------------------------------------------------------------ schema
@pytest.mark.parametrize("locale", ["en", "zh"])
def test_tables_conform_to_schema(locale):
    ds = simulate(**PROFILES["tiny"], seed=5, locale=locale)
    assert set(ds.tables) == set(TABLES)
    for name, spec in TABLES.items():
        df = ds.tables[name]
        assert list(df.columns) == spec.names, name
        assert len(df) > 0, name
        for col in spec.columns:
            s = df[col.name]
            if col.kind == "datetime":
                assert pd.api.types.is_datetime64_dtype(s), (name, col.name, s.dtype)
                assert getattr(s.dt, "tz", None) is None
            elif col.kind in ("id", "str"):
                assert pd.api.types.is_string_dtype(s), (name, col.name, s.dtype)
            elif col.kind == "float":
                assert pd.api.types.is_float_dtype(s), (name, col.name, s.dtype)
            elif col.kind == "int":
                assert pd.api.types.is_integer_dtype(s), (name, col.name, s.dtype)
            elif col.kind == "bool":
                assert pd.api.types.is_bool_dtype(s), (name, col.name, s.dtype)
            if col.required:
                assert s.notna().all(), (name, col.name)
            if col.min is not None:
                assert (s.dropna() > col.min).all() if col.strict_min else (s.dropna() >= col.min).all(), col.name
            if col.max is not None:
                assert (s.dropna() <= col.max).all(), col.name
            if col.allowed:
                assert set(s.unique()) <= set(col.allowed)
        if spec.key:
            assert not df.duplicated(list(spec.key)).any(), f"duplicate keys in {name}"
    from contentlab.data.validate import validate_tables

    clean, report = validate_tables(ds.tables)  # the validation layer every stage loads through
    assert {k: len(v) for k, v in clean.items()} == {k: len(v) for k, v in ds.tables.items()}
    ev = ds.events
    assert ev["user_id"].isin(ds.users["user_id"]).all()
    assert ev["product_id"].isin(ds.products["product_id"]).all()
    assert ds.ratings["user_id"].isin(ds.users["user_id"]).all()
    assert ds.exposures["product_id"].isin(ds.products["product_id"]).all()
    assert set(ds.ratings["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ds.users["user_id"].str.fullmatch(r"U\d{5}").all()
    assert ds.products["product_id"].str.fullmatch(r"P\d{4}").all()
    assert ds.exposures["content_id"].str.fullmatch(r"C\d{5}").all()
    # purchase lines carry an order id, other lines none; price = list price x (1 - discount)
    is_p = ev["event_type"] == "purchase"
    assert ev.loc[is_p, "order_id"].notna().all() and ev.loc[~is_p, "order_id"].isna().all()
    list_price = ev["product_id"].map(ds.products.set_index("product_id")["price"])
    np.testing.assert_allclose(ev["price"], np.round(list_price * (1 - ev["discount"]), 2), atol=0.006)
    # nothing happens before sign-up, nothing outside the window
    signup = ev["user_id"].map(ds.users.set_index("user_id")["signup_date"])
    assert (ev["timestamp"] >= signup).all()
    start = pd.Timestamp("2026-01-05")
    assert ev["timestamp"].min() >= start and ev["timestamp"].max() < start + pd.Timedelta(days=30)


def test_truth_has_documented_keys_and_round_trips(tiny, tmp_path):
    t = tiny.truth
    for key in ("users", "segments", "user_factors", "item_factors", "response", "seed", "sizes", "audience",
                "copy_weights", "historical_copy", "best_hour", "best_channel", "fatigue_point", "bought_together",
                "fraud"):
        assert key in t, key
    assert list(t["users"].columns) == ["user_id", "segment", "is_fraud", "dropout_prob", "dropped_out", "dropout_time"]
    assert set(t["users"]["segment"]) == set(SEGMENTS)
    assert list(t["user_factors"].columns) == ["user_id"] + [f"f{j}" for j in range(8)]
    assert list(t["item_factors"].columns) == ["product_id"] + [f"f{j}" for j in range(8)]
    assert list(t["response"].columns) == ["segment", "channel", "ctr", "cvr", "aov"]
    assert len(t["response"]) == 5 * 3
    assert list(t["copy_weights"].columns) == ["segment", "feature", "ctr_weight", "cvr_weight"]
    assert list(t["historical_copy"].columns) == ["content_id", "product_id", "channel", "variant", "text"]
    assert set(t["historical_copy"]["content_id"]) == set(tiny.exposures["content_id"])
    for seg in SEGMENTS:
        for k in ("favourite_categories", "price_sensitivity", "activity_rate", "channel_mix", "best_hour",
                  "best_channel", "fatigue_point"):
            assert k in t["segments"][seg]
        assert t["best_hour"][seg] == t["audience"]["segments"][seg]["best_hour"] == t["segments"][seg]["best_hour"]
    path = write_dataset(tiny, tmp_path / "ds")
    back = read_dataset(path)
    pd.testing.assert_frame_equal(back.events, tiny.events, check_dtype=False)
    pd.testing.assert_frame_equal(back.truth["users"], t["users"], check_dtype=False)
    assert back.truth["segments"] == t["segments"]
    assert back.truth["sizes"] == t["sizes"]
    assert back.truth["audience"] == t["audience"]  # the planted audience round-trips as JSON


def test_cold_start_products_have_no_events_before_launch(small):
    ev = small.events.merge(small.products[["product_id", "launch_date"]], on="product_id")
    assert (ev["timestamp"] >= ev["launch_date"]).all()
    cold = small.truth["cold_start_products"]
    assert len(cold) > 0
    assert small.products.set_index("product_id").loc[cold, "launch_date"].min() > pd.Timestamp("2026-01-05")


# ------------------------------------------------------------------------------ planted structure
def test_row_sampler_draws_from_each_rows_distribution():
    from contentlab.data.simulate.draws import RowSampler

    probs = np.array([[0.7, 0.2, 0.1, 0.0], [0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25]])
    rows = np.repeat(np.arange(3), 40_000)
    items = RowSampler(probs.copy())(np.random.default_rng(0), rows)  # the sampler takes over its input
    freq = pd.crosstab(rows, items, normalize="index").reindex(columns=range(4), fill_value=0).to_numpy()
    np.testing.assert_allclose(freq, probs, atol=0.01)


def test_tenure_pattern_by_segment(small):
    signup = small.users.set_index("user_id")["signup_date"]
    seg = small.truth["users"].set_index("user_id")["segment"]
    med = signup.groupby(seg).median()
    start = pd.Timestamp("2026-01-05")
    assert med["loyal_premium"] < start - pd.Timedelta(days=180)  # long-standing customers
    assert med["new_visitor"] > start + pd.Timedelta(days=30)  # sign up in the last quarter of 45 days
    assert med["loyal_premium"] < med["bargain_hunter"] < med["new_visitor"]
    last_seen = small.events.groupby("user_id")["timestamp"].max()
    recency = (small.events["timestamp"].max() - last_seen).dt.days.groupby(seg).median()
    assert recency["casual_browser"] > recency["loyal_premium"]  # casual browsers fade out


def _purchases_with_truth(ds):
    ev = ds.events[ds.events["event_type"] == "purchase"]
    ev = ev[ev["user_id"].isin(_genuine(ds))]
    seg = ds.truth["users"].set_index("user_id")["segment"]
    cat = ds.products.set_index("product_id")["category"]
    return ev.assign(segment=ev["user_id"].map(seg), category=ev["product_id"].map(cat))


def test_segments_buy_their_favourite_categories(small):
    p = _purchases_with_truth(small)
    cat_share = small.products["category"].value_counts(normalize=True)
    for seg in SEGMENTS:
        favs = small.truth["segments"][seg]["favourite_categories"]
        sub = p[p["segment"] == seg]
        share = sub["category"].isin(favs).mean()
        chance = cat_share[favs].sum()
        # planted: ~80% of choices land in 2-3 favourite categories that hold 20-30% of the catalogue
        assert share > 0.6 and share > 2 * chance, (seg, share, chance)


def test_loyal_premium_pays_more_than_bargain_hunters(small):
    p = _purchases_with_truth(small)
    med = small.products.groupby("category")["price"].median()
    p = p.assign(rel=np.log(p["price"] / p["category"].map(med)))
    by = p.groupby("segment")
    assert by["price"].mean()["loyal_premium"] > 2 * by["price"].mean()["bargain_hunter"]
    # also within category: price relative to the category median
    assert by["rel"].mean()["loyal_premium"] > by["rel"].mean()["bargain_hunter"] + 0.4
    disc = by["discount"].apply(lambda s: (s > 0).mean())
    assert disc["bargain_hunter"] > 3 * disc["loyal_premium"]


def test_funnel_is_monotone_and_in_planted_ranges(small):
    ev = small.events[small.events["user_id"].isin(_genuine(small))]
    seg = ev["user_id"].map(small.truth["users"].set_index("user_id")["segment"])
    counts = pd.crosstab(seg, ev["event_type"])
    assert (counts["view"] > counts["cart"]).all() and (counts["cart"] > counts["purchase"]).all()
    n = ev["event_type"].value_counts()
    assert 0.22 < n["cart"] / n["view"] < 0.40
    assert 0.30 < n["purchase"] / n["cart"] < 0.55
    abandon = 1 - counts["purchase"] / counts["cart"]
    assert abandon["loyal_premium"] < abandon["bargain_hunter"] - 0.2
    # several orders have baskets of more than one line; quantity is mostly 1
    buys = ev[ev["event_type"] == "purchase"]
    assert (buys.groupby("order_id").size() > 1).mean() > 0.1
    assert (buys["quantity"] == 1).mean() > 0.8


def test_weekend_lift_and_daily_profile(small):
    ev = small.events[small.events["user_id"].isin(_genuine(small))]
    sessions = ev.groupby("session_id")["timestamp"].min()
    per_day = sessions.dt.normalize().value_counts()
    weekend = per_day[per_day.index.day_of_week >= 5].mean()
    weekday = per_day[per_day.index.day_of_week < 5].mean()
    assert weekend / weekday > 1.15  # planted 1.35
    hours = sessions.dt.hour.value_counts(normalize=True)
    assert hours.reindex(range(2, 5)).fillna(0).sum() < 0.05  # quiet nights


def test_bought_together_pairs_are_planted(small):
    buys = small.events[(small.events["event_type"] == "purchase") & small.events["user_id"].isin(_genuine(small))]
    orders = buys.groupby("order_id")["product_id"].apply(set)
    n_a = hits = 0
    for a, b in small.truth["bought_together"]:
        with_a = orders[orders.apply(lambda s, a=a: a in s)]
        if len(with_a) < 5:
            continue
        conf = with_a.apply(lambda s, b=b: b in s).mean()
        base = orders.apply(lambda s, b=b: b in s).mean()
        assert conf > 0.15 and conf > 5 * base, (a, b, conf, base)  # lift > 5 for every pair
        n_a += len(with_a)
        hits += int(with_a.apply(lambda s, b=b: b in s).sum())
    # pooled confidence A -> B close to the planted pair probability (0.5)
    assert n_a >= 50 and abs(hits / n_a - small.truth["pair_prob"]) < 0.12, (hits, n_a)


def test_fraud_accounts_have_much_higher_event_rates(small):
    ev = small.events
    fraud = small.truth["users"].set_index("user_id")["is_fraud"]
    ev = ev.assign(fraud=ev["user_id"].map(fraud), minute=ev["timestamp"].dt.floor("10min"))
    busiest_day = (ev.groupby(["fraud", "user_id", ev["timestamp"].dt.normalize()]).size()
                   .groupby(level=["fraud", "user_id"]).max())
    assert busiest_day.loc[True].median() > 4 * busiest_day.loc[False].median()
    peak = ev.groupby(["fraud", "user_id", "minute"]).size().groupby(level=["fraud", "user_id"]).max()
    assert peak.loc[False].quantile(0.99) < peak.loc[True].median()
    patterns = small.truth["fraud"]
    assert set(patterns) == set(fraud[fraud].index)
    # fake orders: many orders of one product
    buys = ev[ev["event_type"] == "purchase"]
    same_product = buys.groupby(["fraud", "user_id", "product_id"])["order_id"].nunique().groupby(
        level=["fraud", "user_id"]).max()
    fakers = [u for u, p in patterns.items() if "fake_orders" in p]
    assert fakers and same_product.loc[True].loc[fakers].min() > same_product.loc[False].quantile(0.99)
    # not every account shows every pattern: no single signal catches them all
    assert any(len(p) < 3 for p in patterns.values())


def test_ratings_follow_factors_and_reviews_match_stars(small):
    r = small.ratings.merge(small.truth["users"], on="user_id")
    r = r[~r["is_fraud"]]
    uf = small.truth["user_factors"].set_index("user_id").loc[r["user_id"]].to_numpy()
    vf = small.truth["item_factors"].set_index("product_id").loc[r["product_id"]].to_numpy()
    uv = (uf * vf).sum(1)
    assert np.corrcoef(uv, r["rating"])[0, 1] > 0.4
    assert r["rating"].nunique() == 5
    sentences = small.ratings["review_text"].str.split(r"(?<=[.!])\s+")
    n_sent = sentences.str.len()
    assert n_sent.min() >= 1 and n_sent.max() <= 3 and small.ratings["review_text"].nunique() > 0.5 * len(r)
    good = set(sentences[small.ratings["rating"] >= 4].explode())
    bad = set(sentences[small.ratings["rating"] <= 2].explode())
    assert good and bad and not (good & bad)
    # reviews mention the product's real attributes
    prod = small.products.set_index("product_id")
    hits = [any(str(prod.at[p, a]) in txt for a in ("colour", "material", "style"))
            for p, txt in zip(small.ratings["product_id"], small.ratings["review_text"])]
    assert np.mean(hits) > 0.4


def _ndcg_at_10(scores: np.ndarray, train, test: dict[int, set[int]]) -> float:
    scores = scores.copy()
    scores[train.nonzero()] = -np.inf  # seen items excluded
    top = np.argsort(-scores, axis=1)[:, :10]
    disc = 1 / np.log2(np.arange(2, 12))
    vals = [sum(disc[r] for r, i in enumerate(top[u]) if i in items) / disc[: min(10, len(items))].sum()
            for u, items in test.items()]
    return float(np.mean(vals))


def test_latent_factors_are_learnable_beyond_popularity(small):
    from scipy.sparse import csr_matrix
    from sklearn.decomposition import TruncatedSVD

    ev = small.events[small.events["user_id"].isin(_genuine(small))]
    pairs = ev.groupby(["user_id", "product_id"]).size().rename("n").reset_index()
    u = pd.factorize(pairs["user_id"])[0]
    i = pd.Index(small.products["product_id"]).get_indexer(pairs["product_id"])
    held = np.random.default_rng(0).random(len(pairs)) < 0.25
    train = csr_matrix((np.log1p(pairs["n"].to_numpy()[~held]), (u[~held], i[~held])),
                       shape=(u.max() + 1, len(small.products)))
    test: dict[int, set[int]] = {}
    for uu, ii in zip(u[held], i[held]):
        test.setdefault(int(uu), set()).add(int(ii))
    popularity = np.asarray((train > 0).sum(axis=0), dtype=float)
    svd = TruncatedSVD(16, random_state=0).fit(train)
    mf = svd.transform(train) @ svd.components_
    ndcg_pop = _ndcg_at_10(np.repeat(popularity, train.shape[0], axis=0), train, test)
    ndcg_mf = _ndcg_at_10(mf, train, test)
    assert ndcg_mf > 1.5 * ndcg_pop, (ndcg_mf, ndcg_pop)  # ~2x across seeds
    # item factors are partly carried by attributes: items sharing brand, colour, material and style
    # have more similar true factors than random pairs
    vf = small.truth["item_factors"].drop(columns="product_id").to_numpy()
    vf = vf / np.linalg.norm(vf, axis=1, keepdims=True)
    prod = small.products
    same_brand_colour = (prod["brand"].to_numpy()[:, None] == prod["brand"].to_numpy()[None, :]) & (
        prod["colour"].to_numpy()[:, None] == prod["colour"].to_numpy()[None, :])
    np.fill_diagonal(same_brand_colour, False)
    cos = vf @ vf.T
    assert cos[same_brand_colour].mean() > cos[~same_brand_colour].mean() + 0.15


def test_product_text_is_varied_and_attribute_bearing(small):
    p = small.products
    assert p["title"].nunique() > 0.9 * len(p)
    assert p["description"].nunique() == len(p)
    for _, row in p.head(50).iterrows():
        assert row["colour"] in row["title"] or row["colour"] in row["description"] or row["material"] in row["title"]
        assert row["material"] in row["description"] or row["material"] in row["title"]
    n_sent = p["description"].str.count(r"\.")
    assert n_sent.min() >= 4 and n_sent.max() <= 14 + 1
    # the price is written only by the one value sentence that names it, and it is the product's own
    for _, row in p.iterrows():
        prices = re.findall(r"\$(\d+\.\d\d)", row["description"])
        assert prices in ([], [f"{row['price']:.2f}"]), (row["description"], row["price"])


def test_zh_locale_is_chinese_with_ascii_codes():
    ds = simulate(**PROFILES["tiny"], seed=5, locale="zh")
    assert ds.locale == "zh"
    assert ds.products["title"].str.contains(_CJK).all()
    assert ds.products["description"].str.contains(_CJK).all()
    assert ds.products["category"].isin(["羽绒服", "连衣裙", "运动鞋", "T恤", "牛仔裤", "手提包", "护肤品", "床品", "耳机",
                                         "运动服"]).all()
    assert ds.ratings["review_text"].str.contains(_CJK).all()
    for col in ("user_id", "session_id", "channel", "event_type"):
        assert ds.events[col].str.isascii().all()
    assert ds.truth["users"]["segment"].str.isascii().all()


# ------------------------------------------------------------------------------ segments recoverable
def _behaviour_features(ds) -> pd.DataFrame:
    ev = ds.events.merge(ds.products[["product_id", "category"]], on="product_id")
    end = ev["timestamp"].max()
    g = ev.groupby("user_id")
    f = pd.DataFrame({
        "recency": (end - g["timestamp"].max()).dt.total_seconds() / 86400,
        "tenure": (end - g["timestamp"].min()).dt.total_seconds() / 86400,
        "frequency": np.log1p(g["session_id"].nunique()),
    })
    views, carts, buys = (ev[ev["event_type"] == t] for t in ("view", "cart", "purchase"))
    f["monetary"] = np.log1p((buys["price"] * buys["quantity"]).groupby(buys["user_id"]).sum()).reindex(f.index)
    n_v, n_c, n_b = (x.groupby("user_id").size().reindex(f.index).fillna(0) for x in (views, carts, buys))
    f["cart_abandonment"] = np.where(n_c > 0, 1 - n_b / n_c.clip(lower=1), 1.0)
    f["view_to_purchase"] = n_b / n_v.clip(lower=1)
    med = ds.products.groupby("category")["price"].median()
    f["price_vs_median"] = np.log(views["price"] / views["category"].map(med)).groupby(views["user_id"]).mean()
    f["discount_share"] = (views["discount"] > 0).groupby(views["user_id"]).mean()
    hour = ev["timestamp"].dt.hour + ev["timestamp"].dt.minute / 60
    f["hour_sin"] = np.sin(2 * np.pi * hour / 24).groupby(ev["user_id"]).mean()
    f["hour_cos"] = np.cos(2 * np.pi * hour / 24).groupby(ev["user_id"]).mean()
    shares = pd.crosstab(views["user_id"], views["category"], normalize="index").add_prefix("cat_")
    channels = pd.crosstab(ev["user_id"], ev["channel"], normalize="index").add_prefix("ch_")
    return f.join(shares).join(channels).fillna(0.0)


def test_kmeans_recovers_planted_segments(small):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    X = _behaviour_features(small)
    X = X.loc[X.index.isin(_genuine(small))]
    truth = small.truth["users"].set_index("user_id").loc[X.index, "segment"]
    labels = KMeans(n_clusters=5, random_state=0, n_init=5).fit_predict(StandardScaler().fit_transform(X))
    ari = adjusted_rand_score(truth, labels)
    # The issue asks for ARI >= 0.8 at demo scale (5,000 users, 90 days). This profile has a quarter
    # of the users and half the window, so per-user features are noisier; the planted segments
    # still separate with ARI ~0.95 here across seeds (and ~0.99 at demo scale). Holding the small
    # profile to the same 0.8 bar leaves room for seed-to-seed variation while still failing if any
    # two segments merge (merging the two closest segments drops ARI to about 0.75).
    assert ari >= 0.8, ari


# ------------------------------------------------------------------------------ campaign / exposures
def test_historical_exposures_are_balanced_and_tagged(small):
    ex = small.exposures
    assert set(ex["variant"]) == {"template", "gpt2"}
    assert set(ex["channel"]) == {"email", "push", "product_page"}
    assert set(ex["segment"]) == set(SEGMENTS)
    share = (ex["variant"] == "gpt2").mean()
    n = len(ex)
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / n)  # impression-level 50/50, no sample ratio mismatch
    assert (ex.loc[~ex["clicked"], "converted"] == False).all()  # noqa: E712
    assert (ex.loc[~ex["converted"], "revenue"] == 0).all() and (ex.loc[ex["converted"], "revenue"] > 0).all()
    seg = small.truth["users"].set_index("user_id")["segment"]
    assert (ex["segment"] == ex["user_id"].map(seg)).all()


def _campaign_from_the_log(ds, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` impressions of the shop's own historical copy to random users at random times over 14 days."""
    rng = np.random.default_rng(seed)
    copy, users = ds.truth["historical_copy"], ds.truth["users"]
    c = copy.iloc[rng.integers(0, len(copy), n)].reset_index(drop=True)
    pick = rng.integers(0, len(users), n)
    return pd.DataFrame({
        "timestamp": pd.Timestamp("2026-04-01") + pd.to_timedelta(rng.integers(0, 14 * 86400, n), unit="s"),
        "user_id": users["user_id"].to_numpy()[pick], "content_id": c["content_id"], "product_id": c["product_id"],
        "variant": c["variant"], "channel": c["channel"], "segment": users["segment"].to_numpy()[pick],
        "text": c["text"]})


def test_campaign_ctr_matches_the_planted_audience(small):
    truth, products = small.truth, small.products
    a = _campaign_from_the_log(small, 150_000)
    ex = simulate_campaign(a, truth, seed=1, products=products, with_expected=True)
    assert len(ex) == len(a) and list(ex.columns) == TABLES["exposures"].names + ["expected_ctr", "expected_cvr"]
    assert not ex.duplicated(["timestamp", "user_id", "content_id"]).any()
    # clicks follow each impression's planted probability (text, context and the user's true segment)
    g = ex.groupby(["segment", "channel"]).agg(n=("clicked", "size"), k=("clicked", "sum"), p=("expected_ctr", "mean"),
                                               v=("expected_ctr", lambda x: float((x * (1 - x)).sum())))
    z = (g["k"] - g["n"] * g["p"]) / np.sqrt(g["v"])
    assert (z.abs() < 4.5).all(), z[z.abs() >= 4.5]
    clicked = ex[ex["clicked"]]
    zc = (clicked["converted"].sum() - clicked["expected_cvr"].sum()) / np.sqrt(
        (clicked["expected_cvr"] * (1 - clicked["expected_cvr"])).sum())
    assert abs(zc) < 4.5
    # an unknown segment label falls back to the user's true segment: the same probabilities
    out = simulate_campaign(a.assign(segment="cluster_3"), truth, seed=1, products=products, with_expected=True)
    assert (out["segment"] == "cluster_3").all()
    np.testing.assert_allclose(out["expected_ctr"], ex["expected_ctr"])
    # the planted audience reads the copy: without a text column there is nothing to respond to
    with pytest.raises(ValueError, match="text column"):
        simulate_campaign(a.drop(columns="text"), truth, seed=1)


def test_campaign_keeps_exposure_key_unique_and_input_order(small):
    rng = np.random.default_rng(4)
    n = 3000
    a = pd.DataFrame({
        "user_id": rng.choice(["U00001", "U00002"], n), "content_id": rng.choice(["C00001", "C00002", "C00003"], n),
        "product_id": "P0001", "variant": "gpt2", "channel": "email", "segment": "trend_seeker",
        "timestamp": pd.Timestamp("2026-02-01 09:00"),  # every impression at the same second
        "text": "New sneakers, loved by our customers.",
    })
    ex = simulate_campaign(a, small.truth, seed=0)
    assert not ex.duplicated(["timestamp", "user_id", "content_id"]).any()
    assert (ex["user_id"].to_numpy() == a["user_id"].to_numpy()).all()  # one output row per input row, same order
    per_key = ex.groupby(["user_id", "content_id"])["timestamp"]
    # repeats are moved on by whole seconds, no further than needed
    assert ((per_key.max() - per_key.min()).dt.total_seconds() == per_key.size() - 1).all()


def test_audience_model_stands_alone():
    """The audience model (what the feedback stage uses) needs none of the simulator's other parts: only the segment
    names, and a campaign can be drawn from a response planted by hand."""
    import ast

    from contentlab.data.simulate import audience, response

    def own_imports(module) -> set[str]:
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        return {n for n in names if n.startswith("contentlab")}

    assert own_imports(audience) == {"contentlab.data.simulate.spec", "contentlab.data.simulate.response"}
    assert own_imports(response) == {"contentlab.data.simulate.spec"}
    resp = pd.DataFrame({"segment": ["s"] * 2, "channel": ["email"] * 2, "variant": ["template", "gpt2"],
                         "ctr": [0.0, 1.0], "cvr": [1.0, 1.0], "aov": [10.0, 10.0]})
    a = pd.DataFrame({"user_id": ["u1", "u2"] * 50, "content_id": "c", "product_id": "p",
                      "variant": ["template", "gpt2"] * 50, "channel": "email", "segment": "s"})
    out = simulate_campaign(a, {"response": resp}, seed=0)
    assert (out["clicked"] == (a["variant"] == "gpt2")).all() and (out["converted"] == out["clicked"]).all()
    # copy effects of a response planted by hand multiply the CTR where the impression has the property
    resp = resp.assign(ctr=[0.2, 0.2])
    b = pd.concat([a] * 200, ignore_index=True)
    b["mentions_price"] = np.arange(len(b)) % 2 == 0
    out = simulate_campaign(b, {"response": resp, "copy_effects": {"mentions_price": 2.0}}, seed=1, with_expected=True)
    assert set(out.loc[b["mentions_price"], "expected_ctr"]) == {0.4}
    assert set(out.loc[~b["mentions_price"], "expected_ctr"]) == {0.2}


def test_campaign_rejects_unknown_channel(small):
    a = pd.DataFrame({"user_id": ["U00001"], "content_id": ["C00001"], "product_id": ["P0001"],
                      "variant": ["gpt2"], "channel": ["billboard"], "segment": ["trend_seeker"]})
    with pytest.raises(ValueError, match="no planted response"):
        simulate_campaign(a, small.truth, seed=0)


def test_segment_spec_is_well_formed():
    assert abs(sum(s["share"] for s in SEGMENT_SPECS.values()) - 1) < 1e-9
    for spec in SEGMENT_SPECS.values():
        assert abs(sum(spec["channel_mix"].values()) - 1) < 1e-9
        assert 0.1 < spec["cart_rate"] < 0.5 and 0.25 < spec["purchase_rate"] < 0.8


# ------------------------------------------------------------------------------ demo scale
@pytest.mark.slow
def test_demo_profile_size():
    ds = simulate(**PROFILES["demo"], seed=42)
    assert len(ds.users) == 5000 and len(ds.products) == 800
    assert 200_000 <= len(ds.events) <= 900_000
    assert len(ds.ratings) > 5_000 and len(ds.exposures) > 50_000
    assert ds.truth["sizes"]["n_fraud"] == 50
