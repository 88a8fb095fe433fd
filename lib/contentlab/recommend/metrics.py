"""Recommendation metrics, implemented once for every model and every report.

Protocol (the one microsoft/recommenders uses in its MovieLens benchmark, so numbers are comparable):

- every evaluated user gets a full-catalogue top-k list with the items seen in training excluded;
- an item is relevant to a user if the user has *any* held-out interaction with it (binary relevance);
- averages are over the evaluated users (users with at least one held-out interaction);
- ``precision@k = hits / k`` (k, not the list length, as Spark and recommenders do);
- ``recall@k = hits / n_relevant``;
- ``ndcg@k``: binary gains, ``DCG = sum(hit_r / log2(r + 1))`` over ranks ``r = 1..k``, divided by the ideal
  DCG over ``min(k, n_relevant)`` hits (the log base cancels, so this equals their natural-log variant);
- ``map@k`` (recommenders' ``map_at_k``, after Spark's ``meanAveragePrecisionAt``):
  ``AP@k = sum over hits at rank r of (number of hits up to r) / r``, divided by ``min(n_relevant, k)``;
- ``hit_rate@k``: share of users with at least one hit.

Beyond accuracy:

- catalogue coverage: distinct recommended items / catalogue size;
- novelty: mean self-information ``-log2(p_i)`` of recommended items, ``p_i`` = share of training users who
  interacted with item ``i`` (items never seen in training count as seen by one user);
- intra-list diversity by category: mean share of item pairs within a list whose categories differ.

Top-k lists are integer matrices of item positions (``-1`` pads short lists); relevance is a list of sets of
item positions, one per evaluated user. :func:`rmse` / :func:`mae` score rating predictions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")


def hit_matrix(top: np.ndarray, relevant: Sequence[Iterable[int]]) -> np.ndarray:
    """Boolean ``(n_users, k)``: is the item at rank r relevant to the user."""
    top = np.asarray(top)
    if top.ndim != 2:
        raise ValueError("top must be a 2-D array (users x k)")
    if len(relevant) != top.shape[0]:
        raise ValueError(f"{top.shape[0]} top-k lists but {len(relevant)} relevance sets")
    # vectorised membership: (user, item) keys of the top-k lists looked up among the sorted relevant keys
    lists = [r if isinstance(r, (set, frozenset)) else set(r) for r in relevant]
    lens = np.fromiter((len(r) for r in lists), dtype=np.int64, count=len(lists))
    if top.size == 0 or lens.sum() == 0:
        return np.zeros(top.shape, dtype=bool)
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lens.sum()))
    width = int(max(int(top.max()), int(flat.max()))) + 1
    rel_keys = np.sort(np.repeat(np.arange(len(lists), dtype=np.int64), lens) * width + flat)
    top_keys = np.arange(top.shape[0], dtype=np.int64)[:, None] * width + np.maximum(top.astype(np.int64), 0)
    pos = np.minimum(np.searchsorted(rel_keys, top_keys), rel_keys.size - 1)
    hits = rel_keys[pos] == top_keys
    hits &= top >= 0
    return hits


def _n_relevant(relevant: Sequence[Iterable[int]]) -> np.ndarray:
    return np.array([len(set(r)) for r in relevant], dtype=float)


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].sum(axis=1) / float(k)


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    n_relevant = np.asarray(n_relevant, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = hits[:, :k].sum(axis=1) / n_relevant
    return np.where(n_relevant > 0, out, 0.0)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    h = hits[:, :k].astype(float)
    disc = 1.0 / np.log2(np.arange(2, h.shape[1] + 2))
    dcg = h @ disc
    ideal_n = np.minimum(np.asarray(n_relevant, dtype=int), k)
    cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = cum[ideal_n]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = dcg / idcg
    return np.where(idcg > 0, out, 0.0)


def average_precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    h = hits[:, :k].astype(float)
    ranks = np.arange(1, h.shape[1] + 1)
    prec = np.cumsum(h, axis=1) / ranks
    denom = np.minimum(np.asarray(n_relevant, dtype=float), k)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (prec * h).sum(axis=1) / denom
    return np.where(denom > 0, out, 0.0)


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    return hits[:, :k].any(axis=1).astype(float)


def per_user_ranking(top: np.ndarray, relevant: Sequence[Iterable[int]], k: int = 10) -> pd.DataFrame:
    """One row per evaluated user: precision, recall, ndcg, map (AP@k), hit_rate, n_relevant."""
    top = np.asarray(top)[:, :k]
    hits = hit_matrix(top, relevant)
    n_rel = _n_relevant(relevant)
    return pd.DataFrame({
        "precision": precision_at_k(hits, k),
        "recall": recall_at_k(hits, n_rel, k),
        "ndcg": ndcg_at_k(hits, n_rel, k),
        "map": average_precision_at_k(hits, n_rel, k),
        "hit_rate": hit_rate_at_k(hits, k),
        "n_relevant": n_rel.astype(int),
    })


def catalogue_coverage(top: np.ndarray, n_items: int) -> float:
    top = np.asarray(top)
    return float(np.unique(top[top >= 0]).size / n_items) if n_items else 0.0


def novelty(top: np.ndarray, item_user_counts: np.ndarray, n_users: int) -> float:
    """Mean self-information (bits) of the recommended items."""
    top = np.asarray(top)
    rec = top[top >= 0]
    if rec.size == 0 or n_users <= 0:
        return float("nan")
    counts = np.maximum(np.asarray(item_user_counts, dtype=float), 1.0)
    p = counts[rec] / float(n_users)
    return float(np.mean(-np.log2(p)))


def intra_list_diversity(top: np.ndarray, item_category: Sequence[object]) -> float:
    """Mean over lists of the share of item pairs with different categories."""
    top = np.asarray(top)
    codes, _ = pd.factorize(pd.Series(list(item_category), dtype=object))
    vals = []
    for row in top:
        row = row[row >= 0]
        n = row.size
        if n < 2:
            continue
        c = codes[row]
        same = (c[:, None] == c[None, :]).sum() - n  # ordered pairs, diagonal removed
        vals.append(1.0 - same / (n * (n - 1)))
    return float(np.mean(vals)) if vals else float("nan")


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2))) if y_true.size else float("nan")


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return float(np.mean(np.abs(y_true - y_pred))) if y_true.size else float("nan")


def summarize(
    top: np.ndarray,
    relevant: Sequence[Iterable[int]],
    k: int = 10,
    *,
    n_items: int | None = None,
    item_user_counts: np.ndarray | None = None,
    n_train_users: int | None = None,
    item_category: Sequence[object] | None = None,
) -> dict[str, float]:
    """All ranking metrics at k as ``{"precision_at_10": ..., "coverage": ..., ...}``."""
    out = ranking_means(per_user_ranking(top, relevant, k), k)
    out.update(beyond_accuracy(top, k, n_items=n_items, item_user_counts=item_user_counts,
                               n_train_users=n_train_users, item_category=item_category))
    return out


def ranking_means(per_user: pd.DataFrame, k: int) -> dict[str, float]:
    """The ranking metrics at k averaged over the evaluated users of ``per_user`` (:func:`per_user_ranking`'s
    frame, however it was computed), and ``n_eval_users``."""
    out = {f"{m}_at_{k}": float(per_user[m].mean()) if len(per_user) else 0.0 for m in RANKING_METRICS}
    out["n_eval_users"] = int(len(per_user))
    return out


def beyond_accuracy(
    top: np.ndarray,
    k: int,
    *,
    n_items: int | None = None,
    item_user_counts: np.ndarray | None = None,
    n_train_users: int | None = None,
    item_category: Sequence[object] | None = None,
) -> dict[str, float]:
    """Catalogue coverage, novelty and diversity of the top-k lists (each only when its input is given)."""
    top = np.asarray(top)
    out: dict[str, float] = {}
    if n_items is not None:
        out["coverage"] = catalogue_coverage(top[:, :k], n_items)
    if item_user_counts is not None and n_train_users:
        out["novelty"] = novelty(top[:, :k], item_user_counts, n_train_users)
    if item_category is not None:
        out["diversity"] = intra_list_diversity(top[:, :k], item_category)
    return out
