"""What stage 04 produced (:class:`GenerateResult`): the tables and figures of its report, the recorded metrics
(:meth:`GenerateResult.metrics`) and the summary (:meth:`GenerateResult.summary_markdown`).

Every string that carries data and is shown as Markdown is escaped here (:mod:`contentlab.fmt`), so the notebook
only displays what these methods return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab.fmt import esc_html
from contentlab.generate import evaluation as ev
from contentlab.generate.config import GenerateConfig
from contentlab.generate.guardrails import Guardrails
from contentlab.generate.inputs import StageInputs
from contentlab.generate.model import EMBEDDED_SIZES, CopyModel
from contentlab.generate.prompts import PromptTemplates
from contentlab.generate.style import sentence_style
from contentlab.generate.tokenizer import GPT2_VOCAB_SIZE
from contentlab.generate.userguides import GuideRun
from contentlab.generate.workflow import Catalogue, ModelPlan
from contentlab.privacy import pseudonymise


@dataclass
class GenerateResult:
    config: GenerateConfig
    run_dir: Path
    report_dir: Path
    locale: str
    catalogue: Catalogue
    templates: PromptTemplates
    guardrails: Guardrails
    plan: ModelPlan
    upstream: StageInputs  # what 02, 03 and the previous cycle's 05 handed over
    user_ids: set[str]
    slots: pd.DataFrame
    mix: pd.DataFrame  # segment, channel, gpt2_share, template_share
    model: CopyModel | None
    corpus: pd.DataFrame | None
    train_seconds: float | None
    gen_stats: dict[str, float]
    scored: pd.DataFrame  # every candidate with its scores, rejection reasons and the selection
    comparison: pd.DataFrame  # one row per variant (evaluation.model_comparison)
    verdicts: list[ev.Verdict]
    digests: pd.DataFrame
    guides: pd.DataFrame
    guide_checks: pd.DataFrame
    user_guides: GuideRun  # the per-user guide sink (user_guides/)
    content: pd.DataFrame  # the published catalogue
    paths: dict[str, Path] = field(default_factory=dict)  # content, content_jsonl, cards_html, cards_md
    seconds: float = 0.0
    scorer: dict[str, Any] = field(default_factory=dict)  # the scorer against the labelled copy (calibration)

    # ---- the recorded metrics and the summary ---------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """The metrics notebook 04 records (:data:`contentlab.generate.evaluation.METRIC_NAMES`; GPT-2's are None
        when no GPT-2 copy was generated)."""
        return ev.metrics(self.scored, self.slots, self.model, self.gen_stats, self.train_seconds, self.locale,
                          scorer=self.scorer, guides_written=self.user_guides.written)

    def summary_markdown(self) -> str:
        lines = ev.summary_lines(self.metrics(), self.scored, self.comparison, self.plan, self.catalogue,
                                 self.config.threads, self.verdicts, self.priors_used)
        return "\n".join([*lines, f"- {self.user_guides_markdown()}"])

    # ---- inputs --------------------------------------------------------------------------------------------
    @property
    def products(self) -> pd.DataFrame:
        return self.catalogue.products

    @property
    def priors_used(self) -> str:
        priors = self.upstream.priors
        if priors:
            return (f"feedback priors of run {priors.get('run_id', '?')} (Thompson-sampling variant mix per segment "
                    "and channel)")
        return "no earlier feedback priors: even 50/50 variant mix"

    def inputs_table(self) -> pd.DataFrame:
        return pd.DataFrame({"input": self.upstream.notes + self.catalogue.notes()})

    def plan_markdown(self) -> str:
        """Why GPT-2 copy is not generated, or a note on how the model is used ("" when there is nothing to say)."""
        if not self.plan.generate:
            return f"**GPT-2 copy is not generated.** {esc_html(self.plan.reason)}"
        return f"**Note:** {esc_html(self.plan.reason)}" if self.plan.reason else ""

    def style_table(self) -> pd.DataFrame:
        """Per persona: its copy style, why (02's reason, or the feedback priors that overrode it), and what its
        published GPT-2 copy emphasises: the share of its sentences speaking to each aspect
        (:func:`contentlab.generate.style.sentence_style`), largest first."""
        pub = self.published[self.published["variant"] == "gpt2"] if len(self.published) else self.published
        by_id = self.products.set_index("product_id")
        rows = []
        for p in self.upstream.personas or []:
            pid = str(p.get("persona_id"))
            slots = self.slots[self.slots["persona_id"] == pid]
            style = str(slots["style"].iloc[0]) if len(slots) and "style" in slots else str(p.get("copy_style") or "")
            source = str(slots["style_source"].iloc[0]) if len(slots) and "style_source" in slots else ""
            others = sorted(set(slots["style"].astype(str)) - {style}) if len(slots) and "style" in slots else []
            mine = pub[pub["persona_id"].astype(str) == pid] if len(pub) else pub
            if len(mine) and "style" in mine:  # a challenger style's copy is measured by 05, not read back here
                mine = mine[mine["style"].astype(str) == style]
            tags = [sentence_style(sent, by_id.loc[r.product_id].to_dict() if r.product_id in by_id.index else None,
                                   self.locale)
                    for r in mine.itertuples() for sent in self.templates.sentences(r.text)]
            shares = pd.Series(tags, dtype=object).value_counts(normalize=True)
            rows.append({"persona": self.templates.persona_name(p), "copy style": style.replace("_", " "),
                         "why": (str(p.get("copy_style_reason") or "") if source != "feedback priors" else
                                 "chosen by the previous cycle's feedback priors")
                         + "".join(f"; its last product tries the challenger style {o.replace('_', ' ')}"
                                   for o in others),
                         "published GPT-2 copies": len(mine),
                         "what its copy emphasises (share of sentences)": ", ".join(
                             f"{k.replace('_', ' ')} {v:.0%}" for k, v in shares.items()) or "no published GPT-2 copy",
                         "on-style sentences": float(shares.get(style, 0.0)) if len(shares) else float("nan")})
        return pd.DataFrame(rows)

    def persona_table(self) -> pd.DataFrame:
        return pd.DataFrame([{"persona": self.templates.persona_name(p), "segment": p.get("segment"),
                              "price band": p.get("price_band"),
                              "favourite categories": ", ".join(map(str, p.get("favourite_categories") or [])),
                              "slots": int((self.slots["persona_id"] == str(p.get("persona_id"))).sum())}
                             for p in self.upstream.personas])

    def slots_markdown(self) -> str:
        s = self.slots
        return (f"**{len(s)} slots**: {s['persona_id'].nunique()} personas × "
                f"{s.groupby('persona_id')['product_id'].nunique().max()} products × {len(self.config.channels)} "
                f"channels; products chosen from {', '.join(sorted(s['source'].unique()))}.")

    def example_prompt(self) -> str:
        """The model prompt of the first slot."""
        first = self.slots.iloc[0]
        product = self.products.set_index("product_id").loc[first["product_id"]].to_dict()
        return self.templates.model_prompt(self.upstream.persona_map.get(first["persona_id"]), product,
                                           first["channel"])

    # ---- the model -----------------------------------------------------------------------------------------
    def model_table(self) -> pd.DataFrame:
        """The copy model: size, vocabulary, training pairs, checkpoint, training (empty without a model)."""
        cm, cfg = self.model, self.config
        if cm is None:
            return pd.DataFrame(columns=["", "value"])
        info, corpus = cm.info, self.corpus
        size = EMBEDDED_SIZES.get(cfg.model_size, {})
        rows = [
            ("model", cm.name + (f" ({cfg.model_size}: {size.get('n_layer')} layers × {size.get('n_embd')} dims)"
                                 if cm.kind == "embedded" else "")),
            ("fingerprint", cm.fingerprint),
            ("parameters", f"{cm.n_params:,}"),
            ("vocabulary", f"{cm.vocab.size:,} of GPT-2's {GPT2_VOCAB_SIZE:,} tokens" if cm.vocab.kind == "compact"
             else f"{cm.vocab.size:,} (GPT-2)"),
            ("training pairs (train / held-out)",
             f"{(corpus['split'] == 'train').sum():,} / {(corpus['split'] == 'heldout').sum():,}"),
            ("checkpoint", "loaded from cache (trained in an earlier run)" if info.get("cached") else
             ("trained in this run" if info.get("trained") else "pretrained, not fine-tuned")),
            ("steps run (best step)", f"{info.get('steps_run', 0)} ({info.get('best_step', 0)})" +
             (", stopped early" if info.get("stopped_early") else "")),
            ("held-out loss at start → best", f"{info.get('initial_heldout_loss', float('nan')):.3f} → "
                                              f"{info.get('heldout_loss', float('nan')):.3f}"),
            ("held-out perplexity", f"{info.get('heldout_perplexity', float('nan')):.2f}"),
            ("training time this run", f"{self.train_seconds:.1f} s" + (
                f" (original training: {info.get('train_seconds', 0):.1f} s)" if info.get("cached") else "")),
        ]
        return pd.DataFrame(rows, columns=["", "value"])

    @property
    def history(self) -> pd.DataFrame:
        """The training history (``step``, ``train_loss``, ``heldout_loss``; empty without a model)."""
        return self.model.history if self.model is not None else pd.DataFrame()

    @property
    def best_step(self) -> int:
        return int(self.model.info.get("best_step", 0)) if self.model is not None else 0

    @property
    def has_loss_curve(self) -> bool:
        """Whether training recorded a curve worth drawing (at least two held-out evaluations)."""
        h = self.history
        return len(h) > 0 and int(h["heldout_loss"].notna().sum()) > 1

    def model_markdown(self) -> str:
        """What the report says instead of the loss curve when there is none ("" when there is one)."""
        if self.model is None:
            return f"No GPT-2 model: {esc_html(self.plan.reason)}"
        if not self.has_loss_curve:
            return "No loss curve: the model was not trained in a way that recorded one (pretrained, not fine-tuned)."
        return ""

    # ---- generation ----------------------------------------------------------------------------------------
    def sampling_table(self) -> pd.DataFrame:
        """Sampling settings and throughput (empty without GPT-2 copy)."""
        if self.model is None:
            return pd.DataFrame(columns=["", "value"])
        cfg, st = self.config, self.gen_stats
        rows = [("temperature", cfg.temperature), ("top-p", cfg.top_p), ("top-k", cfg.top_k),
                ("repetition penalty (generated tokens only)", cfg.repetition_penalty),
                ("no-repeat n-gram size (within the copy)", cfg.no_repeat_ngram_size),
                ("candidates per slot", cfg.n_candidates), ("batch size", cfg.gen_batch_size),
                ("threads", cfg.threads), ("generated tokens", st["tokens"]), ("seconds", round(st["seconds"], 2)),
                ("tokens / s", round(st["tokens_per_s"], 1)), ("copies / s", round(st["copies_per_s"], 2))]
        return pd.DataFrame([(k, str(v)) for k, v in rows], columns=["", "value"])

    def template_only_markdown(self) -> str:
        n = int((self.scored["variant"] == "template").sum()) if len(self.scored) else 0
        return f"Template baseline only: {n} copies for {len(self.slots)} slots."

    # ---- scoring -------------------------------------------------------------------------------------------
    def comparison_table(self) -> pd.DataFrame:
        """:attr:`comparison` with one column per variant and one row per metric."""
        return self.comparison.set_index("variant").T.reset_index().rename(columns={"index": "metric"})

    def channel_table(self) -> pd.DataFrame:
        return ev.channel_table(self.scored)

    def channel_caption(self) -> str:
        return ("Per channel: length compliance of the candidates and of the published copy ("
                + "; ".join(f"{c}: {self.templates.constraint_text(c)}" for c in self.config.channels)
                + ") and faithfulness")

    def coverage_markdown(self) -> str:
        """Why attribute coverage is n/a ("" when it can be computed)."""
        note = ev.coverage_note(self.products)
        return f"Attribute coverage: n/a ({esc_html(note)})." if note else ""

    def verdicts_markdown(self) -> str:
        return ev.verdicts_markdown(self.verdicts)

    # ---- published copy, rejections, diversity --------------------------------------------------------------
    @property
    def published(self) -> pd.DataFrame:
        return self.scored[self.scored["published"]]

    def examples(self, per_channel: int = 3) -> pd.DataFrame:
        """Published copy of the same slots side by side (GPT-2 beside the template), a few per channel."""
        pub = self.published
        if pub.empty:
            return pd.DataFrame()
        pairs = pub.pivot_table(index=["slot_id", "segment", "product_id", "channel"], columns="variant", values="text",
                                aggfunc="first").reset_index()
        pairs.insert(3, "product", pairs["product_id"].map(self.products.set_index("product_id")["title"]))
        return pairs.groupby("channel", sort=False).head(per_channel).drop(columns=["slot_id", "product_id"])

    READ_COLUMNS = ("style", "attribute_coverage", "hallucinated", "fluent", "length_ok", "quality")

    def read_yourself(self, n: int = 12, seed: int | None = None) -> pd.DataFrame:
        """``n`` published copies per variant drawn at random (seeded by the run's seed), with the product they are
        for and their scores, so a reader can check the scores against the text."""
        pub = self.published
        if pub.empty:
            return pd.DataFrame()
        seed = self.config.seed if seed is None else seed
        picked = pd.concat([g.sample(min(n, len(g)), random_state=seed) for _, g in pub.groupby("variant", sort=True)])
        titles = self.products.set_index("product_id")["title"]
        out = pd.DataFrame({"variant": picked["variant"], "persona": picked["segment"], "channel": picked["channel"],
                            "product": picked["product_id"].map(titles), "copy": picked["text"]})
        for col in self.READ_COLUMNS:
            if col in picked.columns:
                out[col] = picked[col]
        return out.reset_index(drop=True)

    def persona_channel_examples(self) -> pd.DataFrame:
        """Per persona, one published copy for each channel (GPT-2's when there is one, else the template's): what
        each persona is told, side by side."""
        pub = self.published
        if pub.empty:
            return pd.DataFrame()
        ranked = pub.assign(_v=(pub["variant"] != "gpt2").astype(int)).sort_values(
            ["_v", "quality"], ascending=[True, False], kind="stable")
        first = ranked.groupby(["segment", "channel"], sort=True).head(1)
        table = first.pivot_table(index="segment", columns="channel", values="text", aggfunc="first")
        table = table.reindex(columns=[c for c in self.config.channels if c in table.columns])
        variant = first.pivot_table(index="segment", columns="channel", values="variant", aggfunc="first")
        for ch in table.columns:
            table[ch] = [f"{t} [{v}]" if isinstance(t, str) else t for t, v in zip(table[ch], variant[ch])]
        if "style" in first.columns:
            table.insert(0, "style", first.groupby("segment")["style"].first())
        return table.reset_index().rename(columns={"segment": "persona"})

    def examples_caption(self) -> str:
        both = "gpt2" in set(self.published["variant"])
        return "Published copy: GPT-2 vs template" if both else "Published copy (template baseline)"

    def rejection_table(self) -> pd.DataFrame:
        return ev.rejection_table(self.scored)

    def rejected_examples(self, per_reason: int = 2) -> pd.DataFrame:
        """A few rejected candidates per variant and first reason."""
        rej = self.scored[self.scored["rejected"]]
        first = rej.assign(reason=rej["reject_reason"].str.split(";").str[0])
        ex = first.groupby(["variant", "reason"]).head(per_reason)
        return ex[["variant", "channel", "reject_reason", "reject_detail", "text"]]

    def guardrails_markdown(self) -> str:
        return (f"Guardrail lists version **{self.guardrails.version}**: "
                + ", ".join(f"{k} {v}" for k, v in self.guardrails.describe().items()) + " entries.")

    def diversity(self) -> pd.DataFrame:
        return ev.diversity_by_segment(self.published, self.locale)

    # ---- review digests and shopping guides ------------------------------------------------------------------
    def digest_table(self, n: int = 8) -> pd.DataFrame:
        """Review digests of the slots' products (of any products when none of those has reviews)."""
        d = self.digests
        if d.empty:
            return d
        shown = d[d["product_id"].isin(self.slots["product_id"])].head(n).copy()
        if shown.empty:
            shown = d.head(n).copy()
        shown.insert(1, "product", shown["product_id"].map(self.products.set_index("product_id")["title"]))
        shown["positive"] = shown["positive"].map(lambda x: " / ".join(x))
        shown["negative"] = shown["negative"].map(lambda x: " / ".join(x))
        return shown.drop(columns=["social_proof"])

    def guide_previews(self, n: int = 2) -> list[str]:
        """The first guides as Markdown: subject and addressee (user ids pseudonymised), the body as an indented
        code block (literal text: nothing to escape, nothing doubled)."""
        out = []
        for r in self.guides.head(n).itertuples():
            who = f"customer {pseudonymise([r.user_id])[0]}" if r.user_id else f"persona {r.persona_id}"
            out.append(f"**{esc_html(r.subject)}** ({esc_html(who)})\n\n"
                       + "\n".join("    " + line for line in str(r.text).splitlines()))
        return out

    def guides_markdown(self) -> str:
        g = self.guides
        return (f"{len(g)} guides ({(g['level'] == 'segment').sum()} per persona, {(g['level'] == 'user').sum()} per "
                f"customer); {int(self.guide_checks['rejected'].sum())} rejected. {self.user_guides_markdown()}")

    def user_guides_markdown(self) -> str:
        """How many per-user guides went to ``user_guides/``, for whom, on which engine and how fast."""
        run = self.user_guides
        if run.engine == "spark":
            if not run.written:
                return "**Per-user guides on Spark: none written** (no recommendations from 03)."
            speed = f"{run.per_second:,.0f} guides/s" if run.per_second else "n/a guides/s"
            return (f"**{run.written:,} per-user guides written on Spark** ({esc_html(run.master or '')}, "
                    f"`mapInPandas`): one for each of the {run.users:,} customers with recommendations who have a "
                    f"recommended product in the catalogue, {run.rejected:,} rejected by the checks; "
                    f"{run.seconds:.1f} s ({speed}), to `user_guides/` (Parquet partitioned by a hash bucket of the "
                    "user id).")
        if not run.written:
            return "No per-user guides written (no recommendations from 03, or `n_guide_users` is 0)."
        return (f"**{run.written:,} per-user guides written** to `user_guides/` (Parquet partitioned by a hash bucket "
                f"of the user id): the {run.users:,} sampled customers above, {run.rejected:,} rejected; a Spark "
                "engine writes one for every customer with recommendations.")

    # ---- publishing ----------------------------------------------------------------------------------------
    def published_counts(self) -> pd.DataFrame:
        c = self.content
        return c[c["published"]].groupby(["content_type", "variant"]).size().rename("published").reset_index()

    def publishing_markdown(self) -> str:
        names = {k: Path(p).name for k, p in self.paths.items()}
        guides = (f", `{names['user_guides']}/` ({self.user_guides.written:,} per-user guides)"
                  if "user_guides" in names else "")
        return (f"Wrote `{names['content']}` and `{names['content_jsonl']}` ({len(self.content):,} rows){guides} and "
                f"`{names['cards_html']}` / `{names['cards_md']}`. Stage time: {self.seconds:.0f} s.")
