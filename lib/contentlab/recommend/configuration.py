"""The recommendation stage's settings: every parameter of the 03 notebook, checked before anything runs.

:class:`RecommendConfig` holds what the notebook's ``parameters`` cell declares (the runner and profiles set
them by these names). Everything is validated in ``__post_init__``, so a misspelt model, an unknown protocol or
a ``recommenders`` preset with a conflicting ``k`` fails at once with a message naming the parameter, not halfway
through the model fits. Dict parameters that a profile may set in part (``search_options``, ``model_params``) are
completed from their defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contentlab.engine import EngineError, check_engine_spec, is_spark
from contentlab.recommend.peers import check_peers, missing_packages
from contentlab.recommend.protocol import PROTOCOLS, Protocol, resolve_protocol
from contentlab.recommend.spark_als import DEFAULT_ALS_SETTINGS, als_grid_and_params

MODEL_NAMES = ("popularity", "random", "SVD", "SVDpp", "NMF", "KNNBaseline", "BaselineOnly", "ranking", "content",
               "hybrid", "EASE", "softmax", "ensemble", "content_minilm", "two_tower")
"""What ``models`` may name: baselines, the rating-mode Surprise algorithms, the ranking mode, content and hybrid,
EASE (item-item, closed form), the two-tower deep user model, the content model over MiniLM text embeddings, the softmax factorisation and the ensemble of the ranking mode, EASE, the softmax
factorisation and content."""

INTERACTION_SOURCES = ("auto", "explicit", "graded", "weighted")
SPLITS = (None, "stratified_user", "stratified_item", "time")
RANKING_METRICS = ("ndcg", "precision", "recall", "map", "hit_rate")
OTHER_SELECTION_METRICS = ("coverage", "novelty", "diversity", "rmse", "mae")

DEFAULT_SEARCH_OPTIONS: dict[str, Any] = {"cv": 3, "randomized": False, "n_iter": 6, "n_jobs": 2, "max_users": 1000}
"""cv: folds of Surprise's GridSearchCV; randomized / n_iter: a seeded sample of n_iter candidates instead of the
whole grid; n_jobs: worker processes of both searches; max_users: both searches run on a seeded sample of this many
customers (None: all)."""

DEFAULT_MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "NMF": {},
    "KNNBaseline": {"k": 40, "sim_options": {"name": "pearson_baseline", "user_based": False}},
    "ALS": DEFAULT_ALS_SETTINGS,
}
"""Surprise keyword arguments of the rating-mode models that have no search of their own, and Spark MLlib ALS's
settings (Spark engine only): a list is searched on the validation split, a single value is kept; a setting a
profile leaves out of ``ALS`` keeps its default."""

TUNED_MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "EASE": ("lam",),
    "softmax": ("factors", "l2", "epochs", "lr", "batch_size", "schedule", "bags"),
    "ensemble": ("step",),
}
"""``model_params`` entries for the models tuned on the validation split, each mapped onto its field:
``EASE.lam`` → :attr:`RecommendConfig.ease_lambdas` (the L2 weights tried), ``softmax.bags`` →
:attr:`RecommendConfig.softmax_bags` and its other keys → :attr:`RecommendConfig.softmax_grid` (a list is searched,
a single value kept; keys left out keep the default grid's), ``ensemble.step`` →
:attr:`RecommendConfig.ensemble_step`. After validation ``model_params`` shows the values in force."""

SVDPP_PARAMS: dict[str, Any] = {"n_factors": 20, "n_epochs": 20}


def _default_models() -> list[str]:
    return list(MODEL_NAMES)


@dataclass
class RecommendConfig:
    interaction_source: str = "auto"
    event_weights: dict[str, float] = field(default_factory=lambda: {"view": 1.0, "cart": 3.0, "purchase": 5.0})
    protocol: str = "contentlab"
    split: str | None = None  # None: the protocol's default (contentlab: stratified_user; recommenders: per item)
    train_ratio: float = 0.75
    holdout_days: float = 14
    cold_item_share: float = 0.05
    k: int = 10
    models: list[str] = field(default_factory=_default_models)
    svdpp_max_ratings: int = 50_000  # SVD++ is skipped above this many training ratings
    knn_max_items: int = 5_000  # KNNBaseline (item-based) is skipped above this catalogue size
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    rating_grid: dict[str, list[Any]] = field(
        default_factory=lambda: {"n_factors": [20, 50], "reg_all": [0.02, 0.1], "n_epochs": [20]})
    ranking_params: dict[str, Any] = field(default_factory=lambda: {
        "algo": "SVD", "neg_ratio": 8, "pop_exponent": 0.5, "n_factors": 64, "n_epochs": 80, "lr_all": 0.01,
        "reg_all": 0.02, "resample": 3})
    ranking_grid: dict[str, list[Any]] = field(
        default_factory=lambda: {"neg_ratio": [4, 8], "pop_exponent": [0.25, 0.5]})
    search_options: dict[str, Any] = field(default_factory=dict)
    hybrid_weights: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 0.9, 1.0])
    ease_lambdas: list[float] = field(default_factory=lambda: [50.0, 100.0, 250.0, 500.0, 1000.0])
    softmax_grid: dict[str, list[Any]] = field(default_factory=lambda: {"factors": [16, 32], "l2": [0.2]})
    softmax_bags: int = 3  # the chosen softmax factorisation averages this many seeded fits (candidates: one each)
    ensemble_step: float = 0.1  # the ensemble's weights are multiples of this (tuned on the validation split)
    peers: list[str] = field(default_factory=list)  # peer implementations run beside the product's models
    selection_metric: str = "ndcg_at_10"
    refit_full: bool = False
    ratings_path: str = ""  # a MovieLens u.data / ratings.csv file: run on it instead of the run's prepared data
    # the run profile's engine (contentlab.engine); on Spark the line-up adds Spark MLlib ALS (model_params["ALS"])
    engine: dict[str, Any] | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        problems: list[str] = []

        def check(ok: bool, message: str) -> None:
            if not ok:
                problems.append(message)

        check(self.interaction_source in INTERACTION_SOURCES,
              f"interaction_source must be one of {', '.join(INTERACTION_SOURCES)} (got {self.interaction_source!r})")
        check(isinstance(self.event_weights, Mapping) and all(_is_number(v) for v in self.event_weights.values()),
              "event_weights must map event types to numbers, e.g. {'view': 1, 'cart': 3, 'purchase': 5}")
        check(self.protocol in PROTOCOLS, f"protocol must be one of {', '.join(PROTOCOLS)} (got {self.protocol!r})")
        check(self.split in SPLITS, f"split must be None, 'stratified_user', 'stratified_item' or 'time' "
                                    f"(got {self.split!r})")
        check(_is_number(self.train_ratio) and 0 < self.train_ratio < 1, "train_ratio must be in (0, 1)")
        check(_is_number(self.holdout_days) and self.holdout_days > 0, "holdout_days must be positive")
        check(_is_number(self.cold_item_share) and 0 <= self.cold_item_share < 1, "cold_item_share must be in [0, 1)")
        check(_is_int(self.k) and self.k >= 1, f"k must be a positive integer (got {self.k!r})")
        models = list(self.models) if isinstance(self.models, (list, tuple)) else []
        unknown = [m for m in models if m not in MODEL_NAMES]
        check(len(set(models)) == len(models), f"models names a model twice ({models})")
        check(bool(models) and not unknown,
              f"models must name at least one of {', '.join(MODEL_NAMES)}" + (f" (unknown: {unknown})" if unknown
                                                                              else ""))
        check(_is_int(self.svdpp_max_ratings) and self.svdpp_max_ratings >= 0,
              "svdpp_max_ratings must be an integer ≥ 0")
        check(_is_int(self.knn_max_items) and self.knn_max_items >= 0, "knn_max_items must be an integer ≥ 0")
        names = (*DEFAULT_MODEL_PARAMS, *TUNED_MODEL_KEYS)
        check(isinstance(self.model_params, Mapping) and set(self.model_params) <= set(names)
              and all(isinstance(v, Mapping) for v in self.model_params.values()),
              f"model_params maps {' / '.join(names)} to their settings (got {self.model_params!r})")
        if not problems:
            self._take_tuned_model_params(problems)
        for name in ("rating_grid", "ranking_grid"):
            grid = getattr(self, name)
            check(isinstance(grid, Mapping) and all(isinstance(v, (list, tuple)) and len(v) for v in grid.values()),
                  f"{name} must map parameter names to non-empty lists of values")
        check(isinstance(self.ranking_params, Mapping), "ranking_params must be a dict of ranking-mode parameters")
        opts = self.search_options
        check(isinstance(opts, Mapping) and set(opts) <= set(DEFAULT_SEARCH_OPTIONS),
              f"search_options takes {', '.join(DEFAULT_SEARCH_OPTIONS)} (got {opts!r})")
        if not problems:
            als = {**DEFAULT_ALS_SETTINGS, **self.model_params.get("ALS", {})}
            given = {m: dict(p) for m, p in self.model_params.items() if m not in TUNED_MODEL_KEYS}
            self.model_params = {**{m: dict(p) for m, p in DEFAULT_MODEL_PARAMS.items()}, **given, "ALS": als}
            try:
                als_grid_and_params(als)
            except ValueError as exc:
                problems.append(f"model_params['ALS']: {exc}")
            self.search_options = {**DEFAULT_SEARCH_OPTIONS, **self.search_options}
            so = self.search_options
            check(_is_int(so["cv"]) and so["cv"] >= 2, "search_options['cv'] must be an integer ≥ 2")
            check(_is_int(so["n_iter"]) and so["n_iter"] >= 1, "search_options['n_iter'] must be an integer ≥ 1")
            check(_is_int(so["n_jobs"]) and so["n_jobs"] != 0, "search_options['n_jobs'] must be a non-zero integer")
            check(isinstance(so["randomized"], bool), "search_options['randomized'] must be true or false")
            check(so["max_users"] is None or (_is_int(so["max_users"]) and so["max_users"] >= 1),
                  "search_options['max_users'] must be a positive integer or None (all customers)")
        weights = list(self.hybrid_weights) if isinstance(self.hybrid_weights, (list, tuple)) else []
        check(bool(weights) and all(_is_number(w) and 0 <= w <= 1 for w in weights),
              "hybrid_weights must be a non-empty list of weights in [0, 1]")
        lams = list(self.ease_lambdas) if isinstance(self.ease_lambdas, (list, tuple)) else []
        check(bool(lams) and all(_is_number(v) and v > 0 for v in lams),
              "ease_lambdas must be a non-empty list of positive numbers (EASE's L2 weights to try)")
        grid = self.softmax_grid if isinstance(self.softmax_grid, Mapping) else {}
        check(bool(grid) and set(grid) <= {"factors", "l2", "epochs", "lr", "batch_size", "schedule"}
              and all(isinstance(v, (list, tuple)) and len(v) > 0 for v in grid.values()),
              "softmax_grid must map some of factors, l2, epochs, lr, batch_size, schedule to non-empty lists "
              f"(got {self.softmax_grid!r})")
        check(_is_int(self.softmax_bags) and self.softmax_bags >= 1,
              f"softmax_bags must be a positive integer (got {self.softmax_bags!r})")
        check(_is_number(self.ensemble_step) and 0 < self.ensemble_step <= 1
              and abs(round(1 / self.ensemble_step) * self.ensemble_step - 1) < 1e-9,
              f"ensemble_step must divide 1 into equal steps, e.g. 0.1 or 0.25 (got {self.ensemble_step!r})")
        try:
            self.peers = check_peers(self.peers)
            missing = missing_packages(self.peers)
            check(not missing, f"peers {self.peers} need {', '.join(missing)}, not installed: pip install "
                               f"{' '.join(missing)} (or contentlab[peers])")
        except ValueError as exc:
            problems.append(str(exc))
        if _is_int(self.k) and self.k >= 1:
            check(self.selection_metric in self.selection_metrics,
                  f"selection_metric must be one of {', '.join(self.selection_metrics)} "
                  f"(got {self.selection_metric!r})")
        check(isinstance(self.refit_full, bool), "refit_full must be true or false")
        check(isinstance(self.ratings_path, str), "ratings_path must be a path or ''")
        check(_is_int(self.seed), f"seed must be an integer (got {self.seed!r})")
        try:
            self.engine = check_engine_spec(self.engine)
        except EngineError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("03_recommend parameters: " + "; ".join(problems))
        self.model_params.update({"EASE": {"lam": list(self.ease_lambdas)},
                                  "softmax": {**dict(self.softmax_grid), "bags": self.softmax_bags},
                                  "ensemble": {"step": self.ensemble_step}})  # the values in force
        self.models = models
        self.protocol_spec()  # a preset that conflicts with train_ratio / k / split raises here

    def _take_tuned_model_params(self, problems: list[str]) -> None:
        """Map ``model_params``' EASE / softmax / ensemble entries onto their fields (see :data:`TUNED_MODEL_KEYS`)."""
        for model, keys in TUNED_MODEL_KEYS.items():
            spec = self.model_params.get(model)
            if spec is None:
                continue
            unknown = sorted(set(spec) - set(keys))
            if unknown:
                problems.append(f"model_params['{model}'] takes {', '.join(keys)} (unknown: {', '.join(unknown)})")
                continue
            if model == "EASE" and "lam" in spec:
                lam = spec["lam"]
                self.ease_lambdas = list(lam) if isinstance(lam, (list, tuple)) else [lam]
            elif model == "softmax":
                spec = dict(spec)
                if "bags" in spec:
                    self.softmax_bags = spec.pop("bags")
                self.softmax_grid = {**dict(self.softmax_grid),
                                     **{k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in spec.items()}}
            elif model == "ensemble" and "step" in spec:
                self.ensemble_step = spec["step"]

    # ---------------------------------------------------------------------------------------------------
    @property
    def selection_metrics(self) -> tuple[str, ...]:
        """What ``selection_metric`` may be: every column of the results table a model can be chosen on."""
        return (*(f"{m}_at_{self.k}" for m in RANKING_METRICS), f"cold_ndcg_at_{self.k}", *OTHER_SELECTION_METRICS)

    @property
    def metric(self) -> str:
        """The ranking metric searches and the hybrid weight are tuned on (``ndcg_at_<k>``)."""
        return f"ndcg_at_{self.k}"

    @property
    def search_max_users(self) -> int | None:
        """The searches' sample of customers (``search_options["max_users"]``; ``None``: all)."""
        return self.search_options["max_users"]

    @property
    def als(self) -> tuple[dict[str, list[Any]], dict[str, Any]]:
        """Spark MLlib ALS's grid (the settings given as lists) and fixed settings, from ``model_params["ALS"]``."""
        return als_grid_and_params(self.model_params["ALS"])

    @property
    def on_spark(self) -> bool:
        """Whether the run's engine is Spark (the line-up then adds Spark MLlib ALS)."""
        return is_spark(self.engine)

    def protocol_spec(self) -> Protocol:
        """The evaluation protocol these settings ask for (a ratings file gets no cold-item slice)."""
        return resolve_protocol(self.protocol, split=self.split, train_ratio=self.train_ratio, k=self.k,
                                cold_item_share=0.0 if self.ratings_path else self.cold_item_share,
                                holdout_days=self.holdout_days, seed=self.seed)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
