"""Publishing: the content catalogue (the contract's ``content`` and ``content_jsonl`` products) and content cards.

The catalogue holds every candidate with its scores: published copy (``published``: the best
accepted GPT-2 candidate per slot and the slot's template copy), candidates that lost the selection,
and rejected candidates with ``rejected`` / ``reject_reason`` / ``reject_detail``; shopping guides
are rows with ``content_type="guide"``. ``content_id`` is stable for the same slot, variant and
text; the feedback stage's exposures refer to it and to ``variant`` (``gpt2`` | ``template``).

Nothing markup-like is published: the copy was made from cleaned record fields
(:mod:`contentlab.generate.sanitise`) and scored with the ``markup`` check, and :func:`content_table` checks
every published row once more (text, subject, title, social proof): a row that still has markup is unpublished
and rejected with reason ``markup``, and the text of every row rejected for markup is stored cleaned, so the
files hold no markup at all. ``price`` / ``price_text`` follow the data's price policy (empty when the data has
no real prices or no currency).

Cards (:data:`CARDS_HTML` / :data:`CARDS_MD` in the report directory) show the published copy. Every string that
comes from data is escaped as well (defence in depth: :func:`contentlab.fmt.esc_html` in the HTML,
:func:`contentlab.fmt.esc_md` in the Markdown); the HTML is self-contained (inline CSS, no scripts, nothing loaded
from the web).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from contentlab import contract
from contentlab.fmt import esc_html, esc_md, num
from contentlab.generate.prices import PriceFormat
from contentlab.generate.sanitise import clean_text, markup_problems
from contentlab.generate.workflow import content_id

CARDS_HTML = "content_cards.html"
CARDS_MD = "content_cards.md"

CONTENT_COLUMNS = [
    "content_id", "content_type", "slot_id", "segment", "persona_id", "user_id", "product_id", "product_ids",
    "product_title", "price", "price_text", "channel", "variant", "candidate", "text", "subject", "prompt", "model",
    "model_fingerprint", "published", "selected", "rejected", "reject_reason", "reject_detail",
    "attribute_coverage", "hallucinated", "wrong_attributes", "length_ok", "perplexity", "longest_overlap",
    "regurgitated", "bleu", "rouge_l", "quality", "variant_share", "social_proof", "guardrails_version",
    "templates_version", "style", "fluent", "fluency_score",
]


def content_table(scored: pd.DataFrame, guides: pd.DataFrame | None, products: pd.DataFrame, model_name: str,
                  model_fingerprint: str, guardrails_version: str, templates_version: int,
                  variant_shares: Mapping[tuple[str, str, str], float] | None = None,
                  digests: pd.DataFrame | None = None, guide_checks: pd.DataFrame | None = None,
                  format_price=None, prices: PriceFormat | None = None) -> pd.DataFrame:
    """The catalogue in its published shape (columns :data:`CONTENT_COLUMNS`).

    ``prices`` (the data's :class:`~contentlab.generate.prices.PriceFormat`) renders ``price_text`` and
    empties ``price`` when the data has no real prices; ``format_price`` is an older way to pass the renderer.
    """
    titles = dict(zip(products["product_id"].astype(str), products["title"].astype(str)))
    list_prices = dict(zip(products["product_id"].astype(str), products["price"].astype(float)))
    proof = {} if digests is None or digests.empty else dict(zip(digests["product_id"], digests["social_proof"]))
    df = scored.copy()
    df["content_type"] = "copy"
    df["user_id"] = None
    df["product_id"] = df["product_id"].astype(str)
    df["product_ids"] = df["product_id"]
    df["product_title"] = df["product_id"].map(titles)
    df["price"] = df["product_id"].map(list_prices)
    df["subject"] = None
    df["model"] = np.where(df["variant"] == "gpt2", model_name, "template")
    df["model_fingerprint"] = np.where(df["variant"] == "gpt2", model_fingerprint, f"templates-v{templates_version}")
    shares = variant_shares or {}
    df["variant_share"] = [shares.get((str(s), str(c), str(v)), 0.5) for s, c, v in
                           zip(df["segment"], df["channel"], df["variant"])]
    df["social_proof"] = [proof.get(p, "") or "" for p in df["product_id"]]
    df["content_id"] = [content_id(p, pr, c, v, k, t) for p, pr, c, v, k, t in
                        zip(df["persona_id"], df["product_id"], df["channel"], df["variant"], df["candidate"], df["text"])]
    parts = [df]
    if guides is not None and len(guides):
        g = guides.copy()
        checks = guide_checks if guide_checks is not None else pd.DataFrame(index=g.index)
        g = g.join(checks[[c for c in checks.columns if c not in g.columns]]) if len(checks.columns) else g
        out = pd.DataFrame({
            "content_type": "guide", "slot_id": g["guide_id"], "segment": g["segment"], "persona_id": g["persona_id"],
            "user_id": g["user_id"], "product_id": g["product_ids"].map(lambda x: x[0] if len(x) else None),
            "product_ids": g["product_ids"].map(lambda x: ",".join(map(str, x))), "channel": "email",
            "variant": "template", "candidate": 0, "text": g["text"], "subject": g["subject"], "prompt": "",
            "model": "template", "model_fingerprint": f"templates-v{templates_version}",
        })
        out["product_title"] = out["product_id"].map(titles)
        out["price"] = out["product_id"].map(list_prices)
        for col, default in (("rejected", False), ("reject_reason", ""), ("reject_detail", ""), ("hallucinated", False),
                             ("wrong_attributes", ""), ("attribute_coverage", np.nan)):
            out[col] = g[col] if col in g.columns else default
        out["selected"] = True
        out["published"] = ~out["rejected"].astype(bool)
        out["variant_share"] = 1.0
        out["social_proof"] = ""
        out["content_id"] = [content_id("guide", u if u is not None else p, t) for u, p, t in
                             zip(out["user_id"], out["persona_id"], out["text"])]
        parts.append(out)
    full = pd.concat(parts, ignore_index=True, sort=False)
    fmt = prices.format if prices is not None else (format_price or (lambda p: f"{float(p):.2f}"))
    full["price_text"] = [fmt(p) if p is not None and not (isinstance(p, float) and np.isnan(p)) else ""
                          for p in full["price"]]
    if prices is not None and not prices.show:
        full["price"] = np.nan
    full = _markup_gate(full)
    full["guardrails_version"] = guardrails_version
    full["templates_version"] = int(templates_version)
    for col in CONTENT_COLUMNS:
        if col not in full.columns:
            full[col] = None
    full = full[CONTENT_COLUMNS]
    for col in ("published", "selected", "rejected", "hallucinated", "length_ok", "regurgitated"):
        full[col] = full[col].fillna(False).astype(bool)
    for col in ("reject_reason", "reject_detail", "wrong_attributes", "social_proof", "prompt", "style"):
        full[col] = full[col].fillna("").astype(str)
    full["fluent"] = full["fluent"].astype("boolean")  # not judged (a guide): missing, never a guess
    full["fluency_score"] = pd.to_numeric(full["fluency_score"], errors="coerce")
    return full


_GATED = ("text", "subject", "product_title", "social_proof")


def _markup_gate(full: pd.DataFrame) -> pd.DataFrame:
    """Unpublish (reason ``markup``) every row with markup left in a published field; clean rejected text."""
    full = full.copy()
    gated = [c for c in _GATED if c in full.columns]
    for i in full.index:
        problems = [f"{col}:{p}" for col in gated for p in markup_problems(full.at[i, col])
                    if isinstance(full.at[i, col], str)]
        if not problems:
            continue
        reason, detail = full.at[i, "reject_reason"], full.at[i, "reject_detail"]
        reasons = [r for r in (reason if isinstance(reason, str) else "").split(";") if r]
        if "markup" not in reasons:
            reasons.append("markup")
        detail = detail if isinstance(detail, str) else ""
        full.at[i, "reject_reason"] = ";".join(reasons)
        full.at[i, "reject_detail"] = "; ".join(x for x in [detail] + [f"markup:{p}" for p in problems] if x)
        full.at[i, "rejected"] = True
        full.at[i, "published"] = False
        for col in gated:
            if isinstance(full.at[i, col], str):
                full.at[i, col] = clean_text(full.at[i, col])
    return full


# ---- per-user shopping guides (the contract's ``user_guides``) -------------------------------------------

USER_GUIDE_BUCKETS = 16
"""The ``user_guides`` directory is partitioned by a hash bucket of the user id (``bucket=0`` ... ``bucket=15``):
buckets are even in size whatever the segments' sizes, a user's guide is found by computing its bucket
(:func:`guide_bucket`), and no data-derived text (segment names) becomes a directory name."""

USER_GUIDE_SCHEMA: tuple[tuple[str, str], ...] = (
    ("bucket", "int"), ("user_id", "string"), ("segment", "string"), ("persona_id", "string"),
    ("content_id", "string"), ("product_ids", "string"), ("subject", "string"), ("text", "string"),
    ("published", "boolean"), ("rejected", "boolean"), ("reject_reason", "string"), ("reject_detail", "string"),
    ("hallucinated", "boolean"), ("wrong_attributes", "string"), ("attribute_coverage", "double"),
    ("guardrails_version", "string"), ("templates_version", "int"),
)
"""Columns of a per-user guide row and their types (Spark SQL names; :func:`user_guide_arrow_schema` in Arrow)."""
USER_GUIDE_COLUMNS = [name for name, _ in USER_GUIDE_SCHEMA]
_PANDAS_TYPES = {"int": "int32", "string": object, "boolean": bool, "double": "float64"}


def guide_bucket(user_id: object) -> int:
    """The ``user_guides`` partition of a user: CRC-32 of the id's UTF-8 bytes modulo :data:`USER_GUIDE_BUCKETS`
    (Spark's ``pmod(crc32(CAST(user_id AS BINARY)), 16)`` is the same number)."""
    return zlib.crc32(str(user_id).encode("utf-8")) % USER_GUIDE_BUCKETS


def user_guide_arrow_schema():
    import pyarrow as pa

    types = {"int": pa.int32(), "string": pa.string(), "boolean": pa.bool_(), "double": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind in USER_GUIDE_SCHEMA])


def user_guide_table(guides: pd.DataFrame, guide_checks: pd.DataFrame, guardrails_version: str,
                     templates_version: int) -> pd.DataFrame:
    """The customers' guides of ``guides`` (``level == "user"``) with their checks in the published shape
    (:data:`USER_GUIDE_COLUMNS`): ``published`` unless rejected; the same ``content_id`` as the guide's row of
    the content catalogue; the same markup gate as :func:`content_table` (a guide with markup left in its subject
    or text is rejected for ``markup`` and stored cleaned)."""
    g = guides[guides["level"] == "user"]
    if g.empty:
        return pd.DataFrame({name: pd.Series(dtype=_PANDAS_TYPES[kind]) for name, kind in USER_GUIDE_SCHEMA})
    checks = guide_checks.loc[g.index]
    out = pd.DataFrame({
        "bucket": [guide_bucket(u) for u in g["user_id"]],
        "user_id": g["user_id"].astype(str),
        "segment": g["segment"], "persona_id": g["persona_id"],
        "content_id": [content_id("guide", u, t) for u, t in zip(g["user_id"], g["text"])],
        "product_ids": g["product_ids"].map(lambda x: ",".join(map(str, x))),
        "subject": g["subject"], "text": g["text"],
        "rejected": checks["rejected"].astype(bool), "reject_reason": checks["reject_reason"],
        "reject_detail": checks["reject_detail"], "hallucinated": checks["hallucinated"].astype(bool),
        "wrong_attributes": checks["wrong_attributes"], "attribute_coverage": checks["attribute_coverage"],
    }, index=g.index)
    out["published"] = ~out["rejected"]
    out = _markup_gate(out)
    out["guardrails_version"] = str(guardrails_version)
    out["templates_version"] = int(templates_version)
    out = out[USER_GUIDE_COLUMNS].reset_index(drop=True)
    for col in ("published", "rejected", "hallucinated"):
        out[col] = out[col].astype(bool)
    for col in ("reject_reason", "reject_detail", "wrong_attributes"):
        out[col] = out[col].fillna("").astype(str)
    out["bucket"] = out["bucket"].astype("int32")
    out["templates_version"] = out["templates_version"].astype("int32")
    out["attribute_coverage"] = pd.to_numeric(out["attribute_coverage"], errors="coerce").astype("float64")
    for col in ("segment", "persona_id"):
        out[col] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in out[col]]
    return out


def write_content(content: pd.DataFrame, run_dir: str | Path) -> tuple[Path, Path]:
    """Write the catalogue through the contract: ``content`` (Parquet) and ``content_jsonl`` (one JSON object per
    row, NaN as null); returns both paths."""
    return (contract.product("content").write(run_dir, content),
            contract.product("content_jsonl").write(run_dir, content))


# ---- cards ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans SC",sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:14px}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 14px}
.meta{font-size:12px;color:#666;margin-bottom:6px}.title{font-weight:600}
.copy{margin:8px 0;white-space:pre-wrap}.v-gpt2{border-left:4px solid #4c72b0}.v-template{border-left:4px solid #dd8452}
.proof{font-size:12px;color:#555;font-style:italic}.scores{font-size:11px;color:#777}
.tag{display:inline-block;font-size:11px;padding:1px 6px;border-radius:8px;background:#eee;margin-right:4px}
"""


def _css_class(variant: object) -> str:
    """The card's colour class: chosen from the known variants, so no data reaches an HTML attribute."""
    return "v-gpt2" if str(variant) == "gpt2" else "v-template"


def render_cards_html(content: pd.DataFrame, title: str = "Content cards", max_cards: int | None = None,
                      pseudonymise=None) -> str:
    """Self-contained HTML of the published content; every data string is escaped."""
    pub = content[content["published"]].copy()
    parts = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">", f"<title>{esc_html(title)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{esc_html(title)}</h1>"]
    copy_rows = pub[pub["content_type"] == "copy"].sort_values(["segment", "product_id", "channel", "variant"])
    if max_cards:
        copy_rows = copy_rows.head(max_cards)
    for seg, g in copy_rows.groupby("segment", sort=True):
        parts.append(f"<h2>Segment: {esc_html(seg)}</h2><div class=\"grid\">")
        for r in g.itertuples():
            parts.append(
                f"<div class=\"card {_css_class(r.variant)}\">"
                f"<div class=\"meta\"><span class=\"tag\">{esc_html(r.channel)}</span>"
                f"<span class=\"tag\">{esc_html(r.variant)}</span>"
                f"{esc_html(r.content_id)}</div>"
                f"<div class=\"title\">{esc_html(r.product_title)}"
                + (f" · {esc_html(r.price_text)}" if r.price_text else "") + "</div>"
                f"<div class=\"copy\">{esc_html(r.text)}</div>"
                + (f"<div class=\"proof\">{esc_html(r.social_proof)}</div>" if r.social_proof else "")
                + f"<div class=\"scores\">coverage {esc_html(num(r.attribute_coverage, 2))} · "
                f"perplexity {esc_html(num(r.perplexity, 1))}"
                f" · ROUGE-L {esc_html(num(r.rouge_l, 2))}</div></div>")
        parts.append("</div>")
    guides = pub[pub["content_type"] == "guide"]
    if len(guides):
        parts.append("<h2>Shopping guides</h2><div class=\"grid\">")
        for r in guides.itertuples():
            who = r.user_id
            if who is not None and pseudonymise is not None:
                who = pseudonymise(who)
            label = f"user {who}" if r.user_id is not None else f"segment {r.segment}"
            parts.append(f"<div class=\"card v-template\"><div class=\"meta\">{esc_html(label)} · "
                         f"{esc_html(r.content_id)}</div><div class=\"title\">{esc_html(r.subject)}</div>"
                         f"<div class=\"copy\">{esc_html(r.text)}</div></div>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_cards_markdown(content: pd.DataFrame, title: str = "Content cards", max_cards: int | None = None,
                          pseudonymise=None) -> str:
    """Markdown of the published content: data strings HTML-escaped and Markdown-neutralised, copy as plain
    paragraphs (no block quotes: the file holds no ``<`` or ``>`` at all)."""
    pub = content[content["published"]]
    lines = [f"# {esc_md(title)}", ""]
    copy_rows = pub[pub["content_type"] == "copy"].sort_values(["segment", "product_id", "channel", "variant"])
    if max_cards:
        copy_rows = copy_rows.head(max_cards)
    for seg, g in copy_rows.groupby("segment", sort=True):
        lines += [f"## Segment: {esc_md(seg)}", ""]
        for r in g.itertuples():
            price = f" ({esc_md(r.price_text)})" if r.price_text else ""
            lines.append(f"### {esc_md(r.product_title)}{price} · {esc_md(r.channel)} · "
                         f"{esc_md(r.variant)}")
            lines.append("")
            lines += [esc_md(line.strip()) + "  " for line in str(r.text).splitlines()]
            if r.social_proof:
                lines += ["", "Social proof: " + esc_md(r.social_proof)]
            lines.append("")
            lines.append(f"{esc_md(r.content_id)} · coverage {num(r.attribute_coverage, 2)} · "
                         f"perplexity {num(r.perplexity, 1)}")
            lines.append("")
    guides = pub[pub["content_type"] == "guide"]
    if len(guides):
        lines += ["## Shopping guides", ""]
        for r in guides.itertuples():
            who = r.user_id
            if who is not None and pseudonymise is not None:
                who = pseudonymise(who)
            label = f"user {who}" if r.user_id is not None else f"segment {r.segment}"
            lines += [f"### {esc_md(r.subject)} ({esc_md(label)})", ""]
            lines += [esc_md(line.strip()) + "  " for line in str(r.text).splitlines()]
            lines.append("")
    return "\n".join(lines)


def write_cards(content: pd.DataFrame, report_dir: str | Path, title: str = "Content cards",
                pseudonymise=None) -> tuple[Path, Path]:
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    h = report_dir / CARDS_HTML
    m = report_dir / CARDS_MD
    h.write_text(render_cards_html(content, title, pseudonymise=pseudonymise), encoding="utf-8")
    m.write_text(render_cards_markdown(content, title, pseudonymise=pseudonymise), encoding="utf-8")
    return h, m
