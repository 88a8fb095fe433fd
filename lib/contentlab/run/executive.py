"""The executive summary at the top of a run's ``index.html``: one screen a manager reads first.

Five findings, each one sentence with its number and a link to the stage report it comes from:

- **customers** (02): how many segments, and the segments by size and value (share of customers, of revenue);
- **recommendations** (03): the best model and its nDCG@10 against popularity's on the same split;
- **copy** (04): how many copies were published, which generator wrote them, and how faithful the GPT-2 copy is;
- **what won** (05): the winning variant per channel, with the CTR lift and its 95% interval;
- **next cycle** (05's feedback priors): how the next cycle's traffic moves between the variants.

A stage that did not run (or wrote nothing to say it with) leaves its finding out. A small chart (inline SVG, no
script, nothing fetched) shows each segment's share of customers beside its share of revenue. Everything comes
from the run's manifest (recorded metrics) and its products, read through :mod:`contentlab.contract`; every data
string is escaped when rendered (the index template autoescapes; the SVG escapes its labels itself).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from contentlab import contract
from contentlab.fmt import is_missing, num, pct

VARIANT_NAMES = {"gpt2": "GPT-2", "template": "template"}


@dataclass(frozen=True)
class Finding:
    topic: str
    sentence: str
    stage: str  # the stage whose report the finding links to
    report: str | None  # that report's file name (None when it has none)


def _metrics(manifest: Mapping[str, Any], stage: str) -> tuple[dict[str, Any], str | None]:
    for nb in manifest.get("notebooks", []):
        if nb.get("name") == stage and nb.get("status") == "ok":
            return dict(nb.get("metrics") or {}), nb.get("report")
    return {}, None


def _read(name: str, run_dir: Path | None) -> Any:
    if run_dir is None:
        return None
    try:
        return contract.product(name).read_optional(run_dir)
    except (OSError, ValueError, KeyError):
        return None


def _variant(name: Any) -> str:
    return VARIANT_NAMES.get(str(name), str(name))


def customers(manifest: Mapping[str, Any], run_dir: Path | None) -> Finding | None:
    m, report = _metrics(manifest, "02_profiling")
    personas = _read("personas", run_dir)
    if not m or not personas:
        return None
    ranked = sorted(personas, key=lambda p: -(p.get("revenue_share") or 0.0))
    parts = [f"{p.get('name') or p.get('segment')} ({num(p.get('size'), 0)} customers, "
             f"{pct(p.get('share_of_users'), 0)} of customers, {pct(p.get('revenue_share'), 0)} of revenue)"
             for p in ranked]
    top = ranked[0]
    sentence = (f"{len(personas)} customer segments; the most valuable, {top.get('name') or top.get('segment')}, "
                f"brings {pct(top.get('revenue_share'), 0)} of revenue from {pct(top.get('share_of_users'), 0)} of "
                f"customers. By revenue: " + "; ".join(parts) + ".")
    return Finding("Who the customers are", sentence, "02_profiling", report)


def recommendations(manifest: Mapping[str, Any], run_dir: Path | None) -> Finding | None:
    m, report = _metrics(manifest, "03_recommend")
    best, ndcg, pop = m.get("best_model"), m.get("ndcg_at_10"), m.get("popularity_ndcg_at_10")
    if not m or is_missing(best) or is_missing(ndcg):
        return None
    sentence = f"Recommend with the {best} model: nDCG@10 {num(ndcg, 3)} on held-out interactions"
    if not is_missing(pop) and pop:
        sentence += f", {ndcg / pop:.1f}× popularity's {num(pop, 3)} on the same split"
    if not is_missing(m.get("precision_at_10")):
        sentence += f" (precision@10 {num(m['precision_at_10'], 3)})"
    return Finding("What to recommend", sentence + ".", "03_recommend", report)


def copy(manifest: Mapping[str, Any], run_dir: Path | None) -> Finding | None:
    m, report = _metrics(manifest, "04_generate")
    if not m or is_missing(m.get("n_copies")):
        return None
    sentence = f"{num(m['n_copies'], 0)} copies published for {num(m.get('n_slots'), 0)} persona × product × channel slots"
    if m.get("model") is None:
        sentence += "; template copy only (no GPT-2 copy for this catalogue: see the report for why)"
    else:
        sentence += (f", written by GPT-2 ({m['model']}) and the template baseline; "
                     f"{pct(m.get('hallucination_rate'), 1)} of GPT-2 candidates named something the product does "
                     f"not have (template {pct(m.get('template_hallucination_rate'), 1)}), and such copy is never "
                     "published")
        if not is_missing(m.get("fluency_rate")):
            sentence += f"; {pct(m['fluency_rate'], 0)} of published GPT-2 copy judged fluent"
    return Finding("What copy was published", sentence + ".", "04_generate", report)


def _lift(row: Mapping[str, Any]) -> str:
    return (f"CTR {pct(row['lift'], 1, sign=True)} (95% CI {pct(row['lift_low'], 1, sign=True)} to "
            f"{pct(row['lift_high'], 1, sign=True)})")


def what_won(manifest: Mapping[str, Any], run_dir: Path | None) -> Finding | None:
    m, report = _metrics(manifest, "05_feedback")
    results = _read("ab_results", run_dir)
    if not m or results is None or not len(results):
        return None
    rows = results[results["level"] == "channel"]
    parts = []
    for r in rows.to_dict(orient="records"):
        if is_missing(r.get("lift")):
            continue
        w = r.get("winner")
        verdict = f"{_variant(w)} won" if isinstance(w, str) and w and w != "inconclusive" else "no clear winner"
        parts.append(f"{str(r['channel']).replace('_', ' ')}: {verdict}, GPT-2 vs template {_lift(r)}")
    if not parts:
        return None
    return Finding("What won", "; ".join(parts) + ".", "05_feedback", report)


def next_cycle(manifest: Mapping[str, Any], run_dir: Path | None) -> Finding | None:
    _, report = _metrics(manifest, "05_feedback")
    priors = _read("feedback_priors", run_dir)
    if not report or not priors or not priors.get("cells"):
        return None
    shares = []
    for cell in priors["cells"]:
        alloc = cell.get("recommended_allocation") or {}
        if "gpt2" in alloc:
            shares.append((float(alloc["gpt2"]), cell))
    if not shares:
        return None
    more = [c for s, c in shares if s > 0.5]
    less = [c for s, c in shares if s < 0.5]
    sentence = (f"The next cycle gives GPT-2 more than half the impressions in {len(more)} of {len(shares)} "
                f"segment × channel cells and less than half in {len(less)} (Thompson sampling on the CTR posteriors)")
    if less:
        segs = sorted({str(c.get("segment")) for c in less})
        sentence += "; the template keeps the lead for " + ", ".join(segs[:4]) + ("…" if len(segs) > 4 else "")
    return Finding("What the next cycle does differently", sentence + ".", "05_feedback", report)


FINDINGS = (customers, recommendations, copy, what_won, next_cycle)


def findings(manifest: Mapping[str, Any], run_dir: str | Path | None) -> list[Finding]:
    """The findings the run's products support, in reading order (see module docstring)."""
    rd = Path(run_dir) if run_dir else None
    out = []
    for build in FINDINGS:
        try:
            f = build(manifest, rd)
        except (KeyError, TypeError, ValueError):
            f = None  # a product of an older shape: leave the finding out rather than break the index
        if f is not None:
            out.append(f)
    return out


def segment_chart(run_dir: str | Path | None, width: int = 420) -> str:
    """An inline SVG bar chart: each segment's share of customers beside its share of revenue ("" without
    personas). Labels are escaped here."""
    personas = _read("personas", Path(run_dir)) if run_dir else None
    if not personas:
        return ""
    ranked = sorted(personas, key=lambda p: -(p.get("revenue_share") or 0.0))
    label_w, bar_w, row_h = 150, width - 150 - 50, 26
    height = 30 + row_h * len(ranked)
    top = max(max(p.get("share_of_users") or 0.0, p.get("revenue_share") or 0.0) for p in ranked) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="Share of customers and of revenue per segment" class="cl-exec-chart">',
           f'<rect x="{label_w}" y="4" width="10" height="10" fill="#9db4d0"/>'
           f'<text x="{label_w + 14}" y="13" font-size="11">customers</text>',
           f'<rect x="{label_w + 90}" y="4" width="10" height="10" fill="#1f4e79"/>'
           f'<text x="{label_w + 104}" y="13" font-size="11">revenue</text>']
    for i, p in enumerate(ranked):
        y = 24 + i * row_h
        name = escape(str(p.get("name") or p.get("segment") or ""))[:40]
        users, revenue = float(p.get("share_of_users") or 0.0), float(p.get("revenue_share") or 0.0)
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end">{name}</text>')
        for j, (value, colour) in enumerate(((users, "#9db4d0"), (revenue, "#1f4e79"))):
            w = max(1.0, bar_w * value / top)
            out.append(f'<rect x="{label_w}" y="{y + 2 + j * 10}" width="{w:.1f}" height="9" fill="{colour}"/>')
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 10 + j * 10}" font-size="10">{value:.0%}</text>')
    out.append("</svg>")
    return "".join(out)


def as_rows(found: Sequence[Finding]) -> list[dict[str, Any]]:
    """What the index template shows."""
    return [{"topic": f.topic, "sentence": f.sentence, "stage": f.stage, "report": f.report} for f in found]
