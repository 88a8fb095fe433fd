"""HTML reports and the run index: self-contained, escaped, written for readers (no kernel needed)."""

from __future__ import annotations

import base64
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from contentlab import report
from contentlab.notebook import METRIC_MIME

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# a 1x1 PNG
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")).decode()


def _header(**kw):
    values = dict(stage="01_eda", run_id="20260101T020000-demo", profile="demo",
                  run_date="2026-01-01 02:00:00 UTC", parameters={"seed": 42, "dataset": {"kind": "demo"}})
    values.update(kw)
    return report.ReportHeader(**values)


def _executed_notebook(fail: bool = False):
    """What papermill leaves behind: injected parameters, outputs, tags."""
    cells = [
        new_markdown_cell("# Shop <em>behaviour</em> overview\n\nHow visitors browse and buy."),
        new_code_cell("seed = 0", metadata={"tags": ["parameters"]}),
        new_code_cell("# Parameters\nseed = 42\n", metadata={"tags": ["injected-parameters"]}),
        new_code_cell("import pandas as pd\nprint(title)", outputs=[
            new_output("stream", name="stdout", text=f"Top product: {EVIL}\n"),
            new_output("stream", name="stderr", text="FutureWarning: STDERR-NOISE\n"),
        ]),
        new_markdown_cell("## Funnel\n\nViews to purchases."),
        new_code_cell("display(table)", outputs=[
            new_output("display_data", data={
                "text/html": f"<table class='dataframe'><thead><tr><th>title</th></tr></thead>"
                             f"<tbody><tr><td>{ESCAPED}</td></tr></tbody></table>"
                             f"<p onclick='steal()'>raw {EVIL}</p><img src='https://cdn.example.com/x.png'>",
                "text/plain": "table"}),
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
            new_output("display_data", data={"application/javascript": "window.SCRIPT_OUTPUT = 1",
                                             "text/plain": "JS-FALLBACK"}),
        ]),
        new_code_cell("record('gmv', 10.5)", outputs=[
            new_output("display_data", data={METRIC_MIME: {"name": "gmv", "value": 10.5}},
                       metadata={"contentlab": {"metric": "gmv"}}),
            new_output("execute_result", data={"text/plain": "10.5"}, execution_count=5),
        ]),
        new_code_cell("debug()", metadata={"tags": ["hide"]}, outputs=[
            new_output("stream", name="stdout", text="HIDDEN-OUTPUT\n")]),
        new_code_cell("share", outputs=[new_output("execute_result", data={"text/plain": "0.25"},
                                                   execution_count=6)]),
    ]
    cells.append(new_code_cell("summary", metadata={"tags": ["summary"]}, outputs=[
        new_output("display_data", data={"text/markdown": f"**SUMMARY-MARKER** best seller {EVIL}",
                                         "text/plain": "summary"})]))
    cells.append(new_markdown_cell("SUMMARY-NOTE: conversion is 3 %.", metadata={"tags": ["summary"]}))
    if fail:
        cells.append(new_code_cell("1/0", outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero <b>",
            traceback=["\x1b[31mZeroDivisionError\x1b[0m: division by zero <b>"])]))
        cells.append(new_code_cell("after()", outputs=[new_output("stream", name="stdout", text="AFTER-FAIL\n")]))
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


def assert_self_contained(html: str) -> None:
    assert not re.search(r"<script\b", html, re.I), "reports carry no script at all"
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"""\ssrc\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"""href\s*=\s*["']?https?://[^"'>]*\.(css|js)\b""", html, re.I)
    assert not re.search(r"@import|url\(\s*[\"']?(https?:)?//", html, re.I)
    assert "mathjax" not in html.lower() and "require.js" not in html.lower() and "require.min.js" not in html


def test_sanitize_html_escapes_scripts_and_drops_remote_resources():
    dirty = (f"<p>ok</p>{EVIL}<img src='http://x/y.png' onerror='alert(2)'><a href='javascript:alert(3)'>l</a>"
             "<img src='data:image/png;base64,AAAA'><style>td {color: red}</style>"
             "<style>@import url(https://evil/x.css);</style><b style='color: red; background: url(http://x)'>b</b>")
    clean = report.sanitize_html(dirty)
    assert ESCAPED in clean and "<script" not in clean
    assert "onerror" not in clean and "javascript:" not in clean and "http://x" not in clean
    assert 'src="data:image/png;base64,AAAA"' in clean
    assert "<style>td {color: red}</style>" in clean and "@import" not in clean
    assert "<p>ok</p>" in clean


def test_markdown_output_shows_raw_html_as_text():
    html = report.markdown_output_html(f"**bold** {EVIL}")
    assert "<strong>bold</strong>" in html and ESCAPED in html and "<script" not in html


def test_report_is_for_readers_and_self_contained():
    html = report.render_report(_executed_notebook(), _header())
    assert_self_contained(html)
    body = html[html.index("<body"):]
    # title from the first H1, in the header, not repeated
    assert '<h1 class="cl-title">Shop behaviour overview</h1>' in body
    assert body.count("Shop behaviour overview") == 1 and "<title>Shop behaviour overview" in html
    assert "Run date: 2026-01-01 02:00:00 UTC" in body and "<strong>demo</strong>" in body
    # no code, no parameters cells, no hidden cells, no prompts
    for absent in ("import pandas", "seed = 42", "# Parameters", "HIDDEN-OUTPUT", "In&nbsp;[", "Out[",
                   "STDERR-NOISE", "SCRIPT_OUTPUT", "debug()"):
        assert absent not in body, absent
    # metrics never render, nor the value echoed by a trailing record(...)
    assert "vnd.contentlab" not in html and ">10.5<" not in body
    assert "0.25" in body  # an ordinary result is kept
    assert "JS-FALLBACK" in body  # JavaScript dropped, its text fallback shown
    # summary cells first, right after the header, then the notebook in order
    positions = [body.index(marker) for marker in
                 ("cl-header", "SUMMARY-MARKER", "SUMMARY-NOTE", "How visitors browse", "Top product", "Funnel")]
    assert positions == sorted(positions)
    # untrusted text escaped everywhere it appears
    assert body.count(ESCAPED) >= 4
    assert "onclick" not in body and "cdn.example.com" not in body
    assert f"data:image/png;base64,{PNG}" in body


def test_failed_report_has_error_banner_first_and_stops_at_failing_cell():
    nb = _executed_notebook(fail=True)
    failure = report.find_failure(nb)
    assert failure is not None
    assert (failure.cell, failure.ename) == (11, "ZeroDivisionError")  # injected cell not counted
    assert failure.n_cells == 12
    html = report.render_report(nb, _header(), failure)
    assert_self_contained(html)
    body = html[html.index("<body"):]
    banner = body.index("cl-banner-error")
    assert banner < body.index("SUMMARY-MARKER") and banner < body.index("<article")
    assert "failed at cell 11 of 12" in body
    assert "ZeroDivisionError</strong>: division by zero &lt;b&gt;" in body
    assert "AFTER-FAIL" not in body and "1 later code cell did not run" in body


def test_header_escapes_parameters_and_title():
    nb = new_notebook(cells=[new_markdown_cell(f"# Report {EVIL}")])
    html = report.render_report(nb, _header(parameters={"note": EVIL, EVIL: 1}, run_id="r<1>", profile="p&q"))
    assert "<script" not in html
    assert html.count(ESCAPED) >= 2
    assert "r&lt;1&gt;" in html and "p&amp;q" in html


def test_notebook_title_falls_back_to_stage():
    nb = new_notebook(cells=[new_markdown_cell("## Only a subheading"), new_code_cell("x")])
    assert report.notebook_title(nb) is None
    html = report.render_report(nb, _header(stage="03_recommend"))
    assert '<h1 class="cl-title">03_recommend</h1>' in html


def test_export_html_writes_file(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(_executed_notebook(), str(path))
    out = report.export_html(path, tmp_path / "nb.html", _header())
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(tmp_path.glob("*.tmp"))


def test_index_escapes_everything_and_links_reports():
    failure = report.CellFailure(ename="ValueError", evalue=f"bad {EVIL}", cell=7)
    manifest = {
        "run_id": "20260101T020000-demo", "profile": "demo",
        "parameters": {"profile": {"description": f"desc {EVIL}"}, "overrides": {"01_eda.x": EVIL}},
        "versions": {"contentlab": "0.1.0", "git_commit": "0123456789abcdef"},
        "inputs": {},
        "notebooks": [
            {"name": "01_eda", "status": "ok", "duration_s": 12.3, "report": "01_eda.html",
             "metrics": {"gmv": 12345.678, "label": EVIL, **{f"m{i}": i for i in range(14)}}},
            {"name": "02_profiling", "status": "failed", "duration_s": 75.0, "report": "02_profiling.html",
             "metrics": {}},
            {"name": "03_recommend", "status": "not run", "duration_s": None, "report": None, "metrics": {}},
        ],
    }
    html = report.render_index(manifest, run_date="2026-01-01 02:00:00 UTC", titles={"01_eda": EVIL},
                               failures={"02_profiling": failure})
    assert_self_contained(html)
    assert "<script" not in html and html.count(ESCAPED) >= 5
    assert 'href="01_eda.html"' in html and 'href="01_eda.ipynb"' in html and 'href="02_profiling.html"' in html
    assert "12,345.68" in html and "12.3 s" in html and "1 min 15 s" in html
    assert "Not run" in html and "Failed" in html and "02_profiling failed at cell 7" in html
    assert "4 more" in html  # 16 metrics: 12 shown, the rest folded
    assert "0123456789ab" in html
    assert "Status: <strong>failed at 02_profiling (1 of 3 notebooks OK)</strong>" in html


@pytest.mark.parametrize("value, text", [(1234567, "1,234,567"), (0.123456, "0.1235"), (True, "true"),
                                         (None, "null"), (float("nan"), "n/a"), (2.5e-7, "2.500e-07"),
                                         ({"a": 1}, "a=1"), ([1, 2], "[1, 2]")])
def test_format_value(value, text):
    assert report.format_value(value) == text


def test_runs_index_lists_runs_newest_first_escaped():
    manifests = [
        {"run_id": "20260101T000000-demo", "profile": "demo", "notebooks": [{"name": "01_eda", "status": "ok"}]},
        {"run_id": "20260102T000000-demo", "profile": EVIL,
         "notebooks": [{"name": "01_eda", "status": "ok"}, {"name": "02_profiling", "status": "failed"}]},
    ]
    html = report.render_runs_index(manifests, latest="20260102T000000-demo")
    assert_self_contained(html)
    assert "<script" not in html and ESCAPED in html
    assert html.index("20260102T000000-demo/index.html") < html.index("20260101T000000-demo/index.html")
    assert 'href="latest/index.html"' in html and "st-failed" in html and "st-ok" in html


# ---------------------------------------------------------------------------------------------------
# lint_html: what a published report must never show


def _page(body: str, banner: str = "") -> str:
    return (f"<!DOCTYPE html><html><head><title>t</title><style>td {{ color: None; }} .nan {{ }}</style></head>"
            f"<body class='cl-report'><main>{banner}<article>{body}</article></main></body></html>")


@pytest.mark.parametrize("body, kind", [
    ("<div class='jp-RenderedText' data-mime-type='application/vnd.jupyter.stderr'><pre>ValueError: x</pre></div>",
     "traceback"),
    ("<pre>Traceback (most recent call last):\n  File \"x.py\", line 3, in f</pre>", "traceback"),
    ("<pre>Cell In[3], line 26\n  22 power=0.8</pre>", "traceback"),
    ("<pre>&lt;matplotlib.legend.Legend at 0x7fd726362f50&gt;</pre>", "repr"),
    ("<pre>[&lt;matplotlib.lines.Line2D at 0x7f0&gt;]</pre>", "repr"),
    ("<pre>Text(0.5, 0.98, 'Hyperparameter search results')</pre>", "repr"),
    ("<pre>&lt;Figure size 640x480 with 1 Axes&gt;</pre>", "repr"),
    ("<pre>&lt;Axes: title={'center': 'GMV'}, xlabel='day'&gt;</pre>", "repr"),
    ("<pre>&lt;IPython.core.display.Markdown object&gt;</pre>", "repr"),
    ("<pre>&lt;BarContainer object of 3 artists&gt;</pre>", "repr"),
    ("<pre>0    1\n1    2\nName: gmv, dtype: int64</pre>", "repr"),
    ("<p>GPT-2 candidates: attribute coverage nan%, hallucination 0%</p>", "missing value"),
    ("<table><tr><td>NaN</td></tr></table>", "missing value"),
    ("<table><tr><td>None</td></tr></table>", "missing value"),
    ("<p>best model: None.</p>", "missing value"),
    ("<table><tr><td>NaT</td></tr></table>", "missing value"),
    ("<table><tr><td>&lt;NA&gt;</td></tr></table>", "missing value"),
    ("<p>lift inf%</p>", "missing value"),
])
def test_lint_html_finds_what_a_report_must_not_show(body, kind):
    problems = report.lint_html(_page(body))
    assert problems and all(p.startswith(kind + ":") for p in problems), problems


def test_lint_html_passes_readable_text_and_the_failure_banner():
    body = ("<p>None of the 12 users bought twice; Nancy's financial infinite loop; nanometre; Nan Goldin.</p>"
            f"<table><tr><td>–</td><td>n/a</td><td>{ESCAPED}</td><td>&lt;5</td></tr></table>"
            "<p>Conversion is 3.1% (95% CI 2.0–4.2%).</p>")
    banner = ("<section class='cl-banner cl-banner-error' role='alert'><h2>failed</h2><details><pre class='cl-code'>"
              "Traceback (most recent call last):\n  File \"x.py\", line 3\nValueError: nan &lt;Foo at 0x1f&gt;"
              "</pre></details></section>")
    assert report.lint_html(_page(body, banner)) == []
    # the same traceback outside the banner is a problem
    assert report.lint_html(_page(body + banner.replace("cl-banner-error", "cl-banner-info")))


def test_rendered_reports_pass_the_check_and_tracebacks_stay_in_the_banner():
    html = report.render_report(_executed_notebook(), _header())
    assert report.lint_html(html) == []
    nb = _executed_notebook(fail=True)
    html = report.render_report(nb, _header(), report.find_failure(nb))
    assert report.lint_html(html) == []
    body = html[html.index("<article"):]
    assert "ZeroDivisionError" not in body, "the error shows in the banner only, not as an output among the findings"
    assert "ZeroDivisionError: division by zero &lt;b&gt;" in html[:html.index("<article")]  # under Technical details
    # without an explicit failure the report finds it itself: banner, never a traceback among the findings
    assert report.render_report(nb, _header()).count('class="cl-banner cl-banner-error"') == 1


def _skipped_notebook():
    """What papermill leaves when a cell calls skip_stage inside an except block (the 05 pattern)."""
    tb = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
          "\x1b[0;31mNoExposuresError\x1b[0m                          Traceback (most recent call last)",
          "Cell \x1b[0;32mIn[3], line 26\x1b[0m\n\x1b[1;32m     25\x1b[0m     res = workflow.run_feedback(ds)",
          "\x1b[0;31mNoExposuresError\x1b[0m: no exposures to analyse",
          "\nDuring handling of the above exception, another exception occurred:\n",
          "\x1b[0;31mStageNotApplicable\x1b[0m                        Traceback (most recent call last)",
          "File \x1b[0;32m~/lib/contentlab/notebook.py:72\x1b[0m, in \x1b[0;36mskip_stage\x1b[0;34m(reason)\x1b[0m",
          "\x1b[0;31mStageNotApplicable\x1b[0m: no exposures to analyse: the dataset has no exposure log yet"]
    cells = [new_markdown_cell("# 05 · Feedback\n\nDid the copy work?"),
             new_code_cell("x = 1", outputs=[new_output("stream", name="stdout", text="loaded 3 tables\n")]),
             new_code_cell("res = run()", outputs=[new_output("error", ename="StageNotApplicable",
                                                              evalue="no exposures to analyse: the dataset has no "
                                                                     "exposure log yet", traceback=tb)]),
             new_code_cell("show(res)", outputs=[]),
             new_code_cell("summary", metadata={"tags": ["summary"]})]
    return new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


def test_skipped_stage_shows_only_the_reason():
    nb = _skipped_notebook()
    failure = report.find_failure(nb)
    assert failure.skipped
    for html in (report.render_report(nb, _header(stage="05_feedback"), failure),
                 report.render_report(nb, _header(stage="05_feedback"))):
        assert report.lint_html(html) == [], report.lint_html(html)
        assert html.count('class="cl-banner cl-banner-info"') == 1 and 'class="cl-banner cl-banner-error"' not in html
        assert "no exposures to analyse: the dataset has no exposure log yet" in html
        assert "Traceback" not in html and "During handling" not in html and "NoExposuresError" not in html
        assert "loaded 3 tables" in html  # what ran before the skip is still shown


def test_skip_stage_does_not_chain_the_exception_it_handles():
    from contentlab.notebook import StageNotApplicable, skip_stage

    try:
        try:
            raise KeyError("no exposures")
        except KeyError:
            skip_stage("nothing to analyse")
    except StageNotApplicable as exc:
        assert exc.__suppress_context__ and exc.__cause__ is None


def test_index_reads_missing_metrics_as_not_available():
    manifest = {"run_id": "r", "profile": "p", "parameters": {}, "versions": {}, "inputs": {},
                "notebooks": [{"name": "01_eda", "status": "ok", "duration_s": 1.0, "report": "01_eda.html",
                               "metrics": {"conversion_view_to_purchase": None, "winner": {"email": None}}}]}
    html = report.render_index(manifest)
    assert report.lint_html(html) == [] and "null" not in html
    assert "conversion_view_to_purchase</span>: n/a" in html and "email=n/a" in html


def test_withhold_small_cells_keeps_numbers_formatted():
    import pandas as pd

    from contentlab import plotting
    from contentlab.privacy import MIN_CELL

    t = pd.DataFrame({"channel": ["email", EVIL], "users": [1200, MIN_CELL - 1], "clicks": [3400, 2],
                      "ctr": [0.031, 0.5], "winner": ["gpt2", "template"]})
    shown, n = report.withhold_small_cells(t, "users", ["clicks", "ctr", "winner"])
    assert n == 1 and list(shown["users"]) == [1200, f"<{MIN_CELL}"]
    assert shown.loc[0, "clicks"] == 3400 and shown["clicks"].isna().tolist() == [False, True]
    assert shown["winner"].tolist() == ["gpt2", None]
    html = plotting.table(shown, percent=["ctr"], integer=["users", "clicks"]).to_html()
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == ["email", "1,200", "3,400", "3.1%", "gpt2", ESCAPED, "&lt;5", "–", "–", "–"]
    assert report.lint_html(_page(html)) == []
    assert report.withhold_small_cells(t.iloc[:1], "users")[1] == 0


def test_retarget_report_names_the_new_run_and_keeps_the_findings():
    """A report reused by ``contentlab run --incremental`` reads as part of the new run: its header, title and
    footer name the new run and the run that executed it; nothing else changes."""
    nb = _executed_notebook()
    earlier = report.render_report(nb, _header(run_id="20260101T020000-demo"))
    moved = report.retarget_report(earlier, "20260105T090000-demo", "20260101T020000-demo")
    fresh = report.render_report(nb, _header(run_id="20260105T090000-demo", reused_from="20260101T020000-demo"))
    generated = re.compile(r"report generated [^<]*")
    assert generated.sub("", moved) == generated.sub("", fresh)  # as if rendered for the new run
    assert ('<a href="index.html">Run 20260105T090000-demo</a> · 01_eda · reused from run 20260101T020000-demo</p>'
            in moved)
    assert "<title>Shop behaviour overview · 20260105T090000-demo</title>" in moved
    assert "· run 20260105T090000-demo ·" in moved and moved.count("20260101T020000-demo") == 1
    body = lambda text: text[text.index("<article"):text.index("</article>")]  # noqa: E731
    assert body(moved) == body(earlier)
    assert "Run date: 2026-01-01 02:00:00 UTC" in moved  # when the findings were computed
    # reused again: still one note, naming the run that executed the notebook
    again = report.retarget_report(moved, "20260107T090000-demo", "20260101T020000-demo")
    assert again.count("reused from run") == 1 and "Run 20260107T090000-demo</a>" in again
    assert report.lint_html(again) == report.lint_html(earlier)
    with pytest.raises(ValueError, match="not a ContentLab report"):
        report.retarget_report("<html><body>hello</body></html>", "a", "b")


def test_index_says_which_stages_were_reused():
    manifest = {"run_id": "20260105T090000-demo", "profile": "demo", "parameters": {}, "versions": {}, "inputs": {},
                "notebooks": [{"name": "01_eda", "status": "ok", "duration_s": 0.2, "report": "01_eda.html",
                               "metrics": {"gmv": 1.0}, "reused_from": "20260101T020000-demo"},
                              {"name": "02_profiling", "status": "ok", "duration_s": 30.0,
                               "report": "02_profiling.html", "metrics": {}}]}
    html = report.render_index(manifest)
    assert html.count("reused from 20260101T020000-demo") == 1
    assert "complete (2 of 2 notebooks OK); reused from earlier runs: 01_eda</strong>" in html
    assert report.lint_html(html) == []
