"""03 · Recommendations: interactions, splits, Surprise models (rating and ranking mode), content-based and
hybrid models, the shared metrics, fast full-catalogue top-N, hyperparameter search and the stage's outputs.

The stage in one call: ``run_recommend(RecommendConfig(...), inputs, run_dir=...) -> RecommendResult``
(:mod:`~contentlab.recommend.workflow`), its figures in :mod:`~contentlab.recommend.plots`.

Modules: :mod:`~contentlab.recommend.configuration`, :mod:`~contentlab.recommend.inputs`,
:mod:`~contentlab.recommend.interactions`, :mod:`~contentlab.recommend.split`, :mod:`~contentlab.recommend.protocol`,
:mod:`~contentlab.recommend.models` (incl. EASE), :mod:`~contentlab.recommend.ranking`, :mod:`~contentlab.recommend.content`,
:mod:`~contentlab.recommend.ensemble`, :mod:`~contentlab.recommend.peers` (cornac / implicit on the same split),
:mod:`~contentlab.recommend.topn`, :mod:`~contentlab.recommend.metrics`, :mod:`~contentlab.recommend.evaluate`,
:mod:`~contentlab.recommend.search`, :mod:`~contentlab.recommend.lineup`, :mod:`~contentlab.recommend.truth`,
:mod:`~contentlab.recommend.reasons`, :mod:`~contentlab.recommend.outputs`, :mod:`~contentlab.recommend.result`,
:mod:`~contentlab.recommend.workflow`, :mod:`~contentlab.recommend.plots`.
"""

from contentlab.recommend.configuration import MODEL_NAMES, RecommendConfig
from contentlab.recommend.content import ContentRecommender, HybridRecommender, tune_hybrid_weight
from contentlab.recommend.ensemble import BlendRecommender
from contentlab.recommend.evaluate import EvalContext, evaluate_model, make_context, results_table, segment_breakdown
from contentlab.recommend.interactions import build_interactions, describe_source, not_applicable_reason
from contentlab.recommend.models import (
    EaseRecommender,
    PopularityRecommender,
    RandomRecommender,
    Recommender,
    SurpriseRecommender,
)
from contentlab.recommend.peers import PEERS, PeerRecommender
from contentlab.recommend.protocol import PROTOCOLS, Protocol, resolve_protocol, split_for_protocol
from contentlab.recommend.ranking import RankingRecommender
from contentlab.recommend.result import RecommendResult
from contentlab.recommend.split import hold_out_items, split_interactions, stratified_split, time_split
from contentlab.recommend.topn import surprise_scores, surprise_top_k, top_k
from contentlab.recommend.workflow import RecommendNotApplicable, run_recommend

__all__ = [
    "ContentRecommender", "HybridRecommender", "tune_hybrid_weight", "EvalContext", "evaluate_model", "make_context",
    "results_table", "segment_breakdown", "build_interactions", "describe_source", "not_applicable_reason",
    "PROTOCOLS", "Protocol", "resolve_protocol", "split_for_protocol", "PopularityRecommender",
    "RandomRecommender", "Recommender", "SurpriseRecommender", "RankingRecommender", "hold_out_items",
    "split_interactions", "stratified_split", "time_split", "surprise_scores", "surprise_top_k", "top_k",
    "MODEL_NAMES", "RecommendConfig", "RecommendResult", "RecommendNotApplicable", "run_recommend",
    "EaseRecommender", "BlendRecommender", "PEERS", "PeerRecommender",
]
