"""Association rules: support, confidence and lift checked by hand; a planted pair is recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.profiling.rules import baskets_from_purchases, mine_rules, planted_pairs_found, rules_by_segment


def _baskets(rows):
    return pd.DataFrame(
        [(b, u, p) for b, u, items in rows for p in items], columns=["basket_id", "user_id", "product_id"]
    )


def test_support_confidence_lift_by_hand():
    # 8 baskets; a in 5, b in 4, {a, b} in 3, single-item baskets count in the denominators
    b = _baskets([
        (1, "u1", "ab"), (2, "u1", "ab"), (3, "u2", "ab"), (4, "u2", "a"), (5, "u3", "ac"),
        (6, "u3", "b"), (7, "u4", "cd"), (8, "u4", "e"),
    ])
    rules = mine_rules(b, min_support=0.1, min_confidence=0.1, min_count=2)
    ab = rules[(rules["antecedents"].map(tuple) == ("a",)) & (rules["consequents"].map(tuple) == ("b",))].iloc[0]
    assert ab["support"] == pytest.approx(3 / 8)
    assert ab["confidence"] == pytest.approx(3 / 5)
    assert ab["lift"] == pytest.approx((3 / 5) / (4 / 8))
    assert ab["count"] == 3 and ab["n_baskets"] == 8 and ab["segment"] == "all"
    ba = rules[(rules["antecedents"].map(tuple) == ("b",))].iloc[0]
    assert ba["confidence"] == pytest.approx(3 / 4)
    # {a, c} and {c, d} occur once: below min_count
    assert not any("c" in r for r in rules["antecedents"])


def test_thresholds_filter():
    b = _baskets([(i, "u", "ab") for i in range(3)] + [(i + 3, "u", "a") for i in range(7)])
    assert mine_rules(b, min_support=0.5, min_count=1).empty  # {a,b} support 0.3
    assert not mine_rules(b, min_support=0.2, min_count=1).empty
    assert mine_rules(b, min_support=0.2, min_count=4).empty  # only 3 baskets hold the pair
    # a -> b confidence 0.3, b -> a confidence 1.0
    r = mine_rules(b, min_support=0.2, min_confidence=0.5, min_count=1)
    assert [tuple(x) for x in r["antecedents"]] == [("b",)]


def test_baskets_use_orders_then_sessions():
    p = pd.DataFrame({"user_id": ["u", "u", "u"], "session_id": ["s", "s", "s"], "order_id": ["o1", "o1", "o2"],
                      "product_id": ["a", "a", "b"]})
    b = baskets_from_purchases(p)
    assert sorted(b["basket_id"]) == ["o1", "o2"]  # duplicate line in o1 collapsed
    b2 = baskets_from_purchases(p.drop(columns="order_id"))
    assert b2["basket_id"].nunique() == 1 and len(b2) == 2


def test_planted_pair_recovered_overall_and_per_segment():
    rng = np.random.default_rng(0)
    products = [f"p{i}" for i in range(40)]
    rows = []
    for i in range(2000):
        user = f"u{i % 200}"
        items = set(rng.choice(products, size=rng.integers(1, 4), replace=False))
        if rng.random() < 0.08:  # planted: p1 bought with p2
            items |= {"p1", "p2"}
        rows.append((i, user, sorted(items)))
    b = _baskets(rows)
    rules = mine_rules(b, min_support=0.005, min_confidence=0.1, min_count=3)
    top = rules.iloc[0]
    assert {tuple(top["antecedents"]), tuple(top["consequents"])} == {("p1",), ("p2",)}
    assert top["lift"] > 3
    seg = pd.Series({f"u{i}": ("A" if i % 2 else "B") for i in range(200)})
    both = rules_by_segment(b, seg, min_segment_baskets=50, min_support=0.005, min_confidence=0.1, min_count=3)
    assert set(both["segment"]) >= {"all", "A", "B"}
    for s, g in both.groupby("segment"):
        assert g["n_baskets"].iloc[0] == (b["basket_id"].nunique() if s == "all" else
                                          b[b["user_id"].map(seg) == s]["basket_id"].nunique())


def test_planted_pairs_found_counts_pairs_in_either_direction_over_all_baskets():
    rules = pd.DataFrame({
        "segment": ["all", "all", "all", "A", "all"],
        "antecedents": [("p1",), ("p2",), ("p3",), ("p5",), ("p7", "p8")],
        "consequents": [("p2",), ("p1",), ("p4",), ("p6",), ("p9",)],
    })
    planted = pd.DataFrame({"product_a": ["p2", "p4", "p5", "p7"], "product_b": ["p1", "p3", "p6", "p8"],
                            "lift": [5.0, 4.0, 3.0, 2.0]})
    # {p1, p2} (both directions, once), {p3, p4} reversed; {p5, p6} only within segment A; {p7, p8} only as part
    # of a three-product rule
    assert planted_pairs_found(rules, planted) == (2, 4)
    assert planted_pairs_found(rules, planted, segment="A") == (1, 4)
    numeric = pd.DataFrame({"segment": ["all"], "antecedents": [("1",)], "consequents": [("2",)]})
    assert planted_pairs_found(numeric, [(2, 1), (1, 3)]) == (1, 2)  # ids compared as text
    assert planted_pairs_found(rules.assign(antecedents=[np.array(a) for a in rules["antecedents"]]), planted) == (2, 4)
