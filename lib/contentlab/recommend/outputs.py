"""Model selection and the stage's products in ``run_dir``.

- ``recommendations.parquet``: ``user_id, rank, product_id, score, model, reason`` (read by the generation stage);
- ``recommender/best_model.json``: the selected model, its parameters, the selection metric and its value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab.recommend.reasons import RECOMMENDATION_COLUMNS
from contentlab.serial import jsonable

RECOMMENDATIONS_FILE = "recommendations.parquet"
BEST_MODEL_FILE = "recommender/best_model.json"


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
    path = Path(run_dir) / RECOMMENDATIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path, index=False)
    return path


def write_best_model(run_dir: str | Path, model_name: str, params: dict[str, Any], metric: str, value: float,
                     **extra: Any) -> Path:
    path = Path(run_dir) / BEST_MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": model_name, "params": params, "metric": metric, "value": value, **extra}
    path.write_text(json.dumps(jsonable(record), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def read_optional_parquet(path: str | Path) -> pd.DataFrame | None:
    path = Path(path)
    return pd.read_parquet(path) if path.exists() else None


def popularity_bias(top: np.ndarray, item_user_counts: np.ndarray) -> pd.DataFrame:
    """Share of a model's recommendations by training-popularity decile of the item (decile 10 = most popular)."""
    counts = np.asarray(item_user_counts, dtype=float)
    order = np.argsort(np.argsort(counts, kind="mergesort"), kind="mergesort")
    decile = np.minimum((order * 10) // max(len(counts), 1), 9) + 1
    rec = np.asarray(top)
    rec = rec[rec >= 0]
    share = np.bincount(decile[rec], minlength=11)[1:] / max(rec.size, 1)
    return pd.DataFrame({"popularity_decile": np.arange(1, 11), "share": share})
