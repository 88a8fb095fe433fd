"""What 04's report says about the candidates: comparison tables, the recorded metrics, where each variant stands
(structured :class:`Verdict` s, rendered once) and the summary.

Rates over candidates (hallucination, rejection, attribute coverage, length compliance) are measured *before*
filtering; diversity (distinct-n, self-BLEU) over the published copy. A figure that cannot be computed is None,
never NaN (the report prints :data:`contentlab.fmt.NA` with the reason).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contentlab import fmt
from contentlab.generate.model import CopyModel
from contentlab.generate.prompts import copy_problems
from contentlab.generate.sanitise import clean_text
from contentlab.generate.scoring import ATTRIBUTE_TYPES, distinct_n, self_bleu
from contentlab.generate.style import style_accuracy
from contentlab.generate.workflow import VARIANTS, Catalogue, ModelPlan

GPT2_METRICS = ("attribute_coverage", "hallucination_rate", "distinct_2", "self_bleu", "rejected_rate",
                "heldout_perplexity", "tokens_per_s", "train_seconds", "fluency_rate", "truncated_rate",
                "style_accuracy", "model_params")
METRIC_NAMES = ("model", "n_slots", "n_copies", "attribute_coverage", "hallucination_rate",
                "template_hallucination_rate", "distinct_2", "self_bleu", "rejected_rate", "heldout_perplexity",
                "tokens_per_s", "train_seconds", "fluency_rate", "truncated_rate", "style_accuracy",
                "scorer_precision", "scorer_recall", "model_params", "guides_written")
"""The metrics 04 records, in order (:func:`metrics`)."""


_END = re.compile(r"(?:[.!?]|[。！？])[\"'”’)）]*$")


def ends_mid_sentence(text: Any, locale: str = "en") -> bool:
    """Whether ``text`` stops mid-sentence: it does not end with a sentence end (``.!?``, ``。！？``, possibly closed
    by a quote or bracket) or its last sentence ends on a dangling function word ("... made for the.").

    Independent of the selection rules: measured on the final text of published copy (``truncated_rate``).
    """
    text = clean_text(text).strip()
    if not text:
        return False
    if not _END.search(text):
        return True
    return "cut sentence" in copy_problems(re.sub(r"[.!?。！？\"'”’)）]+$", "", text), locale)


def truncated_rate(published: pd.DataFrame, locale: str) -> float:
    """Share of published copy that stops mid-sentence (:func:`ends_mid_sentence`); NaN when nothing is published."""
    if published.empty:
        return float("nan")
    return float(published["text"].map(lambda t: ends_mid_sentence(t, locale)).mean())


def diversity_by_segment(published: pd.DataFrame, locale: str) -> pd.DataFrame:
    """distinct-1/2 and self-BLEU of the published copy per variant and segment."""
    rows = []
    for (variant, seg), g in published.groupby(["variant", "segment"], sort=True):
        texts = g["text"].tolist()
        rows.append({"variant": variant, "segment": seg, "copies": len(texts),
                     "distinct_1": distinct_n(texts, 1, locale),
                     "distinct_2": distinct_n(texts, 2, locale), "self_bleu": self_bleu(texts, locale)})
    return pd.DataFrame(rows, columns=["variant", "segment", "copies", "distinct_1", "distinct_2", "self_bleu"])


def _mean(x) -> float:
    x = pd.to_numeric(pd.Series(x), errors="coerce").dropna()
    return float(x.mean()) if len(x) else float("nan")


def model_comparison(scored: pd.DataFrame, locale: str) -> pd.DataFrame:
    """One row per variant: every metric, over all candidates (before filtering) and over published copy.

    ``length_compliance`` is over the candidates; ``published_length_compliance`` over the published copy (copy
    outside its channel's length rule is rejected, so it is 1.0 whenever anything is published).
    """
    rows = []
    for variant in VARIANTS:
        g = scored[scored["variant"] == variant]
        if g.empty:
            continue
        pub = g[g["published"]]
        div = diversity_by_segment(pub, locale)
        rows.append({
            "variant": variant, "candidates": len(g), "published": len(pub),
            "attribute_coverage": _mean(g["attribute_coverage"]),
            "hallucination_rate": _mean(g["hallucinated"]),
            "rejected_rate": _mean(g["rejected"]), "length_compliance": _mean(g["length_ok"]),
            "published_length_compliance": _mean(pub["length_ok"]),
            "regurgitation_rate": _mean(g["regurgitated"]), "perplexity_median": _mean([g["perplexity"].median()]),
            "bleu": _mean(g["bleu"]), "rouge_l": _mean(g["rouge_l"]),
            "distinct_1": distinct_n(pub["text"], 1, locale), "distinct_2": distinct_n(pub["text"], 2, locale),
            "self_bleu": _mean(div["self_bleu"]),
            "published_coverage": _mean(pub["attribute_coverage"]),
        })
    return pd.DataFrame(rows)


def channel_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Per channel and variant: candidates, published, length compliance of candidates and of published copy,
    faithfulness and rejection rates (all shares of the candidates unless named ``published_``)."""
    rows = []
    for (ch, variant), g in scored.groupby(["channel", "variant"], sort=True):
        pub = g[g["published"]]
        rows.append({"channel": ch, "variant": variant, "candidates": len(g), "published": len(pub),
                     "length_compliance": _mean(g["length_ok"]), "published_length_compliance": _mean(pub["length_ok"]),
                     "attribute_coverage": _mean(g["attribute_coverage"]),
                     "hallucination_rate": _mean(g["hallucinated"]),
                     "rejected_rate": _mean(g["rejected"]),
                     "median_length_chars": _mean([g["text"].fillna("").str.len().median()])})
    return pd.DataFrame(rows, columns=["channel", "variant", "candidates", "published", "length_compliance",
                                       "published_length_compliance", "attribute_coverage", "hallucination_rate",
                                       "rejected_rate", "median_length_chars"])


def rejection_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Rejected candidates per variant and reason (a candidate can have several reasons)."""
    rej = scored[scored["rejected"]]
    if rej.empty:
        return pd.DataFrame(columns=["variant", "reason", "candidates", "share_of_variant"])
    ex = rej.assign(reason=rej["reject_reason"].str.split(";")).explode("reason")
    t = ex.groupby(["variant", "reason"]).size().rename("candidates").reset_index()
    totals = scored.groupby("variant").size()
    t["share_of_variant"] = t["candidates"] / t["variant"].map(totals)
    return t.sort_values(["variant", "candidates"], ascending=[True, False]).reset_index(drop=True)


def fluency_rate(published: pd.DataFrame) -> float:
    """Share of ``published`` copy the independent fluency judge finds fluent (NaN when none was judged)."""
    if published.empty or "fluent" not in published.columns:
        return float("nan")
    judged = published["fluent"].dropna()
    return float(judged.astype(bool).mean()) if len(judged) else float("nan")


def published_style_accuracy(published: pd.DataFrame, locale: str, seed: int = 0) -> float:
    """:func:`contentlab.generate.style.style_accuracy` of published GPT-2 copy (NaN when it cannot be measured)."""
    if published.empty or "style" not in published.columns:
        return float("nan")
    return float(style_accuracy(published, locale, seed=seed).accuracy)


def metrics(scored: pd.DataFrame, slots: pd.DataFrame, cm: CopyModel | None, gen_stats: Mapping[str, float] | None,
            train_seconds: float | None, locale: str, scorer: Mapping[str, Any] | None = None,
            guides_written: int | None = None) -> dict[str, Any]:
    """The recorded metrics (names fixed by the issue), computed from the scored candidate table.

    GPT-2 coverage / hallucination / rejection rates are over *all* GPT-2 candidates (before
    filtering: the decoder's constraint is what keeps it low); diversity, ``fluency_rate`` (the independent judge),
    ``truncated_rate`` and ``style_accuracy`` are over published GPT-2 copy. ``scorer_precision`` and
    ``scorer_recall`` (``scorer``: :func:`contentlab.generate.calibration.scorer_figures`) are the faithfulness
    scorer's agreement with the copy a person labelled, whatever this run's catalogue.
    A figure that cannot be computed is None, never NaN: without GPT-2 copy (``cm`` None: the catalogue had
    no descriptive text, see :func:`plan_model`) ``model`` and every GPT-2 metric (:data:`GPT2_METRICS`) are
    None; ``attribute_coverage`` is None when no product has a category, colour, material or brand.
    ``guides_written``: the per-user shopping guides in the ``user_guides`` directory (on Spark one per customer with
    recommendations, on DuckDB the sampled customers'; :mod:`contentlab.generate.userguides`).
    """
    gpt = scored[scored["variant"] == "gpt2"] if len(scored) else scored
    tpl = scored[scored["variant"] == "template"] if len(scored) else scored
    pub = gpt[gpt["published"]] if len(gpt) else gpt
    copies = scored[scored["published"]] if len(scored) else scored
    out: dict[str, Any] = {
        "model": cm.name if cm is not None else None,
        "n_slots": int(slots["slot_id"].nunique()),
        "n_copies": int(len(copies)),
        "attribute_coverage": None, "hallucination_rate": None,
        "template_hallucination_rate": _none(_mean(tpl["hallucinated"])) if len(tpl) else None,
        "distinct_2": None, "self_bleu": None, "rejected_rate": None, "heldout_perplexity": None,
        "tokens_per_s": None, "train_seconds": None, "fluency_rate": None, "truncated_rate": None,
        "style_accuracy": None,
        "scorer_precision": _none((scorer or {}).get("precision")), "scorer_recall": _none((scorer or {}).get("recall")),
        "model_params": None,
        "guides_written": None if guides_written is None else int(guides_written),
    }
    if cm is not None and len(gpt):
        div = diversity_by_segment(pub, locale)
        out.update({
            "attribute_coverage": _none(_mean(gpt["attribute_coverage"])),
            "hallucination_rate": _none(_mean(gpt["hallucinated"])),
            "distinct_2": _none(distinct_n(pub["text"], 2, locale)),
            "self_bleu": _none(_mean(div["self_bleu"])),
            "rejected_rate": _none(_mean(gpt["rejected"])),
            "heldout_perplexity": _none(float(cm.info.get("heldout_perplexity", float("nan")))),
            "tokens_per_s": _none(float((gen_stats or {}).get("tokens_per_s", float("nan")))),
            "train_seconds": float(train_seconds or 0.0),
            "fluency_rate": _none(fluency_rate(pub)),
            "truncated_rate": _none(truncated_rate(pub, locale)),
            "style_accuracy": _none(published_style_accuracy(pub, locale)),
            "model_params": int(cm.n_params),
        })
    return out


def _none(x: float | None) -> float | None:
    return None if fmt.is_missing(x) else float(x)


def coverage_note(products: pd.DataFrame) -> str:
    """Why attribute coverage cannot be computed ("" when it can)."""
    present = [t for t in ATTRIBUTE_TYPES if t in products.columns and products[t].map(clean_text).astype(bool).any()]
    if present:
        return ""
    return "no product has a " + ", ".join(ATTRIBUTE_TYPES[:-1]) + f" or {ATTRIBUTE_TYPES[-1]} to cover"


def fmt_metric(value: Any, spec: str = ".0%", why: str = "") -> str:
    """A figure for the report: formatted, or :data:`contentlab.fmt.NA` with the reason (never "nan")."""
    if fmt.is_missing(value):
        return f"{fmt.NA} ({why})" if why else fmt.NA
    return format(value, spec)


@dataclass(frozen=True)
class Measure:
    """A measure of :func:`model_comparison` on which the two variants are compared."""

    metric: str
    label: str
    higher_is_better: bool
    percent: bool  # shown as a percentage (else with three decimals)

    def show(self, value: float) -> str:
        return fmt.pct(value, 1) if self.percent else fmt.num(value, 3)


COMPARED = (
    Measure("hallucination_rate", "Hallucination (share of candidates naming a type, attribute, number, price or "
            "title the product does not have)", False, True),
    Measure("attribute_coverage", "Attribute coverage", True, True),
    Measure("rejected_rate", "Rejected by scoring and guardrails", False, True),
    Measure("length_compliance", "Channel length compliance of the candidates", True, True),
    Measure("distinct_2", "distinct-2 of published copy", True, False),
    Measure("self_bleu", "Self-BLEU within a segment (lower = more varied)", False, False),
    Measure("regurgitation_rate", "Verbatim regurgitation of training copy", False, True),
    Measure("rouge_l", "ROUGE-L against the product description", True, False),
)


@dataclass(frozen=True)
class Verdict:
    """Where GPT-2 stands against the template baseline on one measure."""

    measure: Measure
    gpt2: float
    template: float

    @property
    def outcome(self) -> str:
        """``"same"``, ``"better"`` or ``"worse"`` (for GPT-2)."""
        if abs(self.gpt2 - self.template) < 1e-9:
            return "same"
        return "better" if (self.gpt2 > self.template) == self.measure.higher_is_better else "worse"

    def markdown(self) -> str:
        m = self.measure
        if self.outcome == "same":
            return f"- {m.label}: the same for both ({m.show(self.gpt2)})."
        return (f"- {m.label}: GPT-2 {m.show(self.gpt2)} vs template {m.show(self.template)} — GPT-2 is "
                f"**{self.outcome}**.")


def compare_variants(comparison: pd.DataFrame) -> list[Verdict]:
    """One :class:`Verdict` per measure of :data:`COMPARED` that both variants have (:func:`model_comparison`);
    none without GPT-2 copy."""
    g = comparison.set_index("variant") if len(comparison) else pd.DataFrame()
    if not {"gpt2", "template"} <= set(g.index):
        return []
    out = []
    for m in COMPARED:
        a, b = g.loc["gpt2", m.metric], g.loc["template", m.metric]
        if not (pd.isna(a) or pd.isna(b)):
            out.append(Verdict(m, float(a), float(b)))
    return out


def worse(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.outcome == "worse"]


def verdicts_markdown(verdicts: Sequence[Verdict]) -> str:
    """The report's "Where each variant stands" paragraph."""
    if not verdicts:
        return "**Where each variant stands**: only the template baseline ran, so there is no comparison."
    text = ("**Where each variant stands** (computed from the table above):\n\n"
            + "\n".join(v.markdown() for v in verdicts))
    bad = worse(verdicts)
    if bad:
        text += (f"\n\nGPT-2 copy is worse than the template baseline on {len(bad)} of {len(verdicts)} measures. "
                 "Templates copy attribute values straight from the product record, so they cannot hallucinate an "
                 "attribute; GPT-2's value has to come from variety and tone, and its faithfulness errors are why "
                 "hallucinated copy is filtered before publishing.")
    return text


def summary_lines(m: Mapping[str, Any], scored: pd.DataFrame, comparison: pd.DataFrame, plan: ModelPlan,
                  catalogue: Catalogue, threads: int, verdicts: Sequence[Verdict] = (),
                  priors_used: str = "") -> list[str]:
    """The report's summary bullets (Markdown; data strings are not included)."""
    lines: list[str] = []
    pub = scored[scored["published"]]
    by_var = pub.groupby("variant").size().to_dict()
    channels = sorted(scored["channel"].unique()) if len(scored) else []
    lines.append(f"- **{m['n_copies']} copies published** for {m['n_slots']} slots (persona × product × channel): "
                 + ", ".join(f"{by_var.get(v, 0)} {'GPT-2' if v == 'gpt2' else 'template'}" for v in VARIANTS) + ".")
    empty_channels = [c for c in channels if not (pub["channel"] == c).any()]
    for ch in empty_channels:
        g = scored[scored["channel"] == ch]
        reasons = g["reject_reason"].str.split(";").explode()
        reasons = reasons[reasons != ""].value_counts()
        top = ", ".join(f"{r} ({n})" for r, n in reasons.head(3).items())
        lines.append(f"- No {ch.replace('_', '-')} copy published: all {len(g)} candidates rejected"
                     + (f" ({top})." if top else "."))
    if m.get("model") is None:
        lines.append(f"- **No GPT-2 copy.** {plan.reason}")
    else:
        cov_why = coverage_note(catalogue.products)
        gp = comparison.set_index("variant") if len(comparison) else pd.DataFrame()
        hall_t = gp.loc["template", "hallucination_rate"] if "template" in gp.index else None
        train = (f"trained in {m['train_seconds']:.0f} s" if (m.get("train_seconds") or 0) > 0
                 else "checkpoint reused, no training" if plan.train else "pretrained, not fine-tuned")
        ppl = fmt_metric(m["heldout_perplexity"], ".2f", "no held-out copy")
        lines.append(f"- Model `{m['model']}` (held-out perplexity {ppl}; {train}).")
        lines.append(f"- GPT-2 candidates: attribute coverage {fmt_metric(m['attribute_coverage'], '.0%', cov_why)}, "
                     f"hallucination {fmt_metric(m['hallucination_rate'], '.1%')} (template baseline "
                     f"{fmt_metric(hall_t, '.1%')}); "
                     f"{fmt_metric(m['rejected_rate'])} rejected by scoring and guardrails.")
        lines.append(f"- Published GPT-2 copy: {fmt_metric(m.get('fluency_rate'), '.0%', 'none published')} judged "
                     "fluent by the independent n-gram judge, "
                     f"{fmt_metric(m.get('truncated_rate'), '.0%', 'none published')} stopping mid-sentence; its copy "
                     f"style is read back at {fmt_metric(m.get('style_accuracy'), '.0%', 'too few copies per style')} "
                     "accuracy by a classifier trained on the other half.")
        distinct = fmt_metric(m["distinct_2"], ".2f", "no published GPT-2 copy")
        lines.append(f"- Diversity of published GPT-2 copy: distinct-2 {distinct}, "
                     f"self-BLEU {fmt_metric(m['self_bleu'], '.2f', 'fewer than two published copies per segment')}; "
                     f"generation {fmt_metric(m['tokens_per_s'], '.0f')} tokens/s on {threads} threads.")
        if plan.reason:
            lines.append(f"- Note: {plan.reason}")
    bad = worse(verdicts)
    if bad:
        lines.append(f"- GPT-2 is worse than the template baseline on {len(bad)} of {len(verdicts)} measures "
                     f"(see “Where each variant stands”), notably {bad[0].measure.label.lower()}.")
    if m.get("scorer_precision") is not None:
        lines.append(f"- The faithfulness scorer against copy a person labelled: precision "
                     f"{fmt_metric(m['scorer_precision'])}, recall {fmt_metric(m['scorer_recall'])}.")
    lines.append(f"- Prices: {catalogue.prices.describe()}.")
    if priors_used:
        lines.append(f"- Variant mix: {priors_used}.")
    return lines


