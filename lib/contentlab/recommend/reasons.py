"""The final recommendation table and a short human-readable reason for every recommended product.

Reasons, first that applies:

1. ``often bought with <title>``: an association rule (profiling's ``association_rules.parquet``, the user's
   segment's rules before the ``all`` rules) whose antecedents the user has interacted with and whose consequents
   contain the product;
2. ``similar to <title> from your history``: the most similar (TF-IDF cosine >= ``min_similarity``) product the
   user interacted with in training;
3. ``a favourite <category> pick among <segment> shoppers``: the product's category is among the top categories of
   the user's segment (profiling segments; interaction share in training);
4. ``popular in <category>``.

:func:`recommend_all` writes the final table: every customer's top-k from the chosen model, products they already
interacted with excluded, each with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from contentlab.recommend.models import Recommender
from contentlab.recommend.topn import top_k

RECOMMENDATION_COLUMNS = ["user_id", "rank", "product_id", "score", "model", "reason"]
MAX_SIMILARITY_ITEMS = 5000
"""Above this catalogue size the item-item similarity matrix is not built (no "similar to ..." reasons)."""


def recommendation_frame(users: Sequence[str], items: Sequence[str], top: np.ndarray, scores: np.ndarray,
                         model: str) -> pd.DataFrame:
    """Long table ``user_id, rank, product_id, score, model`` from top-k positions (``-1`` padding dropped)."""
    top = np.asarray(top)
    n, k = top.shape
    items_arr = np.asarray(list(items), dtype=object)
    df = pd.DataFrame({
        "user_id": np.repeat(np.asarray(list(users), dtype=object), k),
        "rank": np.tile(np.arange(1, k + 1), n),
        "pos": top.ravel(),
        "score": np.asarray(scores, dtype=float).ravel(),
    })
    df = df[df["pos"] >= 0]
    df["product_id"] = items_arr[df["pos"].to_numpy()]
    df["model"] = model
    return df[["user_id", "rank", "product_id", "score", "model"]].reset_index(drop=True)


def _short(title: object, n: int = 48) -> str:
    t = str(title)
    return t if len(t) <= n else t[: n - 1].rstrip() + "…"


def segment_favourites(train: pd.DataFrame, products: pd.DataFrame, profiles: pd.DataFrame | None,
                       top_n: int = 2) -> dict[str, list[str]]:
    """Top categories of each segment by share of its users' training interactions."""
    if profiles is None or "segment" not in profiles.columns or "category" not in products.columns:
        return {}
    seg = profiles[["user_id", "segment"]].astype({"user_id": str})
    cat = products[["product_id", "category"]].astype({"product_id": str})
    df = train[["user_id", "product_id"]].astype(str).merge(seg, on="user_id").merge(cat, on="product_id")
    if df.empty:
        return {}
    counts = df.groupby(["segment", "category"]).size().rename("n").reset_index()
    counts = counts.sort_values(["segment", "n", "category"], ascending=[True, False, True])
    return {str(s): g["category"].astype(str).head(top_n).tolist() for s, g in counts.groupby("segment")}


def explain(
    recs: pd.DataFrame,
    train: pd.DataFrame,
    products: pd.DataFrame,
    profiles: pd.DataFrame | None = None,
    rules: pd.DataFrame | None = None,
    item_similarity: tuple[list[str], np.ndarray] | None = None,
    min_similarity: float = 0.3,
) -> pd.Series:
    """A reason string for every row of ``recs`` (``user_id``, ``product_id``)."""
    prod = products.assign(product_id=products["product_id"].astype(str)).drop_duplicates("product_id")
    prod = prod.set_index("product_id")
    titles = prod["title"].astype(str).to_dict() if "title" in prod.columns else {}
    cats = prod["category"].astype(str).to_dict() if "category" in prod.columns else {}
    history = train.assign(user_id=train["user_id"].astype(str), product_id=train["product_id"].astype(str))
    hist = history.groupby("user_id")["product_id"].agg(list).to_dict()
    user_seg = {}
    if profiles is not None and "segment" in profiles.columns:
        user_seg = dict(zip(profiles["user_id"].astype(str), profiles["segment"].astype(str)))
    favs = segment_favourites(train, products, profiles)

    # rules: consequent -> list of (segment, antecedent tuple, lift), strongest first
    rule_map: dict[str, list[tuple[str, tuple[str, ...], float]]] = {}
    if rules is not None and len(rules) and {"antecedents", "consequents"} <= set(rules.columns):
        r = rules.sort_values("lift", ascending=False) if "lift" in rules.columns else rules
        segs = r["segment"].astype(str).tolist() if "segment" in r.columns else ["all"] * len(r)
        lifts = r["lift"].tolist() if "lift" in r.columns else [1.0] * len(r)
        for seg, ante, cons, lift in zip(segs, r["antecedents"], r["consequents"], lifts):
            ante_t = tuple(str(a) for a in list(ante))
            for c in list(cons):
                rule_map.setdefault(str(c), []).append((seg, ante_t, float(lift)))

    sim_items, sim = (item_similarity if item_similarity is not None else (None, None))
    sim_pos = {i: n for n, i in enumerate(sim_items)} if sim_items is not None else {}

    reasons = []
    for user, item in zip(recs["user_id"].astype(str), recs["product_id"].astype(str)):
        items_u = hist.get(user, [])
        set_u = set(items_u)
        seg = user_seg.get(user)
        reason = None
        for rseg, ante, _lift in sorted(rule_map.get(item, []), key=lambda t: (t[0] != seg, -t[2])):
            if rseg not in ("all", seg):
                continue
            if set(ante) <= set_u:
                reason = "often bought with " + " + ".join(_short(titles.get(a, a), 40) for a in ante)
                break
        if reason is None and sim is not None and item in sim_pos and items_u:
            hp = [sim_pos[h] for h in items_u if h in sim_pos and h != item]
            if hp:
                vals = sim[sim_pos[item], hp]
                j = int(np.argmax(vals))
                if vals[j] >= min_similarity:
                    reason = f"similar to “{_short(titles.get(sim_items[hp[j]], sim_items[hp[j]]))}” from your history"
        if reason is None:
            cat = cats.get(item)
            if seg is not None and cat is not None and cat in favs.get(seg, []):
                reason = f"a favourite {cat} pick among {seg.replace('_', ' ')} shoppers"
                reason = reason.replace("shoppers shoppers", "shoppers")
            elif cat is not None:
                reason = f"popular in {cat}"
            else:
                reason = "popular with shoppers like you"
        reasons.append(reason)
    return pd.Series(reasons, index=recs.index, name="reason", dtype=object)


def recommend_all(
    model: Recommender,
    users: Sequence[str],
    interactions: pd.DataFrame,
    items: Sequence[str],
    k: int,
    products: pd.DataFrame,
    profiles: pd.DataFrame | None = None,
    rules: pd.DataFrame | None = None,
    content_model: Any = None,
) -> pd.DataFrame:
    """Top-``k`` of ``model`` (fitted on ``items``) for every one of ``users``, products of their
    ``interactions`` excluded, with a reason each (:func:`explain`; "similar to ..." needs ``content_model``'s
    TF-IDF vectors and a catalogue of at most :data:`MAX_SIMILARITY_ITEMS` products)."""
    items = list(items)
    known = interactions.groupby("user_id")["product_id"].agg(list)
    item_pos = {p: n for n, p in enumerate(items)}
    seen = [np.array([item_pos[p] for p in known.get(u, [])], dtype=np.int64) for u in users]
    top, scores = top_k(model.score, list(users), k, seen)
    recs = recommendation_frame(users, items, top, scores, model.name)
    sim = None
    if content_model is not None and len(items) <= MAX_SIMILARITY_ITEMS:
        sim = (items, (content_model.item_vectors @ content_model.item_vectors.T).toarray())
    recs["reason"] = explain(recs, interactions, products, profiles, rules, sim).to_numpy()
    return recs
