"""Per-user shopping guides for every customer with recommendations: pandas on one core against Spark
``mapInPandas`` (``local[N]``), on the products of a finished run (01-03: the cleaned catalogue, 02's profiles, 03's
recommendations).

Builds the guide kit the way stage 04 does (cleaned catalogue, templates, guardrails, the faithfulness lexicon over
the training corpus, review digests), then times (a) :func:`contentlab.generate.userguides.guide_rows` in pandas on
every customer and (b) :func:`~contentlab.generate.userguides.spark_user_guides` on a fresh Spark session (the
session's start-up printed apart), and prints guides/s side by side. It checks that both wrote the same guides.

    python benchmarks/bench_user_guides.py [--run-dir DATA/processed/RUN] [--master local[2]] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def latest_run(kind: str = "demo") -> Path:
    from contentlab import config

    runs = sorted(p for p in config.processed_dir().glob(f"*-{kind}") if (p / "recommendations.parquet").is_file())
    if not runs:
        raise SystemExit(f"no finished {kind} run with recommendations under {config.processed_dir()}: "
                         "run `contentlab run --profile demo` first or pass --run-dir")
    return runs[-1]


def build_kit(run_dir: Path):
    from contentlab import contract, pipeline
    from contentlab.generate import workflow as wf
    from contentlab.generate.config import GenerateConfig
    from contentlab.generate.guardrails import load_guardrails
    from contentlab.generate.inputs import STAGE, read_inputs
    from contentlab.generate.prompts import load_templates
    from contentlab.generate.reviews import review_digests
    from contentlab.generate.stage import GUIDE_FOR_ALL
    from contentlab.generate.train import build_corpus
    from contentlab.generate.userguides import GuideKit

    cfg = GenerateConfig()
    got = contract.Inputs.for_stage(STAGE, {}, run_dir)
    ds = pipeline.load_prepared(run_dir)
    catalogue = wf.prepare_catalogue(ds.products, ds.meta, ds.locale, ds.ratings if ds.has("ratings") else None)
    templates, guardrails = load_templates(ds.locale, prices=catalogue.prices), load_guardrails()
    upstream = read_inputs(got, use_priors=False)
    corpus = build_corpus(catalogue.products, templates, upstream.personas, channels=cfg.channels,
                          heldout_share=cfg.heldout_share, seed=cfg.seed, delexicalise=cfg.relexicalise)
    kit = GuideKit(products=catalogue.products, templates=templates, guardrails=guardrails,
                   lexicon=wf.catalogue_lexicon(catalogue, ds.locale, templates, corpus, upstream.personas),
                   locale=ds.locale, personas=list(upstream.personas or [GUIDE_FOR_ALL]),
                   digests=review_digests(catalogue.ratings, ds.locale, guardrails=guardrails),
                   user_ids=frozenset(ds.users["user_id"].astype(str)) if ds.has("users") else frozenset())
    return kit, upstream, got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--repeat", type=int, default=2, help="Spark jobs after the first (warm Python workers)")
    args = ap.parse_args()

    import pandas as pd

    from contentlab.engine import spark_session, stop_spark
    from contentlab.generate.userguides import KIT_LOADS, guide_rows, save_kit, spark_user_guides

    run_dir = args.run_dir or latest_run()
    t0 = time.perf_counter()
    kit, upstream, got = build_kit(run_dir)
    print(f"run {run_dir.name}: kit built in {time.perf_counter() - t0:.1f} s")
    recs = upstream.recommendations[["user_id", "rank", "product_id"]].copy()
    prof = upstream.profiles
    recs["user_id"] = recs["user_id"].astype(str)
    seg = prof.assign(user_id=prof["user_id"].astype(str)).set_index("user_id")
    recs["segment"], recs["persona_id"] = recs["user_id"].map(seg["segment"]), recs["user_id"].map(seg["persona_id"])
    users = recs["user_id"].nunique()

    t0 = time.perf_counter()
    local = guide_rows(recs, kit)
    pandas_s = time.perf_counter() - t0
    print(f"pandas, 1 core: {len(local):,} guides for {users:,} customers in {pandas_s:.1f} s "
          f"({len(local) / pandas_s:,.0f} guides/s)")

    t0 = time.perf_counter()
    spark = spark_session({"kind": "spark", "master": args.master,
                           "conf": {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"}})
    print(f"Spark {args.master}: session started in {time.perf_counter() - t0:.1f} s")
    kit_path = save_kit(kit)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(1 + args.repeat):
                out = Path(tmp) / "user_guides"
                run = spark_user_guides(spark, kit_path, got.path("recommendations"), got.path("user_profiles"), out,
                                        master=args.master)
                label = "cold Python workers" if i == 0 else "warm Python workers"
                print(f"Spark {args.master} ({label}): {run.written:,} guides for {run.users:,} customers in "
                      f"{run.seconds:.1f} s ({run.per_second:,.0f} guides/s); {run.rejected} rejected")
            back = pd.read_parquet(out)
            same = (back.set_index("user_id")[["subject", "text", "product_ids"]].sort_index()
                    .equals(local.set_index("user_id")[["subject", "text", "product_ids"]].sort_index()))
            print(f"same guides as pandas: {same}; kit loads in this (driver) process: {KIT_LOADS[str(kit_path)]}")
    finally:
        kit_path.unlink(missing_ok=True)
        stop_spark()


if __name__ == "__main__":
    main()
