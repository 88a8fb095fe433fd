"""Spark MLlib ALS (implicit feedback) trained on the run's Spark engine, with full-catalogue top-N and the
package's own metrics computed per partition on Spark.

When a run's engine is Spark (the run profile's ``engine: {kind: spark, ...}``, see :mod:`contentlab.engine`), 03
adds ``spark_als`` to its line-up beside the single-machine models, on the same training split:

- **ids**: customers are numbered by their position among the training split's sorted customer ids, products by
  their position in the catalogue (:class:`IdMaps`); ALS needs integer ids, and catalogue positions are what the
  metric code reads, so a Spark top-N list is already in the package's terms.
- **fit**: ``pyspark.ml.recommendation.ALS(implicitPrefs=True)`` on ``(user, item, rating)``: the interaction's
  (pseudo-)rating is the strength of the implicit feedback (confidence ``1 + alpha * rating``; Hu, Koren and
  Volinsky), with an explicit ``seed``. ``rank``, ``regParam`` and ``alpha`` (the lists of the stage's ``model_params["ALS"]``) are
  searched on the validation split the stage already carves from the training interactions (:func:`als_search`),
  scored by the same NDCG@k.
- **top-N for every customer, on Spark** (:func:`spark_top_k`): the equivalent of ``ALSModel.recommendForAllUsers``
  with the protocol's exclusion. Every partition of the customer factors (joined with each customer's training
  products) scores the *whole* catalogue against the item factors, sets the customer's training products to
  ``-inf`` and keeps the k best with the package's own :func:`~contentlab.recommend.topn.top_k_from_scores` (ties
  to the lower catalogue position, as every other model). ``recommendForAllUsers`` itself ranks only the products
  ALS saw in training and cannot leave out a customer's own products; a product without training interactions has
  no ALS factors, and in implicit ALS such a product's factors are exactly zero (its least-squares problem has a
  zero right-hand side), so it scores 0 here.
- **metrics per partition, on Spark** (:func:`spark_per_user_metrics`): the top-N lists joined with each evaluated
  customer's held-out products, and :func:`contentlab.recommend.metrics.per_user_ranking` run by ``mapInPandas``
  on every partition; the per-customer values come back to the driver and are averaged by
  :func:`contentlab.recommend.metrics.ranking_means`, exactly as for the other models. Catalogue coverage, novelty
  and diversity need every list at once: they are computed on the driver from the evaluated customers' lists with
  the same functions (:func:`contentlab.recommend.metrics.beyond_accuracy`). The cold-item slice is not scored:
  ALS scores every product without training interactions 0, so its order there would only be the tie-breaking.

The fitted model also scores on the driver (:meth:`SparkALSRecommender.score`, the user factors collected once), so
it can be chosen as the stage's model, write recommendations and be compared with the planted truth like the others.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from contentlab.recommend import metrics as M
from contentlab.recommend.evaluate import EvalContext, EvalResult, make_context
from contentlab.recommend.models import Recommender
from contentlab.recommend.topn import top_k_from_scores

__all__ = ["ALS_DEFAULTS", "DEFAULT_ALS_SETTINGS", "IdMaps", "SparkALSRecommender", "als_search", "evaluate_on_spark",
           "als_grid_and_params", "spark_per_user_metrics", "spark_top_k"]

ALS_DEFAULTS: dict[str, Any] = {"rank": 16, "regParam": 0.1, "alpha": 10.0, "maxIter": 10}
"""ALS settings of one fit (a setting the stage's ``model_params["ALS"]`` leaves out takes this value)."""
DEFAULT_ALS_SETTINGS: dict[str, Any] = {"rank": [8, 16], "regParam": [0.01, 0.1], "alpha": [1.0, 10.0], "maxIter": 10}
"""The stage's default ``model_params["ALS"]``: lists are searched on the validation split (a small grid: 8 fits),
single values kept."""
ALS_KEYS = ("rank", "regParam", "alpha", "maxIter")


@dataclass(frozen=True)
class IdMaps:
    """Integer ids for ALS: customers by position among ``users`` (sorted), products by catalogue position."""

    users: pd.Index
    items: pd.Index

    @classmethod
    def of(cls, train: pd.DataFrame, items: Sequence[str]) -> IdMaps:
        users = pd.Index(sorted(train["user_id"].astype(str).unique()))
        return cls(users=users, items=pd.Index([str(i) for i in items]))

    def codes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(user, item)`` integer codes of a frame's rows (``-1`` for ids the maps do not know)."""
        return (self.users.get_indexer(frame["user_id"].astype(str)),
                self.items.get_indexer(frame["product_id"].astype(str)))


def check_als_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """ALS settings completed from :data:`ALS_DEFAULTS`; an unknown key or a bad value raises naming it."""
    unknown = sorted(set(params) - set(ALS_KEYS))
    if unknown:
        raise ValueError(f"ALS settings {unknown} are not ALS settings ({', '.join(ALS_KEYS)})")
    out = {**ALS_DEFAULTS, **params}
    for key in ("rank", "maxIter"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 1:
            raise ValueError(f"ALS {key} must be a positive integer (got {out[key]!r})")
    for key in ("regParam", "alpha"):
        if isinstance(out[key], bool) or not isinstance(out[key], int | float) or out[key] < 0:
            raise ValueError(f"ALS {key} must be a number ≥ 0 (got {out[key]!r})")
    return out


def als_grid_and_params(settings: Mapping[str, Any]) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """``(grid, fixed)``: the settings given as lists (searched) and the others (kept), each value checked."""
    if not isinstance(settings, Mapping):
        raise ValueError(f"ALS settings must be a dict such as {DEFAULT_ALS_SETTINGS} (got {settings!r})")
    grid = {k: list(v) for k, v in settings.items() if isinstance(v, list | tuple)}
    fixed = {k: v for k, v in settings.items() if k not in grid}
    for key, values in grid.items():
        if not values:
            raise ValueError(f"ALS {key}: an empty list (give one value or several to search)")
        for value in values:
            check_als_params({key: value})
    return grid, check_als_params(fixed)


def als_scores(user_factors: np.ndarray, item_factors: np.ndarray) -> np.ndarray:
    """Preference scores ``U · Vᵀ`` in double precision (the one formula the driver and the executors use)."""
    return np.asarray(user_factors, dtype=np.float64) @ np.asarray(item_factors, dtype=np.float64).T


class SparkALSRecommender(Recommender):
    """Spark MLlib's implicit-feedback ALS behind the stage's model interface (see the module docstring)."""

    name = "spark_als"
    kind = "spark"

    def __init__(self, spark, seed: int = 42, name: str = "spark_als", **params: Any) -> None:
        super().__init__()
        self.spark = spark
        self.seed = int(seed)
        self.name = name
        self.params = check_als_params(params)
        self.ids: IdMaps | None = None
        self.model = None
        self.train_df = None  # the training pairs on Spark (user, item, rating)
        self.item_factors: np.ndarray | None = None  # (catalogue, rank) float32, zero rows for unseen products
        self._user_factors: np.ndarray | None = None

    def _fit(self, train: pd.DataFrame) -> None:
        from pyspark.ml.recommendation import ALS

        self.ids = IdMaps.of(train, self.items)
        u, i = self.ids.codes(train)
        if (i < 0).any():
            bad = train.loc[i < 0, "product_id"].astype(str).unique()[:5].tolist()
            raise ValueError(f"ALS: training interactions name products outside the catalogue (e.g. {bad})")
        table = pa.table({"user": pa.array(u, pa.int32()), "item": pa.array(i, pa.int32()),
                          "rating": pa.array(train["rating"].to_numpy(float), pa.float32())})
        self.train_df = self.spark.createDataFrame(table)
        p = self.params
        als = ALS(rank=p["rank"], maxIter=p["maxIter"], regParam=float(p["regParam"]), alpha=float(p["alpha"]),
                  implicitPrefs=True, userCol="user", itemCol="item", ratingCol="rating", seed=self.seed,
                  nonnegative=False, coldStartStrategy="nan")
        self.model = als.fit(self.train_df)
        self.item_factors = self._factors(self.model.itemFactors, len(self.items))
        self._user_factors = None

    def _factors(self, frame, n: int) -> np.ndarray:
        out = np.zeros((n, int(self.params["rank"])), dtype=np.float32)
        got = frame.toArrow()
        ids = got.column("id").to_numpy()
        if len(ids):
            out[ids] = np.asarray(got.column("features").combine_chunks().flatten().to_numpy(),
                                  dtype=np.float32).reshape(len(ids), -1)
        return out

    @property
    def user_factors(self) -> np.ndarray:
        """``(training customers, rank)`` float32, collected from Spark on first use."""
        if self._user_factors is None:
            self._user_factors = self._factors(self.model.userFactors, len(self.ids.users))
        return self._user_factors

    def score(self, users: Sequence[str]) -> np.ndarray:
        """Scores of ``users`` over the catalogue on the driver (a customer ALS never saw scores 0 everywhere)."""
        rows = self.ids.users.get_indexer([str(x) for x in users])
        uf = self.user_factors[np.maximum(rows, 0)].copy()
        uf[rows < 0] = 0.0
        return als_scores(uf, self.item_factors)

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, **self.params, "seed": self.seed, "implicitPrefs": True}


# ------------------------------------------------------------------------------------------- on Spark


def spark_top_k(model: SparkALSRecommender, k: int):
    """Every training customer's full-catalogue top-``k`` as a Spark DataFrame ``(user, top, score)``: catalogue
    positions best first (``-1`` pads a list when fewer than ``k`` products are left), the customer's training
    products excluded. Runs per partition of the customer factors (see the module docstring)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    item_factors = model.item_factors
    seen = model.train_df.groupBy("user").agg(F.collect_list("item").alias("seen"))
    users = model.model.userFactors.withColumnRenamed("id", "user").join(seen, "user", "left")
    schema = T.StructType([T.StructField("user", T.IntegerType()),
                           T.StructField("top", T.ArrayType(T.IntegerType())),
                           T.StructField("score", T.ArrayType(T.DoubleType()))])

    def top_n(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            if not len(pdf):
                continue
            scores = als_scores(np.vstack(pdf["features"].to_numpy()), item_factors)
            for row, items in enumerate(pdf["seen"]):
                if items is not None and len(items):
                    scores[row, np.asarray(items, dtype=np.int64)] = -np.inf
            idx, val = top_k_from_scores(scores, k)
            yield pd.DataFrame({"user": pdf["user"].to_numpy(np.int32), "top": list(idx.astype(np.int32)),
                                "score": list(val)})

    return users.mapInPandas(top_n, schema)


PER_USER_COLUMNS = ("precision", "recall", "ndcg", "map", "hit_rate", "n_relevant")


def spark_per_user_metrics(spark, tops, users: Sequence[int], relevant: Sequence[set[int]], k: int,
                           partitions: int | None = None) -> pd.DataFrame:
    """The package's per-customer ranking metrics (:func:`contentlab.recommend.metrics.per_user_ranking`) of the
    top-N lists ``tops`` (a Spark DataFrame ``(user, top, ...)``), computed by ``mapInPandas`` on each partition of
    the evaluated customers. ``users`` are the evaluated customers' integer ids, ``relevant`` their held-out
    catalogue positions. Returns one row per evaluated customer in the order of ``users``, with ``user`` and
    ``top`` (the list, for the catalogue-wide metrics) besides the metric columns."""
    from pyspark.sql import types as T

    lens = [len(r) for r in relevant]
    flat = np.fromiter(itertools.chain.from_iterable(sorted(r) for r in relevant), dtype=np.int32, count=sum(lens))
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
    truth = pa.table({"user": pa.array(np.asarray(users, dtype=np.int32)),
                      "relevant": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))})
    frame = spark.createDataFrame(truth)
    if partitions:
        frame = frame.repartition(int(partitions), "user")
    joined = frame.join(tops.select("user", "top"), "user", "left")
    fields = [T.StructField("user", T.IntegerType()), T.StructField("top", T.ArrayType(T.IntegerType()))]
    fields += [T.StructField(c, T.LongType() if c == "n_relevant" else T.DoubleType()) for c in PER_USER_COLUMNS]

    def per_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            if not len(pdf):
                continue
            top = np.vstack([np.full(k, -1, np.int64) if t is None else np.asarray(t, np.int64)[:k]
                             for t in pdf["top"]])
            per_user = M.per_user_ranking(top, [set(map(int, r)) for r in pdf["relevant"]], k)
            per_user.insert(0, "top", list(top.astype(np.int32)))
            per_user.insert(0, "user", pdf["user"].to_numpy(np.int32))
            yield per_user.astype({"n_relevant": np.int64})

    got = joined.mapInPandas(per_partition, T.StructType(fields)).toPandas()
    order = pd.Index(got["user"].to_numpy()).get_indexer(np.asarray(users))
    if (order < 0).any():
        raise RuntimeError(f"Spark returned no metrics for {int((order < 0).sum())} evaluated customers")
    return got.iloc[order].reset_index(drop=True)


def evaluate_on_spark(model: SparkALSRecommender, ctx: EvalContext, fit: bool = True,
                      partitions: int | None = None) -> EvalResult:
    """:func:`contentlab.recommend.evaluate.evaluate_model` for ALS on Spark: fit (optionally) on ``ctx.train``,
    top-N for every training customer on Spark, the ranking metrics per partition on Spark, averaged over the
    evaluated customers as for every model; the same results row (no rating metrics, no cold-item slice)."""
    if fit:
        model.fit(ctx.train, ctx.items)
    k = ctx.k
    t0 = time.perf_counter()
    users = model.ids.users.get_indexer(ctx.users)
    if (users < 0).any():
        raise ValueError("evaluated customers must be training customers (make_context keeps only those)")
    got = spark_per_user_metrics(model.spark, spark_top_k(model, k), users, ctx.relevant, k, partitions)
    score_s = time.perf_counter() - t0
    top = np.vstack(got["top"].to_numpy()).astype(np.int64) if len(got) else np.zeros((0, k), np.int64)
    per_user = got[list(PER_USER_COLUMNS)].astype({"n_relevant": int}).reset_index(drop=True)
    per_user.insert(0, "user_id", list(ctx.users))
    return _result(model, ctx, top, per_user, score_s)


def _result(model: SparkALSRecommender, ctx: EvalContext, top: np.ndarray, per_user: pd.DataFrame,
            score_s: float) -> EvalResult:
    """The results row of ``ctx``'s customers (``top`` and ``per_user`` in ``ctx.users`` order)."""
    k = ctx.k
    row: dict[str, Any] = {"model": model.name, "kind": model.kind}
    row.update(M.ranking_means(per_user, k))
    row.update(M.beyond_accuracy(top, k, n_items=ctx.n_items, item_user_counts=ctx.item_user_counts,
                                 n_train_users=ctx.n_train_users, item_category=ctx.item_category))
    row["rmse"] = row["mae"] = float("nan")
    if ctx.cold_items:
        row[f"cold_ndcg_at_{k}"] = float("nan")
        row["cold_eval_users"] = 0
    row["fit_s"] = float(model.fit_seconds)
    row["score_s"] = float(score_s)
    return EvalResult(row=row, top=top, scores=np.zeros((len(top), 0)), per_user=per_user, model=model)


def restrict_result(res: EvalResult, ctx: EvalContext) -> EvalResult:
    """``res`` (ALS scored on every evaluated customer) for the customers of ``ctx`` only, a sample of them with the
    same held-out pairs (:mod:`contentlab.recommend.sampling`): the ranking means over them, and the
    beyond-accuracy figures against ``ctx``'s training counts, as every model scored on ``ctx`` gets them."""
    pos = pd.Index(res.per_user["user_id"]).get_indexer(pd.Index(ctx.users))
    if (pos < 0).any():
        raise ValueError(f"{int((pos < 0).sum())} customers of the sample were not scored on every customer")
    per_user = res.per_user.iloc[pos].reset_index(drop=True)
    return _result(res.model, ctx, res.top[pos], per_user, res.row["score_s"])


def als_search(spark, val_split: tuple[pd.DataFrame, pd.DataFrame], items: Sequence[str],
               grid: Mapping[str, Sequence[Any]], params: Mapping[str, Any] | None = None, k: int = 10,
               seed: int = 42) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every combination of ``grid`` (over ``params``) fitted on the validation split's training part and scored by
    NDCG@k on its held-out part, on Spark (:func:`evaluate_on_spark`). Returns the table (best first; ties keep grid
    order) and the best settings."""
    val_fit, val_eval = val_split
    ctx = make_context(val_fit, val_eval, items, k=k)
    base = check_als_params(dict(params or {}))
    keys = list(grid)
    rows = []
    for values in itertools.product(*(grid[key] for key in keys)):
        cand = check_als_params({**base, **dict(zip(keys, values))})
        res = evaluate_on_spark(SparkALSRecommender(spark, seed=seed, **cand), ctx)
        rows.append({**{key: cand[key] for key in keys}, f"ndcg_at_{k}": res.row[f"ndcg_at_{k}"],
                     "fit_s": res.row["fit_s"]})
    table = pd.DataFrame(rows).sort_values(f"ndcg_at_{k}", ascending=False, kind="mergesort").reset_index(drop=True)
    best = check_als_params({**base, **{key: _plain(table.at[0, key]) for key in keys}})
    return table, best


def _plain(value: Any) -> Any:
    """A numpy scalar of a search table as the Python number ALS takes."""
    return value.item() if hasattr(value, "item") else value
