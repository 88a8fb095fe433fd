"""03 on a Spark engine (``local[1]``): Spark MLlib ALS joins the line-up, ``als_ndcg_at_10`` is recorded and
beats the random baseline, and the report places ALS against the Surprise ranking mode. On DuckDB (the shared tiny
run) nothing of it appears.

The Spark run takes 01's and 02's products from the shared tiny run (``--from-run``, in a copy of its home) and keeps
03 small: the baselines, the ranking mode and a two-point ALS grid. Its engine's ``single_node_users`` (60) is below
the tiny shop's customers, so the single-machine models run on a sample of 60 customers while ALS trains on all of
them and writes every customer's recommendations (the unsampled path runs on a real cluster in
test_spark_cluster.py)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import run_cli

pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")

SPARK = ["--params", "engine.kind=spark", "--params", "engine.master=local[1]",
         "--params", "engine.conf={spark.sql.shuffle.partitions: 2}", "--params", "engine.single_node_users=60",
         "--params", "03_recommend.models=[popularity, random, ranking]",
         "--params", "03_recommend.model_params.ALS={rank: 8, regParam: 0.1, alpha: [1.0, 10.0]}"]


def _model_ndcg(html: str, model: str, kind: str) -> float:
    """NDCG@10 of ``model`` in the report's model table (model, kind, ndcg_at_10, ... columns)."""
    found = re.search(rf">{model}</td>\s*<td[^>]*>{kind}</td>\s*<td[^>]*>([0-9.]+)</td>", html)
    assert found, f"no {model} row in the model table"
    return float(found.group(1))


@pytest.mark.slow
def test_03_on_spark_records_als_and_places_it_against_the_ranking_mode(tiny_run, tmp_path):
    assert "als_ndcg_at_10" not in tiny_run.metrics("03_recommend")  # DuckDB: nothing changes
    home = tmp_path / "home"
    shutil.copytree(tiny_run.home, home, symlinks=True)
    proc = run_cli(["run", "--profile", "tiny", "--only", "03_recommend", "--from-run", tiny_run.run_id, *SPARK], home)
    assert proc.returncode == 0, f"spark 03 failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    manifest = json.loads((home / "reports" / "latest" / "manifest.json").read_text())
    assert manifest["engine"] == "spark" and manifest["spark_master"] == "local[1]"
    metrics = next(nb for nb in manifest["notebooks"] if nb["name"] == "03_recommend")["metrics"]
    als = metrics["als_ndcg_at_10"]
    keys = list(metrics)
    assert keys.index("als_ndcg_at_10") == keys.index("ranking_ndcg_at_10") + 1

    html = (home / "reports" / "latest" / "03_recommend.html").read_text(encoding="utf-8")
    random = _model_ndcg(html, "random", "baseline")
    assert als > random > 0
    assert _model_ndcg(html, "spark_als", "spark") == pytest.approx(als, abs=5e-5)  # the row in the model table
    assert re.search(r"Spark MLlib ALS \(implicit feedback, trained and evaluated on Spark <code>local\[1\]</code>; "
                     r"rank 8, regParam 0\.1, alpha (1|10), chosen on the validation split\) reaches NDCG@10 "
                     rf"{als:.3f}, \d+(st|nd|rd|th) of 4 models, fit [0-9.]+ s; it is (ahead of|behind|level with) "
                     r"the Surprise ranking mode on the same split \(NDCG@10 "
                     rf"{metrics['ranking_ndcg_at_10']:.3f}", html), "no ALS sentence in the summary"
    assert "Spark MLlib ALS: the searched settings by validation ndcg_at_10" in html  # the search table

    # the sample: the single-machine models saw 60 customers, ALS all of them and it writes the recommendations
    assert metrics["single_node_users"] == 60
    all_users = tiny_run.metrics("03_recommend")["recommended_users"]
    assert metrics["best_model"] == "spark_als" and metrics["recommended_users"] == all_users > 60
    assert 0 < metrics["als_all_users_ndcg_at_10"] < 1 and metrics["als_all_users_ndcg_at_10"] != als
    assert re.search(r"Scale: the models that train on one machine ran on a seeded sample of 60 of \d{3} training "
                     r"customers \(engine.single_node_users = 60\), scored on the \d+ of them with held-out pairs; "
                     r"Spark MLlib ALS trained on every customer.*On all \d{3} evaluated customers ALS reaches "
                     rf"NDCG@10 {metrics['als_all_users_ndcg_at_10']:.3f}; being the one model trained on every "
                     r"customer, it writes the recommendations\.", html), "no sample sentence in the summary"
    assert "among the models trained on every customer" in html
    n_eval = int(re.search(r"evaluated users \(sample\)</td>\s*<td[^>]*>(\d+)</td>", html).group(1))
    assert 0 < n_eval <= 60
