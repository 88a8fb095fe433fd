"""End to end: `contentlab run --profile tiny` on the real notebooks, in a temporary project home."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import comparable_manifest
from contentlab.data.io import file_fingerprint
from contentlab.pipeline import STAGES

pytestmark = pytest.mark.slow

MANIFEST_KEYS = {"run_id", "profile", "engine", "parameters", "versions", "inputs", "notebooks"}
NOTEBOOK_KEYS = {"name", "status", "duration_s", "report", "metrics"}


def test_manifest_shape_and_every_stage_ok(tiny_run):
    m = tiny_run.manifest
    assert set(m) >= MANIFEST_KEYS
    assert m["profile"] == "tiny" and m["engine"] == "duckdb"
    assert [nb["name"] for nb in m["notebooks"]] == list(STAGES)
    for nb in m["notebooks"]:
        assert set(nb) >= NOTEBOOK_KEYS, nb
        assert nb["status"] == "ok", nb
        assert nb["duration_s"] > 0
        assert (tiny_run.report_dir / nb["report"]).exists()
        assert nb["metrics"], f"{nb['name']} recorded no metrics"


def test_latest_points_at_the_run_and_index_links_every_report(tiny_run):
    latest = tiny_run.home / "reports" / "latest"
    assert latest.resolve() == tiny_run.report_dir.resolve()
    index = (tiny_run.report_dir / "index.html").read_text(encoding="utf-8")
    for nb in tiny_run.manifest["notebooks"]:
        assert nb["report"] in index
    # the executive summary comes first: one finding per stage that has something to say, then the metric table
    assert index.index("Executive summary") < index.index("Stages and their recorded metrics") < index.index("<table")
    assert index.count('class="cl-exec-chart"') == 1 and "Who the customers are:" in index


def _html_files(run):
    files = sorted(run.report_dir.glob("*.html"))
    assert files
    return files


def test_reports_are_self_contained_and_show_no_code(tiny_run):
    remote = re.compile(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*['\"]?(https?:)?//", re.I)
    for f in _html_files(tiny_run):
        html = f.read_text(encoding="utf-8")
        assert not remote.search(html), f"{f.name} loads something from the internet"
        assert "import contentlab" not in html, f"{f.name} shows code"
        assert "injected-parameters" not in html


def test_raw_user_ids_never_appear_in_html(tiny_run):
    users = pd.read_parquet(tiny_run.run_dir / "clean" / "users.parquet")["user_id"].astype(str)
    # ids long enough not to collide with ordinary numbers in the text
    ids = [u for u in users if len(u) >= 5]
    assert ids
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, ids)) + r")(?![A-Za-z0-9_])")
    for f in _html_files(tiny_run):
        hit = pattern.search(f.read_text(encoding="utf-8"))
        assert hit is None, f"raw user id {hit.group(0)!r} in {f.name}"


def test_raw_data_is_not_modified_by_a_run(tiny_run):
    # the manifest records {input path relative to the project home: sha256[:16]}; after the whole
    # run every input still hashes the same, and every input lives under data/raw
    inputs = tiny_run.manifest["inputs"]
    assert inputs and any(p.endswith("events.parquet") for p in inputs)
    for rel, digest in inputs.items():
        assert rel.startswith("data/raw/"), rel
        assert file_fingerprint(tiny_run.home / rel) == digest, f"{rel} changed during the run"


def test_broken_parameter_fails_with_a_report_and_keeps_earlier_reports(tmp_path):
    # its own home, so the shared tiny run's `latest` never moves under the other tests
    from conftest import run_cli

    proc = run_cli(["run", "--profile", "tiny", "--params", "02_profiling.risk_method=guesswork"], tmp_path, timeout=900)
    assert proc.returncode != 0
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("contentlab: 02_profiling failed at cell") and "ValueError" in line, proc.stderr
    run_dir = (tmp_path / "reports" / "latest").resolve()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert [(nb["name"], nb["status"]) for nb in manifest["notebooks"]] == [
        ("01_eda", "ok"), ("02_profiling", "failed"), ("03_recommend", "not run"),
        ("04_generate", "not run"), ("05_feedback", "not run")]
    html = (run_dir / "02_profiling.html").read_text(encoding="utf-8")
    banner = html.find('class="cl-banner cl-banner-error"')
    assert banner >= 0 and html.find("guesswork", banner) > banner
    first_cell = html.find('<div class="jp-Cell')
    assert first_cell == -1 or banner < first_cell, "the error banner comes before the notebook's content"
    assert "Exploratory data analysis" in (run_dir / "01_eda.html").read_text(encoding="utf-8")
    assert manifest["notebooks"][0]["metrics"]["events_rows"] > 0


def test_feedback_priors_record_their_profile_for_the_next_cycle(tiny_run):
    priors = json.loads((tiny_run.run_dir / "feedback_priors.json").read_text(encoding="utf-8"))
    assert priors["profile"] == "tiny" and priors["run_id"] == tiny_run.run_id


@pytest.mark.parametrize("name", [
    "01_eda.html", "02_profiling.html", "03_recommend.html", "04_generate.html", "05_feedback.html", "content_cards.html", "index.html", "../index.html"])
def test_no_report_shows_a_traceback_a_repr_or_a_missing_value(tiny_run, name):
    from contentlab.report import lint_report

    problems = lint_report(tiny_run.report_dir / name)
    assert problems == [], problems
    # the runner checks every report it publishes and says so in the run's log
    stage = name.removesuffix(".html")
    if stage in STAGES:
        assert f"Report check: {name}" not in tiny_run.stdout


def test_a_failed_run_leaves_no_empty_directory_and_keeps_earlier_runs(tmp_path):
    """A missing dataset file fails 01 before it writes anything: no data/processed/<run-id>/ is left, the run's
    reports show the failure and become latest (the documented behaviour), the earlier run is untouched."""
    from conftest import run_cli

    earlier = tmp_path / "reports" / "20260101T000000-demo"
    earlier.mkdir(parents=True)
    (earlier / "index.html").write_text("<html>earlier</html>")
    (tmp_path / "data" / "processed" / "20260101T000000-demo").mkdir(parents=True)
    profile = tmp_path / "missing.yaml"
    profile.write_text(f"name: missing\nseed: 1\ndataset: {{kind: online_retail, path: {tmp_path / 'nowhere.csv'}}}\n")
    proc = run_cli(["run", "--profile", str(profile)], tmp_path, timeout=600)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("contentlab: 01_eda failed at cell") and "nowhere.csv does not exist" in line, line
    run_id = (tmp_path / "reports" / "latest").resolve().name
    assert run_id.endswith("-missing")
    assert not (tmp_path / "data" / "processed" / run_id).exists()
    assert sorted(p.name for p in (tmp_path / "data" / "processed").iterdir()) == ["20260101T000000-demo"]
    report_dir = tmp_path / "reports" / run_id
    assert {p.name for p in report_dir.iterdir()} >= {"index.html", "manifest.json", "01_eda.html", "01_eda.ipynb"}
    assert "nowhere.csv does not exist" in (report_dir / "01_eda.html").read_text(encoding="utf-8")
    assert "01_eda failed at cell" in (report_dir / "index.html").read_text(encoding="utf-8")
    assert (earlier / "index.html").read_text() == "<html>earlier</html>"



def test_incremental_run_reuses_every_unchanged_stage(tiny_run, tmp_path):
    """On a copy of the tiny run's home: `--incremental` with nothing changed reuses all five stages (the same
    manifest but for run ids and timings, in seconds); with another parameter for 03, 01 and 02 are reused, 03 and
    04 execute (their parameters, then their inputs changed), 05 executes exactly when 04's content changed."""
    import shutil

    from conftest import run_cli

    home = tmp_path / "home"
    shutil.copytree(tiny_run.home, home, symlinks=True)
    proc = run_cli(["run", "--profile", "tiny", "--incremental"], home, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    second = json.loads((home / "reports" / "latest" / "manifest.json").read_text(encoding="utf-8"))
    assert second["run_id"] != tiny_run.run_id
    assert [nb.get("reused_from") for nb in second["notebooks"]] == [tiny_run.run_id] * len(STAGES)
    assert comparable_manifest(second, home) == comparable_manifest(tiny_run.manifest, tiny_run.home)
    for stage in STAGES:
        assert f"{stage}: reused from {tiny_run.run_id}" in proc.stdout
    new_dir = home / "data" / "processed" / second["run_id"]
    for name in ("clean/events.parquet", "user_profiles.parquet", "recommendations.parquet", "content.parquet",
                 "feedback_priors.json"):
        assert (new_dir / name).read_bytes() == (tiny_run.run_dir / name).read_bytes(), name
    report_dir = home / "reports" / second["run_id"]
    assert (report_dir / "content_cards.html").is_file()  # what 04 wrote next to its report comes along
    from contentlab.report import lint_report
    for nb in second["notebooks"]:
        html = (report_dir / nb["report"]).read_text(encoding="utf-8")
        assert f"Run {second['run_id']}</a> · {nb['name']} · reused from run {tiny_run.run_id}" in html
        assert lint_report(report_dir / nb["report"]) == []

    # 03 refits its chosen model on every interaction: other recommendations, so 04 reads other inputs
    proc = run_cli(["run", "--profile", "tiny", "--incremental", "--params", "03_recommend.refit_full=true"], home,
                   timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    third = json.loads((home / "reports" / "latest" / "manifest.json").read_text(encoding="utf-8"))
    reused = {nb["name"]: nb.get("reused_from") for nb in third["notebooks"]}
    assert reused["01_eda"] == reused["02_profiling"] == tiny_run.run_id
    assert reused["03_recommend"] is None and reused["04_generate"] is None
    assert "04_generate: not reused (changed since run" in proc.stdout and "inputs recommendations" in proc.stdout
    third_dir = home / "data" / "processed" / third["run_id"]
    for name in ("recommendations.parquet", "content.parquet"):
        changed = (third_dir / name).read_bytes() != (tiny_run.run_dir / name).read_bytes()
        assert changed or name == "content.parquet", f"{name} did not change"
    assert (reused["05_feedback"] is None) == changed  # 05 executes exactly when its input (04's content) changed
    assert all(nb["status"] == "ok" for nb in third["notebooks"])
    assert third["parameters"]["notebooks"]["03_recommend"]["refit_full"] is True
