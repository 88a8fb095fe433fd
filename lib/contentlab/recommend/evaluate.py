"""Fit-and-evaluate harness: every model goes through the same protocol (see :mod:`contentlab.recommend.metrics`).

:func:`make_context` fixes the evaluation: the catalogue, the evaluated users (users with held-out interactions
who are also in training), their seen (training) items, their relevant (held-out) items, and what the
beyond-accuracy metrics need. :func:`evaluate_model` fits a model, times the fit and the full-catalogue top-k
scoring, and returns one results row plus the top-k lists and per-user metrics.

- RMSE/MAE: over the held-out pairs of the evaluated users, for models that predict ratings (Surprise's clipped
  estimate); ranking-only models (popularity, ranking mode, content, hybrid) report none.
- Cold-item slice (``cold_ndcg_at_k``): users with a held-out interaction on a product that has no training
  interactions; only those cold products are ranked, relevance = the user's held-out cold interactions. Exact score
  ties (a collaborative model scores every unknown product alike) are broken in a seeded random order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contentlab.privacy import MIN_CELL, merge_small_cells
from contentlab.recommend import metrics as M
from contentlab.recommend.models import Recommender
from contentlab.recommend.topn import top_k_from_scores


@dataclass
class EvalContext:
    train: pd.DataFrame
    test: pd.DataFrame
    items: list[str]
    users: list[str]
    seen: list[np.ndarray]
    relevant: list[set[int]]
    k: int = 10
    item_user_counts: np.ndarray | None = None
    n_train_users: int = 0
    item_category: list[str] | None = None
    cold_items: list[str] = field(default_factory=list)
    seed: int = 42

    @property
    def n_items(self) -> int:
        return len(self.items)


def _positions_by_user(df: pd.DataFrame, users: Sequence[str], items: Sequence[str]) -> list[np.ndarray]:
    upos = pd.Index(users)
    ipos = pd.Index(items)
    u = upos.get_indexer(df["user_id"].astype(str))
    i = ipos.get_indexer(df["product_id"].astype(str))
    ok = (u >= 0) & (i >= 0)
    u, i = u[ok], i[ok]
    order = np.argsort(u, kind="stable")
    u, i = u[order], i[order]
    bounds = np.searchsorted(u, np.arange(len(users) + 1))
    return [i[bounds[n]:bounds[n + 1]] for n in range(len(users))]


def make_context(
    train: pd.DataFrame,
    test: pd.DataFrame,
    items: Sequence[str],
    k: int = 10,
    products: pd.DataFrame | None = None,
    cold_items: Sequence[str] = (),
    users: Sequence[str] | None = None,
    seed: int = 42,
) -> EvalContext:
    items = [str(i) for i in items]
    train_users = set(train["user_id"].astype(str))
    if users is None:
        users = sorted(u for u in test["user_id"].astype(str).unique() if u in train_users)
    users = [str(u) for u in users]
    seen = _positions_by_user(train, users, items)
    rel = [set(map(int, r)) for r in _positions_by_user(test, users, items)]
    keep = [n for n, r in enumerate(rel) if r]
    users = [users[n] for n in keep]
    seen = [seen[n] for n in keep]
    rel = [rel[n] for n in keep]
    counts = train.groupby("product_id")["user_id"].nunique().reindex(items).fillna(0).to_numpy(float)
    cats = None
    if products is not None and "category" in products.columns:
        cat = products.set_index(products["product_id"].astype(str))["category"].astype(str)
        cats = cat.reindex(items).fillna("unknown").tolist()
    return EvalContext(train=train, test=test, items=items, users=users, seen=seen, relevant=rel, k=k,
                       item_user_counts=counts, n_train_users=int(train["user_id"].nunique()),
                       item_category=cats, cold_items=[str(c) for c in cold_items], seed=seed)


@dataclass
class EvalResult:
    row: dict
    top: np.ndarray
    scores: np.ndarray
    per_user: pd.DataFrame
    model: Recommender


def evaluate_model(model: Recommender, ctx: EvalContext, fit: bool = True, chunk_size: int = 1024,
                   rating_metrics: bool = True) -> EvalResult:
    """Fit (optionally), then one pass over chunks of evaluated users: full-catalogue top-k with training items
    excluded, rating predictions for their held-out pairs (models that predict ratings), and the cold-item slice."""
    if fit:
        model.fit(ctx.train, ctx.items)
    k = ctx.k
    clip = model.rating_clip() if rating_metrics else None
    upos = pd.Index(ctx.users)
    tu = upos.get_indexer(ctx.test["user_id"].astype(str))
    ti = pd.Index(ctx.items).get_indexer(ctx.test["product_id"].astype(str))
    tok = (tu >= 0) & (ti >= 0)
    tu, ti, tr = tu[tok], ti[tok], ctx.test["rating"].to_numpy(float)[tok]
    pred = np.full(len(tu), np.nan)
    cold_pos = pd.Index(ctx.items).get_indexer(ctx.cold_items) if ctx.cold_items else np.zeros(0, dtype=int)
    cold_pos = cold_pos[cold_pos >= 0]
    cold_set = set(map(int, cold_pos))
    cold_mask = np.zeros(ctx.n_items, dtype=bool)
    cold_mask[cold_pos] = True
    cold_tops, cold_rel = [], []
    perm = np.random.default_rng(ctx.seed).permutation(ctx.n_items)
    tops, vals = [], []
    t0 = time.perf_counter()
    for start in range(0, len(ctx.users), chunk_size):
        chunk = ctx.users[start:start + chunk_size]
        s = np.array(model.score(chunk), dtype=float, copy=True)
        if clip is not None:
            sel = np.flatnonzero((tu >= start) & (tu < start + len(chunk)))
            pred[sel] = np.clip(s[tu[sel] - start, ti[sel]], clip[0], clip[1])
        for row in range(len(chunk)):
            pos = ctx.seen[start + row]
            if len(pos):
                s[row, pos] = -np.inf
        if cold_set:
            rows = [r for r in range(len(chunk)) if ctx.relevant[start + r] & cold_set]
            if rows:
                # only cold products compete; exact ties (a collaborative model gives every cold product the same
                # score) are broken in a seeded random order, not by catalogue position
                sc = s[rows][:, perm]
                sc[:, ~cold_mask[perm]] = -np.inf
                ct = top_k_from_scores(sc, k)[0]
                cold_tops.append(np.where(ct >= 0, perm[np.maximum(ct, 0)], -1))
                cold_rel.extend(ctx.relevant[start + r] & cold_set for r in rows)
        idx, val = top_k_from_scores(s, k)
        tops.append(idx)
        vals.append(val)
    score_s = time.perf_counter() - t0
    top = np.vstack(tops) if tops else np.zeros((0, k), dtype=np.int64)
    scores = np.vstack(vals) if vals else np.zeros((0, k))
    per_user = M.per_user_ranking(top, ctx.relevant, k)
    per_user.insert(0, "user_id", ctx.users)
    row = {"model": model.name, "kind": model.kind}
    row.update(M.summarize(top, ctx.relevant, k, n_items=ctx.n_items, item_user_counts=ctx.item_user_counts,
                           n_train_users=ctx.n_train_users, item_category=ctx.item_category))
    row["rmse"] = M.rmse(tr, pred) if clip is not None else float("nan")
    row["mae"] = M.mae(tr, pred) if clip is not None else float("nan")
    if ctx.cold_items:
        row[f"cold_ndcg_at_{k}"] = (float(M.per_user_ranking(np.vstack(cold_tops), cold_rel, k)["ndcg"].mean())
                                    if cold_tops else float("nan"))
        row["cold_eval_users"] = len(cold_rel)
    row["fit_s"] = float(model.fit_seconds)
    row["score_s"] = float(score_s)
    return EvalResult(row=row, top=top, scores=scores, per_user=per_user, model=model)


def results_table(rows: Sequence[dict], k: int = 10) -> pd.DataFrame:
    cols = ["model", "kind", f"ndcg_at_{k}", f"precision_at_{k}", f"recall_at_{k}", f"map_at_{k}",
            f"hit_rate_at_{k}", "coverage", "novelty", "diversity", f"cold_ndcg_at_{k}", "rmse", "mae", "fit_s",
            "score_s", "n_eval_users"]
    df = pd.DataFrame(list(rows))
    return df[[c for c in cols if c in df.columns]]


def segment_breakdown(per_user: pd.DataFrame, profiles: pd.DataFrame | None, metric: str = "ndcg",
                      min_cell: int = MIN_CELL) -> pd.DataFrame:
    """Mean per-user metrics by profiling segment (``profiles``: ``user_id``, ``segment``), under the shared
    small-cell rule: segments of fewer than ``min_cell`` evaluated users are merged into one row
    (:data:`contentlab.privacy.MERGED_LABEL`), left out when even merged they are too few. ``attrs["suppressed_users"]``
    counts the users left out, ``attrs["merged_segments"]`` the segments merged."""
    if profiles is None or "segment" not in profiles.columns:
        return pd.DataFrame()
    seg = profiles[["user_id", "segment"]].assign(user_id=lambda d: d["user_id"].astype(str))
    df = per_user.merge(seg, on="user_id", how="left")
    df["segment"] = df["segment"].astype(object).where(df["segment"].notna(), "unprofiled")
    means = ["ndcg", "precision", "recall", "hit_rate"]
    sums = df.groupby("segment").agg(users=("user_id", "size"), **{m: (m, "sum") for m in means})
    sums = sums.reset_index().sort_values(["users", "segment"], ascending=[False, True], kind="mergesort")
    n_small = int((sums["users"] < min_cell).sum())
    merged, suppressed = merge_small_cells(sums, "users", "segment", min_cell)
    out = merged.copy()
    out["users"] = out["users"].astype(int)
    for m in means:
        out[m] = out[m] / out["users"]
    out = out[["segment", "users"] + means].reset_index(drop=True)
    out.attrs["suppressed_users"] = int(suppressed)
    out.attrs["merged_segments"] = n_small if not suppressed else 0
    return out


def segment_comparison(evals: Mapping[str, EvalResult], profiles: pd.DataFrame | None,
                       models: Sequence[str] = ("svd_ranking", "popularity")) -> pd.DataFrame | None:
    """:func:`segment_breakdown` of each of ``models`` that ran, stacked with a ``model`` column (``None`` without
    profiling segments); ``attrs["suppressed_users"]`` counts the customers the small-cell rule left out."""
    tables, suppressed = [], 0
    for name in models:
        if name in evals:
            st = segment_breakdown(evals[name].per_user, profiles)
            if len(st):
                suppressed = st.attrs.get("suppressed_users", 0)
                tables.append(st.assign(model=name))
    if not tables:
        return None
    out = pd.concat(tables, ignore_index=True)
    out.attrs["suppressed_users"] = int(suppressed)
    return out
