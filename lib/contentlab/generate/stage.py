"""Stage 04 in one call: :func:`run_generate` reads what the earlier stages wrote, writes the copy and returns a
:class:`~contentlab.generate.result.GenerateResult` for the report.

In order: the catalogue checks (markup cleaned, the data's price policy, whether there is text to learn copy from:
:mod:`contentlab.generate.workflow`), the slots and their variant mix (from the previous cycle's feedback priors
when they are handed over), the copy model (trained, cached or pretrained), GPT-2 candidates and the template
baseline, scoring, guardrails and selection, review digests, shopping guides, and publishing: the content
catalogue through the contract (``content``, ``content_jsonl`` in the run directory), the per-user shopping guides
(``user_guides``: on a Spark engine one for every customer with recommendations, :mod:`contentlab.generate.userguides`)
and the content cards in the report directory.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from contentlab import config as project
from contentlab import contract, pipeline
from contentlab.generate import evaluation as ev
from contentlab.generate import workflow as wf
from contentlab.generate.calibration import scorer_figures
from contentlab.generate.config import GenerateConfig
from contentlab.generate.finetune import finetune_on_winners, winner_pairs
from contentlab.generate.guardrails import load_guardrails
from contentlab.generate.guides import check_guides, shopping_guides
from contentlab.generate.inputs import STAGE, read_inputs
from contentlab.generate.prompts import load_templates
from contentlab.generate.publish import content_table, write_cards, write_content
from contentlab.generate.result import GenerateResult
from contentlab.generate.reviews import review_digests
from contentlab.generate.scoring import NGramIndex
from contentlab.generate.slots import build_slots, variant_mix
from contentlab.generate.userguides import GuideKit, publish_user_guides
from contentlab.privacy import pseudonymise

GUIDE_FOR_ALL = {"persona_id": "ALL", "segment": "all"}
"""Without personas, one shopping guide for all shoppers (the slots' single persona, ``ALL``)."""


def mix_table(slots: pd.DataFrame, priors: dict | None, channels: tuple[str, ...]) -> pd.DataFrame:
    """The variant mix written with the copy: per segment and channel, each variant's share of impressions."""
    rows = []
    for seg in sorted(slots["segment"].unique()):
        for ch in channels:
            mix = variant_mix(priors, seg, ch)
            rows.append({"segment": seg, "channel": ch, "gpt2_share": mix.get("gpt2", 0.0),
                         "template_share": mix.get("template", 0.0)})
    return pd.DataFrame(rows, columns=["segment", "channel", "gpt2_share", "template_share"])


def run_generate(config: GenerateConfig, inputs: Mapping[str, str | None] | None = None, *,
                 run_dir: str | Path | None = None, report_dir: str | Path | None = None,
                 progress: bool = True) -> GenerateResult:
    """Run stage 04 (see the module docstring).

    ``inputs``: the products the runner hands the stage (``{name: path or None}``, with the previous cycle's
    ``previous_feedback_priors``); empty: resolved from ``run_dir`` (01's products must be there: a stage never
    prepares data). ``report_dir`` (default ``run_dir/report``) receives the content cards."""
    started = time.perf_counter()
    cfg = config
    run_dir = project.stage_run_dir(run_dir, STAGE, cfg.profile or "adhoc")
    report_dir = Path(report_dir) if report_dir else run_dir / "report"
    got = contract.Inputs.for_stage(STAGE, inputs, run_dir)
    ds = pipeline.load_prepared(run_dir)
    locale = ds.locale
    catalogue = wf.prepare_catalogue(ds.products, ds.meta, locale, ds.ratings if ds.has("ratings") else None)
    products = catalogue.products  # text fields cleaned of markup; the raw tables are untouched
    templates = load_templates(locale, prices=catalogue.prices)
    guardrails = load_guardrails()
    plan = wf.plan_model(cfg, catalogue.text)
    upstream = read_inputs(got, use_priors=cfg.use_feedback_priors, profile=cfg.profile)
    user_ids = set(ds.users["user_id"].astype(str)) if ds.has("users") else set()

    slots = build_slots(products, upstream, cfg.channels, cfg.n_slots, cfg.products_per_persona,
                        ds.events if ds.has("events") else None)
    mix = mix_table(slots, upstream.priors, cfg.channels)

    cm, corpus, train_seconds = None, None, None
    if plan.generate:
        cm, corpus, train_seconds = wf.build_model(products, upstream, templates, cfg, progress=progress,
                                                   train=plan.train)
    gpt_cands, gen_stats = pd.DataFrame(), {}
    if cm is not None:
        gpt_cands, gen_stats = wf.generate_candidates(cm, slots, products, upstream.persona_map, templates, cfg)
    cm_ft = None
    winners = [w for seg in ((upstream.priors or {}).get("policy") or {}).get("segments", {}).values()
               for w in seg.get("winning_copy") or []]
    if cm is not None and cfg.winner_finetune_steps > 0 and winners:
        pairs = winner_pairs(winners, products, templates, cfg.delexicalise and cm.kind == "embedded")
        if pairs:
            cm_ft = finetune_on_winners(cm, pairs, steps=cfg.winner_finetune_steps, seed=cfg.seed,
                                        threads=cfg.threads, cache=cfg.use_cache)
            ft_cands, _ = wf.generate_candidates(cm_ft, slots, products, upstream.persona_map, templates, cfg)
            ft_cands["candidate"] = ft_cands["candidate"] + cfg.n_candidates
            gpt_cands = pd.concat([gpt_cands, ft_cands], ignore_index=True)
            upstream.notes.append(
                f"feedback: the copy model fine-tuned {cfg.winner_finetune_steps} steps on {len(pairs)} winning "
                f"copies of the previous campaign (weighted by their lift); its candidates are numbered from "
                f"{cfg.n_candidates} (loss on the winners {cm_ft.info.get('winner_loss_before', float('nan')):.3f} "
                f"→ {cm_ft.info.get('winner_loss_after', float('nan')):.3f})")
    tpl_cands = wf.template_candidates(slots, products, upstream.persona_map, templates)

    lexicon = wf.catalogue_lexicon(catalogue, locale, templates, corpus, upstream.personas, cm)
    train_index = NGramIndex(corpus.loc[corpus["split"] == "train", "target"], locale) if corpus is not None else None
    scored = wf.score_candidates(pd.concat([gpt_cands, tpl_cands], ignore_index=True), products, templates, guardrails,
                                 lexicon, train_index, cm, locale, user_ids, threads=cfg.threads,
                                 delexicalised=cm is not None and cfg.delexicalise and cm.kind == "embedded",
                                 endings=wf.copy_endings(corpus))
    scored, rerank_notes = wf.rerank_by_policy(scored, upstream.priors, upstream.personas or [])
    upstream.notes.extend(rerank_notes)
    scored = wf.select_best(scored)
    comparison = ev.model_comparison(scored, locale)

    digests = review_digests(catalogue.ratings, locale, guardrails=guardrails)
    persona_products = {p: g.sort_values("product_rank")["product_id"].drop_duplicates().tolist()
                        for p, g in slots.groupby("persona_id")}
    guides = shopping_guides(products, templates, upstream.personas or [GUIDE_FOR_ALL], persona_products,
                             upstream.recommendations, upstream.profiles, n_users=cfg.n_guide_users, digests=digests,
                             seed=cfg.seed)
    guide_checks = check_guides(guides, products, guardrails, lexicon, locale, user_ids)
    kit = GuideKit(products=products, templates=templates, guardrails=guardrails, lexicon=lexicon, locale=locale,
                   personas=list(upstream.personas or [GUIDE_FOR_ALL]), digests=digests, user_ids=frozenset(user_ids))
    user_guides = publish_user_guides(
        cfg.engine, kit, guides, guide_checks, run_dir,
        recommendations=got.path("recommendations") if upstream.recommendations is not None else None,
        profiles=got.path("user_profiles") if upstream.profiles is not None else None)

    shares = {(r.segment, r.channel, v): getattr(r, f"{v}_share") for r in mix.itertuples()
              for v in ("gpt2", "template")}
    content = content_table(scored, guides, products, cm.name if cm is not None else "none",
                            cm.fingerprint if cm is not None else "", guardrails.version, templates.version,
                            variant_shares=shares, digests=digests, guide_checks=guide_checks,
                            prices=catalogue.prices)
    if cm_ft is not None:  # the fine-tuned model's candidates name it (the before/after comparison reads this)
        ft_rows = (content["content_type"] == "copy") & (content["variant"] == "gpt2") & \
            (content["candidate"].astype(float) >= cfg.n_candidates)
        content.loc[ft_rows, "model"] = cm_ft.name
        content.loc[ft_rows, "model_fingerprint"] = cm_ft.fingerprint
        before = scored[(scored["variant"] == "gpt2") & (scored["candidate"] < cfg.n_candidates)]
        after = scored[(scored["variant"] == "gpt2") & (scored["candidate"] >= cfg.n_candidates)]
        upstream.notes.append(
            f"before/after fine-tuning on the same {slots['slot_id'].nunique()} slots: accepted "
            f"{(~before['rejected']).mean():.0%} → {(~after['rejected']).mean():.0%}, mean quality "
            f"{before['quality'].mean():.3f} → {after['quality'].mean():.3f}, published "
            f"{int(scored.loc[before.index, 'published'].sum())} → {int(scored.loc[after.index, 'published'].sum())}")
    try:
        scorer = scorer_figures()
    except (OSError, ValueError) as exc:  # a labelled set the code can no longer read: say so, do not guess
        scorer = {"reason": f"{type(exc).__name__}: {exc}"}
    content_path, jsonl_path = write_content(content, run_dir)
    title = f"Content cards · {cfg.profile}" if cfg.profile else "Content cards"
    cards_html, cards_md = write_cards(content, report_dir, title=title, pseudonymise=lambda u: pseudonymise([u])[0])
    return GenerateResult(
        config=cfg, run_dir=run_dir, report_dir=report_dir, locale=locale, catalogue=catalogue, templates=templates,
        guardrails=guardrails, plan=plan, upstream=upstream, user_ids=user_ids, slots=slots, mix=mix, model=cm,
        corpus=corpus, train_seconds=train_seconds, gen_stats=gen_stats, scored=scored, comparison=comparison,
        verdicts=ev.compare_variants(comparison), digests=digests, guides=guides, guide_checks=guide_checks,
        user_guides=user_guides, content=content,
        paths={"content": content_path, "content_jsonl": jsonl_path, "cards_html": cards_html, "cards_md": cards_md,
               **({"user_guides": user_guides.path} if user_guides.path is not None else {})},
        seconds=time.perf_counter() - started, scorer=scorer)
