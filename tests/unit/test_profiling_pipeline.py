"""The profiling stage on a small simulated shop, checked against the simulator's planted truth.

Small profile: 1,500 users, 300 products, 60 days (seed 3), a few seconds to simulate and profile.
Over seeds 1-5 at this size the clustering reached ARI 0.94-0.95 against the planted segments and
always chose k = 5, so the 0.85 threshold leaves room for noise while still failing when a planted
segment is merged or split (merging two of the five segments drops the ARI to about 0.7-0.8).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from contentlab import contract
from contentlab.data.io import write_dataset
from contentlab.data.simulate import simulate
from contentlab.profiling import (
    ProfilingConfig,
    basket_rules,
    build_personas,
    confusion_table,
    precision_recall,
    profile_users,
    segment_ari,
    write_outputs,
)
from contentlab.profiling.features import CAT_PREFIX
from contentlab.profiling.segments import FLAGGED_SEGMENT, TRAIT_NAMES
from contentlab.store import EventStore

ARI_THRESHOLD = 0.85


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    ds = simulate(n_users=1500, n_products=300, n_days=60, seed=3)
    path = tmp_path_factory.mktemp("small_shop")
    write_dataset(ds, path)
    store = EventStore(path)
    cfg = ProfilingConfig(random_state=3)
    result = profile_users(store, cfg)
    personas = build_personas(result.profiles, locale="en")
    rules, note = basket_rules(store, result.profiles, cfg)
    run_dir = tmp_path_factory.mktemp("run")
    paths = write_outputs(run_dir, result, personas, rules)
    return {"ds": ds, "store": store, "result": result, "personas": personas, "rules": rules, "note": note,
            "paths": paths, "run_dir": run_dir, "truth": ds.truth["users"].set_index("user_id")}


def test_segments_recover_planted_truth(small):
    res, truth = small["result"], small["truth"]
    prof = res.profiles.set_index("user_id")
    clustered = prof[prof["cluster"] >= 0]
    assert res.clustering.k == 5
    ari = segment_ari(clustered["segment"], truth["segment"])
    assert ari >= ARI_THRESHOLD, ari
    # each planted segment lands mostly in one found segment, and different ones in different segments
    conf = confusion_table(clustered["segment"], truth["segment"])
    main = conf.idxmax(axis=1)
    assert main.nunique() == 5
    assert (conf.max(axis=1) / conf.sum(axis=1)).min() > 0.8
    # readable, unique names; the premium and new-visitor segments are recognised as such
    names = set(res.clustering.names.values())
    assert len(names) == 5 and names <= set(TRAIT_NAMES.values()) | {"Mainstream Customers"}
    assert main["loyal_premium"] == "Premium Shoppers"
    assert main["new_visitor"] == "New Visitors"
    # silhouette curve over the whole range, chosen k has the best silhouette
    curve = res.clustering.curve
    assert list(curve["k"]) == list(range(2, 9))
    assert curve.loc[curve["silhouette"].idxmax(), "k"] == res.clustering.k


def test_risk_flags_find_planted_fraud_and_are_excluded(small):
    res, truth = small["result"], small["truth"]
    prof = res.profiles.set_index("user_id")
    precision, recall, table = precision_recall(prof["is_flagged"], truth["is_fraud"])
    assert truth["is_fraud"].sum() >= 10
    assert precision >= 0.8 and recall >= 0.8, (precision, recall, table)
    flagged = prof[prof["is_flagged"]]
    assert (flagged["cluster"] == -1).all() and (flagged["segment"] == FLAGGED_SEGMENT).all()
    assert flagged["clv"].isna().all()  # not fitted, no value
    # flagged accounts' orders are left out of the baskets the rules are mined from
    ev = small["ds"].events
    genuine_orders = ev[(ev["event_type"] == "purchase") & ~ev["user_id"].isin(flagged.index)]["order_id"].nunique()
    overall = small["rules"][small["rules"]["segment"] == "all"]
    assert overall["n_baskets"].iloc[0] == genuine_orders


def test_rfm_and_clv_fields(small):
    prof = small["result"].profiles
    buyers = prof[(prof["frequency"] > 0) & ~prof["is_flagged"]]
    assert buyers["R"].notna().all() and buyers["rfm_segment"].ne("No Purchase").all()
    assert prof.loc[prof["frequency"] == 0, "R"].isna().all()
    # flagged accounts are scored apart: no RFM scores, their own label
    flagged = prof[prof["is_flagged"]]
    assert flagged["R"].isna().all() and (flagged["rfm_segment"] == FLAGGED_SEGMENT).all()
    # quintiles: each score holds a fifth of the buyers
    counts = buyers["F"].value_counts()
    assert counts.max() - counts.min() <= 1
    genuine = buyers[~buyers["is_flagged"]]
    assert genuine["p_alive"].between(0, 1).all()
    assert (genuine["clv"] >= 0).all() and genuine["clv"].sum() > 0
    assert (genuine["expected_purchases_90d"] >= 0).all()
    # repeat customers who buy more often are expected to buy more (customers with a single purchase are a case apart
    # in BG/NBD: they cannot have dropped out yet, so they are not compared with repeat customers, who may have)
    repeat = genuine[genuine["frequency"] >= 2]
    by_f = repeat.groupby(pd.cut(repeat["frequency"], [1, 3, 10, 1000]), observed=True)["expected_purchases_90d"].mean()
    assert by_f.is_monotonic_increasing
    # holdout check: for the segments whose planted behaviour is BG/NBD's story (steady buying, drop-out after a
    # repeat purchase) the forecast is close; casual browsers' activity is planted to fade, which BG/NBD cannot see
    cal = small["result"].clv.calibration
    steady = small["truth"]["segment"].reindex(cal.index) != "casual_browser"
    act, pred = cal.loc[steady, "frequency_holdout"].sum(), cal.loc[steady, "predicted_holdout"].sum()
    assert pred == pytest.approx(act, rel=0.25)
    fading = ~steady
    assert cal.loc[fading, "predicted_holdout"].sum() > cal.loc[fading, "frequency_holdout"].sum()


def test_bgnbd_sees_the_planted_dropout(small):
    """The simulator plants drop-out (p ~ Beta(1, 5) after each repeat purchase day): BG/NBD sees it (finite a, b;
    the likelihood beats the no-drop-out model clearly), its mean drop-out probability is near the planted one,
    and customers who did drop out get a lower P(alive) than those who did not."""
    v, truth = small["result"].clv, small["truth"]
    bg = v.bgnbd
    assert not bg.ridge and bg.dropout_identified and bg.dropout_note is None
    assert not bg.at_bound and bg.lr_dropout > 50
    planted = small["ds"].truth["dropout"]
    mean_planted = planted["a"] / (planted["a"] + planted["b"])
    assert bg.params["a"] / (bg.params["a"] + bg.params["b"]) == pytest.approx(mean_planted, rel=0.5)
    prof = small["result"].profiles.set_index("user_id")
    repeat = prof[(prof["bgnbd_frequency"] > 0) & ~prof["is_flagged"]]
    dropped = truth["dropped_out"].reindex(repeat.index).astype(bool)
    assert dropped.sum() >= 50 and (~dropped).sum() >= 50
    assert repeat.loc[dropped, "p_alive"].mean() < repeat.loc[~dropped, "p_alive"].mean() - 0.15
    assert repeat["p_alive"].std() > 0.1  # P(alive) varies: it is a finding here


def test_rules_recover_planted_pairs(small):
    rules = small["rules"]
    assert small["note"] is None and len(rules)
    planted = {frozenset(p) for p in small["ds"].truth["bought_together"]}
    overall = rules[rules["segment"] == "all"]
    found = {frozenset(a + c) for a, c in zip(overall["antecedents"], overall["consequents"])}
    assert len(planted & found) >= 0.5 * len(planted)
    assert (rules["lift"] >= 1).all() and rules["confidence"].between(0, 1).all()
    assert set(rules["segment"]) - {"all"} <= set(small["result"].profiles["segment"])
    products = set(small["ds"].products["product_id"])
    assert all(set(a) <= products and set(c) <= products for a, c in zip(rules["antecedents"], rules["consequents"]))


def test_personas_are_structured_and_consistent(small):
    personas, prof = small["personas"], small["result"].profiles
    assert len(personas) == small["result"].clustering.k
    keys = {"persona_id", "segment", "name", "size", "traits", "favourite_categories", "price_band",
            "preferred_channel", "text_en", "metrics"}
    for p in personas:
        assert keys <= set(p)
        members = prof[prof["segment"] == p["segment"]]
        assert p["size"] == len(members)
        assert p["price_band"] in ("budget", "mid-range", "premium")
        assert len(p["favourite_categories"]) == 3
        top = members[[c for c in prof.columns if c.startswith(CAT_PREFIX)]].mean().sort_values(ascending=False)
        assert p["favourite_categories"][0] == top.index[0][len(CAT_PREFIX):]
        assert p["metrics"]["orders_per_user"] == pytest.approx(members["frequency"].mean(), rel=1e-3)
        assert all(any(ch.isdigit() for ch in t) for t in p["traits"])  # facts carry numbers
        assert p["name"] in p["text_en"] and "text_zh" not in p
    premium = next(p for p in personas if p["segment"] == "Premium Shoppers")
    assert premium["price_band"] == "premium"


def test_outputs_follow_the_contract(small):
    paths = small["paths"]
    products = contract.stage("02_profiling").products
    assert set(paths) == set(products)
    for name in products:  # where the contract puts them, and readable through it with what it promises
        assert paths[name] == contract.product(name).at(small["run_dir"])
        contract.product(name).read_path(paths[name])
    prof = pd.read_parquet(paths["user_profiles"])
    for col in ("user_id", "R", "F", "M", "rfm_segment", "cluster", "segment", "persona_id", "is_flagged", "p_alive",
                "expected_purchases_90d", "clv", "frequency", "monetary", "recency_days", "price_index"):
        assert col in prof.columns, col
    assert prof["user_id"].is_unique and len(prof) == len(small["ds"].users)
    personas = json.loads(paths["personas"].read_text(encoding="utf-8"))
    ids = {p["persona_id"] for p in personas}
    assert set(prof["persona_id"].dropna()) == ids
    assert prof.loc[prof["cluster"] < 0, "persona_id"].isna().all()
    rules = pd.read_parquet(paths["association_rules"])
    assert {"antecedents", "consequents", "support", "confidence", "lift", "segment"} <= set(rules.columns)
    assert isinstance(list(rules["antecedents"].iloc[0])[0], str)
    risk = pd.read_parquet(paths["risk_flags"])
    assert set(risk.loc[risk["is_flagged"], "user_id"]) == set(prof.loc[prof["is_flagged"], "user_id"])


def test_chinese_personas(tmp_path):
    ds = simulate(n_users=400, n_products=100, n_days=40, locale="zh", seed=5)
    write_dataset(ds, tmp_path)
    result = profile_users(EventStore(tmp_path), ProfilingConfig(random_state=5, k=4))
    personas = build_personas(result.profiles, locale="zh")
    assert len(personas) == 4
    for p in personas:
        assert p["text_zh"].startswith(p["name_zh"]) and "位顾客" in p["text_zh"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in p["name_zh"])
        cats = set(ds.products["category"])
        assert set(p["favourite_categories"]) <= cats
