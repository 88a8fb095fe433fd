"""Self-contained HTML reports for people who never read code, and the run's ``index.html``.

A report is an executed notebook exported with nbconvert's ``HTMLExporter`` through the
``contentlab_report`` template (``templates/contentlab_report``), which extends the ``lab`` cell markup
but replaces its page head: no require.js, MathJax, mermaid or widget scripts, no CDN, no script at all;
the CSS is inlined and images are embedded as base64 ``data:`` URIs.

Before export the notebook is prepared (:func:`prepare_notebook`):

- inputs and prompts are excluded; the papermill ``injected-parameters`` cell, the ``parameters`` cell,
  cells tagged ``hide`` and papermill's own error marker cells are dropped;
- the first markdown H1 becomes the report title (shown in the header, removed from the body);
- cells tagged ``summary`` move to the top, right after the header (title, run date, profile, parameters);
- outputs a reader cannot use are dropped: recorded metrics (``application/vnd.contentlab.metric+json``),
  the echoed value of a cell ending in ``record(...)``, JavaScript, widgets and stderr streams;
- on failure the cells after the failing one are dropped and a banner names the cell and the error; error
  outputs (tracebacks) are never shown among the findings: a failure's traceback is folded into the banner's
  "Technical details", a skipped stage (``skip_stage``) shows only its reason.

:func:`retarget_report` retells a published report as part of a later run (``contentlab run --incremental`` reuses
it): only the header, title and footer, which name the run, change.

:func:`lint_html` checks a published report for what it must never show (a traceback outside the failure
banner, a Python repr, ``nan``/``None`` as a value); the runner warns about every report that fails it.

Every HTML fragment that comes out of a notebook (``text/html`` outputs, markdown cells) goes through
:func:`sanitize_html` (an allow-list: unknown tags such as ``<script>`` are escaped,
``on*`` attributes and ``javascript:`` links removed, images only from ``data:`` URIs); plain text
(streams, ``text/plain``, tracebacks) is escaped by nbconvert's ``ansi2html``; everything the header
and the index show is escaped by Jinja. ``text/markdown`` outputs are rendered with raw HTML escaped.
"""

from __future__ import annotations

import ast
import copy
import datetime as _dt
import functools
import html
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bleach
import markupsafe
import nbformat
from bleach.css_sanitizer import CSSSanitizer

from contentlab.config import PACKAGE_DIR
from contentlab.notebook import METRIC_MIME

TEMPLATES_DIR = PACKAGE_DIR / "templates"
REPORT_TEMPLATE = "contentlab_report"
CSS_FILE = TEMPLATES_DIR / "contentlab.css"
INDEX_TEMPLATE = "run_index.html.j2"

INJECTED_TAG = "injected-parameters"
PARAMETERS_TAG = "parameters"
HIDE_TAG = "hide"
SUMMARY_TAG = "summary"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
_DROPPED_TAGS = {INJECTED_TAG, PARAMETERS_TAG, HIDE_TAG, PAPERMILL_ERROR_TAG}

# MIME types a report can show; anything else in an output bundle is removed before export.
RENDERABLE_MIMES = (
    "text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg", "text/latex", "text/plain",
)

_log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# sanitising


_ALLOWED_TAGS = frozenset({
    "a", "abbr", "acronym", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
    "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong",
    "style", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
_GLOBAL_ATTRS = {"class", "id", "title", "style", "align", "lang", "dir"}
_TAG_ATTRS = {
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign", "scope"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "table": {"border", "cellpadding", "cellspacing"},
    "ol": {"start", "type"},
    "details": {"open"},
}
_CSS_SANITIZER = CSSSanitizer()
_UNSAFE_CSS = re.compile(r"url\s*\(|@import|expression\s*\(|javascript:|\\|</|behavior\s*:|-moz-binding", re.I)
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S | re.I)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>", re.I)


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name.startswith("on"):
        return False
    if tag == "img" and name == "src":
        # only embedded images: a report never loads anything from the network or the file system
        return value.strip().lower().startswith("data:image/")
    return name in _GLOBAL_ATTRS or name in _TAG_ATTRS.get(tag, ())


def _safe_style_block(match: re.Match) -> str:
    css = html.unescape(match.group(1))
    if _UNSAFE_CSS.search(css):
        return ""
    return f"<style>{css}</style>"


def sanitize_html(fragment: str) -> str:
    """Clean an untrusted HTML fragment for a report.

    Allowed tags are kept (tables, headings, lists, images from ``data:`` URIs, ``<details>``...), any
    other tag is shown as escaped text (``<script>`` becomes ``&lt;script&gt;``), event-handler attributes
    and ``javascript:`` URLs are removed, inline styles are filtered by bleach's CSS sanitiser and a
    ``<style>`` block survives only if it neither imports nor references anything (``url(``, ``@import``).
    """
    cleaned = bleach.clean(
        str(fragment),
        tags=_ALLOWED_TAGS,
        attributes=_allow_attribute,
        protocols={"http", "https", "mailto", "data"},
        css_sanitizer=_CSS_SANITIZER,
        strip=False,
        strip_comments=True,
    )
    cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)
    return _STYLE_BLOCK.sub(_safe_style_block, cleaned)


def _sanitize_filter(value: Any) -> markupsafe.Markup:
    return markupsafe.Markup(sanitize_html(value))


def markdown_output_html(source: str) -> str:
    """Render a ``text/markdown`` output: markdown formatting applies, raw HTML in it is shown as text.

    Markdown outputs are built from data (product titles, reviews), so a ``<script>`` inside one must
    read as the text it is; the result is sanitised as well.
    """
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=True, allow_harmful_protocols=False, exclude_anchor_links=True)
    return sanitize_html(MarkdownWithMath(renderer=renderer).render(str(source)))


def _markdown_output_filter(value: Any) -> markupsafe.Markup:
    return markupsafe.Markup(markdown_output_html(value))


# ---------------------------------------------------------------------------------------------------
# checking a published report


_REPR_PATTERNS = (
    # <matplotlib.legend.Legend at 0x7f...>, [<matplotlib.lines.Line2D at 0x...>], <Foo object at 0x...>
    re.compile(r"<[^<>\n]{1,200}? at 0x[0-9a-fA-F]+>"),
    # <IPython.core.display.Markdown object>, <BarContainer object of 3 artists>
    re.compile(r"<[A-Za-z_][\w.]* object\b[^<>\n]{0,80}>"),
    # <Figure size 640x480 with 1 Axes>, <Axes: title={'center': ...}>, <AxesSubplot:...>
    re.compile(r"<(?:Figure|Axes\w*|[\w.]+Axes\w*)\b[^<>\n]{0,300}>"),
    # Text(0.5, 0.98, 'Hyperparameter search results'), Annotation(...)
    re.compile(r"\b(?:Text|Annotation)\(\s*-?[\d.]+(?:e[-+]?\d+)?,\s*-?[\d.]+(?:e[-+]?\d+)?,\s*['\"]"),
    # other matplotlib artists and containers printed by value
    re.compile(r"\b(?:Line2D|Rectangle|Wedge|Polygon|Circle|Ellipse|PathPatch|FancyBboxPatch|PathCollection|"
               r"QuadMesh|AxesImage|Legend)\((?!\))"),
    re.compile(r"\bFigure\(\d+x\d+\)"),
    # the text form of a pandas Series / Index ("Name: gmv, dtype: float64", "Length: 5, dtype: object")
    re.compile(r"\bdtype: ?'?(?:int|uint|float|object|bool|string|str|category|datetime|timedelta)\w*"),
)
_TRACEBACK_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"\bCell In\[\d+\], line \d+"),  # IPython's frame of a notebook cell
    re.compile(r"\bFile \"[^\"\n]+\", line \d+"),  # a frame of a Python traceback
    re.compile(r"\bFile [^\s,]+\.py:\d+, in \w+"),  # IPython's frame of a library function
    re.compile(r"During handling of the above exception, another exception occurred"),
)
# a missing value printed as a value: nan, NaN, NaT, <NA>, inf, and "None" (not the English word: "None of ...")
_MISSING_VALUE = re.compile(r"(?<![\w.])(?:nan|NaN|NAN|NaT|<NA>|[-+]?inf|None(?! [a-z]))(?![\w])")
_SKIPPED_TEXT_TAGS = {"style", "script", "template"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _ReportText:
    """The text a reader sees in a report, outside the failure banner, plus the error outputs found there."""

    def __init__(self, text: str) -> None:
        from html.parser import HTMLParser

        self.chunks: list[str] = []
        self.error_outputs = 0
        stack: list[tuple[str, bool]] = []  # (tag, excluded from the checked text)
        outer = self

        class _Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                attrs = dict(attrs)
                classes = (attrs.get("class") or "").split()
                excluded = bool(stack and stack[-1][1]) or tag in _SKIPPED_TEXT_TAGS or "cl-banner-error" in classes
                if not excluded and attrs.get("data-mime-type") == "application/vnd.jupyter.stderr":
                    outer.error_outputs += 1
                if tag not in _VOID_TAGS:
                    stack.append((tag, excluded))
                else:
                    outer.chunks.append(" ")

            def handle_startendtag(self, tag, attrs):
                outer.chunks.append(" ")

            def handle_endtag(self, tag):
                for i in range(len(stack) - 1, -1, -1):  # tolerate unclosed tags
                    if stack[i][0] == tag:
                        del stack[i:]
                        break
                outer.chunks.append(" " if tag not in ("span", "strong", "em", "b", "i", "a", "code") else "")

            def handle_data(self, data):
                if not (stack and stack[-1][1]):
                    outer.chunks.append(data)

        parser = _Parser(convert_charrefs=True)
        parser.feed(text)
        parser.close()
        self.text = "".join(self.chunks)


def _excerpt(text: str, start: int, end: int, width: int = 40) -> str:
    left = text[max(0, start - width):start]
    right = text[end:end + width]
    return " ".join((left + "[[" + text[start:end] + "]]" + right).split())


def lint_html(text: str) -> list[str]:
    """What a published report must never show, as a list of problems (empty when the report is clean).

    Checks the text a reader sees (tags, styles and the failure banner's technical details left out):

    - ``traceback``: a Python traceback, or a notebook error output, anywhere outside the failure banner
      (a stage that ends itself with ``skip_stage`` shows only its reason);
    - ``repr``: a Python repr instead of a finding (``<matplotlib.legend.Legend at 0x...>``,
      ``Text(0.5, 0.98, '...')``, ``<Figure size ...>``, ``<... object>``, a Series' ``dtype: ...`` line);
    - ``missing value``: ``nan``, ``NaN``, ``NaT``, ``<NA>``, ``inf`` or ``None`` printed as a value
      (a table shows "–" or says why the figure is missing).

    Each problem reads ``"<kind>: ...context [[match]] context..."``. Use it in tests as
    ``assert not lint_html(page), lint_html(page)``; the runner warns about every published report that fails it.
    """
    seen = _ReportText(str(text))
    body = seen.text
    problems: list[str] = []
    if seen.error_outputs:
        problems.append(f"traceback: {seen.error_outputs} notebook error output(s) outside the failure banner")
    for pattern in _TRACEBACK_PATTERNS:
        for m in pattern.finditer(body):
            problems.append("traceback: " + _excerpt(body, m.start(), m.end()))
    for pattern in _REPR_PATTERNS:
        for m in pattern.finditer(body):
            problems.append("repr: " + _excerpt(body, m.start(), m.end()))
    for m in _MISSING_VALUE.finditer(body):
        problems.append("missing value: " + _excerpt(body, m.start(), m.end()))
    return problems


def lint_report(path: str | Path) -> list[str]:
    """:func:`lint_html` of an HTML file."""
    return lint_html(Path(path).read_text(encoding="utf-8"))


def withhold_small_cells(table: Any, count_col: str, value_cols: Iterable[str] | None = None,
                         min_cell: int | None = None) -> tuple[Any, int]:
    """A per-group table ready for display under the small-cell rule (:mod:`contentlab.privacy`).

    :func:`contentlab.privacy.mask_small_cells` withholds the figures of every row whose ``count_col`` (users) is
    under ``min_cell`` (``MIN_CELL``) and shows its count as ``"<5"``; the withheld figures then read "–" in
    ``plotting.table``, and the other rows keep their numeric columns (so percentages and decimals format as
    before). Returns the display table and the number of rows withheld; print
    :func:`contentlab.privacy.small_cell_note` under a table when that number is positive.
    """
    import pandas as pd

    from contentlab.privacy import MIN_CELL, mask_small_cells

    min_cell = MIN_CELL if min_cell is None else min_cell
    numeric = [c for c in table.columns if c != count_col and pd.api.types.is_numeric_dtype(table[c])
               and not pd.api.types.is_bool_dtype(table[c])]
    cols = [c for c in (numeric if value_cols is None else value_cols) if c in table.columns]
    out, n = mask_small_cells(table, count_col, cols, min_cell)
    for c in cols:
        if c in numeric:
            values = pd.to_numeric(out[c].where(out[c].notna(), float("nan")))
            out[c] = values.astype("Int64") if pd.api.types.is_integer_dtype(table[c]) else values
    return out, n


# ---------------------------------------------------------------------------------------------------
# failures


@dataclass
class CellFailure:
    """Where and how a notebook failed.

    ``cell`` is the 1-based position of the failing cell among the notebook's own cells (the cell a
    reader finds in ``notebooks/<stage>.ipynb``; papermill's injected cell is not counted), or ``None``
    when the failure happened outside a cell (kernel did not start, died, timed out).
    """

    ename: str
    evalue: str
    cell: int | None = None
    n_cells: int | None = None
    source: str = ""
    traceback: str = ""

    @property
    def skipped(self) -> bool:
        """The notebook ended itself with ``contentlab.skip_stage`` (not applicable, not a failure)."""
        return self.ename == "StageNotApplicable"

    @property
    def message(self) -> str:
        text = " ".join(str(self.evalue).split())
        if len(text) > 300:
            text = text[:297] + "..."
        return f"{self.ename}: {text}" if text else self.ename

    @property
    def where(self) -> str:
        return f"cell {self.cell}" if self.cell is not None else "kernel start-up"

    def as_dict(self) -> dict:
        return {"cell": self.cell, "ename": self.ename, "evalue": self.evalue}


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _tags(cell: Mapping) -> set[str]:
    return set((cell.get("metadata") or {}).get("tags") or [])


def own_cell_numbers(nb: Mapping) -> list[int | None]:
    """For every cell of an executed notebook: its 1-based number in the source notebook (or ``None``)."""
    numbers: list[int | None] = []
    n = 0
    for cell in nb.get("cells", []):
        if _tags(cell) & {INJECTED_TAG, PAPERMILL_ERROR_TAG}:
            numbers.append(None)
        else:
            n += 1
            numbers.append(n)
    return numbers


def find_failure(nb: Mapping) -> CellFailure | None:
    """The first failing cell of an executed notebook (an ``error`` output or papermill's exception flag)."""
    numbers = own_cell_numbers(nb)
    n_cells = max([x for x in numbers if x is not None], default=0)
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") != "error":
                continue
            if output.get("ename") == "SystemExit" and str(output.get("evalue", "")) in ("", "0"):
                continue
            return CellFailure(
                ename=str(output.get("ename", "Error")), evalue=str(output.get("evalue", "")),
                cell=numbers[index], n_cells=n_cells, source=_source(cell),
                traceback=strip_ansi("\n".join(output.get("traceback") or [])),
            )
        pm = (cell.get("metadata") or {}).get("papermill") or {}
        if pm.get("exception") is True:
            return CellFailure(ename="CellExecutionError", evalue="the cell failed without an error output",
                               cell=numbers[index], n_cells=n_cells, source=_source(cell))
    return None


def _source(cell: Mapping) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


# ---------------------------------------------------------------------------------------------------
# preparing a notebook for readers

_H1 = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$")


def _plain_title(markdown: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_`]+", "", text)
    text = re.sub(r"<[^>]*>", "", text)
    return " ".join(text.split())


def notebook_title(nb: Mapping) -> str | None:
    """The text of the notebook's first markdown H1 (``# Title``), or ``None``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown" or _tags(cell) & _DROPPED_TAGS:
            continue
        for line in _source(cell).splitlines():
            m = _H1.match(line)
            if m:
                return _plain_title(m.group(1)) or None
    return None


def _remove_first_h1(cells: list) -> None:
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        lines = _source(cell).splitlines()
        for j, line in enumerate(lines):
            if _H1.match(line):
                rest = "\n".join(lines[:j] + lines[j + 1:]).strip()
                if rest:
                    cell["source"] = rest
                else:
                    del cells[i]
                return


def _clean_output(output: Mapping) -> dict | None:
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") != "stdout" or not str(output.get("text", "")).strip():
            return None
        return dict(output)
    if kind == "error":
        return None  # the failure banner names the error (and keeps the traceback under "Technical details")
    if kind in ("display_data", "execute_result"):
        data = output.get("data") or {}
        if METRIC_MIME in data:
            return None
        kept = {k: v for k, v in data.items() if k in RENDERABLE_MIMES}
        if not kept:
            return None
        out = dict(output)
        out["data"] = nbformat.NotebookNode(kept)
        return out
    return None


def _ends_with_record_call(source: str) -> bool:
    """Whether a cell's last statement is a bare ``record(...)`` call (its echoed value is not a finding)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body or not isinstance(tree.body[-1], ast.Expr) or not isinstance(tree.body[-1].value, ast.Call):
        return False
    func = tree.body[-1].value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name == "record"


def prepare_notebook(nb: Any, failure: CellFailure | None = None) -> tuple[Any, str | None, int]:
    """Return ``(prepared copy, title, number of cells not run)`` for :func:`export_html`."""
    nb = copy.deepcopy(nb)
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.from_dict(nb)
    numbers = own_cell_numbers(nb)
    title = notebook_title(nb)
    cells = []
    not_run = 0
    for cell, number in zip(nb.cells, numbers):
        if failure is not None and failure.cell is not None and number is not None and number > failure.cell:
            if cell.get("cell_type") == "code":
                not_run += 1
            continue
        if _tags(cell) & _DROPPED_TAGS:
            continue
        if cell.get("cell_type") == "code":
            outputs = [o for o in (_clean_output(o) for o in cell.get("outputs", [])) if o is not None]
            if _ends_with_record_call(_source(cell)):
                outputs = [o for o in outputs if o.get("output_type") != "execute_result"]
            if not outputs:
                continue
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
        elif cell.get("cell_type") == "raw":
            continue
        cells.append(cell)
    if title is not None:
        _remove_first_h1(cells)
    summary = [c for c in cells if SUMMARY_TAG in _tags(c)]
    rest = [c for c in cells if SUMMARY_TAG not in _tags(c)]
    nb.cells = summary + rest
    return nb, title, not_run


# ---------------------------------------------------------------------------------------------------
# export


@dataclass
class ReportHeader:
    """What the report header shows above the findings."""

    stage: str
    run_id: str
    profile: str
    run_date: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None
    reused_from: str | None = None  # the earlier run that executed the notebook (``contentlab run --incremental``)


def format_value(value: Any, limit: int = 160, none: str = "null") -> str:
    """A short, human-readable rendering of a parameter or metric value (not escaped); ``None`` reads ``none``."""
    if value is None:
        text = none
    elif isinstance(value, bool):
        text = json.dumps(value)
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        if value != value:  # NaN
            text = "n/a"
        elif value == 0 or 1e-3 <= abs(value) < 1e6:
            text = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
        else:
            text = f"{value:.3e}"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}={format_value(v, limit, none)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(format_value(v, limit, none) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _css() -> str:
    return CSS_FILE.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _exporter():
    """The configured exporter (built once: loading nbconvert's templates is the slow part)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=REPORT_TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
    )
    exporter.register_filter("cl_sanitize", _sanitize_filter)
    exporter.register_filter("cl_markdown_output", _markdown_output_filter)
    return exporter


def render_report(nb: Any, header: ReportHeader, failure: CellFailure | None = None,
                  resources_path: str | Path | None = None) -> str:
    """The HTML text of one notebook's report.

    ``failure`` defaults to the notebook's first failing cell (:func:`find_failure`): an error is shown in the
    banner at the top, never as a traceback among the findings.
    """
    if failure is None:
        failure = find_failure(nb)
    prepared, title, not_run = prepare_notebook(nb, failure)
    title = header.title or title or header.stage
    exporter = _exporter()
    params = [(str(k), format_value(v)) for k, v in header.parameters.items()]
    resources = {
        "metadata": {"name": title, "path": str(resources_path or "")},
        "contentlab": {
            "title": title,
            "stage": header.stage,
            "run_id": header.run_id,
            "profile": header.profile,
            "run_date": header.run_date,
            "reused_from": header.reused_from,
            "parameters": params,
            "failure": failure,
            "not_run": not_run,
            "css": markupsafe.Markup(_css()),
            "generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "version": _version(),
        },
    }
    # nbconvert reports images without alt text through the traitlets logger; that is not news here.
    quiet = [logging.getLogger(name) for name in ("traitlets", "NbConvertApp")] + [exporter.log]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.ERROR)
    try:
        body, _ = exporter.from_notebook_node(prepared, resources=resources)
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    return body


def export_html(nb: Any, output_path: str | Path, header: ReportHeader, failure: CellFailure | None = None,
                resources_path: str | Path | None = None) -> Path:
    """Write the report of an executed notebook (path or node) to ``output_path``; returns the path."""
    if isinstance(nb, (str, Path)):
        nb = nbformat.read(str(nb), as_version=4)
    output_path = Path(output_path)
    text = render_report(nb, header, failure, resources_path)
    tmp = output_path.with_name(output_path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output_path)
    return output_path


_KICKER = re.compile(r'(<p class="cl-kicker"><a href="index\.html">Run )([^<]*)(</a> · [^<]*?)'
                     r'(?: · reused from run [^<]*)?(</p>)')


def retarget_report(text: str, run_id: str, reused_from: str) -> str:
    """A published report of a notebook executed in run ``reused_from``, retold as part of run ``run_id``.

    ``contentlab run --incremental`` copies the report of a stage it reuses; only what names the run changes: the
    header's run line (which now adds "reused from run ..."), the page title and the footer. The findings, the
    run date and the parameters stay as the execution left them. Raises ``ValueError`` for a page that is not a
    ContentLab report.
    """
    m = _KICKER.search(text)
    if m is None:
        raise ValueError("not a ContentLab report: no run line in its header")
    old, new = m.group(2), html.escape(run_id)
    kicker = f"{m.group(1)}{new}{m.group(3)} · reused from run {html.escape(reused_from)}{m.group(4)}"
    text = text[:m.start()] + kicker + text[m.end():]
    text = re.sub(r"(<title>[^<]*? · )" + re.escape(old) + r"(</title>)", lambda t: t.group(1) + new + t.group(2),
                  text, count=1)
    return re.sub(r"(<footer class=\"cl-footer\">[^<]*?· run )" + re.escape(old) + r"( ·)",
                  lambda t: t.group(1) + new + t.group(2), text, count=1)


def _version() -> str:
    try:
        from contentlab import __version__
    except ImportError:  # pragma: no cover
        return ""
    return __version__


# ---------------------------------------------------------------------------------------------------
# index.html

STATUS_LABELS = {
    "ok": "OK", "failed": "Failed", "not run": "Not run", "running": "Running", "pending": "Pending",
    "missing": "No notebook", "skipped": "Not applicable",
}


def _jinja_env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    return env


def render_index(manifest: Mapping[str, Any], *, run_date: str = "", titles: Mapping[str, str] | None = None,
                 failures: Mapping[str, CellFailure] | None = None, notes: Iterable[str] = (),
                 executive: Sequence[Mapping[str, Any]] = (), chart: str = "") -> str:
    """The HTML text of a run's ``index.html`` (everything shown is escaped).

    ``executive``: the executive summary's findings (:func:`contentlab.run.executive.as_rows`), shown first;
    ``chart``: its inline SVG (:func:`contentlab.run.executive.segment_chart`, which escapes its own labels)."""
    titles = titles or {}
    failures = failures or {}
    versions = manifest.get("versions") or {}
    rows = []
    for nb in manifest.get("notebooks", []):
        failure = failures.get(nb["name"])
        report = nb.get("report")
        rows.append({
            "name": nb["name"],
            "title": titles.get(nb["name"], ""),
            "status": nb["status"],
            "status_label": STATUS_LABELS.get(nb["status"], nb["status"]),
            "status_class": "st-" + re.sub(r"[^a-z]+", "-", nb["status"].lower()),
            "duration": _duration(nb.get("duration_s")),
            "report": report,
            "notebook": (report[: -len(".html")] + ".ipynb") if report and report.endswith(".html") else None,
            # a metric the stage could not compute on this data is recorded as null and read "n/a"
            "metrics": [(k, format_value(v, 80, none="n/a")) for k, v in (nb.get("metrics") or {}).items()],
            "failure": failure,
            "reused_from": nb.get("reused_from"),
        })
    profile_params = ((manifest.get("parameters") or {}).get("profile") or {})
    statuses = [r["status"] for r in rows]
    counted = [s for s in statuses if s != "missing"]
    if "failed" in statuses:
        failed = next(r["name"] for r in rows if r["status"] == "failed")
        run_status = f"failed at {failed} ({counted.count('ok')} of {len(counted)} notebooks OK)"
    elif "running" in statuses or "pending" in statuses:
        run_status = f"running ({counted.count('ok')} of {len(counted)} notebooks done)"
    else:
        run_status = f"complete ({counted.count('ok')} of {len(counted)} notebooks OK)"
    if "skipped" in statuses:
        run_status += f"; not applicable to this data: {', '.join(r['name'] for r in rows if r['status'] == 'skipped')}"
    reused = [r["name"] for r in rows if r["reused_from"]]
    if reused:
        run_status += f"; reused from earlier runs: {', '.join(reused)}"
    if "missing" in statuses:
        run_status += f"; no notebook for {', '.join(r['name'] for r in rows if r['status'] == 'missing')}"
    template = _jinja_env().get_template(INDEX_TEMPLATE)
    return template.render(
        css=markupsafe.Markup(_css()),
        run_id=manifest.get("run_id", ""),
        profile=manifest.get("profile", ""),
        description=profile_params.get("description", ""),
        run_date=run_date,
        rows=rows,
        run_status=run_status,
        commit=versions.get("git_commit"),
        version=versions.get("contentlab", ""),
        overrides=[(k, format_value(v)) for k, v in
                   ((manifest.get("parameters") or {}).get("overrides") or {}).items()],
        notes=list(notes),
        executive=list(executive),
        chart=markupsafe.Markup(chart) if chart.startswith("<svg") else "",
    )


def write_index(report_dir: str | Path, manifest: Mapping[str, Any], **kwargs: Any) -> Path:
    """Write ``index.html`` into ``report_dir`` (atomically) and return its path."""
    path = Path(report_dir) / "index.html"
    tmp = path.with_name("index.html.tmp")
    tmp.write_text(render_index(manifest, **kwargs), encoding="utf-8")
    tmp.replace(path)
    return path


def render_runs_index(manifests: Iterable[Mapping[str, Any]], latest: str | None = None) -> str:
    """The HTML text of ``reports/index.html``: every run, newest first, linking its ``index.html``."""
    runs = []
    for manifest in sorted(manifests, key=lambda m: str(m.get("run_id", "")), reverse=True):
        notebooks = [{"name": str(nb.get("name", "")), "status": str(nb.get("status", ""))}
                     for nb in manifest.get("notebooks", [])]
        statuses = [nb["status"] for nb in notebooks]
        if "failed" in statuses:
            status = "failed"
        elif "running" in statuses or "pending" in statuses:
            status = "running"
        elif "ok" in statuses:
            status = "ok"
        else:
            status = "not run"
        runs.append({"run_id": str(manifest.get("run_id", "")), "profile": str(manifest.get("profile", "")),
                     "status_label": STATUS_LABELS.get(status, status),
                     "status_class": "st-" + status.replace(" ", "-"), "notebooks": notebooks})
    template = _jinja_env().get_template("runs_index.html.j2")
    return template.render(css=markupsafe.Markup(_css()), runs=runs, latest=latest)


def _duration(seconds: Any) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
