"""The models a run compares: each one named in ``models`` is built, fitted on the same training interactions and
evaluated the same way (:func:`contentlab.recommend.evaluate.evaluate_model`), or skipped with a reason.

Skip rules (each skipped model is named with its reason in the report):

- rating-mode Surprise models when every training interaction has the same rating (nothing to learn);
- SVD++ above ``svdpp_max_ratings`` training ratings (it fits about 20x slower than SVD);
- KNNBaseline (item-based) above ``knn_max_items`` products (item-item similarity matrix);
- the content model when the catalogue has no product text;
- the hybrid without both the ranking and the content model.

The hybrid comes last: it blends the fitted ranking and content models with a weight tuned on the validation
split of the searches (both parts refitted on its training part for the tuning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from contentlab.recommend import search
from contentlab.recommend.configuration import SVDPP_PARAMS, RecommendConfig
from contentlab.recommend.content import ContentRecommender, HybridRecommender, tune_hybrid_weight
from contentlab.recommend.evaluate import EvalContext, EvalResult, evaluate_model, make_context, results_table
from contentlab.recommend.models import PopularityRecommender, RandomRecommender, Recommender, SurpriseRecommender

RATING_MODELS = {"SVD": "svd_rating", "SVDpp": "svdpp_rating", "NMF": "nmf_rating",
                 "KNNBaseline": "knnbaseline_rating", "BaselineOnly": "baselineonly_rating"}
"""Rating-mode Surprise algorithms and the name each one's results carry."""


@dataclass
class Lineup:
    """Every evaluated model (in the order they ran), the ones skipped and why, and the hybrid's weight search."""

    evals: dict[str, EvalResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    hybrid_weights: pd.DataFrame | None = None  # weight_cf, score (validation metric)
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


def run_models(cfg: RecommendConfig, ctx: EvalContext, products: pd.DataFrame, tuning: search.Tuning) -> Lineup:
    """Fit and evaluate every model of ``cfg.models`` on ``ctx`` (see the module docstring for the skip rules)."""
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
        elif name == "content":
            if "title" in products.columns and len(products):
                lineup.add(ContentRecommender(products), ctx)
            else:
                lineup.skipped["content_tfidf"] = "the catalogue has no product text"
        elif name != "hybrid":  # the hybrid runs after the loop: it needs the fitted ranking and content models
            raise ValueError(f"unknown model {name!r}")
    if "hybrid" in cfg.models:
        if "svd_ranking" in lineup.evals and "content_tfidf" in lineup.evals:
            add_hybrid(lineup, cfg, ctx, products, tuning)
        else:
            lineup.skipped["hybrid"] = "needs both the ranking and the content model"
    return lineup


def add_hybrid(lineup: Lineup, cfg: RecommendConfig, ctx: EvalContext, products: pd.DataFrame,
               tuning: search.Tuning) -> None:
    """Tune the hybrid's weight on the validation split (both parts fitted on its training part), then evaluate the
    hybrid of the already-fitted ranking and content models; its fit time is its two parts'."""
    val_fit, val_eval = tuning.val_split
    val_ctx = make_context(val_fit, val_eval, ctx.items, k=cfg.k)
    cf_val = search.make_ranking_model(tuning.search_best, seed=cfg.seed).fit(val_fit, ctx.items)
    content_val = ContentRecommender(products).fit(val_fit, ctx.items)
    best_w, lineup.hybrid_weights = tune_hybrid_weight(
        cf_val, content_val,
        lambda m: evaluate_model(m, val_ctx, fit=False, rating_metrics=False).row[cfg.metric], cfg.hybrid_weights)
    ranking, content = lineup.evals["svd_ranking"], lineup.evals["content_tfidf"]
    hybrid = HybridRecommender(ranking.model, content.model, best_w, refit_parts=False)
    hybrid.fit(ctx.train, ctx.items)
    hybrid.fit_seconds = ranking.row["fit_s"] + content.row["fit_s"]
    lineup.add(hybrid, ctx, fit=False)
