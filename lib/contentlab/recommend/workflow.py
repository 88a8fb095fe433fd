"""Everything 03 computes, in one call: :func:`run_recommend` returns a
:class:`~contentlab.recommend.result.RecommendResult`.

The notebook stays thin: it builds a :class:`~contentlab.recommend.configuration.RecommendConfig` from its
parameters, calls :func:`run_recommend`, shows the result's tables and :mod:`~contentlab.recommend.plots`, records
:meth:`RecommendResult.metrics` and shows :meth:`RecommendResult.summary_markdown`.

The steps, in order (each in its own module):

1. read the inputs through the contract (:mod:`~contentlab.recommend.inputs`): 01's tables, 02's profiles (flagged
   accounts are excluded) and association rules;
2. build the interactions (:mod:`~contentlab.recommend.interactions`); a stage that cannot run raises
   :class:`RecommendNotApplicable` naming what is missing (the notebook ends itself with ``skip_stage``);
3. split them under the protocol (:mod:`~contentlab.recommend.protocol`) and fix the evaluation
   (:func:`~contentlab.recommend.evaluate.make_context`); on a Spark engine with more training customers than its
   ``single_node_users``, the single-machine models take a seeded sample of them
   (:mod:`~contentlab.recommend.sampling`) and the model that writes the recommendations is chosen among those
   trained on every customer (Spark MLlib ALS);
4. tune SVD in rating mode and the ranking mode (:func:`~contentlab.recommend.search.tune`);
5. fit and evaluate every model, the hybrid and the ensemble last, then the peers named in ``peers`` in a table of
   their own (:mod:`~contentlab.recommend.lineup`, :mod:`~contentlab.recommend.peers`); on a Spark engine, Spark MLlib
   ALS trained, ranked and scored on Spark (:mod:`~contentlab.recommend.spark_als`);
6. the per-segment breakdown and the planted-truth agreement (:mod:`~contentlab.recommend.truth`);
7. choose the best model on the selection metric, optionally refit it on all interactions, write every customer's
   top-k with reasons and the chosen model's record through the contract (:mod:`~contentlab.recommend.outputs`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from contentlab import config as project
from contentlab.recommend import inputs as stage_inputs
from contentlab.recommend import search
from contentlab.recommend.configuration import RecommendConfig
from contentlab.recommend.content import HybridRecommender
from contentlab.recommend.ensemble import BlendRecommender
from contentlab.recommend.evaluate import make_context, segment_comparison
from contentlab.recommend.interactions import build_interactions, drop_users, not_applicable_reason
from contentlab.recommend.lineup import run_models
from contentlab.recommend.models import rating_skip_reason
from contentlab.recommend.outputs import rating_reference, select_best, write_best_model, write_recommendations
from contentlab.recommend.protocol import split_for_protocol
from contentlab.recommend.reasons import recommend_all
from contentlab.recommend.result import RecommendResult
from contentlab.recommend.sampling import single_node_sample
from contentlab.recommend.spark_als import SparkALSRecommender
from contentlab.recommend.truth import planted_spearman


class RecommendNotApplicable(ValueError):
    """The data gives the stage nothing to do (no interactions, a one-product catalogue, ...); the message says
    what is missing."""


def run_recommend(config: RecommendConfig, inputs: Mapping[str, str | None] | None = None, *,
                  run_dir: str | Path | None = None) -> RecommendResult:
    """Run the recommendation stage (see the module docstring).

    ``inputs``: the products the runner hands the stage (``{name: path or None}``); empty: resolved from
    ``run_dir`` (01's products must be there: a stage never prepares data). The products
    are written to ``run_dir`` (a scratch run directory when there is none)."""
    started = time.perf_counter()
    cfg = config
    run_dir = project.stage_run_dir(run_dir, stage_inputs.STAGE)
    proto = cfg.protocol_spec()
    data = stage_inputs.load(inputs, run_dir, cfg.ratings_path)

    # every account's interactions (the recommenders protocol splits the whole file, then drops flagged accounts),
    # and the ones models learn from and recommend to
    inter_all = build_interactions(data.table("events"), data.table("ratings"), source=cfg.interaction_source,
                                   weights=cfg.event_weights, store=data.store)
    inter = drop_users(inter_all, data.flagged)
    catalogue = sorted(set(data.products["product_id"].astype(str)) | set(inter["product_id"]))
    reason = not_applicable_reason(inter, catalogue)
    if reason:
        raise RecommendNotApplicable(reason)

    train, test, cold_items = split_for_protocol(inter_all, proto, ratings=data.table("ratings"),
                                                 products=data.products, exclude_users=data.flagged)
    full_ctx = make_context(train, test, catalogue, k=cfg.k, products=data.products, cold_items=cold_items,
                            seed=cfg.seed)
    sample = single_node_sample(train, cfg.engine, seed=cfg.seed)
    ctx = full_ctx if sample is None else make_context(
        sample.keep(train), sample.keep(test), catalogue, k=cfg.k, products=data.products, cold_items=cold_items,
        seed=cfg.seed)
    opts = cfg.search_options
    tuning = search.tune(ctx.train, catalogue, rating_grid=cfg.rating_grid, ranking_params=cfg.ranking_params,
                         ranking_grid=cfg.ranking_grid, rating_skip=rating_skip_reason(ctx.train), k=cfg.k,
                         max_users=cfg.search_max_users, cv=opts["cv"], n_jobs=opts["n_jobs"],
                         randomized=opts["randomized"], n_iter=opts["n_iter"], seed=cfg.seed, val_unit=proto.unit)
    lineup = run_models(cfg, ctx, data.products, tuning, data.profiles, full_ctx=full_ctx)
    table = lineup.table
    segments = segment_comparison(lineup.evals, data.profiles)
    planted = planted_spearman({name: res.model for name, res in lineup.evals.items()}, ctx.users, catalogue,
                               data.dataset.truth)

    # on a sample, only a model trained on every customer may write every customer's recommendations
    best = select_best(table if sample is None else table[table["model"] == SparkALSRecommender.name],
                       cfg.selection_metric)
    best_name = str(best["model"])
    rating_model, rmse, mae = rating_reference(table, best_name)
    model = lineup.model(best_name)
    if cfg.refit_full:
        if isinstance(model, (HybridRecommender, BlendRecommender)):
            model.refit_parts = True  # refit its parts on all interactions too
        model.fit(pd.concat([train, test], ignore_index=True), catalogue)
    ds = data.dataset
    users = set(inter["user_id"])
    if ds.has("users"):
        users |= set(ds.users["user_id"].astype(str)) - data.flagged
    recs = recommend_all(model, sorted(users), inter, catalogue, cfg.k, data.products, data.profiles, data.rules,
                         lineup.model("content_tfidf"))
    paths = {
        "recommendations": write_recommendations(recs, run_dir),
        "best_model": write_best_model(
            run_dir, best_name, model.params, cfg.selection_metric, float(best[cfg.selection_metric]),
            kind=best["kind"], k=cfg.k, protocol=proto.name, split=proto.split,
            interaction_source=inter.attrs.get("source"), rating_metrics_from=rating_model, rmse=rmse, mae=mae,
            metrics={c: best[c] for c in table.columns if c not in ("model", "kind")}),
    }
    return RecommendResult(
        config=cfg, protocol=proto, interactions=inter, catalogue=catalogue, flagged=len(data.flagged), ctx=ctx,
        tuning=tuning, lineup=lineup, table=table, segments=segments, planted=planted, best=best,
        rating_model=rating_model, rmse=rmse, mae=mae, recommendations=recs, products=data.products, paths=paths,
        sample=sample, full_ctx=full_ctx, started=started)
