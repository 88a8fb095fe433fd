"""The executive summary of a run's index: findings from the manifest and the run's products, escaped."""

from __future__ import annotations

import pandas as pd

from contentlab import contract
from contentlab.report import render_index
from contentlab.run import executive

PERSONAS = [
    {"persona_id": "P01", "name": "Bargain <b>Hunters</b>", "segment": "bargain", "size": 600, "share_of_users": 0.6,
     "revenue_share": 0.25},
    {"persona_id": "P02", "name": "Premium Shoppers", "segment": "premium", "size": 400, "share_of_users": 0.4,
     "revenue_share": 0.75},
]


def _manifest(**metrics):
    return {"run_id": "r1", "profile": "demo", "notebooks": [
        {"name": name, "status": "ok", "report": f"{name}.html", "metrics": m} for name, m in metrics.items()]}


def _run(tmp_path):
    contract.product("personas").write(tmp_path, PERSONAS)
    results = pd.DataFrame({
        "level": ["channel", "channel", "channel", "segment"], "channel": ["push", "email", "product_page", "all"],
        "segment": ["all", "all", "all", "bargain"], "winner": ["gpt2", None, "inconclusive", "gpt2"],
        "lift": [0.1234, -0.01, 0.03, 0.2], "lift_low": [0.05, -0.04, -0.1, 0.1],
        "lift_high": [0.2, 0.02, 0.16, 0.3]})
    contract.product("ab_results").write(tmp_path, results)
    return _manifest(**{
        "02_profiling": {"n_segments": 2},
        "03_recommend": {"best_model": "ease", "ndcg_at_10": 0.3, "popularity_ndcg_at_10": 0.1,
                         "precision_at_10": 0.2},
        "04_generate": {"model": "embedded", "n_slots": 12, "n_copies": 20, "hallucination_rate": 0.01,
                        "template_hallucination_rate": 0.0},
        "05_feedback": {"winner": {"push": "gpt2"}},
    })


def test_findings_carry_their_numbers_and_link_their_report(tmp_path):
    found = executive.findings(_run(tmp_path), tmp_path)
    by_topic = {f.topic: f for f in found}
    assert list(by_topic) == ["Who the customers are", "What to recommend", "What copy was published", "What won"]
    who = by_topic["Who the customers are"].sentence
    assert who.startswith("2 customer segments; the most valuable, Premium Shoppers, brings 75% of revenue from 40%")
    assert "3.0× popularity's 0.100" in by_topic["What to recommend"].sentence
    assert "20 copies published for 12" in by_topic["What copy was published"].sentence
    won = by_topic["What won"].sentence
    assert "push: GPT-2 won, GPT-2 vs template CTR +12.3% (95% CI +5.0% to +20.0%)" in won
    assert "email: no clear winner" in won and "bargain" not in won  # channel level only
    assert "product page: no clear winner, GPT-2 vs template CTR +3.0%" in won and "inconclusive" not in won
    assert [f.report for f in found] == ["02_profiling.html", "03_recommend.html", "04_generate.html",
                                         "05_feedback.html"]


def test_a_stage_that_did_not_run_leaves_its_finding_out(tmp_path):
    manifest = _run(tmp_path)
    manifest["notebooks"][1]["status"] = "failed"
    topics = [f.topic for f in executive.findings(manifest, tmp_path)]
    assert "What to recommend" not in topics and "Who the customers are" in topics
    assert executive.findings(_manifest(), None) == [] and executive.segment_chart(None) == ""


def test_index_shows_the_summary_first_and_escapes_data(tmp_path):
    manifest = _run(tmp_path)
    chart = executive.segment_chart(tmp_path)
    assert chart.startswith("<svg") and "<b>" not in chart and "Bargain &lt;b&gt;Hunters" in chart
    html = render_index(manifest, executive=executive.as_rows(executive.findings(manifest, tmp_path)), chart=chart)
    assert html.index("Executive summary") < html.index("Stages and their recorded metrics")
    assert "<b>Hunters</b>" not in html and "Bargain &lt;b&gt;Hunters&lt;/b&gt;" in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Executive summary" not in render_index(manifest)  # no findings: no summary box
