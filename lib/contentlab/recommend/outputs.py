"""Model selection and the stage's products, written through :mod:`contentlab.contract`:

- ``recommendations``: ``user_id, rank, product_id, score, model, reason`` (read by the generation stage);
- ``best_model``: the selected model, its parameters, the selection metric and its value, and where the rating
  accuracy reported with it comes from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab import contract
from contentlab.recommend.reasons import RECOMMENDATION_COLUMNS

RATING_REFERENCE = "svd_rating"
"""The model whose rating accuracy is reported with a chosen model that predicts no ratings."""


def select_best(results: pd.DataFrame, metric: str = "ndcg_at_10", exclude_kinds: tuple[str, ...] = ()) -> pd.Series:
    """Row of the best model by ``metric`` (higher is better, except rmse/mae); ties keep table order."""
    if metric not in results.columns:
        raise KeyError(f"selection metric {metric!r} not in results: {list(results.columns)}")
    cand = results[~results["kind"].isin(exclude_kinds)] if exclude_kinds else results
    cand = cand[cand[metric].notna()]
    if cand.empty:
        raise ValueError(f"no model has a value for {metric!r}")
    ascending = metric in ("rmse", "mae")
    return cand.sort_values(metric, ascending=ascending, kind="mergesort").iloc[0]


def rating_reference(results: pd.DataFrame, best: str) -> tuple[str | None, float, float]:
    """``(model, rmse, mae)``: the rating accuracy reported with the chosen model ``best``. Its own when it predicts
    ratings; else that of :data:`RATING_REFERENCE` (the same Surprise SVD trained in rating mode) when it ran; else
    ``(None, nan, nan)``."""
    by_model = results.set_index("model")
    ref: str | None = best
    if pd.isna(by_model.loc[best, "rmse"]):
        ref = RATING_REFERENCE if RATING_REFERENCE in by_model.index else None
    if ref is None:
        return None, float("nan"), float("nan")
    return ref, float(by_model.loc[ref, "rmse"]), float(by_model.loc[ref, "mae"])


def write_recommendations(recs: pd.DataFrame, run_dir: str | Path) -> Path:
    missing = [c for c in RECOMMENDATION_COLUMNS if c not in recs.columns]
    if missing:
        raise ValueError(f"recommendations lack columns {missing}")
    out = recs[RECOMMENDATION_COLUMNS].copy()
    out["user_id"] = out["user_id"].astype(str)
    out["product_id"] = out["product_id"].astype(str)
    out["rank"] = out["rank"].astype("int64")
    out["score"] = out["score"].astype(float)
    out["model"] = out["model"].astype(str)
    out["reason"] = out["reason"].astype(str)
    return contract.product("recommendations").write(run_dir, out)


def write_best_model(run_dir: str | Path, model_name: str, params: dict[str, Any], metric: str, value: float,
                     **extra: Any) -> Path:
    record = {"model": model_name, "params": params, "metric": metric, "value": value, **extra}
    return contract.product("best_model").write(run_dir, record)


def popularity_bias(top: np.ndarray, item_user_counts: np.ndarray) -> pd.DataFrame:
    """Share of a model's recommendations by training-popularity decile of the item (decile 10 = most popular)."""
    counts = np.asarray(item_user_counts, dtype=float)
    order = np.argsort(np.argsort(counts, kind="mergesort"), kind="mergesort")
    decile = np.minimum((order * 10) // max(len(counts), 1), 9) + 1
    rec = np.asarray(top)
    rec = rec[rec >= 0]
    share = np.bincount(decile[rec], minlength=11)[1:] / max(rec.size, 1)
    return pd.DataFrame({"popularity_decile": np.arange(1, 11), "share": share})
