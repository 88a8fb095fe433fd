"""``contentlab run`` on tiny fixture notebooks (tests/fixtures/notebooks) in a temporary project home.

The fixture 01 writes a product (``clean/marker.json``), prints and displays a ``<script>`` title, draws a
figure, records metrics and has ``hide`` and ``summary`` cells; the fixture 02 reads 01's product and fails
when its ``threshold`` parameter is negative.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, comparable_manifest, run_cli
from contentlab import run
from contentlab.run import registry

NB_DIR = FIXTURES / "notebooks"
PROFILE = str(FIXTURES / "profiles" / "tiny.yaml")  # tiny, without the real notebooks' overrides
RUN_ID = re.compile(r"^\d{8}T\d{6}-tiny(-\d+)?$")
MANIFEST_KEYS = {"run_id", "profile", "engine", "parameters", "versions", "inputs", "notebooks"}
NOTEBOOK_KEYS = {"name", "status", "duration_s", "report", "metrics"}
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _cli(home: Path, *args: str):
    return run_cli(["run", "--profile", PROFILE, "--notebooks-dir", str(NB_DIR), *args], home, timeout=300)


def _manifest(home: Path, run_id: str) -> dict:
    return json.loads((home / "reports" / run_id / "manifest.json").read_text(encoding="utf-8"))


def _run_ids(home: Path) -> list[str]:
    root = home / "reports"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()) if root.exists() else []


def _digest(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs in one home: A succeeds, B fails on a broken parameter, C reruns 02 on A's products."""
    home = tmp_path_factory.mktemp("runner_home")
    out = {"home": home}
    out["a"] = _cli(home)
    ids = _run_ids(home)
    out["a_id"] = ids[-1] if ids else None
    out["latest_after_a"] = os.readlink(home / "reports" / "latest") if (home / "reports" / "latest").is_symlink() else None
    out["a_digest"] = _digest(home / "reports" / out["a_id"]) if out["a_id"] else {}
    out["b"] = _cli(home, "--params", "02_profiling.threshold=-1")
    out["b_id"] = sorted(set(_run_ids(home)) - {out["a_id"]})[-1]
    out["latest_after_b"] = os.readlink(home / "reports" / "latest")
    # C through the Python API (saves an interpreter start-up; the CLI is covered by A and B)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(home))
        out["c"] = run.run_pipeline(PROFILE, only=["02_profiling"], from_run=out["a_id"],
                                       params=["threshold=0.75"], notebooks_dir=NB_DIR)
    out["c_id"] = out["c"].run_id
    return out


@pytest.mark.slow
def test_successful_run_writes_manifest_and_index(runs):
    proc, home, run_id = runs["a"], runs["home"], runs["a_id"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert RUN_ID.match(run_id)
    assert runs["latest_after_a"] == run_id
    report_dir = home / "reports" / run_id
    run_dir = home / "data" / "processed" / run_id
    assert (report_dir / "index.html").is_file() and run_dir.is_dir()

    manifest = _manifest(home, run_id)
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["run_id"] == run_id and manifest["profile"] == "tiny"
    assert manifest["engine"] == "duckdb"  # the default engine; spark_master/spark_version only on Spark
    assert [nb["name"] for nb in manifest["notebooks"]] == list(run.STAGES)
    for nb in manifest["notebooks"]:
        assert set(nb) == NOTEBOOK_KEYS
    by_name = {nb["name"]: nb for nb in manifest["notebooks"]}
    assert by_name["01_eda"]["status"] == "ok" and by_name["02_profiling"]["status"] == "ok"
    assert all(by_name[s]["status"] == "missing" for s in ("03_recommend", "04_generate", "05_feedback"))
    assert by_name["01_eda"]["report"] == "01_eda.html" and (report_dir / "01_eda.html").is_file()
    assert (report_dir / "01_eda.ipynb").is_file() and (report_dir / "02_profiling.html").is_file()
    assert by_name["01_eda"]["duration_s"] > 0
    # recorded metrics, from the executed notebooks
    assert by_name["01_eda"]["metrics"] == {"events_rows": 1234, "gmv": 4567.25, "top_n": 3, "seed": 7}
    assert by_name["02_profiling"]["metrics"] == {"upstream_seed": 7, "own_product_preexisting": False,
                                                 "threshold": 0.5}
    # parameters: the resolved profile and what each notebook received (only what it declares)
    params = manifest["parameters"]
    assert params["profile"]["name"] == "tiny" and params["overrides"] == {}
    eda = params["notebooks"]["01_eda"]
    assert eda["seed"] == 7 and eda["dataset"]["n_users"] == 300 and eda["profile"] == "tiny"
    assert eda["run_dir"] == str(run_dir.resolve()) and eda["report_dir"] == str(report_dir.resolve())
    assert params["notebooks"]["02_profiling"] == {"run_dir": str(run_dir.resolve())}
    versions = manifest["versions"]
    for key in ("python", "contentlab", "git_commit", "pandas", "numpy", "torch", "transformers", "surprise",
                "papermill"):
        assert key in versions
    assert versions["papermill"] and versions["pandas"]
    assert isinstance(manifest["inputs"], dict)

    index = (report_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="01_eda.html"' in index and 'href="02_profiling.html"' in index
    assert "Fixture EDA report" in index and "4,567.25" in index and "1,234" in index
    assert "<script" not in index
    assert "complete (2 of 2 notebooks OK); no notebook for 03_recommend, 04_generate, 05_feedback" in index


@pytest.mark.slow
def test_report_has_no_code_and_opens_with_summary(runs):
    html = (runs["home"] / "reports" / runs["a_id"] / "01_eda.html").read_text(encoding="utf-8")
    body = html[html.index("<body"):]
    for absent in ("import matplotlib", "record(", "top_n = 3", "Parameters\n", "HIDDEN-OUTPUT-MARKER",
                   "noise on stderr", "vnd.contentlab", "In&nbsp;["):
        assert absent not in body, absent
    assert '<h1 class="cl-title">Fixture EDA report</h1>' in body
    assert body.index("SUMMARY-MARKER") < body.index("A tiny stage notebook") < body.index("Top product")
    assert body.index("cl-header") < body.index("SUMMARY-MARKER")
    # self-contained: no script or stylesheet from anywhere, figure embedded
    assert not re.search(r"<script\b|<link\b|@import", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "data:image/png;base64," in body
    # the <script> product title is text: printed, in a DataFrame, in HTML and in Markdown output
    assert body.count(ESCAPED) >= 4


@pytest.mark.slow
def test_failing_notebook_stops_run_with_one_line_and_keeps_reports(runs):
    proc, home, run_id = runs["b"], runs["home"], runs["b_id"]
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(r"contentlab: 02_profiling failed at cell 4 \(ValueError: threshold must be >= 0, "
                        r"got -1\); report: .*02_profiling\.html", lines[0]), lines[0]
    report_path = Path(lines[0].split("report: ", 1)[1])
    assert report_path.resolve() == (home / "reports" / run_id / "02_profiling.html").resolve()

    manifest = _manifest(home, run_id)
    assert set(manifest) == MANIFEST_KEYS
    status = {nb["name"]: nb["status"] for nb in manifest["notebooks"]}
    assert status["01_eda"] == "ok" and status["02_profiling"] == "failed"
    failed = next(nb for nb in manifest["notebooks"] if nb["name"] == "02_profiling")
    assert failed["report"] == "02_profiling.html" and failed["metrics"] == {"upstream_seed": 7,
                                                                              "own_product_preexisting": False}
    assert manifest["parameters"]["overrides"] == {"02_profiling.threshold": -1}

    html = (home / "reports" / run_id / "02_profiling.html").read_text(encoding="utf-8")
    body = html[html.index("<body"):]
    banner = body.index("cl-banner-error")
    assert banner < body.index("<article") < body.index("PROFILING-BEFORE-MARKER")
    assert "failed at cell 4" in body and "threshold must be &gt;= 0, got -1" in body
    assert "PROFILING-AFTER-MARKER" not in body
    index = (home / "reports" / run_id / "index.html").read_text(encoding="utf-8")
    assert "Failed" in index and "02_profiling failed at cell 4" in index
    # earlier reports kept: this run's 01 and the whole earlier run, byte for byte
    assert (home / "reports" / run_id / "01_eda.html").is_file()
    assert _digest(home / "reports" / runs["a_id"]) == runs["a_digest"]
    # a failed run is still the latest
    assert runs["latest_after_b"] == run_id


@pytest.mark.slow
def test_repeated_runs_get_their_own_directories(runs):
    home = runs["home"]
    ids = {runs["a_id"], runs["b_id"], runs["c_id"]}
    assert len(ids) == 3
    for run_id in ids:
        assert (home / "reports" / run_id / "manifest.json").is_file()
        assert (home / "data" / "processed" / run_id).is_dir()
    runs_index = (home / "reports" / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)/index.html"', runs_index)
    assert links[0] == "latest" and sorted(links[1:], reverse=True) == links[1:] and set(links[1:]) == ids


@pytest.mark.slow
def test_only_reruns_a_stage_on_products_of_an_earlier_run(runs):
    result, home, run_id = runs["c"], runs["home"], runs["c_id"]
    assert result.ok and result.failure_line() is None
    assert RUN_ID.match(run_id)
    manifest = _manifest(home, run_id)
    assert manifest == result.manifest
    assert [nb["name"] for nb in manifest["notebooks"]] == ["02_profiling"]
    nb = manifest["notebooks"][0]
    assert nb["status"] == "ok"
    # 02 found 01's product (copied from run A) but not its own product from A
    assert nb["metrics"] == {"upstream_seed": 7, "own_product_preexisting": False, "threshold": 0.75}
    a_dir, c_dir = home / "data" / "processed" / runs["a_id"], home / "data" / "processed" / run_id
    assert (c_dir / "clean" / "marker.json").read_bytes() == (a_dir / "clean" / "marker.json").read_bytes()
    assert json.loads((c_dir / "profiles.json").read_text()) == {"threshold": 0.75}
    index = (home / "reports" / run_id / "index.html").read_text(encoding="utf-8")
    assert f"Products of 01_eda copied from run {runs['a_id']} (2 files)." in index
    assert os.readlink(home / "reports" / "latest") == run_id


@pytest.mark.slow
def test_unknown_parameter_is_a_clear_error_and_runs_nothing(runs, monkeypatch):
    home = runs["home"]
    before = _run_ids(home)
    proc = _cli(home, "--params", "01_eda.topn=5")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "contentlab: error: --params 01_eda.topn: 01_eda has no parameter 'topn' "
        "(declared: dataset, profile, report_dir, run_dir, seed, top_n)"]
    # the same checks in-process (no interpreter start-up per case)
    monkeypatch.setenv("CONTENTLAB_HOME", str(home))
    cases = [
        (dict(params=["thresold=1"]), "no notebook in this run declares a parameter 'thresold'"),
        (dict(only=["02_profiling"], from_run="no-such-run"), "--from-run no-such-run: no such run"),
        (dict(only=["07_nothing"]), "unknown stage(s) 07_nothing"),
        (dict(from_run=runs["a_id"]), "--from-run needs --only"),
        (dict(notebooks_dir=home / "nowhere"), "notebooks directory not found"),
    ]
    for kwargs, message in cases:
        kwargs.setdefault("notebooks_dir", NB_DIR)
        with pytest.raises(run.RunError, match=re.escape(message)):
            run.run_pipeline(PROFILE, **kwargs)
    assert _run_ids(home) == before


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(run.RunError, match=r"unknown profile 'nosuchprofile'; packaged profiles: .*tiny"):
        run.load_profile("nosuchprofile")


# ---------------------------------------------------------------------------------------------------
# units: parameters, run ids, latest pointer


def _profile():
    return {"name": "t", "seed": 3, "dataset": {"kind": "demo", "n_users": 10},
            "notebooks": {"01_eda": {"top_n": 4}}}


DECLARED = {"01_eda": {"seed": "0", "dataset": "{}", "top_n": "3", "plot": "{'width': 6}"},
            "02_profiling": {"run_dir": "'.'", "threshold": "0.5", "top_n": "1"}}


def test_resolve_parameters_layers_profile_and_overrides(tmp_path):
    overrides = run.parse_overrides(["top_n=9", "02_profiling.threshold=0.1", "dataset.n_users=50",
                                        "seed=11", "01_eda.plot.height=2", "01_eda.top_n=[1, 2]"])
    assert overrides["01_eda.top_n"] == [1, 2] and overrides["dataset.n_users"] == 50
    resolved = run.resolve_parameters(_profile(), overrides, DECLARED, tmp_path / "run", tmp_path / "rep")
    assert resolved["01_eda"] == {"seed": 11, "dataset": {"kind": "demo", "n_users": 50}, "top_n": [1, 2],
                                  "plot": {"width": 6, "height": 2}}
    assert resolved["02_profiling"] == {"run_dir": str(tmp_path / "run"), "threshold": 0.1, "top_n": 9}
    # without overrides: the profile's per-notebook values, common parameters only where declared
    plain = run.resolve_parameters(_profile(), {}, DECLARED, tmp_path / "run", tmp_path / "rep")
    assert plain["01_eda"] == {"seed": 3, "dataset": {"kind": "demo", "n_users": 10}, "top_n": 4}


@pytest.mark.parametrize("items, message", [
    (["01_eda.topn=1"], "01_eda has no parameter 'topn'"),
    (["nope=1"], "no notebook in this run declares a parameter 'nope'"),
    (["run_dir=/tmp"], "cannot be overridden"),
    (["profile=demo"], "use --profile"),
    (["03_recommend.k=1"], "stage 03_recommend is not part of this run"),
    (["seed.x=1"], "not a mapping"),
    (["inputs=1"], "'inputs' cannot be overridden (it is set by the runner)"),
    (["02_profiling.inputs.clean=x"], "02_profiling has no parameter 'inputs'"),
])
def test_bad_overrides_are_rejected(tmp_path, items, message):
    with pytest.raises(run.RunError, match=re.escape(message)):
        run.resolve_parameters(_profile(), run.parse_overrides(items), DECLARED, tmp_path, tmp_path)


def test_profile_override_of_undeclared_parameter_is_rejected(tmp_path):
    profile = _profile()
    profile["notebooks"]["02_profiling"] = {"treshold": 1}
    with pytest.raises(run.RunError, match="notebooks.02_profiling.treshold"):
        run.resolve_parameters(profile, {}, DECLARED, tmp_path, tmp_path)


def test_inputs_is_the_runners_to_set(tmp_path):
    declared = {**DECLARED, "02_profiling": {**DECLARED["02_profiling"], "inputs": "{}"}}
    profile = _profile()
    profile["notebooks"]["02_profiling"] = {"inputs": {"clean": "/elsewhere"}}
    with pytest.raises(run.RunError, match="notebooks.02_profiling.inputs: 'inputs' is set by the runner"):
        run.resolve_parameters(profile, {}, declared, tmp_path, tmp_path)
    with pytest.raises(run.RunError, match="--params 02_profiling.inputs: 'inputs' is set by the runner"):
        run.resolve_parameters(_profile(), run.parse_overrides(["02_profiling.inputs={}"]), declared, tmp_path,
                               tmp_path)
    # resolved when the stage starts (from the products written before it), not with the other parameters
    assert "inputs" not in run.resolve_parameters(_profile(), {}, declared, tmp_path, tmp_path)["02_profiling"]
    # a misspelt parameter is listed against what the notebooks declare besides the standard parameters
    with pytest.raises(run.RunError, match=r"declares a parameter 'imputs' \(declared: plot, threshold, top_n\)"):
        run.resolve_parameters(_profile(), run.parse_overrides(["imputs=1"]), declared, tmp_path, tmp_path)


def test_parse_overrides_rejects_malformed():
    for bad in ("novalue", "=3", "a b=1"):
        with pytest.raises(run.RunError):
            run.parse_overrides([bad])
    assert run.parse_overrides(["title=Hello: world: x"]) == {"title": "Hello: world: x"}


def test_load_profile_validates(tmp_path):
    assert run.load_profile("tiny")["name"] == "tiny"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"seed": 1, "dataset": {"kind": "demo"}, "notebooks": {"01_eda": {"a": 1}}}))
    profile = run.load_profile(str(path))
    assert profile["name"] == "mine" and profile["notebooks"] == {"01_eda": {"a": 1}}
    path.write_text(yaml.safe_dump({"seed": 1, "dataset": {"kind": "demo"}, "notebooks": {"01_edaa": {}}}))
    with pytest.raises(run.RunError, match="01_edaa"):
        run.load_profile(str(path))


def test_run_ids_are_unique_and_never_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    import datetime as dt

    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ids = [run.allocate("demo", None, now)[0] for _ in range(3)]
    assert ids == ["20260102T030405-demo", "20260102T030405-demo-2", "20260102T030405-demo-3"]
    with pytest.raises(run.RunError, match="already exists"):
        run.allocate("demo", "20260102T030405-demo", now)


def test_latest_pointer_moves_forward_only_and_falls_back_to_text(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    reports = tmp_path / "reports"
    for run_id in ("20260101T000000-demo", "20260102T000000-demo"):
        (reports / run_id).mkdir(parents=True)
    run.point_latest("20260102T000000-demo")
    run.point_latest("20260101T000000-demo")  # finished later but started earlier: latest stays
    assert os.readlink(reports / "latest") == "20260102T000000-demo"
    (reports / "20260103T000000-demo").mkdir()

    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported")

    monkeypatch.setattr(registry.os, "symlink", no_symlinks)
    assert run.point_latest("20260103T000000-demo") == reports / "latest.txt"
    assert (reports / "latest.txt").read_text().strip() == "20260103T000000-demo"


def test_latest_successful_run_skips_failed_and_other_profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))

    def fake(run_id, profile, statuses):
        (tmp_path / "data" / "processed" / run_id).mkdir(parents=True)
        (tmp_path / "reports" / run_id).mkdir(parents=True)
        nbs = [{"name": s, "status": st, "duration_s": 1, "report": None, "metrics": {}}
               for s, st in zip(run.STAGES, statuses)]
        (tmp_path / "reports" / run_id / "manifest.json").write_text(json.dumps(
            {"run_id": run_id, "profile": profile, "notebooks": nbs}))

    fake("20260101T000000-demo", "demo", ["ok", "ok"])
    fake("20260102T000000-demo", "demo", ["ok", "failed", "not run"])
    fake("20260103T000000-tiny", "tiny", ["ok", "ok"])
    assert run.latest_run("demo") == "20260101T000000-demo"
    assert run.latest_run("tiny") == "20260103T000000-tiny"
    assert run.latest_run("demo", successful=False) == "20260102T000000-demo"


# ---------------------------------------------------------------------------------------------------
# what a run leaves behind, the report check, clean


def _stage_notebook(path: Path) -> None:
    """A one-stage notebook whose ``mode`` parameter makes it succeed (showing a repr and a NaN), fail before
    writing anything (a missing dataset file) or skip itself inside an ``except`` block (the 05 pattern)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [
        new_markdown_cell("# One stage\n\nA stage for the runner tests."),
        new_code_cell('mode = "ok"\nrun_dir = "."\nreport_dir = "."', metadata={"tags": ["parameters"]}),
        new_code_cell("from pathlib import Path\nimport contentlab\n"
                      "if mode == 'fail':\n"
                      "    raise FileNotFoundError('dataset file /nowhere/shop.csv does not exist')\n"
                      "if mode == 'skip':\n"
                      "    try:\n"
                      "        raise LookupError('no exposure log')\n"
                      "    except LookupError as exc:\n"
                      "        contentlab.skip_stage(f'{exc}: nothing to analyse yet')\n"
                      "(Path(run_dir) / 'product.txt').write_text('made')\n"
                      "print('STAGE-RAN')"),
        new_code_cell("object()"),
        new_code_cell("float('nan')"),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                       "language": "python"},
                                                       "language_info": {"name": "python"}}), str(path))


@pytest.mark.slow
def test_failed_run_leaves_no_empty_directory_skip_shows_no_traceback_and_report_check_warns(tmp_path, monkeypatch,
                                                                                          caplog):
    from contentlab.report import lint_report

    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path / "home"))
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    _stage_notebook(nb_dir / "01_eda.ipynb")
    profile = {"name": "one", "seed": 1, "dataset": {"kind": "demo"}, "notebooks": {}}
    reports, processed = tmp_path / "home" / "reports", tmp_path / "home" / "data" / "processed"

    # a run whose report shows a repr and a nan: published, with a warning in the log and a note in its index
    with caplog.at_level("WARNING", logger="contentlab.run"):
        ok = run.run_pipeline(profile, notebooks_dir=nb_dir, params=["mode=ok"])
    assert ok.ok and (ok.run_dir / "product.txt").is_file()
    problems = lint_report(ok.report_dir / "01_eda.html")
    assert any(p.startswith("repr:") and "object at 0x" in p for p in problems), problems
    assert any(p.startswith("missing value:") for p in problems), problems
    assert ok.notebooks[0].report_problems == problems
    assert "Report check: 01_eda.html shows" in caplog.text and "object at 0x" in caplog.text
    index = (ok.report_dir / "index.html").read_text(encoding="utf-8")
    assert "Report check: 01_eda.html shows 2 things a report must not (repr × 1, missing value × 1)." in index
    assert lint_report(ok.report_dir / "index.html") == []  # the note names the kinds, it does not repeat them
    digest = _digest(ok.report_dir)

    # a run that fails before any stage wrote a product: no empty data/processed/<run-id>/ is left behind; its
    # reports (the failure) are kept and become latest; the earlier run stays intact
    failed = run.run_pipeline(profile, notebooks_dir=nb_dir, params=["mode=fail"])
    assert failed.failed is not None and "shop.csv does not exist" in failed.failure_line()
    assert not failed.run_dir.exists() and not (processed / failed.run_id).exists()
    assert (failed.report_dir / "01_eda.html").is_file() and (failed.report_dir / "manifest.json").is_file()
    assert "01_eda failed at cell 3" in (failed.report_dir / "index.html").read_text(encoding="utf-8")
    assert os.readlink(reports / "latest") == failed.run_id
    assert lint_report(failed.report_dir / "01_eda.html") == []  # the traceback is inside the failure banner
    assert _digest(ok.report_dir) == digest and (ok.run_dir / "product.txt").is_file()
    assert sorted(p.name for p in processed.iterdir()) == [ok.run_id]

    # a stage that skips itself inside an except block: the reason, no traceback anywhere
    skipped = run.run_pipeline(profile, notebooks_dir=nb_dir, params=["mode=skip"])
    assert skipped.ok and skipped.notebooks[0].status == run.SKIPPED
    html = (skipped.report_dir / "01_eda.html").read_text(encoding="utf-8")
    assert lint_report(skipped.report_dir / "01_eda.html") == []
    assert "no exposure log: nothing to analyse yet" in html and "LookupError" not in html
    assert not skipped.run_dir.exists()  # nothing written: nothing left in data/processed

    runs_index = (reports / "index.html").read_text(encoding="utf-8")
    assert all(r in runs_index for r in (ok.run_id, failed.run_id, skipped.run_id))


def test_prune_empty_run_removes_only_what_holds_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    reports, processed = tmp_path / "reports", tmp_path / "data" / "processed"

    def make(run_id, manifest=True, product=False, bookkeeping=True):
        (reports / run_id).mkdir(parents=True)
        (processed / run_id / "clean").mkdir(parents=True)
        if manifest:
            (reports / run_id / "manifest.json").write_text("{}")
        if bookkeeping:
            (processed / run_id / run.STAGES_FILE).write_text("{}")
        if product:
            (processed / run_id / "clean" / "events.parquet").write_text("x")

    make("a-published-empty")
    make("b-published-products", product=True)
    make("c-never-published", manifest=False, product=True)
    assert run.prune_empty_run("a-published-empty") == [processed / "a-published-empty"]
    assert (reports / "a-published-empty" / "manifest.json").is_file()
    assert run.prune_empty_run("b-published-products") == []
    assert (processed / "b-published-products" / "clean" / "events.parquet").is_file()
    assert set(run.prune_empty_run("c-never-published")) == {reports / "c-never-published",
                                                               processed / "c-never-published"}
    assert run.prune_empty_run("d-absent") == []


def _fake_run(home: Path, run_id: str, status: str = "ok") -> None:
    (home / "data" / "processed" / run_id / "clean").mkdir(parents=True)
    (home / "data" / "processed" / run_id / "clean" / "events.parquet").write_text("x")
    (home / "reports" / run_id).mkdir(parents=True)
    (home / "reports" / run_id / "index.html").write_text("<html></html>")
    (home / "reports" / run_id / "manifest.json").write_text(json.dumps(
        {"run_id": run_id, "profile": run_id.split("-", 1)[1],
         "notebooks": [{"name": "01_eda", "status": status, "duration_s": 1, "report": None, "metrics": {}}]}))


def test_clean_keeps_the_newest_and_latest_and_rewrites_the_index(tmp_path, monkeypatch, capsys):
    from contentlab import cli

    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    ids = ["20260101T000000-demo", "20260102T000000-tiny", "20260103T000000-demo", "20260104T000000-demo"]
    for run_id in ids:
        _fake_run(tmp_path, run_id)
    run.point_latest(ids[-1])
    run.write_runs_index()
    (tmp_path / "data" / "raw" / "shop").mkdir(parents=True)
    (tmp_path / "data" / "processed" / "scratch-01_eda-demo-x").mkdir()  # a notebook opened by hand: not a run
    (tmp_path / "reports" / "cron.log").write_text("nightly\n")

    assert cli.main(["clean", "--keep", "2", "--dry-run"]) == 0
    assert "would delete 2 runs" in capsys.readouterr().out
    assert _run_ids(tmp_path) == ids  # a dry run deletes nothing

    assert cli.main(["clean", "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert f"deleted 2 runs, kept 2: {ids[3]}, {ids[2]}" in out
    assert _run_ids(tmp_path) == ids[2:]
    assert sorted(p.name for p in (tmp_path / "data" / "processed").iterdir()) == [*ids[2:], "scratch-01_eda-demo-x"]
    assert (tmp_path / "data" / "raw" / "shop").is_dir() and (tmp_path / "reports" / "cron.log").is_file()
    assert os.readlink(tmp_path / "reports" / "latest") == ids[3]
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'href="([^"]+)/index.html"', index) == ["latest", ids[3], ids[2]]

    # `latest` is kept even when it is not among the newest, and so is a run in progress (whatever its age);
    # a run that died mid-way (its lock file left, nobody holding it) is an old run like any other
    (tmp_path / "reports" / "latest").unlink()
    run.point_latest(ids[2])
    _fake_run(tmp_path, "20251231T000000-demo", status="running")
    _fake_run(tmp_path, "20251230T000000-demo", status="running")
    (tmp_path / "reports" / "20251230T000000-demo" / run.RUNNING_FILE).write_text("")
    _fake_run(tmp_path, "20260105T000000-demo")
    with run.running(tmp_path / "reports" / "20251231T000000-demo"):
        assert run.is_running("20251231T000000-demo") and not run.is_running("20251230T000000-demo")
        result = run.clean_runs(keep=1)
    assert sorted(result.removed) == ["20251230T000000-demo", ids[3]]
    assert result.kept == ["20260105T000000-demo", ids[2], "20251231T000000-demo"]
    assert _run_ids(tmp_path) == ["20251231T000000-demo", ids[2], "20260105T000000-demo"]
    assert not run.is_running("20251231T000000-demo")
    assert cli.main(["clean", "--keep", "0"]) == 2
    assert "--keep must be at least 1" in capsys.readouterr().err


def test_clean_on_a_fresh_home_does_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    result = run.clean_runs(keep=1)
    assert result.removed == [] and result.kept == []


# ---------------------------------------------------------------------------------------------------
# Makefile targets


def test_make_clean_reports_calls_contentlab_clean():
    import subprocess

    out = subprocess.run(["make", "-n", "--no-print-directory", "-o", "setup", "clean-reports", "KEEP=3"], cwd=str(FIXTURES.parent.parent),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines() == [".venv/bin/contentlab clean --keep 3"]


def test_make_report_incremental_runs_contentlab_incremental():
    import subprocess

    def dry(*args):
        return subprocess.run(["make", "-n", "--no-print-directory", "-o", "setup", *args], cwd=str(FIXTURES.parent.parent),
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()

    assert dry("report-incremental", "PROFILE=tiny") == [".venv/bin/contentlab run --profile tiny --incremental"]
    assert dry("report", "ARGS=--incremental") == [".venv/bin/contentlab run --profile demo --incremental"]


def test_make_benchmarks_runs_every_script_and_reports_failures_at_the_end(tmp_path):
    import subprocess
    import sys

    (tmp_path / "bin").mkdir()
    os.symlink(sys.executable, tmp_path / "bin" / "python")
    scripts = []
    for name, code in (("a_short.py", "import sys; print('A-RAN'); sys.exit(1)"), ("b_ok.py", "print('B-RAN')"),
                       ("c_crash.py", "raise RuntimeError('C-RAN')"), ("d_ok.py", "print('D-RAN')")):
        (tmp_path / name).write_text(code + "\n")
        scripts.append(str(tmp_path / name))
    proc = subprocess.run(["make", "-s", "-o", "setup", "benchmarks", f"BENCHMARKS={' '.join(scripts)}",
                           f"BIN={tmp_path / 'bin'}"], cwd=str(FIXTURES.parent.parent), capture_output=True, text=True)
    assert proc.returncode != 0
    for marker in ("A-RAN", "B-RAN", "D-RAN"):
        assert marker in proc.stdout
    assert "C-RAN" in proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last == f"benchmarks short of their goals or failed: {scripts[0]} {scripts[2]}"
    ok = subprocess.run(["make", "-s", "-o", "setup", "benchmarks", f"BENCHMARKS={scripts[1]}",
                         f"BIN={tmp_path / 'bin'}"], cwd=str(FIXTURES.parent.parent), capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip().splitlines()[-1] == "all benchmarks met their goals"


# ---------------------------------------------------------------------------------------------------
# inputs through the contract, the previous cycle, --only without upstream products


def _notebook(path: Path, title: str, parameters: str, code: str) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [new_markdown_cell(f"# {title}"), new_code_cell(parameters, metadata={"tags": ["parameters"]}),
             new_code_cell(code)]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                       "language": "python"},
                                                       "language_info": {"name": "python"}}), str(path))


def _contract_notebooks(nb_dir: Path) -> None:
    """01 writes clean/ and (unless mode=no-dataset) dataset.json; 04 records the ``inputs`` it is handed; 05
    writes feedback_priors.json, then fails with mode=fail."""
    nb_dir.mkdir()
    _notebook(nb_dir / "01_eda.ipynb", "Prepare", 'run_dir = "."\nmode = "ok"',
              "import json\nfrom pathlib import Path\n"
              "(Path(run_dir) / 'clean').mkdir(exist_ok=True)\n(Path(run_dir) / 'clean' / 't.txt').write_text('t')\n"
              "if mode != 'no-dataset':\n"
              "    (Path(run_dir) / 'dataset.json').write_text(json.dumps({'name': 'n', 'locale': 'en'}))")
    _notebook(nb_dir / "04_generate.ipynb", "Generate", 'run_dir = "."\ninputs = {}',
              "import contentlab\ncontentlab.record('inputs', inputs)")
    _notebook(nb_dir / "05_feedback.ipynb", "Feedback", 'run_dir = "."\nprofile = "none"\nmode = "ok"',
              "import json\nfrom pathlib import Path\n"
              "(Path(run_dir) / 'feedback_priors.json').write_text(json.dumps({'schema_version': 1, "
              "'run_id': Path(run_dir).name, 'profile': profile, 'cells': []}))\n"
              "if mode == 'fail':\n    raise ValueError('after the priors')")


@pytest.mark.slow
def test_each_stage_is_handed_its_inputs_and_the_previous_cycle_from_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path / "home"))
    nb_dir = tmp_path / "notebooks"
    _contract_notebooks(nb_dir)
    one = {"name": "one", "seed": 1, "dataset": {"kind": "demo"}, "notebooks": {}}
    other = {**one, "name": "other"}

    def handed(result):
        return next(nb for nb in result.notebooks if nb.name == "04_generate").metrics["inputs"]

    first = run.run_pipeline(one, notebooks_dir=nb_dir)
    assert first.ok, first.failure_line()
    assert handed(first) == {"clean": str(first.run_dir / "clean"), "dataset": str(first.run_dir / "dataset.json"),
                             "user_profiles": None, "personas": None, "recommendations": None,
                             "previous_feedback_priors": None}
    assert [nb["name"] for nb in first.manifest["notebooks"]] == list(run.STAGES)
    assert "inputs" not in first.manifest["parameters"]["notebooks"]["04_generate"]  # the notebook has them
    second = run.run_pipeline(one, notebooks_dir=nb_dir)
    assert handed(second)["previous_feedback_priors"] == str(first.run_dir / "feedback_priors.json")
    assert handed(second)["clean"] == str(second.run_dir / "clean")
    # neither another profile's cycle nor a run that failed counts as the previous cycle
    assert run.run_pipeline(other, notebooks_dir=nb_dir).ok
    failed = run.run_pipeline(one, notebooks_dir=nb_dir, params=["05_feedback.mode=fail"])
    assert failed.failed.name == "05_feedback" and (failed.run_dir / "feedback_priors.json").is_file()
    third = run.run_pipeline(one, notebooks_dir=nb_dir, only=["04_generate"])
    assert handed(third)["previous_feedback_priors"] == str(second.run_dir / "feedback_priors.json")
    assert (third.run_dir / "dataset.json").is_file()  # copied from the latest successful run, by the contract

    # a stage whose required input is missing fails before its first cell, saying which stage writes it
    broken = run.run_pipeline(one, notebooks_dir=nb_dir, params=["01_eda.mode=no-dataset"])
    assert broken.failed.name == "04_generate" and broken.failed.failure.ename == "ContractError"
    line = broken.failure_line()
    assert line.startswith("contentlab: 04_generate failed before its first cell (ContractError: 04_generate "
                           "needs dataset.json") and "which stage 01_eda writes" in line, line
    html = (broken.report_dir / "04_generate.html").read_text(encoding="utf-8")
    assert "cl-banner-error" in html and "needs dataset.json" in html
    assert [nb.status for nb in broken.notebooks] == ["ok", "missing", "missing", "failed", "not run"]

    # --only with nothing to take the upstream products from: refused before anything is created
    before = _run_ids(tmp_path / "home")
    with pytest.raises(run.RunError, match=re.escape(
            "--only 04_generate: the selected stages need clean and dataset.json (written by 01_eda); there is no "
            "earlier successful run of profile fresh to take them from. Run 01_eda too (--only 01_eda,04_generate) "
            "or take them from a run that has them (--from-run RUN_ID)")):
        run.run_pipeline({**one, "name": "fresh"}, notebooks_dir=nb_dir, only=["04_generate"])
    with pytest.raises(run.RunError, match=f"run {broken.run_id} does not have them"):
        run.run_pipeline(one, notebooks_dir=nb_dir, only=["04_generate"], from_run=broken.run_id)
    assert _run_ids(tmp_path / "home") == before


# ---------------------------------------------------------------------------------------------------
# --incremental



@pytest.mark.slow
def test_incremental_reuses_unchanged_stages_and_executes_what_changed(tmp_path, monkeypatch):
    import io

    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path / "home"))
    nb_dir = tmp_path / "notebooks"
    shutil.copytree(NB_DIR, nb_dir)
    first = run.run_pipeline(PROFILE, notebooks_dir=nb_dir)
    assert first.ok
    plain = run.run_pipeline(PROFILE, notebooks_dir=nb_dir)  # without --incremental every stage executes
    assert all("reused_from" not in nb for nb in plain.manifest["notebooks"])

    second = run.run_pipeline(PROFILE, notebooks_dir=nb_dir, incremental=True)
    assert second.ok
    entries = {nb["name"]: nb for nb in second.manifest["notebooks"]}
    assert entries["01_eda"]["reused_from"] == plain.run_id and entries["02_profiling"]["reused_from"] == plain.run_id
    assert all("reused_from" not in entries[s] for s in ("03_recommend", "04_generate", "05_feedback"))
    assert comparable_manifest(second.manifest) == comparable_manifest(plain.manifest)
    assert set(entries["01_eda"]) == NOTEBOOK_KEYS | {"reused_from"}
    # the same products and executed notebooks; the report names the new run and where it comes from
    digest = _digest(second.run_dir)
    assert digest.pop(run.STAGES_FILE) and digest == {k: v for k, v in _digest(plain.run_dir).items()
                                                      if k != run.STAGES_FILE}
    for stage in ("01_eda", "02_profiling"):
        src, dst = plain.report_dir / f"{stage}.ipynb", second.report_dir / f"{stage}.ipynb"
        assert dst.read_bytes() == src.read_bytes()
    html = (second.report_dir / "01_eda.html").read_text(encoding="utf-8")
    assert f"Run {second.run_id}</a> · 01_eda · reused from run {plain.run_id}</p>" in html
    assert f"<title>Fixture EDA report · {second.run_id}</title>" in html and html.count(plain.run_id) == 1
    index = (second.report_dir / "index.html").read_text(encoding="utf-8")
    assert f"reused from {plain.run_id}" in index and "reused from earlier runs: 01_eda, 02_profiling" in index

    # a changed parameter: 01 reused (from the run that executed it), 02 executed with the new value
    out = io.StringIO()
    third = run.run_pipeline(PROFILE, notebooks_dir=nb_dir, incremental=True, params=["02_profiling.threshold=0.9"],
                             progress=run.Progress(stream=out))
    entries = {nb["name"]: nb for nb in third.manifest["notebooks"]}
    assert entries["01_eda"]["reused_from"] == plain.run_id and "reused_from" not in entries["02_profiling"]
    assert entries["02_profiling"]["metrics"]["threshold"] == 0.9
    assert f"[1/2] 01_eda: reused from {plain.run_id} (4 metrics)" in out.getvalue()
    assert f"02_profiling: not reused (changed since run {second.run_id}: parameters threshold)" in out.getvalue()

    # 01's notebook changed but wrote the same products: 01 executed, 02 (default threshold) reused
    source = (nb_dir / "01_eda.ipynb").read_text(encoding="utf-8")
    (nb_dir / "01_eda.ipynb").write_text(source.replace("A tiny stage notebook", "A small stage notebook"),
                                         encoding="utf-8")
    fourth = run.run_pipeline(PROFILE, notebooks_dir=nb_dir, incremental=True)
    entries = {nb["name"]: nb for nb in fourth.manifest["notebooks"]}
    assert "reused_from" not in entries["01_eda"] and entries["02_profiling"]["reused_from"] == plain.run_id
    # 01's product changed (another top_n): both execute
    fifth = run.run_pipeline(PROFILE, notebooks_dir=nb_dir, incremental=True, params=["01_eda.top_n=4"])
    assert all("reused_from" not in nb for nb in fifth.manifest["notebooks"])
    assert fifth.manifest["notebooks"][0]["metrics"]["top_n"] == 4

    # a run whose products were cleaned away is not reused from
    shutil.rmtree(fifth.run_dir / "clean")
    sixth = run.run_pipeline(PROFILE, notebooks_dir=nb_dir, incremental=True, params=["01_eda.top_n=4"])
    assert "reused_from" not in sixth.manifest["notebooks"][0]


def test_a_replaced_parameter_names_its_replacement(tmp_path):
    declared = {**DECLARED, "03_recommend": {"search_options": "{}"}}
    profile = _profile()
    profile["notebooks"]["03_recommend"] = {"search_max_users": 500}
    with pytest.raises(run.RunError, match=re.escape("it was replaced by search_options: {max_users: N}")):
        run.resolve_parameters(profile, {}, declared, tmp_path, tmp_path)
    with pytest.raises(run.RunError, match=re.escape("03_recommend has no parameter 'search_max_users'; it was "
                                                     "replaced by search_options")):
        run.resolve_parameters(_profile(), run.parse_overrides(["03_recommend.search_max_users=5"]), declared,
                               tmp_path, tmp_path)
