"""03 · Recommendations: the notebook's shape, and its run inside the tiny pipeline."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_cli

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_recommend.ipynb"
FIXED_METRICS = ["best_model", "ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "hit_rate_at_10",
                 "coverage", "rmse", "mae", "popularity_ndcg_at_10", "svd_rating_ndcg_at_10"]
PARAMETERS = ["seed", "run_dir", "inputs", "interaction_source", "event_weights", "protocol", "split",
              "train_ratio", "holdout_days", "cold_item_share", "k", "models", "svdpp_max_ratings", "knn_max_items",
              "model_params", "rating_grid", "ranking_params", "ranking_grid", "search_options",
              "hybrid_weights", "peers", "selection_metric", "refit_full", "ratings_path", "engine"]
# the tiny profile's 03 figures (seeded): a change in a model, the split or the data shows here
EXPECTED_TINY = {"ndcg_at_10": 0.3008, "precision_at_10": 0.1252, "recall_at_10": 0.4249, "map_at_10": 0.1946,
                 "hit_rate_at_10": 0.6993, "coverage": 0.9875, "rmse": 1.6902, "mae": 1.5003,
                 "popularity_ndcg_at_10": 0.1932, "svd_rating_ndcg_at_10": 0.1007, "ranking_ndcg_at_10": 0.2955,
                 "content_tfidf_cold_ndcg_at_10": 0.6292, "hybrid_cold_ndcg_at_10": 0.6292,
                 "svd_ranking_cold_ndcg_at_10": 0.5322, "ranking_planted_spearman": 0.1475}
TOLERANCE = 0.02  # absolute, on metrics in 0-1 and on rmse/mae in rating points
ALLOWED_IMPORTS = ("contentlab", "contentlab.recommend", "contentlab.plotting", "contentlab.notebook",
                   "IPython.display", "matplotlib.pyplot")


def test_notebook_structure():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# 03 · Recommendations")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    ns: dict = {}
    exec(params[0].source, ns)  # plain assignments only
    assert sorted(n for n in ns if n != "__builtins__") == sorted(PARAMETERS)
    assert ns["inputs"] == {}  # the runner hands the contract's inputs over; by hand they come from run_dir
    assert ns["selection_metric"] == "ndcg_at_10" and ns["k"] == 10 and ns["seed"] == 42
    assert ns["protocol"] == "contentlab" and ns["interaction_source"] == "auto"
    assert ns["peers"] == [] and "EASE" in ns["models"] and "ensemble" in ns["models"]
    assert "parameters" not in nb.cells[-1].metadata.get("tags", [])
    assert "summary" in nb.cells[-1].metadata.get("tags", [])
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "notebook committed with outputs"


def test_notebook_only_shows():
    """Parameters, one call, tables, plots, prose: at most 150 code lines, no cell over 25, no function or class,
    imports only from the stage package, the shared plotting module and the notebook helper (plus display)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    total = 0
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        code = [line for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert len(code) <= 25, cell.source[:200]
        total += len(code)
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)), cell.source
            if isinstance(node, ast.Import):
                assert all(a.name in ALLOWED_IMPORTS for a in node.names), ast.unparse(node)
            elif isinstance(node, ast.ImportFrom):
                assert node.module in ALLOWED_IMPORTS, ast.unparse(node)
    assert total <= 150
    calls = [c.source for c in nb.cells if c.cell_type == "code" and "run_recommend(" in c.source]
    assert len(calls) == 1 and "RecommendConfig(" in calls[0]


def _last_call_name(stmt: ast.stmt) -> str | None:
    if not isinstance(stmt, ast.Expr) or not isinstance(stmt.value, ast.Call):
        return None
    func = stmt.value.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def test_no_cell_can_leave_a_python_repr():
    """A cell whose last statement is an expression shows its value: a plotting call's return value prints as
    ``Text(0.5, 0.98, '...')`` or ``<matplotlib.legend.Legend at 0x...>``. Every code cell ends with a statement,
    ``display(...)``, ``record(...)`` (its echo is dropped by the report) or ``plt.show()``; every cell that draws
    ends with ``plt.show()``."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for n, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        last = ast.parse(cell.source).body[-1]
        if isinstance(last, ast.Expr):
            assert _last_call_name(last) in {"display", "record", "show"}, (n, ast.unparse(last))
        draws = re.search(r"\bfig\b|\bsns\.|plotting\.(subplots|hbar|count_bars)\(", cell.source)
        if draws:
            assert _last_call_name(last) == "show" and ast.unparse(last) == "plt.show()", (n, ast.unparse(last))


@pytest.mark.slow
def test_report_has_no_python_repr(tiny_run):
    html = (tiny_run.report_dir / "03_recommend.html").read_text(encoding="utf-8")
    for bad in ("<matplotlib.", "&lt;matplotlib.", "Text(", " at 0x"):
        assert bad not in html, bad


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
    assert m["protocol"] == "contentlab"
    assert m["best_model"] == "hybrid" and m["rmse_model"] == m["mae_model"] == "svd_rating"
    assert m["recommended_users"] == 298 and m["recommended_products"] == 79
    assert list(m)[-1] == "peer_ndcg_at_10" and m["peer_ndcg_at_10"] is None  # no peers by default
    for name, expected in EXPECTED_TINY.items():
        assert m[name] == pytest.approx(expected, abs=TOLERANCE), (name, m[name])


@pytest.mark.slow
def test_every_figure_names_its_model(tiny_run):
    """rmse/mae belong to the chosen model only when it predicts ratings; otherwise to svd_rating, and the
    recorded metrics, best_model.json and the report say so (the index lists rmse_model right before rmse)."""
    m = tiny_run.metrics("03_recommend")
    best = json.loads((tiny_run.run_dir / "recommender" / "best_model.json").read_text())
    rating_models = {"svd_rating", "svdpp_rating", "nmf_rating", "knnbaseline_rating", "baselineonly_rating"}
    expected = m["best_model"] if m["best_model"] in rating_models else "svd_rating"
    assert m["rmse_model"] == m["mae_model"] == best["rating_metrics_from"] == expected
    keys = list(m)
    assert keys.index("rmse_model") == keys.index("rmse") - 1 and keys.index("mae_model") == keys.index("mae") - 1
    index = (tiny_run.report_dir / "index.html").read_text(encoding="utf-8")
    assert re.search(r"rmse_model</span>: svd_rating</li>\s*<li><span class=\"k\">rmse</span>", index) or \
        m["best_model"] in rating_models
    html = (tiny_run.report_dir / "03_recommend.html").read_text(encoding="utf-8")
    if m["best_model"] not in rating_models:
        assert "predicts no ratings: the rating accuracy reported with it belongs to" in html


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


def _held_out(html: str) -> int:
    found = re.search(r">held-out interactions</td>\s*<td[^>]*>([\d,]+)</td>", html)
    assert found, "no held-out interactions row in the protocol table"
    return int(found.group(1).replace(",", ""))


@pytest.mark.slow
def test_movielens_ratings_get_recommendations_under_both_protocols(tmp_path):
    """A ratings-only file (MovieLens u.data format) with the notebook's defaults gets recommendations from its
    ratings (auto picks them: the events table is empty); under protocol 'recommenders' the held-out set is the
    one python_stratified_split draws on that file, and the report says which protocol ran."""
    from test_recommend_data import recommenders_stratified, write_movielens_u_data

    raw = tmp_path / "ml" / "u.data"
    raw.parent.mkdir()
    write_movielens_u_data(raw, n_users=300, n_items=400, seed=11)
    profile = tmp_path / "ml.yaml"
    profile.write_text(yaml.safe_dump({"name": "ml", "seed": 42, "dataset": {"kind": "movielens", "path": str(raw)}}))
    file = pd.read_csv(raw, sep="\t", header=None, names=["user_id", "product_id", "rating", "timestamp"])
    _, ref_test = recommenders_stratified(file, 0.75, "item", 42)  # the preset stratifies per product by default
    n_user = file.groupby("user_id").size()
    # 01 prepares the file once; each 03 run takes its products from the latest successful run
    prep = run_cli(["run", "--profile", str(profile), "--only", "01_eda"], tmp_path, timeout=900)
    assert prep.returncode == 0, prep.stdout[-3000:] + prep.stderr[-3000:]
    for protocol in ("contentlab", "recommenders"):
        extra = [] if protocol == "contentlab" else ["--params", "03_recommend.protocol=recommenders"]
        proc = run_cli(["run", "--profile", str(profile), "--only", "03_recommend", *extra], tmp_path, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        report = (tmp_path / "reports" / "latest").resolve()
        manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
        nb = manifest["notebooks"][0]
        assert nb["name"] == "03_recommend" and nb["status"] == "ok", nb
        m = nb["metrics"]
        assert m["protocol"] == protocol and m["recommended_users"] == file["user_id"].nunique()
        run_dir = tmp_path / "data" / "processed" / manifest["run_id"]
        best = json.loads((run_dir / "recommender" / "best_model.json").read_text())
        assert best["interaction_source"] == "explicit" and best["protocol"] == protocol
        recs = pd.read_parquet(run_dir / "recommendations.parquet")
        rated = set(zip(file["user_id"].astype(str), file["product_id"].astype(str)))
        assert len(recs) == 10 * file["user_id"].nunique()
        assert not rated & set(zip(recs["user_id"], recs["product_id"]))
        html = (report / "03_recommend.html").read_text(encoding="utf-8")
        assert "the events table has 0 rows, so the ratings table" in html
        assert f"Evaluation protocol <code>{protocol}</code>" in html
        held_out = _held_out(html)
        if protocol == "recommenders":
            assert held_out == len(ref_test)
            assert "python_stratified_split" in html and "round(0.75" in html
        else:  # rank / count <= 0.75 holds out more, then 5% of the movies go cold on top
            assert held_out > int((n_user - np.floor(0.75 * n_user)).sum())
        for bad in ("<matplotlib.", "Text(", " at 0x"):
            assert bad not in html, bad
