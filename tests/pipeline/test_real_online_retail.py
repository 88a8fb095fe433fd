"""UCI Online Retail's exact formats through the whole pipeline: Online Retail (CSV) and Online Retail II (XLSX).

A purchase-only ledger in GBP with cancellations, guest checkouts, negative-quantity adjustments, postage lines
and upper-case stock descriptions. Every source line is accounted for; no report or published copy shows a
dollar sign, an empty template slot, a repr, a traceback or "nan".
"""

from __future__ import annotations

import json

import pytest

from realdata import report_problems, run_whole_pipeline, stage_outcomes, write_online_retail

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[("csv", "I"), ("xlsx", "II")], ids=["csv-I", "xlsx-II"])
def retail_run(request, tmp_path_factory):
    fmt, variant = request.param
    home = tmp_path_factory.mktemp(f"retail-{fmt}")
    written = write_online_retail(home / "source", fmt=fmt, variant=variant, seed=4)
    proc, report, manifest = run_whole_pipeline(home, f"retail-{fmt}", {"kind": "online_retail",
                                                                         "path": str(written.path)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return written, report, manifest


def test_every_stage_ends_ok_or_not_applicable_with_a_reason(retail_run):
    _, report, manifest = retail_run
    outcomes = stage_outcomes(report, manifest)
    assert {k: v[0] for k, v in outcomes.items()} == {
        "01_eda": "ok", "02_profiling": "ok", "03_recommend": "ok", "04_generate": "ok", "05_feedback": "skipped"}
    assert "exposure" in outcomes["05_feedback"][1]
    m = {nb["name"]: nb["metrics"] for nb in manifest["notebooks"]}
    assert m["01_eda"]["conversion_view_to_purchase"] is None  # no views in a sales ledger
    assert "segment_ari" not in m["02_profiling"]  # no planted truth for real data
    # one rating level (every interaction is a purchase): the rating-mode models are skipped, with the reason
    assert m["03_recommend"]["svd_rating_ndcg_at_10"] is None and m["03_recommend"]["rmse"] is None
    assert "every training interaction has the same rating" in (report / "03_recommend.html").read_text(encoding="utf-8")


def test_every_source_line_is_kept_excluded_or_rejected(retail_run):
    written, report, _ = retail_run
    run_dir = report.parent.parent / "data" / "processed" / report.name
    v = json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
    a = v["adapter"]
    assert a["rows_read"] == written.rows
    assert a["rows_read"] == a["rows_mapped"] + a["rows_excluded"]
    assert a["excluded"]["cancellation"] == written.planted["cancellation"]
    assert a["excluded"]["non_product_stock_code"] == written.planted["postage"]
    assert a["overlaps"]["missing_customer_id"] >= written.planted["missing_customer_id"]
    ev = v["tables"]["events"]
    assert ev["rows_in"] == a["rows_mapped"] == ev["rows_kept"] + ev["rows_rejected"]


def test_personas_and_segments_fit_a_purchase_only_shop(retail_run):
    _, report, _ = retail_run
    run_dir = report.parent.parent / "data" / "processed" / report.name
    personas = json.loads((run_dir / "personas.json").read_text(encoding="utf-8"))
    names = [p.get("name") or p.get("persona") for p in personas]
    assert len(set(names)) == len(names), names
    html = (report / "02_profiling.html").read_text(encoding="utf-8")
    assert "New Visitors" not in html  # every customer in a sales ledger has bought


def test_published_reports_and_copy_are_clean(retail_run):
    _, report, _ = retail_run
    assert report_problems(report, currency="GBP") == []
