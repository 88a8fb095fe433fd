"""`contentlab loop --profile tiny --cycles 2` through the command line, in a copy of the tiny run's project home
(cycle 1 reuses its 01-03): the loop's manifest names, its report, and each cycle's own run."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import run_cli
from contentlab.feedback.config import FeedbackConfig
from contentlab.report import lint_html

pytestmark = pytest.mark.slow

LIST_METRICS = ("cycle_ctr", "cycle_revenue_per_impression")
SCALAR_METRICS = ("oracle_ctr", "template_ctr", "random_ctr")


@pytest.fixture(scope="module")
def loop_home(tiny_run, tmp_path_factory):
    home = tmp_path_factory.mktemp("loop") / "home"
    shutil.copytree(tiny_run.home, home, symlinks=True)
    proc = run_cli(["loop", "--profile", "tiny", "--cycles", "2"], home)
    assert proc.returncode == 0, f"loop failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    loops = sorted(p for p in (home / "reports").glob("*-tiny-loop") if p.is_dir())
    assert len(loops) == 1
    return home, loops[0], proc


def test_the_loop_manifest_records_the_named_metrics(loop_home):
    _, report_dir, _ = loop_home
    m = json.loads((report_dir / "manifest.json").read_text())
    assert m["kind"] == "loop" and m["cycles"] == 2 and len(m["runs"]) == 2
    metrics = m["metrics"]
    for name in LIST_METRICS:
        assert len(metrics[name]) == 2 and all(isinstance(x, float) for x in metrics[name]), name
    for name in SCALAR_METRICS:
        assert 0 < metrics[name] < 1, name
    assert isinstance(metrics["best_hour"], dict) and isinstance(metrics["best_channel"], dict)
    assert all(0 <= h <= 23 for h in metrics["best_hour"].values())
    assert set(metrics["best_channel"].values()) <= {"email", "push", "product_page"}
    assert isinstance(metrics["hours_recovered"], int) and isinstance(metrics["channels_recovered"], int)
    # the oracle is the planted optimum on the same users and days
    assert metrics["oracle_ctr"] > metrics["random_ctr"]
    for c in m["per_cycle"]:
        for arm in ("loop", "oracle", "template", "random"):
            a = c["arms"][arm]
            assert a["ctr_low"] <= a["ctr"] <= a["ctr_high"] and a["impressions"] > 0
    # cycle 2 followed the policy cycle 1 learned, and cycle 1 followed none
    assert m["per_cycle"][0]["policy_followed"] is None
    assert m["per_cycle"][1]["policy_followed"]["learned_from"] == m["runs"][0]


def test_each_cycle_is_a_normal_run_and_the_second_reads_the_first(loop_home):
    home, _, _ = loop_home
    c2 = sorted((home / "reports").glob("*-tiny-c2"))
    assert len(c2) == 1
    m = json.loads((c2[0] / "manifest.json").read_text())
    assert [nb["name"] for nb in m["notebooks"]] == ["04_generate", "05_feedback"]
    assert all(nb["status"] == "ok" for nb in m["notebooks"])
    p05 = m["parameters"]["notebooks"]["05_feedback"]
    assert p05["campaign_offset_days"] == FeedbackConfig().campaign_days  # the second campaign follows the first
    index = (home / "reports" / "index.html").read_text()
    assert "-tiny-loop" not in index  # the runs index lists runs, not loops


def test_the_loop_report(loop_home):
    _, report_dir, _ = loop_home
    html = (report_dir / "index.html").read_text()
    assert lint_html(html) == []
    for section in ("Executive summary", "Learning curve", "Per cycle", "What changed between cycles"):
        assert f"<h2>{section}</h2>" in html
    assert html.index("Executive summary") < html.index("Learning curve") < html.index("Per cycle")
    assert "data:image/png;base64," in html
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*['\"]?(https?:)?//", html, re.I)
    m = json.loads((report_dir / "manifest.json").read_text())
    for run_id in m["runs"]:
        assert f"../{run_id}/index.html" in html
    assert html.count("oracle (planted optimum)") >= 2
