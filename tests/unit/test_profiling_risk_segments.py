"""Robust z-scores, risk flag rule, segment naming and the report's small-cell rule on hand-built data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.profiling.report import MERGED_LABEL, segment_table
from contentlab.profiling.risk import precision_recall, risk_flags, robust_z
from contentlab.profiling.segments import FLAGGED_SEGMENT, name_clusters, segment_ari


def test_robust_z_by_hand():
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3, absolute deviations 2,1,0,1,97 -> MAD 1 -> scale 1 / 0.6745
    z = robust_z(x)
    assert z.iloc[4] == pytest.approx(0.6745 * 97)
    assert z.iloc[2] == 0
    # MAD 0: mean absolute deviation x 1.2533 instead (deviations 0,0,0,0,5 -> mean 1)
    z0 = robust_z(pd.Series([2.0, 2.0, 2.0, 2.0, 7.0]))
    assert z0.iloc[4] == pytest.approx(5 / 1.253314)
    # the floor keeps tiny deviations of near-constant data small
    assert robust_z(pd.Series([1.0] * 99 + [1.1]), min_scale=0.2).iloc[-1] == pytest.approx(0.5)


def _population(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "user_id": [f"u{i:03d}" for i in range(n)],
        "n_events": rng.integers(5, 60, n),
        "max_events_per_minute": rng.integers(1, 6, n),
        "events_per_session": rng.normal(5, 1, n).clip(1),
        "sessions_per_active_day": rng.normal(1.1, 0.1, n).clip(1),
        "median_gap_s": rng.normal(30, 8, n).clip(5),
        "orders_per_active_day": rng.uniform(0, 1, n),
        "purchase_without_view_share": np.zeros(n),
        "repeat_amount_orders": rng.integers(0, 2, n),
        "night_share": rng.uniform(0, 0.1, n),
    })
    return df


def test_flag_rule_needs_combined_evidence():
    df = _population()
    truth = pd.Series(False, index=df.index)
    # click farm: bursts of 40 events a minute, 3 s between clicks, at night
    df.loc[0, ["max_events_per_minute", "median_gap_s", "night_share"]] = [40, 3, 0.8]
    # fake orders: 20 orders repeating the same amount, at odd hours
    df.loc[1, ["repeat_amount_orders", "orders_per_active_day", "night_share"]] = [20, 3.0, 0.6]
    truth[[0, 1]] = True
    # a keen genuine shopper: a bit more night-time activity and one more repeated amount than most
    df.loc[2, ["night_share", "repeat_amount_orders"]] = [0.25, 2]
    res = risk_flags(df)
    flagged = res.table["is_flagged"]
    assert flagged[0] and flagged[1]
    assert not flagged[2]
    precision, recall, table = precision_recall(flagged, truth)
    assert recall == 1.0 and precision >= 0.5
    assert table.loc[True, True] == 2
    assert "most events in one minute" in res.table.loc[0, "reasons"]
    # the score is the sum of the fired z-scores
    zc = [c for c in res.table.columns if c.startswith("z_")]
    z = res.table.loc[0, zc].astype(float)
    assert res.table.loc[0, "risk_score"] == pytest.approx(z[z > res.z_threshold].sum())
    # users without events are never flagged
    df.loc[3, "n_events"] = 0
    df.loc[3, ["max_events_per_minute", "median_gap_s"]] = [50, 1]
    assert not risk_flags(df).table.loc[3, "is_flagged"]


def test_isolation_forest_variant_runs_and_is_reported():
    df = _population()
    df.loc[0, ["max_events_per_minute", "median_gap_s", "night_share"]] = [40, 3, 0.8]
    res = risk_flags(df, method="both", contamination=0.01)
    assert res.table["iforest_score"].notna().all()
    assert res.table.loc[0, "iforest_score"] == res.table["iforest_score"].max()
    assert res.table.loc[0, "is_flagged"]
    with pytest.raises(ValueError):
        risk_flags(df, method="magic")


def test_names_follow_traits_and_fall_back():
    rng = np.random.default_rng(1)
    n = 300
    labels = pd.Series(np.repeat([0, 1, 2], n // 3))
    f = pd.DataFrame({
        "price_index": np.r_[rng.normal(0.6, 0.05, 100), rng.normal(1.5, 0.05, 100), rng.normal(1.0, 0.05, 100)],
        "tenure_days": np.r_[rng.normal(300, 20, 100), rng.normal(300, 20, 100), rng.normal(300, 20, 100)],
        "frequency": rng.integers(1, 4, n),
    })
    names = name_clusters(f, labels)
    assert names[0] == "Bargain Hunters" and names[1] == "Premium Shoppers"
    # cluster 2 is average on every trait: the neutral name, not a made-up trait
    assert names[2] == "Mainstream Customers"


def test_segment_ari():
    a = pd.Series(["x", "x", "y", "y"], index=list("abcd"))
    assert segment_ari(a, pd.Series([1, 1, 2, 2], index=list("abcd"))) == 1.0
    assert segment_ari(a, pd.Series([1, 2, 1, 2], index=list("abcd"))) < 0.01


def test_small_segments_are_merged_or_suppressed():
    prof = pd.DataFrame({
        "segment": ["A"] * 10 + ["B"] * 3 + ["C"] * 2 + [FLAGGED_SEGMENT] * 2,
        "frequency": [1] * 17, "monetary": [10.0] * 17, "clv": [5.0] * 17, "p_alive": [0.5] * 17,
    })
    table, suppressed = segment_table(prof, min_cell=5)
    assert list(table["segment"]) == ["A", MERGED_LABEL]  # B + C = 5 users merged; 2 flagged suppressed
    assert table.loc[1, "users"] == 5 and suppressed == 2
    assert table["revenue"].sum() == pytest.approx(150.0)
    table2, suppressed2 = segment_table(prof[prof["segment"] != "C"], min_cell=5)
    assert list(table2["segment"]) == ["A"] and suppressed2 == 5  # B alone (3) and flagged (2)
