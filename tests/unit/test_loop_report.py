"""The loop's report and manifest from measured cycles: every section, intervals, links, escaping, the lint."""

from __future__ import annotations

import copy
from pathlib import Path

from contentlab.loop.engine import Cycle, LoopResult, loop_manifest
from contentlab.loop.report import policy_changes, render_loop_index
from contentlab.report import lint_html

EVIL = "<script>alert(1)</script>"


def _arm(ctr: float) -> dict:
    return {"impressions": 1000, "users": 100, "clicks": int(ctr * 1000), "conversions": 5, "revenue": 50.0,
            "ctr": ctr, "ctr_low": ctr * 0.9, "ctr_high": ctr * 1.1, "cvr": 0.1, "cvr_low": 0.08, "cvr_high": 0.12,
            "rpi": 0.05, "rpi_low": 0.04, "rpi_high": 0.06, "expected_ctr": ctr, "expected_ctr_low": ctr * 0.95,
            "expected_ctr_high": ctr * 1.05}


def _policy(ch: str, hour: int, run: str) -> dict:
    return {"version": 1, "learned_from": run, "exploration": 0.05,
            "segments": {EVIL: {"channel": ch, "hour": hour, "frequency_cap": 3, "copy_style": None,
                                "rerank_weights": {}, "variant_shares": {ch: {"gpt2": 0.8, "template": 0.2}}}}}


def _result(tmp_path: Path) -> LoopResult:
    cycles = []
    for k, ctr in enumerate((0.01, 0.05, 0.08), start=1):
        arms = {"loop": _arm(ctr), "oracle": _arm(0.09), "template": _arm(0.012), "random": _arm(0.008)}
        cycles.append(Cycle(k, f"20260101T00000{k}-demo-c{k}", 60.0, arms,
                            _policy("email", 9, f"r{k - 1}") if k > 1 else None, _policy("push", 20, f"r{k}"),
                            {"hours_recovered": 4, "channels_recovered": 5}, {},
                            copy={"published_expected_ctr": {"gpt2": 0.05 * k}, "gpt2_by_slot": {"s1": f"c{k}"},
                                  "finetune": None if k == 1 else {
                                      "slots": 9, "before": {"accepted": 0.7, "quality": 0.3, "expected_ctr": 0.05},
                                      "after": {"accepted": 0.4, "quality": 0.4, "expected_ctr": 0.06}}}))
    settings = {"cycles": 3, "finetune_steps": 20, "per_week": 7.0}
    manifest = loop_manifest("20260101T000000-demo-loop", {"name": "demo"}, settings, cycles, 300.0)
    return LoopResult("20260101T000000-demo-loop", "demo", tmp_path, cycles, manifest, 300.0)


def test_the_manifest_names(tmp_path):
    m = _result(tmp_path).manifest["metrics"]
    assert m["cycle_ctr"] == [0.01, 0.05, 0.08] and len(m["cycle_revenue_per_impression"]) == 3
    assert (m["oracle_ctr"], m["template_ctr"], m["random_ctr"]) == (0.09, 0.012, 0.008)
    assert m["best_hour"] == {EVIL: 20} and m["best_channel"] == {EVIL: "push"}
    assert (m["hours_recovered"], m["channels_recovered"]) == (4, 5)


def test_the_report_has_every_section_escaped_and_clean(tmp_path):
    html = render_loop_index(_result(tmp_path))
    assert lint_html(html) == []
    assert EVIL not in html and "&lt;script&gt;" in html
    for s in ("Executive summary", "Learning curve", "Per cycle", "What changed between cycles"):
        assert f"<h2>{s}</h2>" in html
    assert "data:image/png;base64," in html and html.count("../20260101T00000") >= 6
    assert "89%" in html  # 0.08 / 0.09 of the oracle, in the summary
    assert "[8.10%, 9.90%]" in html  # the oracle's interval
    assert "1 of 1 slots" in html
    assert "7 impressions a user a week" in html  # the first cycle's cadence
    assert "higher planted CTR in 2 of 2 cycle(s) (last: 6.00% against 5.00%), and 40% of them passed" in html


def test_policy_changes_in_words():
    a, b = _policy("email", 9, "r1"), _policy("push", 20, "r2")
    (line,) = policy_changes(a, b)
    assert "channel email → push" in line and "send hour 9 → 20" in line
    assert policy_changes(b, b) == [f"{EVIL}: GPT-2 share on push 80%"]
    c = copy.deepcopy(b)
    c["segments"][EVIL].update(copy_style="value", styles_tried=["novelty", "value"])
    b["segments"][EVIL]["styles_tried"] = ["novelty"]
    (line,) = policy_changes(b, c)
    assert "copy style the persona's → value" in line and "copy shown in style value for the first time" in line


def test_the_loop_benchmark_judges_the_bars_from_the_manifest(tmp_path):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_loop.py"
    spec = importlib.util.spec_from_file_location("bench_loop", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    manifest = _result(tmp_path).manifest
    got = {name: ok for name, _, _, ok in bench.bars(manifest)}
    assert got["last cycle / oracle CTR"] is False  # 0.08 / 0.09 = 89%
    assert got["random CTR"] is True and got["send hours recovered"] is True and got["minutes"] is True
    manifest["metrics"]["cycle_ctr"][-1] = 0.085
    assert {n: ok for n, _, _, ok in bench.bars(manifest)}["last cycle / oracle CTR"] is True
    manifest["metrics"]["random_ctr"] = 0.02  # above the template's 0.012
    assert {n: ok for n, _, _, ok in bench.bars(manifest)}["random CTR"] is False
