"""One plotting style for every report, and helpers for the charts the stages share.

Every helper puts a title, axis labels and units on the chart and returns the matplotlib ``Figure``
(pass ``ax=`` to draw into an existing axes). Text that comes from data (category names, product
titles) is shown literally: ``$`` is escaped so matplotlib never interprets it as math.

No chart draws a missing-glyph box. The fonts matplotlib falls back through are the families of
``font.family``: the default sans-serif font (DejaVu Sans) and, after :func:`set_style`, the bundled Noto Sans
CJK. A character none of them has (an emoji such as 🧥 in a category name) is left out of the label
(:func:`safe_label`); a label made only of such characters shows their Unicode names (``[coat]``).
:func:`set_style` applies this to every text matplotlib draws (titles, tick labels, legends, annotations),
including labels set outside these helpers.

>>> from contentlab import plotting
>>> plotting.set_style()
>>> fig = plotting.time_series(daily, "date", ["gmv"], title="GMV per day", ylabel="GMV", unit="EUR")
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

FIGSIZE = (9.0, 4.5)
WIDE = (11.0, 4.5)
PALETTE = "deep"
SEQUENTIAL = "Blues"


# Chinese labels (zh catalogues): Noto Sans CJK, shipped as a font file in the PyPI package
# ``cvttf-notosanscjk-regular`` (SIL Open Font License), is registered as a fallback font.
CJK_FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"


def cjk_font_path() -> str | None:
    """Path of the bundled CJK font file, or ``None`` when the package is not installed."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(CJK_FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        fonts = sorted(Path(folder).glob("*.otf")) + sorted(Path(folder).glob("*.ttf"))
        if fonts:
            return str(fonts[0])
    return None


def _register_cjk_fallback() -> str | None:
    """Add the CJK font behind the default sans-serif font (per-glyph fallback); returns its family name."""
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    font_manager.fontManager.addfont(path)
    # the font has one weight: bold titles use it at regular weight (matplotlib would log that on every title)
    import logging

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    name = font_manager.FontProperties(fname=path).get_name()
    # matplotlib falls back glyph by glyph across the families listed in font.family: Latin text keeps the
    # usual sans-serif font, CJK characters come from this one
    plt.rcParams["font.sans-serif"] = [f for f in plt.rcParams["font.sans-serif"] if f != name] + [name]
    plt.rcParams["font.family"] = ["sans-serif", name]
    return name


_CHARMAPS: dict[str, frozenset[int]] = {}  # font file -> the code points it has a glyph for
_CHAINS: dict[tuple, tuple[frozenset[int], ...]] = {}  # font settings -> charmaps of the fallback chain


def _font_chain() -> tuple[frozenset[int], ...]:
    """Code points of each font matplotlib falls back through for text in the current settings (one font per
    family in ``font.family``, as ``FontManager._find_fonts_by_props`` resolves them)."""
    from matplotlib import font_manager, ft2font

    rc = plt.rcParams
    key = tuple(tuple(rc[k]) if isinstance(rc[k], list) else rc[k]
                for k in ("font.family", "font.sans-serif", "font.serif", "font.monospace"))
    if key not in _CHAINS:
        paths: list[str] = []
        for family in rc["font.family"]:
            try:
                path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
            except ValueError:
                continue
            if path not in paths:
                paths.append(path)
        if not paths:
            paths = [font_manager.findfont(font_manager.FontProperties())]
        for path in paths:
            if path not in _CHARMAPS:
                try:
                    _CHARMAPS[path] = frozenset(ft2font.FT2Font(path).get_charmap())
                except (OSError, RuntimeError):
                    _CHARMAPS[path] = frozenset()
        _CHAINS[key] = tuple(_CHARMAPS[p] for p in paths)
    return _CHAINS[key]


def missing_glyphs(label: object) -> list[str]:
    """Characters of ``label`` that no font of the fallback chain can draw (in order, without repeats)."""
    chain = _font_chain()
    out: list[str] = []
    for ch in str(label):
        if ch.isspace() or ch in out or not chain:
            continue
        if not any(ord(ch) in charmap for charmap in chain):
            out.append(ch)
    return out


def can_render(labels: Iterable[object]) -> bool:
    """True when the fonts in use (with their fallbacks) have a glyph for every character of ``labels``."""
    return not any(missing_glyphs(label) for label in labels)


def safe_label(value: object) -> str:
    """``value`` as text without the characters no available font has (they would draw as empty boxes).

    ``"Coats 🧥"`` becomes ``"Coats"``; a label with nothing else left shows the Unicode names of what was left
    out (``"🧥"`` becomes ``"[coat]"``). Text the fonts can draw is returned unchanged.
    """
    import unicodedata

    s = str(value)
    missing = missing_glyphs(s)
    if not missing:
        return s
    gone = set(missing)
    kept = "".join(ch for ch in s if ch not in gone)
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in kept.split("\n")]
    out = "\n".join(lines).strip()
    if out:
        return out
    names = [unicodedata.name(ch, "").lower() for ch in missing]
    names = [n for n in names if n and not n.startswith(("variation selector", "zero width"))]
    return "[" + ", ".join(names) + "]" if names else "?"


def _guard_text() -> None:
    """Make every matplotlib text go through :func:`safe_label` (installed once by :func:`set_style`)."""
    from matplotlib.text import Text

    if getattr(Text.set_text, "_safe_label", False):
        return
    original = Text.set_text

    def set_text(self, s):  # same signature and None handling as matplotlib's
        return original(self, s if s is None else safe_label(s))

    set_text._safe_label = True  # type: ignore[attr-defined]
    set_text.__doc__ = original.__doc__
    set_text.__wrapped__ = original  # type: ignore[attr-defined]
    Text.set_text = set_text


def set_style(font_scale: float = 1.05) -> None:
    """Seaborn theme plus readable sizes (and a CJK fallback font); call once at the top of a notebook."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=font_scale)
    _register_cjk_fallback()
    _guard_text()
    plt.rcParams.update({
        "figure.figsize": FIGSIZE,
        "figure.dpi": 100,
        "savefig.dpi": 110,
        "savefig.bbox": "tight",
        "figure.autolayout": False,
        "figure.constrained_layout.use": True,
        "axes.titlesize": 13,
        "axes.titleweight": "bold",
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 10,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def text(value: object, max_len: int | None = None) -> str:
    """Data text made safe for matplotlib labels (no mathtext, no character the fonts lack), optionally shortened
    with an ellipsis."""
    s = safe_label(str(value).replace("\n", " ")).replace("$", r"\$")
    if max_len and len(s) > max_len:
        s = s[: max_len - 1].rstrip() + "…"
    return s


def with_unit(label: str, unit: str | None) -> str:
    return f"{label} ({unit})" if unit else label


def percent_axis(ax: Axes, axis: str = "y", decimals: int = 0) -> None:
    fmt = mticker.PercentFormatter(xmax=1.0, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def thousands_axis(ax: Axes, axis: str = "y") -> None:
    fmt = mticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def subplots(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None, **kw):
    """``plt.subplots`` with the shared default size."""
    return plt.subplots(nrows, ncols, figsize=figsize or FIGSIZE, **kw)


def _axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize or FIGSIZE)
    return fig, ax


def _no_data(ax: Axes, title: str, xlabel: str, ylabel: str) -> Figure:
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax.figure


# ------------------------------------------------------------------------------------------ time series


def time_series(df: pd.DataFrame, x: str, ys: Sequence[str], *, title: str, ylabel: str, unit: str | None = None,
                labels: Sequence[str] | None = None, rolling: int | None = 7, xlabel: str = "date",
                ax: Axes | None = None) -> Figure:
    """Lines of ``ys`` over ``x``; with ``rolling`` a centred rolling mean is drawn over the raw values."""
    fig, ax = _axes(ax)
    if df.empty:
        return _no_data(ax, title, xlabel, with_unit(ylabel, unit))
    labels = list(labels or ys)
    colors = sns.color_palette(PALETTE, len(ys))
    for col, label, color in zip(ys, labels, colors):
        if rolling and len(df) > 2 * rolling:
            ax.plot(df[x], df[col], color=color, alpha=0.35, linewidth=1)
            ax.plot(df[x], df[col].rolling(rolling, center=True, min_periods=1).mean(), color=color, linewidth=2,
                    label=f"{text(label)} ({rolling}-day mean)")
        else:
            ax.plot(df[x], df[col], color=color, linewidth=2, marker="o" if len(df) < 40 else None,
                    markersize=3, label=text(label))
    ax.set(title=title, xlabel=xlabel, ylabel=with_unit(ylabel, unit))
    thousands_axis(ax)
    ax.set_ylim(bottom=0)
    if len(ys) > 1 or rolling:
        ax.legend(loc="best")
    fig.autofmt_xdate()
    return fig


def time_series_panel(df: pd.DataFrame, x: str, panels: Sequence[tuple[str, str, str | None]], *, title: str,
                      rolling: int | None = 7, xlabel: str = "date", ncols: int = 2) -> Figure:
    """A grid of small time series sharing the x axis; ``panels`` = [(column, label, unit), ...]."""
    n = len(panels)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 3.2 * nrows), sharex=True, squeeze=False)
    for ax, (col, label, unit) in zip(axes.flat, panels):
        time_series(df, x, [col], title=label, ylabel=label, unit=unit, rolling=rolling, xlabel=xlabel, ax=ax)
        ax.title.set_fontsize(11)
        if ax.get_legend():
            ax.get_legend().remove()
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes.flat:
        ax.tick_params(axis="x", labelbottom=True, rotation=30)
    sub = f"{title}" + (f" (thin line: daily value; thick line: {rolling}-day mean)" if rolling else "")
    fig.suptitle(sub, fontsize=13, fontweight="bold")
    return fig


# ----------------------------------------------------------------------------------------------- bars


def share_bars(df: pd.DataFrame, category: str, shares: Sequence[str], *, title: str, xlabel: str,
               labels: Sequence[str] | None = None, ylabel: str = "share", annotate: bool = True,
               max_label: int = 18, ax: Axes | None = None) -> Figure:
    """Grouped bars of shares (0..1) per category, percent axis, values printed on the bars."""
    fig, ax = _axes(ax)
    if df.empty:
        return _no_data(ax, title, xlabel, ylabel)
    labels = list(labels or shares)
    long = df.melt(id_vars=[category], value_vars=list(shares), var_name="measure", value_name="share")
    long["measure"] = long["measure"].map(dict(zip(shares, labels)))
    long[category] = long[category].map(lambda v: text(v, max_label))
    sns.barplot(data=long, x=category, y="share", hue="measure", ax=ax, palette=PALETTE,
                legend=len(shares) > 1)
    percent_axis(ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if annotate:
        for container in ax.containers:
            ax.bar_label(container, fmt=lambda v: f"{100 * v:.1f}%" if np.isfinite(v) else "", fontsize=8,
                         padding=2)
    if len(df) > 5:
        ax.tick_params(axis="x", rotation=30)
    top = np.nanmax(long["share"].to_numpy(dtype=float)) if long["share"].notna().any() else 1.0
    ax.set_ylim(0, max(top * 1.12, 0.05))
    if len(shares) > 1:
        ax.legend(title=None, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def funnel_bars(stages: pd.DataFrame, *, title: str, unit_label: str, ax: Axes | None = None) -> Figure:
    """Funnel stages as bars (count of units) annotated with the share of the first stage."""
    fig, ax = _axes(ax, (7.5, 4.2))
    if stages.empty:
        return _no_data(ax, title, "funnel stage", unit_label)
    colors = sns.color_palette(PALETTE, len(stages))
    bars = ax.bar(stages["stage"].astype(str), stages["units"], color=colors)
    first = stages["units"].iloc[0]
    ax.bar_label(bars, labels=[f"{u:,.0f}\n({100 * u / first:.1f}%)" if first else f"{u:,.0f}"
                               for u in stages["units"]], padding=2, fontsize=9)
    ax.set(title=title, xlabel="funnel stage", ylabel=unit_label)
    ax.margins(y=0.18)
    thousands_axis(ax)
    return fig


def hbar(df: pd.DataFrame, label: str, value: str, *, title: str, xlabel: str, unit: str | None = None,
         ylabel: str = "", share: str | None = None, max_label: int = 40, ax: Axes | None = None) -> Figure:
    """Horizontal bars, largest on top (top products / categories); ``share`` column printed as a percentage."""
    n = len(df)
    fig, ax = _axes(ax, (9, max(2.5, 0.38 * n + 1.2)))
    if df.empty:
        return _no_data(ax, title, with_unit(xlabel, unit), ylabel or label)
    names = [text(v, max_label) for v in df[label]]
    bars = ax.barh(range(n), df[value], color=sns.color_palette(PALETTE)[0])
    ax.set_yticks(range(n), names)
    ax.invert_yaxis()
    if share:
        ax.bar_label(bars, labels=[f"{100 * s:.1f}%" for s in df[share]], padding=3, fontsize=9)
        ax.margins(x=0.12)
    ax.set(title=title, xlabel=with_unit(xlabel, unit), ylabel=ylabel or label)
    thousands_axis(ax, "x")
    return fig


def count_bars(df: pd.DataFrame, x: str, y: str, *, title: str, xlabel: str, ylabel: str, clip: int | None = None,
               share: bool = True, ax: Axes | None = None) -> Figure:
    """Bars of a discrete distribution (e.g. units per order); values above ``clip`` are pooled into "≥clip"."""
    fig, ax = _axes(ax, (8, 4))
    if df.empty:
        return _no_data(ax, title, xlabel, ylabel)
    d = df[[x, y]].copy()
    labels = d[x].astype(int).astype(str).tolist()
    if clip is not None and (d[x] > clip).any():
        head = d[d[x] < clip]
        tail = d.loc[d[x] >= clip, y].sum()
        labels = head[x].astype(int).astype(str).tolist() + [f"≥{clip}"]
        values = head[y].tolist() + [tail]
    else:
        values = d[y].tolist()
    bars = ax.bar(labels, values, color=sns.color_palette(PALETTE)[0])
    total = float(np.sum(values))
    if share and total:
        ax.bar_label(bars, labels=[f"{100 * v / total:.0f}%" for v in values], padding=2, fontsize=8)
        ax.margins(y=0.12)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    thousands_axis(ax)
    return fig


# ------------------------------------------------------------------------------------------- heatmaps


def heatmap_pct(matrix: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, annotate: bool = True,
                vmax: float | None = None, scale_from_col: int = 0, cbar_label: str = "share",
                ax: Axes | None = None) -> Figure:
    """Heatmap of shares (0..1) annotated with percentages; NaN cells (not observed) stay blank.

    The colour scale tops out at the 98th percentile of the cells from column ``scale_from_col`` on (e.g. 1 for a
    retention matrix whose week 0 is ~100% by construction); brighter cells saturate, the labels stay exact."""
    rows, cols = matrix.shape
    fig, ax = _axes(ax, (min(13, 2.5 + 0.75 * max(cols, 1)), min(10, 1.8 + 0.42 * max(rows, 1))))
    if matrix.empty:
        return _no_data(ax, title, xlabel, ylabel)
    annot = matrix.map(lambda v: "" if pd.isna(v) else f"{100 * v:.0f}%") if annotate else False
    finite = matrix.iloc[:, scale_from_col:].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    top = vmax if vmax is not None else (float(np.quantile(finite, 0.98)) if finite.size else 1.0)
    sns.heatmap(matrix.astype(float), annot=annot, fmt="", cmap=SEQUENTIAL, vmin=0, vmax=max(top, 1e-9), ax=ax,
                linewidths=0.5, linecolor="white", annot_kws={"fontsize": 8},
                cbar_kws={"label": cbar_label, "format": mticker.PercentFormatter(xmax=1.0, decimals=0)})
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_yticklabels([text(t.get_text()) for t in ax.get_yticklabels()], rotation=0)
    return fig


# ------------------------------------------------------------------------------------------ long tails


def rank_frequency(counts: np.ndarray | Mapping[str, np.ndarray], *, title: str, xlabel: str, ylabel: str,
                   ax: Axes | None = None) -> Figure:
    """Log-log rank/frequency plot (long tail); ``counts`` is one array or {label: array}."""
    fig, ax = _axes(ax, (7, 4.5))
    series = counts if isinstance(counts, Mapping) else {"": counts}
    drawn = False
    for (label, c), color in zip(series.items(), sns.color_palette(PALETTE, len(series))):
        c = np.sort(np.asarray(c, dtype=float))[::-1]
        c = c[c > 0]
        if len(c):
            ax.loglog(np.arange(1, len(c) + 1), c, marker="." if len(c) <= 200 else None, linestyle="-",
                      markersize=3, linewidth=1.8, color=color, label=text(label) or None)
            drawn = True
    if not drawn:
        return _no_data(ax, title, xlabel, ylabel)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(series) > 1:
        ax.legend()
    ax.grid(True, which="major", alpha=0.4)
    return fig


def lorenz(x: np.ndarray, y: np.ndarray, *, title: str, entity: str, measure: str, label: str | None = None,
           ax: Axes | None = None) -> Figure:
    """Lorenz curve with the equality diagonal; call again with the same ``ax`` to overlay curves."""
    fig, ax = _axes(ax, (5.5, 5.0))
    if not ax.lines:
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect equality")
    ax.plot(x, y, linewidth=2, label=text(label or entity))
    ax.set(title=title, xlabel=f"cumulative share of {entity} (least active first)",
           ylabel=f"cumulative share of {measure}", xlim=(0, 1), ylim=(0, 1))
    percent_axis(ax, "x")
    percent_axis(ax, "y")
    ax.legend(loc="upper left")
    return fig


# ---------------------------------------------------------------------------------------- distributions


def box_from_stats(stats: pd.DataFrame, *, title: str, ylabel: str, unit: str | None = None,
                   label: str = "category", xlabel: str | None = None, log: bool = False, max_label: int = 18,
                   ax: Axes | None = None) -> Figure:
    """Box plots drawn from precomputed quantiles (columns p05, q1, median, q3, p95, mean, n): whiskers at the
    5th and 95th percentiles, diamond at the mean. No raw data needed, so it scales to any table size."""
    fig, ax = _axes(ax, (max(6.0, 0.9 * len(stats) + 2), 4.5))
    if stats.empty:
        return _no_data(ax, title, xlabel or label, with_unit(ylabel, unit))
    boxes = [{"label": f"{text(r[label], max_label)}\n(n={int(r['n']):,})", "whislo": r["p05"], "q1": r["q1"],
              "med": r["median"], "q3": r["q3"], "whishi": r["p95"], "mean": r["mean"], "fliers": []}
             for _, r in stats.iterrows()]
    ax.bxp(boxes, showmeans=True, showfliers=False, patch_artist=True,
           boxprops={"facecolor": sns.color_palette(PALETTE)[0], "alpha": 0.55},
           meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black", "markersize": 5},
           medianprops={"color": "black"})
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel or label, ylabel=with_unit(ylabel, unit))
    if len(stats) > 6:
        ax.tick_params(axis="x", rotation=30)
    return fig


def histogram(values: Iterable[float], *, title: str, xlabel: str, ylabel: str = "count", unit: str | None = None,
              bins: int | str = "auto", log_x: bool = False, ax: Axes | None = None) -> Figure:
    fig, ax = _axes(ax, (8, 4))
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return _no_data(ax, title, with_unit(xlabel, unit), ylabel)
    if log_x:
        v = v[v > 0]
        bins = np.logspace(np.log10(v.min()), np.log10(v.max()), 40) if len(v) else bins
        ax.set_xscale("log")
    ax.hist(v, bins=bins, color=sns.color_palette(PALETTE)[0], alpha=0.85)
    ax.set(title=title, xlabel=with_unit(xlabel, unit), ylabel=ylabel)
    return fig


# ---------------------------------------------------------------------------------------------- tables


_ACRONYMS = {"gmv": "GMV", "aov": "AOV", "dau": "DAU", "id": "id", "p05": "p5", "q1": "Q1", "q3": "Q3"}


def header_label(column: object) -> str:
    """Column name as a table header: underscores to spaces, known acronyms upper-cased."""
    words = str(column).split("_")
    return " ".join(_ACRONYMS.get(w.lower(), w) for w in words)


def _number_format(spec: str):
    def fmt(value):
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return spec.format(value)
        return value  # text (already HTML-escaped by the Styler)
    return fmt


def table(df: pd.DataFrame, *, percent: Sequence[str] = (), money: Sequence[str] = (), integer: Sequence[str] = (),
          decimals: Mapping[str, int] | None = None, caption: str | None = None, max_text: int = 80,
          index: bool = False):
    """A display table (pandas ``Styler``) with every text cell HTML-escaped (data text is untrusted),
    long text shortened, numbers formatted (``percent`` columns hold shares 0..1)."""
    d = df.copy()
    for col in d.columns:
        if d[col].dtype == object or pd.api.types.is_string_dtype(d[col]):
            d[col] = d[col].map(lambda v: v if not isinstance(v, str) or len(v) <= max_text
                                else v[: max_text - 1].rstrip() + "…")
    sty = d.style.format(escape="html", na_rep="–").format_index(escape="html", axis=0)
    num = [c for c in d.columns if pd.api.types.is_numeric_dtype(d[c]) and not pd.api.types.is_bool_dtype(d[c])]
    fmt: dict[str, str] = dict.fromkeys(num, "{:,.2f}")
    fmt.update({c: "{:,.0f}" for c in integer if c in d.columns})
    fmt.update({c: "{:,.2f}" for c in money if c in d.columns})
    fmt.update({c: "{:.1%}" for c in percent if c in d.columns})
    for c, k in (decimals or {}).items():
        if c in d.columns:
            fmt[c] = f"{{:,.{k}f}}"
    for c in num:
        if c not in integer and c not in money and c not in percent and c not in (decimals or {}) \
                and pd.api.types.is_integer_dtype(d[c]):
            fmt[c] = "{:,.0f}"
    if fmt:
        # a number format leaves text alone: a withheld small cell reads "<5" (contentlab.privacy)
        sty = sty.format({c: _number_format(f) for c, f in fmt.items()}, subset=list(fmt), na_rep="–", escape="html")
    headers = [_html.escape(header_label(c)) for c in d.columns]
    sty = sty.relabel_index(headers, axis="columns")
    if not index:
        sty = sty.hide(axis="index")
    if caption:
        sty = sty.set_caption(_html.escape(caption))
    return sty
