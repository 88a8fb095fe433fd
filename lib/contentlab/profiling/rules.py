"""Frequently-bought-together rules from baskets with mlxtend's FP-growth.

A basket is the set of distinct products of one order (``order_id`` of purchase events; without
order ids, the purchases of one session). Rules ``antecedents -> consequents`` carry support,
confidence and lift; they are mined over all baskets and per segment, and stored for the
recommendation stage's "often bought with ..." explanations. Products are identified by
``product_id`` (lists of strings in the saved table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth

__all__ = ["RULE_COLUMNS", "baskets_from_purchases", "mine_rules", "rules_by_segment", "format_rule",
           "planted_pairs_found"]

RULE_COLUMNS = [
    "segment", "antecedents", "consequents", "support", "confidence", "lift", "leverage",
    "antecedent_support", "consequent_support", "n_baskets", "count",
]


def baskets_from_purchases(purchases: pd.DataFrame) -> pd.DataFrame:
    """Distinct (basket_id, user_id, product_id) rows from purchase events.

    ``purchases`` needs ``user_id``, ``product_id`` and ``order_id`` or ``session_id``.
    """
    key = "order_id" if "order_id" in purchases.columns and purchases["order_id"].notna().any() else "session_id"
    b = purchases[[key, "user_id", "product_id"]].dropna(subset=[key, "product_id"])
    b = b.rename(columns={key: "basket_id"}).drop_duplicates(["basket_id", "product_id"])
    return b.reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        RULE_COLUMNS, ["string", object, object, float, float, float, float, float, float, "int64", "int64"])})


def mine_rules(
    baskets: pd.DataFrame,
    min_support: float = 0.005,
    min_confidence: float = 0.1,
    min_lift: float = 1.0,
    max_len: int = 2,
    min_count: int = 3,
    segment: str = "all",
) -> pd.DataFrame:
    """Association rules over baskets (rows: basket_id, product_id).

    Only baskets with at least two products can support a rule, but support is measured over all
    baskets. An itemset must also occur in at least ``min_count`` baskets (a rule seen twice is
    noise on small data). Sorted by lift, then confidence.
    """
    if baskets.empty:
        return _empty()
    n_baskets = int(baskets["basket_id"].nunique())
    support_floor = max(min_support, min_count / n_baskets)
    # Items below the support floor cannot be in a frequent itemset: drop them before one-hot encoding.
    item_counts = baskets.groupby("product_id", observed=True)["basket_id"].nunique()
    frequent_items = item_counts.index[item_counts / n_baskets >= support_floor]
    b = baskets[baskets["product_id"].isin(frequent_items)]
    sizes = b.groupby("basket_id", observed=True)["product_id"].transform("size")
    b = b[sizes >= 2]
    if b.empty:
        return _empty()
    basket_codes, basket_index = pd.factorize(b["basket_id"])
    item_codes, item_index = pd.factorize(b["product_id"].astype(str))
    from scipy import sparse

    mat = sparse.csr_matrix(
        (np.ones(len(b), dtype=bool), (basket_codes, item_codes)), shape=(len(basket_index), len(item_index))
    )
    onehot = pd.DataFrame.sparse.from_spmatrix(mat, columns=list(item_index))
    # fpgrowth measures support within the frame: rescale the threshold to the multi-item baskets.
    frac = len(basket_index) / n_baskets
    itemsets = fpgrowth(onehot, min_support=min(support_floor / frac, 1.0), use_colnames=True, max_len=max_len)
    if itemsets.empty or (itemsets["itemsets"].map(len) > 1).sum() == 0:
        return _empty()
    # Support of every itemset over ALL baskets (single-product baskets included).
    itemsets["support"] = itemsets["support"] * frac
    # Single items' support over all baskets (the multi-item frame under-counts them).
    single = itemsets["itemsets"].map(len) == 1
    itemsets.loc[single, "support"] = [item_counts[next(iter(s))] / n_baskets for s in itemsets.loc[single, "itemsets"]]
    rules = association_rules(
        itemsets, num_itemsets=n_baskets, metric="confidence", min_threshold=min_confidence,
        return_metrics=["antecedent support", "consequent support", "support", "confidence", "lift", "leverage"])
    if rules.empty:
        return _empty()
    rules = rules[rules["lift"] >= min_lift]
    # Supports are rescaled from the multi-item baskets, so a ratio of two of them can land a rounding error
    # above 1: confidence is taken from the basket counts instead (exact, and never above 1).
    count = np.rint(rules["support"].to_numpy(float) * n_baskets).astype("int64")
    ante_count = np.rint(rules["antecedent support"].to_numpy(float) * n_baskets).astype("int64")
    confidence = np.divide(count, ante_count, out=rules["confidence"].to_numpy(float).copy(), where=ante_count > 0)
    out = pd.DataFrame(
        {
            "segment": pd.Series(segment, index=rules.index, dtype="string"),
            "antecedents": rules["antecedents"].map(lambda s: sorted(map(str, s))),
            "consequents": rules["consequents"].map(lambda s: sorted(map(str, s))),
            "support": rules["support"].astype(float),
            "confidence": confidence,
            "lift": rules["lift"].astype(float),
            "leverage": rules["leverage"].astype(float),
            "antecedent_support": rules["antecedent support"].astype(float),
            "consequent_support": rules["consequent support"].astype(float),
            "n_baskets": n_baskets,
            "count": count,
        }
    )
    out = out[out["count"] >= min_count]
    return out.sort_values(["lift", "confidence", "support"], ascending=False, kind="mergesort").reset_index(drop=True)


def rules_by_segment(
    baskets: pd.DataFrame,
    user_segment: pd.Series,
    min_segment_baskets: int = 50,
    **kwargs,
) -> pd.DataFrame:
    """Rules over all baskets (segment ``"all"``) and within each segment's baskets.

    ``user_segment`` maps user_id -> segment name; segments with fewer than
    ``min_segment_baskets`` baskets are skipped (too few to support a rule).
    """
    parts = [mine_rules(baskets, segment="all", **kwargs)]
    seg = baskets["user_id"].map(user_segment)
    for name in sorted(seg.dropna().unique()):
        sub = baskets[seg == name]
        if sub["basket_id"].nunique() >= min_segment_baskets:
            parts.append(mine_rules(sub, segment=str(name), **kwargs))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    return pd.concat(parts, ignore_index=True)


def format_rule(rule: pd.Series, titles: dict[str, str] | None = None) -> str:
    """"A + B -> C" with product titles when given."""
    name = (lambda p: titles.get(p, p)) if titles else (lambda p: p)
    return " + ".join(map(name, rule["antecedents"])) + " → " + " + ".join(map(name, rule["consequents"]))


def planted_pairs_found(rules: pd.DataFrame, pairs, segment: str = "all") -> tuple[int, int]:
    """How many planted "bought together" pairs the rules of ``segment`` recover: ``(found, planted)``.

    ``pairs``: two product ids per row (a DataFrame's first two columns, or any sequence of pairs). A pair counts
    as found when some rule's antecedent and consequent together are exactly its two products, in either
    direction."""
    rows = pairs.to_numpy()[:, :2] if hasattr(pairs, "to_numpy") else pairs
    planted = {frozenset(map(str, p)) for p in rows}
    mine = rules[rules["segment"] == segment]
    found = {frozenset(map(str, (*a, *c))) for a, c in zip(mine["antecedents"], mine["consequents"], strict=True)}
    return len(planted & found), len(planted)
