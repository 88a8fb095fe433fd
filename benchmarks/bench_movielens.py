"""The recommendation protocol on a MovieLens file, comparable with microsoft/recommenders' MovieLens table.

Protocol (theirs): explicit ratings, stratified 75/25 split per item (``python_stratified_split(filter_by="item")``),
seed 42, every user's top 10 over the full catalogue with training items excluded, relevance = any held-out rating,
NDCG with binary relevance and ideal DCG over min(k, relevant), MAP@k as ``map_at_k``.

Models: popularity, Surprise SVD ranked by predicted rating (their benchmark's settings: 200 factors, 30 epochs),
and the ranking mode (Surprise SVD on positives + sampled negatives), optionally tuned first with ``--search`` on a
validation split of the training data. Their published MovieLens-100k numbers (NDCG@10) are printed alongside:
popularity 0.248, SVD 0.096, SAR 0.382, BPR 0.442, BiVAE 0.475.

Usage: ``python benchmarks/bench_movielens.py path/to/u.data [--split item|user] [--search]
[--ranking '{"neg_ratio": 4, "n_factors": 64, ...}']``
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd

from contentlab.data.adapters import load_movielens
from contentlab.recommend import (PopularityRecommender, SurpriseRecommender, build_interactions, evaluate_model,
                                  make_context, results_table)
from contentlab.recommend import search
from contentlab.recommend.split import stratified_split

PUBLISHED_NDCG_AT_10 = {"popularity": 0.248, "svd (rating)": 0.096, "SAR": 0.382, "BPR": 0.442, "BiVAE": 0.475}
DEFAULT_RANKING = {"algo": "SVD", "neg_ratio": 4, "pop_exponent": 0.5, "n_factors": 64, "n_epochs": 40,
                   "lr_all": 0.01, "reg_all": 0.02, "resample": 3}
DEFAULT_GRID = {"neg_ratio": [2, 4, 8], "pop_exponent": [0.0, 0.5, 1.0], "n_factors": [32, 64]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="MovieLens u.data / ratings.csv / ratings.dat (or its directory)")
    ap.add_argument("--split", choices=["item", "user"], default="item")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ranking", default="", help="JSON of ranking-mode parameters (updates the defaults)")
    ap.add_argument("--search", action="store_true", help="tune the ranking mode on a validation split first")
    ap.add_argument("--grid", default="", help="JSON search grid (with --search)")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)

    ds, _report = load_movielens(args.path, low_ratings="clip")
    inter = build_interactions(None, ds.ratings, source="explicit")
    train, test = stratified_split(inter, ratio=0.75, filter_by=args.split, seed=args.seed)
    items = sorted(inter["product_id"].unique())
    ctx = make_context(train, test, items, k=args.k, products=ds.products if ds.has("products") else None,
                       seed=args.seed)
    print(f"{len(inter):,} ratings, {inter['user_id'].nunique():,} users, {len(items):,} items; "
          f"split per {args.split}: {len(train):,} train / {len(test):,} test, {len(ctx.users):,} users evaluated")

    ranking = dict(DEFAULT_RANKING, **(json.loads(args.ranking) if args.ranking else {}))
    if args.search:
        grid = {k: [v] for k, v in ranking.items()}
        grid.update(json.loads(args.grid) if args.grid else DEFAULT_GRID)
        grid["resample"] = [1]  # candidates are compared with one negative draw; the final model averages several
        t0 = time.perf_counter()
        resample = ranking.get("resample", 1)
        table, ranking = search.ranking_search(grid, train, items, k=args.k, metric=f"ndcg_at_{args.k}",
                                               n_jobs=args.n_jobs, seed=args.seed)
        ranking["resample"] = resample
        print(f"ranking-mode search ({len(table)} candidates, {time.perf_counter() - t0:.0f} s):")
        print(table.head(10).to_string(index=False))
    print("ranking-mode parameters:", json.dumps(ranking))

    rows = []
    for model in (PopularityRecommender(),
                  SurpriseRecommender("SVD", name="svd_rating", n_factors=200, n_epochs=30, random_state=0),
                  search.make_ranking_model(ranking, seed=args.seed, name="svd_ranking")):
        rows.append(evaluate_model(model, ctx).row)
        print(f"  {model.name}: NDCG@{args.k} {rows[-1][f'ndcg_at_{args.k}']:.3f} (fit {rows[-1]['fit_s']:.1f} s)",
              flush=True)
    table = results_table(rows, k=args.k)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
    print("published (microsoft/recommenders, MovieLens-100k, NDCG@10):",
          ", ".join(f"{k} {v:.3f}" for k, v in PUBLISHED_NDCG_AT_10.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
