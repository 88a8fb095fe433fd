"""The models a run compares: each one named in ``models`` is built, fitted on the same training interactions and
evaluated the same way (:func:`contentlab.recommend.evaluate.evaluate_model`), or skipped with a reason.

Skip rules (each skipped model is named with its reason in the report):

- rating-mode Surprise models when every training interaction has the same rating (nothing to learn);
- SVD++ above ``svdpp_max_ratings`` training ratings (it fits about 20x slower than SVD);
- KNNBaseline (item-based) above ``knn_max_items`` products (item-item similarity matrix);
- the content models when the catalogue has no product text; the MiniLM content model when its packages
  (``contentlab[embeddings]``) are not installed;
- the hybrid without both the ranking and the content model;
- EASE above ``EASE_MAX_ITEMS`` products (a dense catalogue-square weight matrix);
- the softmax factorisation above ``SOFTMAX_MAX_ITEMS`` products (a softmax over the whole catalogue);
- the ensemble with fewer than two of its collaborative parts (ranking mode, EASE, softmax factorisation).

EASE's L2 weight ``lam``, the softmax factorisation's factors and L2 weight (``softmax_grid``), the hybrid's and the ensemble's weights and the peers' settings are tuned on one
validation split carved from the training interactions (:func:`selection_split`). The hybrid and the
ensemble come last: the hybrid blends the fitted ranking and content models with a weight tuned on the validation
split (both parts refitted on its training part for the tuning); the ensemble blends the collaborative models that ran (ranking mode,
EASE, softmax factorisation) and the content model with weights tuned the same way (:func:`contentlab.recommend.ensemble.tune_blend`).

The two-tower deep user model (``two_tower``, :mod:`contentlab.recommend.coldusers`) runs after them (its item tower
reads the softmax factorisation's item factors when it ran); with it, the cold-user slice (customers with at most 3
training interactions) is scored for it, the collaborative models, popularity and the segment's favourites.

On a Spark engine (the run profile's ``engine: {kind: spark}``), Spark MLlib ALS (implicit feedback, ``spark_als``,
:mod:`contentlab.recommend.spark_als`) joins the line-up after them: ``rank``, ``regParam`` and ``alpha``
(the lists of ``model_params["ALS"]``) are searched on the same validation split, the chosen settings are fitted on the training
interactions on Spark, and its top-N lists and ranking metrics are computed on Spark, per partition, by the same
metric code. On DuckDB it does not run. When the engine's ``single_node_users`` limit has the other models run on a
sample of customers (:mod:`contentlab.recommend.sampling`), ALS is searched, fitted and scored on every customer
(``full_ctx``) and its row in the model table is its score on the sampled customers.

Peers (``peers``: cornac / implicit implementations, :mod:`contentlab.recommend.peers`) are tuned on the same
validation split, fitted on the same training interactions and evaluated the same way, in a table of their own:
the product's best model is chosen among the product's models only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from contentlab.engine import spark_session
from contentlab.recommend import search
from contentlab.recommend.coldusers import SegmentPopularityRecommender, TwoTowerRecommender, cold_user_table
from contentlab.recommend.configuration import SVDPP_PARAMS, RecommendConfig
from contentlab.recommend.content import ContentRecommender, HybridRecommender, tune_hybrid_weight
from contentlab.recommend.embeddings import EmbeddingContentRecommender, embedding_documents, mostly_chinese
from contentlab.recommend.embeddings import missing_packages as embedding_packages
from contentlab.recommend.ensemble import BlendRecommender, tune_blend
from contentlab.recommend.evaluate import EvalContext, EvalResult, evaluate_model, make_context, results_table
from contentlab.recommend.models import (
    EaseRecommender,
    PopularityRecommender,
    RandomRecommender,
    Recommender,
    SurpriseRecommender,
)
from contentlab.recommend.peers import tuned_peers
from contentlab.recommend.softmax import SOFTMAX_MAX_ITEMS, SoftmaxMFRecommender
from contentlab.recommend.spark_als import SparkALSRecommender, als_search, evaluate_on_spark, restrict_result

RATING_MODELS = {"SVD": "svd_rating", "SVDpp": "svdpp_rating", "NMF": "nmf_rating",
                 "KNNBaseline": "knnbaseline_rating", "BaselineOnly": "baselineonly_rating"}
"""Rating-mode Surprise algorithms and the name each one's results carry."""

EASE_MAX_ITEMS = 20_000
"""EASE is skipped above this many products: its weight matrix is dense, catalogue x catalogue."""


@dataclass
class Lineup:
    """Every evaluated model (in the order they ran), the ones skipped and why, and the hybrid's weight search."""

    evals: dict[str, EvalResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    hybrid_weights: pd.DataFrame | None = None  # weight_cf, score (validation metric)
    ease_search: pd.DataFrame | None = None  # lam, validation metric
    softmax_search: pd.DataFrame | None = None  # factors, l2, validation metric
    ensemble_weights: pd.DataFrame | None = None  # one column per part, validation metric
    peers: dict[str, EvalResult] = field(default_factory=dict)  # peer implementations, evaluated the same way
    peer_searches: dict[str, pd.DataFrame] = field(default_factory=dict)  # each peer's validation search
    cold_users: pd.DataFrame | None = None  # the cold-user slice's table (attrs: users, max_train)
    als_search: pd.DataFrame | None = None  # Spark ALS: rank, regParam, alpha, validation metric, fit_s
    als_all: EvalResult | None = None  # Spark ALS scored on every customer, when the others ran on a sample
    val_models: dict[str, Recommender] = field(default_factory=dict)  # parts fitted on the selection split
    selection: tuple[pd.DataFrame, pd.DataFrame] | None = None  # see selection_split
    k: int = 10

    def add(self, model: Recommender, ctx: EvalContext, fit: bool = True) -> EvalResult:
        res = evaluate_model(model, ctx, fit=fit)
        self.evals[model.name] = res
        return res

    @property
    def table(self) -> pd.DataFrame:
        """One row per evaluated model: the ranking metrics, beyond-accuracy metrics, rmse/mae and timings."""
        return results_table([r.row for r in self.evals.values()], k=self.k)

    def model(self, name: str) -> Recommender | None:
        return self.evals[name].model if name in self.evals else None

    @property
    def peer_table(self) -> pd.DataFrame | None:
        """One row per peer (same columns as :attr:`table`), ``None`` when no peer ran."""
        if not self.peers:
            return None
        return results_table([r.row for r in self.peers.values()], k=self.k)

    def comparison(self) -> pd.DataFrame:
        """The product's models and the peers in one table, best first on NDCG@k: ``source`` says whose model it
        is (``contentlab`` or the peer's library)."""
        cols = ["model", "source", f"ndcg_at_{self.k}", f"precision_at_{self.k}", f"recall_at_{self.k}",
                f"map_at_{self.k}", "fit_s"]
        own = self.table.assign(source="contentlab")
        frames = [own]
        if self.peers:
            peers = self.peer_table
            frames.append(peers.assign(source=peers["model"].str.split(".").str[0]))
        out = pd.concat(frames, ignore_index=True)
        return out[cols].sort_values(f"ndcg_at_{self.k}", ascending=False, kind="mergesort").reset_index(drop=True)


def run_models(cfg: RecommendConfig, ctx: EvalContext, products: pd.DataFrame, tuning: search.Tuning,
               profiles: pd.DataFrame | None = None, full_ctx: EvalContext | None = None) -> Lineup:
    """Fit and evaluate every model of ``cfg.models`` on ``ctx`` (see the module docstring for the skip rules);
    ``full_ctx``: the split of every customer when ``ctx`` holds a sample of them (Spark ALS takes it)."""
    lineup = Lineup(k=cfg.k)
    n_train = len(ctx.train)
    for name in cfg.models:
        if tuning.rating_skip and name in RATING_MODELS:
            lineup.skipped[RATING_MODELS[name]] = tuning.rating_skip
        elif name == "popularity":
            lineup.add(PopularityRecommender(), ctx)
        elif name == "random":
            lineup.add(RandomRecommender(seed=cfg.seed), ctx)
        elif name == "SVD":
            lineup.add(SurpriseRecommender("SVD", name="svd_rating", **tuning.rating_best), ctx)
        elif name == "SVDpp":
            if n_train > cfg.svdpp_max_ratings:
                lineup.skipped["svdpp_rating"] = (f"{n_train:,} training ratings > svdpp_max_ratings="
                                                  f"{cfg.svdpp_max_ratings:,} (SVD++ fits about 20x slower than SVD)")
            else:
                lineup.add(SurpriseRecommender("SVDpp", name="svdpp_rating", **SVDPP_PARAMS), ctx)
        elif name == "NMF":
            lineup.add(SurpriseRecommender("NMF", name="nmf_rating", **cfg.model_params["NMF"]), ctx)
        elif name == "KNNBaseline":
            if ctx.n_items > cfg.knn_max_items:
                lineup.skipped["knnbaseline_rating"] = f"{ctx.n_items:,} products > knn_max_items={cfg.knn_max_items:,}"
            else:
                lineup.add(SurpriseRecommender("KNNBaseline", name="knnbaseline_rating",
                                               **cfg.model_params["KNNBaseline"]), ctx)
        elif name == "BaselineOnly":
            lineup.add(SurpriseRecommender("BaselineOnly", name="baselineonly_rating"), ctx)
        elif name == "ranking":
            lineup.add(search.make_ranking_model(tuning.ranking_best, seed=cfg.seed, name="svd_ranking"), ctx)
        elif name == "EASE":
            if ctx.n_items > EASE_MAX_ITEMS:
                lineup.skipped["ease"] = f"{ctx.n_items:,} products > {EASE_MAX_ITEMS:,} (dense item-item weights)"
            else:
                lineup.add(tune_ease(lineup, cfg, ctx, tuning), ctx)
        elif name == "softmax":
            if ctx.n_items > SOFTMAX_MAX_ITEMS:
                lineup.skipped["softmax_mf"] = (f"{ctx.n_items:,} products > {SOFTMAX_MAX_ITEMS:,} (a softmax over "
                                                "the whole catalogue)")
            else:
                lineup.add(tune_softmax(lineup, cfg, ctx, tuning), ctx)
        elif name == "content":
            if "title" in products.columns and len(products):
                lineup.add(ContentRecommender(products), ctx)
            else:
                lineup.skipped["content_tfidf"] = "the catalogue has no product text"
        elif name == "content_minilm":
            missing = embedding_packages()
            if not ("title" in products.columns and len(products)):
                lineup.skipped["content_minilm"] = "the catalogue has no product text"
            elif missing:
                lineup.skipped["content_minilm"] = (f"needs {', '.join(missing)} (pip install contentlab[embeddings])")
            elif mostly_chinese(embedding_documents(products, ctx.items)):
                lineup.skipped["content_minilm"] = ("all-MiniLM-L6-v2 reads English: most characters of a Chinese "
                                                    "catalogue are unknown to it (TF-IDF's character bigrams read them)")
            else:
                lineup.add(EmbeddingContentRecommender(products), ctx)
        elif name not in ("hybrid", "ensemble", "two_tower"):  # these run after the loop: they use fitted models
            raise ValueError(f"unknown model {name!r}")
    if "hybrid" in cfg.models:
        if "svd_ranking" in lineup.evals and "content_tfidf" in lineup.evals:
            add_hybrid(lineup, cfg, ctx, products, tuning)
        else:
            lineup.skipped["hybrid"] = "needs both the ranking and the content model"
    if "ensemble" in cfg.models:
        if sum(n in lineup.evals for n in ENSEMBLE_CF) >= 2:
            add_ensemble(lineup, cfg, ctx, products, tuning)
        else:
            lineup.skipped["ensemble"] = "needs two of the ranking model, EASE and the softmax factorisation"
    if "two_tower" in cfg.models:
        soft = lineup.model("softmax_mf")
        lineup.add(TwoTowerRecommender(products, profiles, seed=cfg.seed,
                                       item_factors=None if soft is None else soft.item_factors), ctx)
    if cfg.on_spark:
        add_spark_als(lineup, cfg, ctx, tuning, full_ctx)
    if cfg.peers:
        add_peers(lineup, cfg, ctx, tuning)
    lineup.cold_users = cold_users(lineup, ctx, products, profiles)
    return lineup


COLD_USER_MODELS = ("two_tower", "softmax_mf", "svd_ranking", "ease", "ensemble", "popularity")
"""The models compared on the cold-user slice (those that ran), with the segment's favourites."""


def cold_users(lineup: Lineup, ctx: EvalContext, products: pd.DataFrame,
               profiles: pd.DataFrame | None) -> pd.DataFrame | None:
    """The cold-user table (:func:`contentlab.recommend.coldusers.cold_user_table`) of the models that ran and the
    segment's favourites; ``None`` without a two-tower model."""
    if "two_tower" not in lineup.evals:
        return None
    models = {n: lineup.model(n) for n in COLD_USER_MODELS if n in lineup.evals}
    models["segment_popularity"] = SegmentPopularityRecommender(profiles).fit(ctx.train, ctx.items)
    return cold_user_table(models, ctx)


def selection_split(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext,
                    tuning: search.Tuning) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validation split EASE, the hybrid, the ensemble and the peers are tuned on: carved from every training
    interaction (per user 80/20, or per item when the test split is, seed + 1), never from the test side. When the
    searches ran on all customers it is their split; on a sample of customers it is a larger one of the same kind
    (these models are cheap to fit, and the ensemble's weights and the peers' settings need every customer)."""
    if lineup.selection is None:
        if len(tuning.search_train) == len(ctx.train):
            lineup.selection = tuning.val_split
        else:
            lineup.selection = search.validation_split(ctx.train, ratio=0.8, seed=cfg.seed,
                                                       filter_by=cfg.protocol_spec().unit)
    return lineup.selection


def _val_context(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, tuning: search.Tuning) -> EvalContext:
    val_fit, val_eval = selection_split(lineup, cfg, ctx, tuning)
    return make_context(val_fit, val_eval, ctx.items, k=cfg.k)


def _val_model(lineup: Lineup, name: str, make, cfg: RecommendConfig, ctx: EvalContext,
               tuning: search.Tuning) -> Recommender:
    """``name``'s model fitted on the selection split's training part (once per run)."""
    if name not in lineup.val_models:
        lineup.val_models[name] = make().fit(selection_split(lineup, cfg, ctx, tuning)[0], ctx.items)
    return lineup.val_models[name]


def tune_ease(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, tuning: search.Tuning) -> EaseRecommender:
    """EASE with the ``lam`` of ``cfg.ease_lambdas`` that scores best on the validation split
    (:func:`contentlab.recommend.search.ease_search`); the search table is kept on the lineup and the chosen
    validation model reused by the ensemble."""
    lineup.ease_search, best, lineup.val_models["ease"] = search.ease_search(
        selection_split(lineup, cfg, ctx, tuning), ctx.items, cfg.ease_lambdas, k=cfg.k)
    return EaseRecommender(lam=best)


def tune_softmax(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext,
                 tuning: search.Tuning) -> SoftmaxMFRecommender:
    """The softmax factorisation with the settings of ``cfg.softmax_grid`` that score best on the validation split
    (:func:`contentlab.recommend.search.softmax_search`, one bag per candidate), with ``cfg.softmax_bags`` bags; the
    chosen settings fitted with those bags on the validation split's training part are reused by the ensemble."""
    lineup.softmax_search, best, val_model = search.softmax_search(
        selection_split(lineup, cfg, ctx, tuning), ctx.items, cfg.softmax_grid, k=cfg.k, seed=cfg.seed)
    if cfg.softmax_bags > 1:
        val_model = SoftmaxMFRecommender(seed=cfg.seed, bags=cfg.softmax_bags, **best).fit(
            selection_split(lineup, cfg, ctx, tuning)[0], ctx.items)
    lineup.val_models["softmax_mf"] = val_model
    return SoftmaxMFRecommender(seed=cfg.seed, bags=cfg.softmax_bags, **best)


ENSEMBLE_CF = ("svd_ranking", "ease", "softmax_mf")
"""The collaborative models the ensemble blends (those that ran), with the content model when it ran."""


def add_ensemble(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, products: pd.DataFrame,
                 tuning: search.Tuning) -> None:
    """Tune the ensemble's weights on the validation split (its parts fitted on the split's training part), then
    evaluate the ensemble of the already-fitted parts; its fit time is the fit time of its parts with a weight."""
    names = [n for n in ENSEMBLE_CF + ("content_tfidf",) if n in lineup.evals]
    makers = {"svd_ranking": lambda: search.make_ranking_model(tuning.search_best, seed=cfg.seed),
              "ease": lambda: EaseRecommender(**lineup.model("ease").params),
              "softmax_mf": lambda: SoftmaxMFRecommender(**lineup.model("softmax_mf").params),
              "content_tfidf": lambda: ContentRecommender(products)}
    val_parts = {n: _val_model(lineup, n, makers[n], cfg, ctx, tuning) for n in names}
    weights, lineup.ensemble_weights = tune_blend(val_parts, _val_context(lineup, cfg, ctx, tuning),
                                                  step=cfg.ensemble_step, metric=cfg.metric)
    blend = BlendRecommender({n: lineup.model(n) for n in names}, weights, refit_parts=False)
    blend.fit(ctx.train, ctx.items)
    blend.fit_seconds = sum(lineup.evals[n].row["fit_s"] for n in names if weights[n] > 0)
    lineup.add(blend, ctx, fit=False)


def add_peers(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, tuning: search.Tuning) -> None:
    """Every peer of ``cfg.peers`` tuned on the validation split, fitted on the training interactions and
    evaluated on the test side exactly as the product's models are."""
    models, lineup.peer_searches = tuned_peers(cfg.peers, selection_split(lineup, cfg, ctx, tuning), ctx.items,
                                               k=cfg.k, seed=cfg.seed)
    for name, model in models.items():
        lineup.peers[name] = evaluate_model(model, ctx, rating_metrics=False)


def add_hybrid(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, products: pd.DataFrame,
               tuning: search.Tuning) -> None:
    """Tune the hybrid's weight on the validation split (both parts fitted on its training part), then evaluate the
    hybrid of the already-fitted ranking and content models; its fit time is its two parts'."""
    val_ctx = _val_context(lineup, cfg, ctx, tuning)
    cf_val = _val_model(lineup, "svd_ranking", lambda: search.make_ranking_model(tuning.search_best, seed=cfg.seed),
                        cfg, ctx, tuning)
    content_val = _val_model(lineup, "content_tfidf", lambda: ContentRecommender(products), cfg, ctx, tuning)
    best_w, lineup.hybrid_weights = tune_hybrid_weight(
        cf_val, content_val,
        lambda m: evaluate_model(m, val_ctx, fit=False, rating_metrics=False).row[cfg.metric], cfg.hybrid_weights)
    ranking, content = lineup.evals["svd_ranking"], lineup.evals["content_tfidf"]
    hybrid = HybridRecommender(ranking.model, content.model, best_w, refit_parts=False)
    hybrid.fit(ctx.train, ctx.items)
    hybrid.fit_seconds = ranking.row["fit_s"] + content.row["fit_s"]
    lineup.add(hybrid, ctx, fit=False)


def add_spark_als(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, tuning: search.Tuning,
                  full_ctx: EvalContext | None = None) -> None:
    """Spark MLlib ALS on the run's Spark engine: the lists of ``model_params["ALS"]`` searched on the validation
    split, the best settings fitted on the training interactions and evaluated on Spark
    (:func:`contentlab.recommend.spark_als.evaluate_on_spark`). With ``full_ctx`` (the other models ran on a sample
    of customers), on every customer: the validation split carved the same way from every training interaction,
    the fit on all of them, the score on every customer (``lineup.als_all``) and, for the model table, on the
    sampled customers of ``ctx``."""
    spark = spark_session(cfg.engine)
    grid, fixed = cfg.als
    sampled = full_ctx is not None and full_ctx is not ctx
    if sampled:
        split = search.validation_split(full_ctx.train, ratio=0.8, seed=cfg.seed, filter_by=cfg.protocol_spec().unit)
    else:
        split = selection_split(lineup, cfg, ctx, tuning)
    lineup.als_search, best = als_search(spark, split, ctx.items, grid, fixed, k=cfg.k, seed=cfg.seed)
    model = SparkALSRecommender(spark, seed=cfg.seed, **best)
    if sampled:
        lineup.als_all = evaluate_on_spark(model, full_ctx)
        res = restrict_result(lineup.als_all, ctx)
    else:
        res = evaluate_on_spark(model, ctx)
    lineup.evals[res.model.name] = res
