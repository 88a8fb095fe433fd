"""Hyperparameter search.

- :func:`surprise_search`: Surprise's own ``GridSearchCV`` / ``RandomizedSearchCV`` (k-fold cross-validation,
  ``n_jobs`` processes) for rating-mode models, scored by rating accuracy (RMSE/MAE).
- :func:`ranking_search`: the ranking mode's knobs (negative ratio, popularity exponent of the sampler, factors,
  epochs, learning rate, regularisation) scored by a top-N metric (default NDCG@10) on a held-out validation split
  of the training data, candidates evaluated in parallel (``n_jobs``). Surprise's searches can only score rating
  accuracy measures (rmse, mae, mse, fcp), which say nothing about top-N quality, so the ranking mode is tuned on
  the metric it is selected on. Grid semantics are the same as Surprise's (dict of lists; randomized = a seeded
  sample of ``n_iter`` combinations).
- :func:`ease_search`: EASE's L2 weight on the same kind of validation split, scored by the same top-N metric;
  :func:`softmax_search` the same for the softmax factorisation's factors and L2 weight.
- :func:`tune`: both searches as the recommendation stage runs them (on a seeded sample of customers, the rating
  search skipped when the ratings have one level), returning a :class:`Tuning`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from surprise import Dataset, Reader
from surprise.model_selection import GridSearchCV, RandomizedSearchCV

from contentlab.recommend.evaluate import evaluate_model, make_context
from contentlab.recommend.models import SURPRISE_ALGOS, EaseRecommender
from contentlab.recommend.ranking import RANKING_KEYS, RankingRecommender
from contentlab.recommend.softmax import SoftmaxMFRecommender
from contentlab.recommend.split import stratified_split


def _surprise_data(train: pd.DataFrame, rating_scale: tuple[float, float] | None = None):
    if rating_scale is None:
        rating_scale = (float(train["rating"].min()), float(train["rating"].max()))
    frame = pd.DataFrame({"u": train["user_id"].astype(object).to_numpy(), "i": train["product_id"].astype(object).to_numpy(),
                          "r": train["rating"].astype(float).to_numpy()})
    return Dataset.load_from_df(frame, Reader(rating_scale=rating_scale))


def surprise_search(
    algo: str,
    param_grid: Mapping[str, Sequence[Any]],
    train: pd.DataFrame,
    measures: Sequence[str] = ("rmse", "mae"),
    cv: int = 3,
    n_jobs: int = 2,
    randomized: bool = False,
    n_iter: int = 6,
    seed: int = 42,
) -> tuple[pd.DataFrame, dict[str, Any], Any]:
    """Run Surprise's GridSearchCV (or RandomizedSearchCV) on ``train``.

    Returns the results table (one row per candidate: params, mean/std test measures, fit time), the best
    parameters by the first measure, and the search object.
    """
    if algo not in SURPRISE_ALGOS:
        raise ValueError(f"unknown Surprise algorithm {algo!r}")
    grid = {k: list(v) for k, v in param_grid.items()}
    if algo in ("SVD", "SVDpp", "NMF"):
        grid.setdefault("random_state", [seed])
    data = _surprise_data(train)
    measures = [m.lower() for m in measures]
    from surprise.model_selection import KFold

    folds = KFold(n_splits=cv, random_state=seed, shuffle=True)
    if randomized:
        gs = RandomizedSearchCV(SURPRISE_ALGOS[algo], grid, n_iter=n_iter, measures=measures, cv=folds,
                                n_jobs=n_jobs, random_state=seed, joblib_verbose=0)
    else:
        gs = GridSearchCV(SURPRISE_ALGOS[algo], grid, measures=measures, cv=folds, n_jobs=n_jobs, joblib_verbose=0)
    gs.fit(data)
    res = gs.cv_results
    table = pd.DataFrame({"params": [dict(p) for p in res["params"]]})
    for key in sorted(grid):
        table[key] = [p.get(key) for p in res["params"]]
    for m in measures:
        table[f"mean_test_{m}"] = res[f"mean_test_{m}"]
        table[f"std_test_{m}"] = res[f"std_test_{m}"]
        table[f"rank_test_{m}"] = res[f"rank_test_{m}"]
    table["mean_fit_time"] = res["mean_fit_time"]
    best = dict(gs.best_params[measures[0]])
    return table.sort_values(f"rank_test_{measures[0]}").reset_index(drop=True), best, gs


def candidates(param_grid: Mapping[str, Sequence[Any]], randomized: bool = False, n_iter: int = 6,
               seed: int = 42) -> list[dict[str, Any]]:
    keys = sorted(param_grid)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*(list(param_grid[k]) for k in keys))]
    if randomized and n_iter < len(combos):
        rng = np.random.default_rng(seed)
        pick = sorted(rng.choice(len(combos), size=n_iter, replace=False))
        combos = [combos[n] for n in pick]
    return combos


def _split_params(params: Mapping[str, Any]) -> tuple[str, dict, dict]:
    params = dict(params)
    algo = params.pop("algo", "SVD")
    ranking = {k: params.pop(k) for k in list(params) if k in RANKING_KEYS}
    return algo, ranking, params


def make_ranking_model(params: Mapping[str, Any], seed: int = 42, name: str | None = None) -> RankingRecommender:
    algo, ranking, algo_params = _split_params(params)
    ranking.setdefault("seed", seed)
    return RankingRecommender(algo=algo, name=name, **ranking, **algo_params)


def _evaluate_candidate(params: dict, ctx, seed: int, metric: str) -> dict:
    t0 = time.perf_counter()
    res = evaluate_model(make_ranking_model(params, seed), ctx, rating_metrics=False)
    out = {**params, metric: res.row[metric], "fit_s": res.row["fit_s"], "seconds": time.perf_counter() - t0}
    for extra in ("precision_at_10", "recall_at_10", "coverage"):
        if extra in res.row and extra != metric:
            out[extra] = res.row[extra]
    return out


def validation_split(train: pd.DataFrame, ratio: float = 0.8, seed: int = 42,
                     filter_by: str = "user") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inner stratified split of the training data for model selection: per user (default) or, to mimic a test
    split stratified per item (the ``recommenders`` protocol's default), per item; seed ``seed + 1``."""
    return stratified_split(train, ratio=ratio, filter_by=filter_by, seed=seed + 1)


def ranking_search(
    param_grid: Mapping[str, Sequence[Any]],
    train: pd.DataFrame,
    items: Sequence[str],
    k: int = 10,
    metric: str = "ndcg_at_10",
    val_ratio: float = 0.8,
    n_jobs: int = 2,
    randomized: bool = False,
    n_iter: int = 6,
    seed: int = 42,
    val_split: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    min_parallel_rows: int = 20_000,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Evaluate every candidate of ``param_grid`` (ranking-mode and Surprise parameters, optional ``algo``) on a
    validation split of ``train``; returns the table (best first) and the best parameters. Candidates run in
    ``n_jobs`` worker processes when the validation training part has at least ``min_parallel_rows`` rows."""
    fit_part, val_part = val_split if val_split is not None else validation_split(train, val_ratio, seed)
    ctx = make_context(fit_part, val_part, items, k=k)
    combos = candidates(param_grid, randomized, n_iter, seed)
    if n_jobs == 1 or len(combos) == 1 or len(fit_part) < min_parallel_rows:
        # starting worker processes costs more than it saves on small data
        rows = [_evaluate_candidate(c, ctx, seed, metric) for c in combos]
    else:
        rows = Parallel(n_jobs=n_jobs)(delayed(_evaluate_candidate)(c, ctx, seed, metric) for c in combos)
    table = pd.DataFrame(rows).sort_values(metric, ascending=False, kind="mergesort").reset_index(drop=True)
    best_row = table.iloc[0]
    best = {key: _plain(best_row[key]) for key in combos[0]}
    return table, best


def ease_search(val_split: tuple[pd.DataFrame, pd.DataFrame], items: Sequence[str],
                lambdas: Sequence[float] = (50.0, 100.0, 250.0, 500.0, 1000.0), k: int = 10
                ) -> tuple[pd.DataFrame, float, EaseRecommender]:
    """EASE fitted on the validation split's training part for every ``lam`` of ``lambdas`` and scored by NDCG@k
    on its validation part; returns the table (best first), the best ``lam`` (ties: the larger, smoother one) and
    that model, fitted on the validation training part."""
    fit_part, val_part = val_split
    ctx = make_context(fit_part, val_part, items, k=k)
    metric = f"ndcg_at_{k}"
    rows, fitted = [], {}
    for lam in lambdas:
        model = EaseRecommender(lam=float(lam)).fit(fit_part, items)
        fitted[float(lam)] = model
        rows.append({"lam": float(lam), metric: evaluate_model(model, ctx, fit=False, rating_metrics=False).row[metric],
                     "fit_s": model.fit_seconds})
    table = (pd.DataFrame(rows).sort_values([metric, "lam"], ascending=[False, False], kind="mergesort")
             .reset_index(drop=True))
    best = float(table.iloc[0]["lam"])
    return table, best, fitted[best]


def softmax_search(val_split: tuple[pd.DataFrame, pd.DataFrame], items: Sequence[str],
                   grid: Mapping[str, Sequence[Any]], k: int = 10, seed: int = 42
                   ) -> tuple[pd.DataFrame, dict[str, Any], SoftmaxMFRecommender]:
    """:class:`~contentlab.recommend.softmax.SoftmaxMFRecommender` fitted on the validation split's training part
    for every combination of ``grid`` and scored by NDCG@k on its validation part; returns the table (best first),
    the best settings (ties: the first candidate of the grid) and that model, fitted on the validation training
    part."""
    fit_part, val_part = val_split
    ctx = make_context(fit_part, val_part, items, k=k)
    metric = f"ndcg_at_{k}"
    rows, fitted = [], []
    for cand in candidates(grid):
        model = SoftmaxMFRecommender(seed=seed, **cand).fit(fit_part, items)
        fitted.append(model)
        rows.append({**cand, metric: evaluate_model(model, ctx, fit=False, rating_metrics=False).row[metric],
                     "fit_s": model.fit_seconds})
    scores = np.array([r[metric] for r in rows])
    best = int(np.argmax(scores))
    table = pd.DataFrame(rows).sort_values(metric, ascending=False, kind="mergesort").reset_index(drop=True)
    return table, {key: _plain(v) for key, v in rows[best].items() if key in grid}, fitted[best]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass
class Tuning:
    """What :func:`tune` found: both search tables, the chosen parameters and the validation split."""

    search_train: pd.DataFrame  # the (sampled) training interactions both searches ran on
    val_split: tuple[pd.DataFrame, pd.DataFrame]  # its inner split: fit part, validation part
    rating_skip: str | None  # why the rating-mode search (and models) did not run
    rating_grid: dict[str, list[Any]]
    rating_table: pd.DataFrame | None
    rating_best: dict[str, Any]  # SVD rating mode's parameters (without random_state)
    rating_seconds: float
    ranking_grid: dict[str, list[Any]]  # the grid as searched: defaults, the searched values, resample 1
    ranking_table: pd.DataFrame
    ranking_best: dict[str, Any]  # the final ranking model's parameters (with the configured resample)
    search_best: dict[str, Any]  # the best candidate as searched (one negative draw): the hybrid's validation part
    ranking_seconds: float
    metric: str

    @property
    def varied(self) -> list[str]:
        """Ranking parameters that took more than one value in the search."""
        return [c for c in self.ranking_grid if len(self.ranking_grid[c]) > 1]

    @property
    def rating_varied(self) -> list[str]:
        return [c for c in self.rating_grid if len(self.rating_grid[c]) > 1]

    def rating_display(self) -> pd.DataFrame | None:
        return None if self.rating_table is None else self.rating_table.drop(columns=["params"])

    def ranking_display(self) -> pd.DataFrame:
        return self.ranking_table[self.varied + [self.metric, "fit_s"]]


def sample_users(train: pd.DataFrame, max_users: int | None, seed: int) -> pd.DataFrame:
    """The training interactions of a seeded sample of ``max_users`` customers (all of them when ``None`` or
    when there are no more)."""
    rng = np.random.default_rng(seed)
    users = np.array(sorted(train["user_id"].unique()))
    if max_users and len(users) > max_users:
        chosen = set(rng.choice(users, size=int(max_users), replace=False))
        return train[train["user_id"].isin(chosen)]
    return train


def tune(
    train: pd.DataFrame,
    items: Sequence[str],
    *,
    rating_grid: Mapping[str, Sequence[Any]],
    ranking_params: Mapping[str, Any],
    ranking_grid: Mapping[str, Sequence[Any]],
    rating_skip: str | None,
    k: int = 10,
    max_users: int | None = None,
    cv: int = 3,
    n_jobs: int = 2,
    randomized: bool = False,
    n_iter: int = 6,
    seed: int = 42,
    val_unit: str = "user",
) -> Tuning:
    """Both searches of the recommendation stage on a seeded sample of ``max_users`` customers.

    Rating mode: Surprise's GridSearchCV over ``rating_grid`` for SVD (skipped with ``rating_skip``). Ranking
    mode: ``ranking_params`` with ``ranking_grid``'s values searched, each candidate with one negative draw
    (``resample=1``), on an inner validation split stratified like the test split (``val_unit``: per user or per
    item); the final model keeps the configured ``resample``."""
    metric = f"ndcg_at_{k}"
    search_train = sample_users(train, max_users, seed)
    rating_table, rating_best, rating_seconds = None, {}, 0.0
    if not rating_skip:
        t0 = time.perf_counter()
        rating_table, rating_best, _gs = surprise_search("SVD", rating_grid, search_train, cv=cv, n_jobs=n_jobs,
                                                         randomized=randomized, n_iter=n_iter, seed=seed)
        rating_seconds = time.perf_counter() - t0
        rating_best = {key: v for key, v in rating_best.items() if key != "random_state"}
    val_fit, val_eval = validation_split(search_train, ratio=0.8, seed=seed, filter_by=val_unit)
    grid = {key: [v] for key, v in ranking_params.items()}
    grid.update({key: list(v) for key, v in ranking_grid.items()})
    grid["resample"] = [1]
    t0 = time.perf_counter()
    ranking_table, best = ranking_search(grid, search_train, items, k=k, metric=metric, n_jobs=n_jobs,
                                         randomized=randomized, n_iter=n_iter, seed=seed, val_split=(val_fit, val_eval))
    ranking_seconds = time.perf_counter() - t0
    final = {**best, "resample": int(ranking_params.get("resample", 1))}
    return Tuning(search_train=search_train, val_split=(val_fit, val_eval), rating_skip=rating_skip,
                  rating_grid={key: list(v) for key, v in rating_grid.items()}, rating_table=rating_table,
                  rating_best=rating_best, rating_seconds=rating_seconds, ranking_grid=grid,
                  ranking_table=ranking_table, ranking_best=final, search_best=dict(best),
                  ranking_seconds=ranking_seconds, metric=metric)
