"""Benchmark: Spark MLlib ALS (implicit feedback) vs the Surprise ranking mode on the same split of a ~1M-event shop.

Data: the demo simulator scaled in users (after a small pilot, as ``bench_engines.py`` does) to about ``--events``
events; its events become the stage's graded interactions (``build_interactions``, source ``auto``) and are split
under the stage's default protocol (``contentlab``: per customer, 75 % in training, 5 % of the products held out as
cold). Both models are fitted on the same training interactions and scored by the same metric code over the same
evaluated customers:

- **Surprise ranking mode** (``svd_ranking``): the ``demo`` profile's 03 ``ranking_params`` (SVD on positives plus
  popularity-sampled negatives, three negative draws averaged; ``--ranking-profile`` names another profile), fitted on
  one core of this machine, full-catalogue top-10 with numpy (:func:`contentlab.recommend.evaluate.evaluate_model`);
- **Spark ALS** (``spark_als``): ``pyspark.ml.recommendation.ALS(implicitPrefs=True)`` with the stage's default
  settings (:data:`contentlab.recommend.spark_als.ALS_DEFAULTS`), fitted on Spark ``--master``, top-10 for every
  customer and the metrics per partition on Spark (:func:`contentlab.recommend.spark_als.evaluate_on_spark`).

Neither model's settings are searched here (the stage searches both on its validation split); popularity is printed
for reference. Printed side by side: fit time, scoring/evaluation time and NDCG@10, precision@10 and recall@10 of
each, with the machine's load before and after (the figures are only comparable on a quiet machine). No timing
goal; the script exits non-zero only when ALS's lists break the protocol (a customer's training product recommended)
or its NDCG@10 is not a number.

    python benchmarks/bench_als.py [--events 1000000] [--master local[2]] [--products 1500] [--days 90]
                                   [--seed 11] [--ranking-profile demo]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from contentlab.data.simulate import simulate
from contentlab.recommend import RecommendConfig, evaluate_model, make_context, search
from contentlab.recommend.interactions import build_interactions
from contentlab.recommend.models import PopularityRecommender
from contentlab.recommend.protocol import split_for_protocol

PILOT_USERS = 500


def load_note() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def shop(target: int, products: int, days: int, seed: int):
    pilot = simulate(n_users=PILOT_USERS, n_products=products, n_days=days, seed=seed)
    users = max(1, round(target / (len(pilot.events) / PILOT_USERS)))
    del pilot
    return simulate(n_users=users, n_products=products, n_days=days, seed=seed), users


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="about this many simulated events (default 1M)")
    ap.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    ap.add_argument("--driver-memory", default="2g")
    ap.add_argument("--products", type=int, default=1500)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--ranking-profile", default="demo",
                    help="the profile whose 03 ranking_params the ranking mode takes (default demo)")
    args = ap.parse_args(argv)

    from contentlab.engine import spark_session, stop_spark
    from contentlab.recommend.spark_als import ALS_DEFAULTS, SparkALSRecommender, evaluate_on_spark

    print(f"before: {load_note()}")
    t0 = time.perf_counter()
    ds, users = shop(args.events, args.products, args.days, args.seed)
    cfg = RecommendConfig(seed=args.seed)
    inter = build_interactions(ds.events, None, source=cfg.interaction_source, weights=cfg.event_weights)
    catalogue = sorted(set(ds.products["product_id"].astype(str)) | set(inter["product_id"]))
    train, test, cold = split_for_protocol(inter, cfg.protocol_spec(), products=ds.products)
    ctx = make_context(train, test, catalogue, k=cfg.k, products=ds.products, cold_items=cold, seed=cfg.seed)
    print(f"{len(ds.events):,} events, {users:,} customers, {len(catalogue):,} products -> {len(inter):,} "
          f"interactions; split {cfg.protocol_spec().split}: {len(train):,} training, {len(test):,} held out, "
          f"{len(ctx.users):,} customers evaluated (prepared in {time.perf_counter() - t0:.0f} s, not in any figure)")

    rows = []
    pop = evaluate_model(PopularityRecommender(), ctx, rating_metrics=False)
    rows.append(("popularity", "driver", pop.row))

    from contentlab import run

    notebook = (run.load_profile(args.ranking_profile).get("notebooks") or {}).get("03_recommend") or {}
    ranking = dict(notebook.get("ranking_params") or cfg.ranking_params)
    t0 = time.perf_counter()
    rank = evaluate_model(search.make_ranking_model(ranking, seed=cfg.seed, name="svd_ranking"), ctx,
                          rating_metrics=False)
    rows.append(("svd_ranking", "1 core (Surprise)", rank.row))
    print(f"ranking mode done in {time.perf_counter() - t0:.0f} s; {load_note()}")

    spec = {"kind": "spark", "master": args.master, "conf": {"spark.driver.memory": args.driver_memory}}
    t0 = time.perf_counter()
    spark = spark_session(spec)
    start_s = time.perf_counter() - t0
    als = evaluate_on_spark(SparkALSRecommender(spark, seed=cfg.seed, **ALS_DEFAULTS), ctx)
    rows.append(("spark_als", f"Spark {args.master}", als.row))
    stop_spark()

    broken = sum(bool(set(r.tolist()) & set(s.tolist())) for r, s in zip(als.top, ctx.seen))
    print(f"\nafter: {load_note()}")
    print(f"Spark session start: {start_s:.1f} s (not in ALS's fit time)")
    print(f"Surprise ranking mode: {ranking}")
    print(f"Spark ALS: {dict(ALS_DEFAULTS)}, implicitPrefs=True, seed {cfg.seed}\n")
    print(f"{'model':<12} {'where':<20} {'fit s':>8} {'top-10 + eval s':>16} {'NDCG@10':>8} {'P@10':>7} {'R@10':>7}")
    for name, where, row in rows:
        print(f"{name:<12} {where:<20} {row['fit_s']:8.1f} {row['score_s']:16.1f} {row['ndcg_at_10']:8.4f} "
              f"{row['precision_at_10']:7.4f} {row['recall_at_10']:7.4f}")
    a, r = als.row, rank.row
    print(f"\nALS / ranking mode: fit time {a['fit_s'] / r['fit_s']:.2f}x, NDCG@10 "
          f"{a['ndcg_at_10'] / r['ndcg_at_10']:.2f}x (same split, same {len(ctx.users):,} customers, same metric code)")
    print(f"protocol check: {broken} ALS lists hold a training product (goal 0)")
    return 1 if broken or not np.isfinite(a["ndcg_at_10"]) else 0


if __name__ == "__main__":
    sys.exit(main())
