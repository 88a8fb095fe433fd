"""MovieLens 100K's exact format through the whole pipeline, with no parameter beyond the dataset.

Ratings only (no events, no prices, titles with release years): 02 profiles from the ratings, 03 recommends
under microsoft/recommenders' protocol, 04 publishes no price and no GPT-2 filler, 05 has no exposure log.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from realdata import report_problems, run_whole_pipeline, stage_outcomes, write_movielens_100k

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ml_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("movielens")
    written = write_movielens_100k(home / "ml-100k")
    proc, report, manifest = run_whole_pipeline(
        home, "movielens", {"kind": "movielens", "path": str(written.path)},
        notebooks={"03_recommend": {"protocol": "recommenders"}})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return written, report, manifest


def test_every_stage_ends_ok_or_not_applicable_with_a_reason(ml_run):
    _, report, manifest = ml_run
    outcomes = stage_outcomes(report, manifest)
    assert {k: v[0] for k, v in outcomes.items()} == {
        "01_eda": "ok", "02_profiling": "ok", "03_recommend": "ok", "04_generate": "ok", "05_feedback": "skipped"}
    assert "exposure" in outcomes["05_feedback"][1]


def test_every_rating_line_is_kept_or_rejected(ml_run):
    written, report, manifest = ml_run
    run_dir = report.parent.parent / "data" / "processed" / report.name
    v = json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
    ratings = v["tables"]["ratings"]
    assert v["adapter"]["rows_read"] == written.rows  # the line with a trailing space is read like the others
    assert v["adapter"]["rows_read"] == v["adapter"]["rows_mapped"] + v["adapter"]["rows_excluded"]
    assert ratings["rows_in"] == v["adapter"]["rows_mapped"] == ratings["rows_kept"] + ratings["rows_rejected"]
    assert ratings["rows_rejected"] == 0


def test_recommendations_for_a_ratings_file_under_the_recommenders_protocol(ml_run):
    _, report, manifest = ml_run
    m = {nb["name"]: nb["metrics"] for nb in manifest["notebooks"]}["03_recommend"]
    run_dir = report.parent.parent / "data" / "processed" / report.name
    recs = pd.read_parquet(run_dir / "recommendations.parquet")
    assert recs["user_id"].nunique() >= 250 and len(recs) >= 2500
    html = (report / "03_recommend.html").read_text(encoding="utf-8")
    assert "recommenders" in html  # the report says which protocol ran
    assert m.get("best_model")


def test_published_reports_and_copy_are_clean(ml_run):
    _, report, _ = ml_run
    assert report_problems(report, currency=None) == []
