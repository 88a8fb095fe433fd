"""03 · Recommendations: the notebook's shape, and its run inside the tiny pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_recommend.ipynb"
FIXED_METRICS = ["best_model", "ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10",
                 "coverage", "rmse", "mae", "popularity_ndcg_at_10", "svd_rating_ndcg_at_10"]
PARAMETERS = ["profile", "dataset", "seed", "run_dir", "report_dir", "interaction_source", "event_weights", "split",
              "k", "models", "ranking_params", "ranking_grid", "rating_grid", "svdpp_max_ratings", "selection_metric",
              "ratings_path"]


def test_notebook_structure():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# 03 · Recommendations")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    ns: dict = {}
    exec(params[0].source, ns)  # plain assignments only
    for name in PARAMETERS:
        assert name in ns, name
    assert ns["selection_metric"] == "ndcg_at_10" and ns["k"] == 10 and ns["seed"] == 42
    assert "parameters" not in nb.cells[-1].metadata.get("tags", [])
    assert "summary" in nb.cells[-1].metadata.get("tags", [])
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "notebook committed with outputs"
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "pipeline.load_prepared(run_dir" in source and "load_movielens" in source


@pytest.mark.slow
def test_runs_and_records_fixed_metrics(tiny_run):
    nb = tiny_run.notebook("03_recommend")
    assert nb["status"] == "ok", nb
    m = tiny_run.metrics("03_recommend")
    for name in FIXED_METRICS:
        assert m.get(name) is not None, f"{name} not recorded"
    for name in FIXED_METRICS[1:7]:
        assert 0 < m[name] <= 1, (name, m[name])
    assert m["precision_at_10"] <= m["hit_rate_at_10"]
    assert 0 < m["mae"] <= m["rmse"] < 4


@pytest.mark.slow
def test_ranking_mode_beats_popularity_and_rating_mode(tiny_run):
    """The simulator plants latent user/item factors: a working ranking-mode MF must beat popularity."""
    m = tiny_run.metrics("03_recommend")
    assert m["ranking_ndcg_at_10"] > m["popularity_ndcg_at_10"]
    assert m["ranking_ndcg_at_10"] > m["svd_rating_ndcg_at_10"]
    assert m["ndcg_at_10"] >= m["ranking_ndcg_at_10"]  # the chosen model is the best on the selection metric
    assert m["ranking_planted_spearman"] > 0.05  # its scores follow the planted latent affinity


@pytest.mark.slow
def test_outputs_consistent_with_recorded_metrics(tiny_run):
    m = tiny_run.metrics("03_recommend")
    recs = pd.read_parquet(tiny_run.run_dir / "recommendations.parquet")
    assert list(recs.columns) == ["user_id", "rank", "product_id", "score", "model", "reason"]
    assert set(recs["model"]) == {m["best_model"]}
    assert recs["user_id"].nunique() == m["recommended_users"] > 0
    assert not recs.duplicated(["user_id", "product_id"]).any()
    by_user = recs.sort_values(["user_id", "rank"]).groupby("user_id")
    assert by_user["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert by_user["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert recs["rank"].max() == 10
    assert recs["reason"].str.len().gt(0).all()

    clean = tiny_run.run_dir / "clean"
    products = set(pd.read_parquet(clean / "products.parquet")["product_id"].astype(str))
    assert set(recs["product_id"]) <= products
    events = pd.read_parquet(clean / "events.parquet", columns=["user_id", "product_id"]).astype(str)
    seen = set(zip(events["user_id"], events["product_id"]))
    assert not any(pair in seen for pair in zip(recs["user_id"], recs["product_id"])), "recommended a seen product"
    profiles_path = tiny_run.run_dir / "user_profiles.parquet"
    if profiles_path.exists():
        prof = pd.read_parquet(profiles_path)
        if "is_flagged" in prof.columns:
            flagged = set(prof.loc[prof["is_flagged"].fillna(False).astype(bool), "user_id"].astype(str))
            assert not flagged & set(recs["user_id"]), "flagged accounts got recommendations"

    best = json.loads((tiny_run.run_dir / "recommender" / "best_model.json").read_text())
    assert best["model"] == m["best_model"]
    assert best["metric"] == "ndcg_at_10"
    assert best["value"] == pytest.approx(m["ndcg_at_10"])
    assert isinstance(best["params"], dict)
    assert best["rmse"] == pytest.approx(m["rmse"]) and best["mae"] == pytest.approx(m["mae"])
