"""The stage's steps end to end on tiny simulated shops, English and Chinese; the stage in one call
(:func:`run_generate`) with inputs handed over as the runner does, the previous cycle's feedback priors included;
its configuration checks and the variant verdicts the report shows."""

import numpy as np
import pandas as pd
import pytest

import contentlab.generate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from contentlab import contract, pipeline, priors
from contentlab.data.simulate import simulate
from contentlab.feedback import loop
from contentlab.generate import GenerateConfig, load_guardrails, load_templates, run_generate
from contentlab.generate import evaluation as ev
from contentlab.generate import workflow as wf
from contentlab.generate.inputs import StageInputs
from contentlab.generate.prompts import copy_problems
from contentlab.generate.publish import CONTENT_COLUMNS, content_table, write_cards, write_content
from contentlab.generate.sanitise import markup_problems
from contentlab.generate.scoring import NGramIndex
from contentlab.generate.slots import build_slots

METRICS = ["model", "n_slots", "n_copies", "attribute_coverage", "hallucination_rate", "template_hallucination_rate",
           "distinct_2", "self_bleu", "rejected_rate", "heldout_perplexity", "tokens_per_s", "train_seconds",
           "fluency_rate", "truncated_rate", "style_accuracy", "scorer_precision", "scorer_recall", "model_params",
           "guides_written"]


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en", "zh"])
def test_generation_workflow(locale, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    ds = simulate(150, 30, 15, locale, 11)
    catalogue = wf.prepare_catalogue(ds.products, ds.meta, locale, ds.ratings)
    assert catalogue.text.ok and catalogue.prices.currency == ("USD" if locale == "en" else "CNY")
    products = catalogue.products
    tpl, gr = load_templates(locale, prices=catalogue.prices), load_guardrails()
    personas = [{"persona_id": "P01", "segment": "bargain_hunter", "name": "bargain_hunter", "price_band": "budget",
                 "favourite_categories": list(products["category"].unique()[:2])}]
    inputs = StageInputs(personas=personas)
    st = GenerateConfig(model_size="tiny", train_steps=40, eval_every=20, n_slots=6, products_per_persona=2,
                        n_candidates=2, seed=1)
    plan = wf.plan_model(st, catalogue.text)
    assert plan.generate and plan.train
    cm, corpus, train_seconds = wf.build_model(products, inputs, tpl, st, progress=False, train=plan.train)
    assert train_seconds > 0 and cm.info["heldout_loss"] < cm.info["initial_heldout_loss"]
    assert corpus["model_target"].str.contains(r"\[(?:colour|material|brand|category|style|price)\]").mean() > 0.5
    slots = build_slots(products, inputs, st.channels, st.n_slots, st.products_per_persona, ds.events)
    gpt, stats = wf.generate_candidates(cm, slots, products, inputs.persona_map, tpl, st)
    assert len(gpt) == len(slots) * 2 and stats["tokens"] > 0
    tplc = wf.template_candidates(slots, products, inputs.persona_map, tpl)
    lexicon = wf.catalogue_lexicon(catalogue, locale, tpl, corpus, personas)
    scored = wf.score_candidates(pd.concat([gpt, tplc], ignore_index=True), products, tpl, gr,
                                 lexicon, NGramIndex(corpus["target"], locale), cm, locale,
                                 set(ds.users["user_id"]), delexicalised=True, endings=wf.copy_endings(corpus))
    scored = wf.select_best(scored)
    # rejected candidates keep their reason; published copy is never rejected; at most one per slot and variant
    assert (scored["rejected"] == (scored["reject_reason"] != "")).all()
    assert not (scored["published"] & scored["rejected"]).any()
    assert scored[scored["published"]].groupby(["slot_id", "variant"]).size().max() == 1
    assert not scored.loc[scored["hallucinated"], "published"].any()
    # published copy keeps its channel's length rule, has no broken sentence, no markup, no cut sentence
    pub = scored[scored["published"]]
    by_id = products.set_index("product_id")
    assert pub["length_ok"].all() and not pub["truncated"].any()
    for r in pub.itertuples():
        assert copy_problems(r.text, locale, by_id.loc[r.product_id].tolist()) == [] and not markup_problems(r.text)
    comp = ev.model_comparison(scored, locale).set_index("variant")
    assert (comp["published_length_compliance"].dropna() == 1.0).all()
    m = ev.metrics(scored, slots, cm, stats, train_seconds, locale)
    assert list(m) == METRICS
    assert m["n_slots"] == len(slots) and m["n_copies"] == int(scored["published"].sum())
    assert m["hallucination_rate"] == pytest.approx(scored.loc[scored["variant"] == "gpt2", "hallucinated"].mean())
    content = content_table(scored, None, products, cm.name, cm.fingerprint, gr.version, tpl.version,
                            prices=catalogue.prices)
    assert list(content.columns) == CONTENT_COLUMNS and content["content_id"].is_unique
    write_content(content, tmp_path / "run")
    html_path, _ = write_cards(content, tmp_path / "report")
    if locale == "zh":
        published = content[content["published"] & (content["variant"] == "template")]["text"]
        assert published.str.contains(r"[\u4e00-\u9fff]").all()
        assert "¥" in html_path.read_text(encoding="utf-8")


def test_complete_sentences():
    assert wf.complete_sentences("A soft tee. Made with cotton so it", "en") == ("A soft tee.", False)
    assert wf.complete_sentences("A soft tee for", "en") == ("A soft tee for", True)
    assert wf.complete_sentences("Yours for $27.99 and", "en") == ("Yours for $27.99 and", True)
    assert wf.complete_sentences('A "soft" tee. It is $27.99. Made', "en") == ('A "soft" tee. It is $27.99.', False)
    assert wf.complete_sentences("", "en") == ("", False)
    assert wf.complete_sentences("好看。舒服", "zh") == ("好看。", False)


def test_metrics_without_gpt2_keep_their_names_as_none():
    scored = pd.DataFrame({"slot_id": ["s0", "s1"], "variant": "template", "published": [True, False],
                           "hallucinated": [False, False], "text": ["a", "b"]})
    m = ev.metrics(scored, scored[["slot_id"]], None, None, None, "en")
    assert list(m) == METRICS
    assert m["model"] is None and all(m[k] is None for k in ev.GPT2_METRICS)
    assert m["n_slots"] == 2 and m["n_copies"] == 1 and m["template_hallucination_rate"] == 0.0


def test_copy_endings_reject_copy_that_stops_mid_phrase():
    corpus = pd.DataFrame({"model_target": ["Northpeak built this [category] for winter commutes",
                                            "A soft tee. Made with [material] so it layers easily.",
                                            "Yours for [price]."]})
    endings = wf.copy_endings(corpus)
    assert {"commutes", "tee", "easily", "[price]"} <= endings and "winter" not in endings
    cands = pd.DataFrame({"slot_id": "s0", "product_id": "A", "channel": "push", "variant": "gpt2", "candidate": [0, 1],
                          "text": ["Northpeak built this jacket for winter", "Northpeak built this jacket for winter commutes."],
                          "raw_text": ["Northpeak built this [category] for winter",
                                       "Northpeak built this [category] for winter commutes."], "prompt": "p"})
    products = pd.DataFrame({"product_id": ["A"], "title": ["Northpeak jacket"], "category": ["Down Jackets"],
                             "price": [67.99], "description": ["Northpeak built this down jacket for winter commutes."]})
    tpl = load_templates("en")
    lex = wf.catalogue_lexicon(wf.prepare_catalogue(products, {"currency": "USD"}), "en", tpl, None)
    scored = wf.score_candidates(cands, products, tpl, load_guardrails(), lex, None, None, "en", delexicalised=True,
                                 endings=endings)
    assert scored["reject_reason"].tolist()[0] == "truncated" and "'winter'" in scored["reject_detail"].iloc[0]
    assert "truncated" not in scored["reject_reason"].iloc[1]


def test_ends_mid_sentence_is_judged_on_the_text_alone():
    cut = ["A soft tee that earns its place in your", "Made for the.", "Made with cotton so it", "好看，舒服，"]
    whole = ["A soft tee for warm days.", "New in: the slim-fit jeans!", "Is it the one?", "好看又舒服。",
             '"Rated five stars."']
    assert [ev.ends_mid_sentence(t, "zh" if "好" in t else "en") for t in cut] == [True] * 4
    assert [ev.ends_mid_sentence(t, "zh" if "好" in t else "en") for t in whole] == [False] * 5
    pub = pd.DataFrame({"text": cut[:2] + whole[:2]})
    assert ev.truncated_rate(pub, "en") == 0.5 and pd.isna(ev.truncated_rate(pub.head(0), "en"))


def test_recorded_metric_names_are_fixed():
    assert list(ev.METRIC_NAMES) == METRICS and set(ev.GPT2_METRICS) < set(METRICS)


def test_config_checks_every_parameter_before_anything_runs():
    cfg = GenerateConfig(profile="tiny", model_size="tiny", channels=["push"], learning_rate="3e-3")
    assert cfg.channels == ("push",) and cfg.learning_rate == 0.003  # YAML reads 3e-3 as text
    assert cfg.relexicalise and not GenerateConfig(model="/models/gpt2").relexicalise
    with pytest.raises(ValueError) as err:
        GenerateConfig(model_size="huge", train_steps=0, top_p=1.5, channels=["sms", "push"], use_cache="yes",
                       temperature=0)
    for part in ("model_size must be one of", "train_steps must be an integer of at least 1", "top_p must be in",
                 "channels must be distinct names", "use_cache must be True or False",
                 "temperature must be a positive number"):
        assert part in str(err.value), part
    with pytest.raises(TypeError):
        GenerateConfig(temprature=0.9)  # a misspelt sampling key in the notebook's `sampling` dict
    assert cfg.engine == {"kind": "duckdb"}
    assert GenerateConfig(engine={"kind": "spark"}).engine == {"kind": "spark", "master": "local[2]", "conf": {},
                                                               "single_node_users": 20_000}
    with pytest.raises(ValueError, match=r"04 parameters: engine.kind 'sparks' is not an engine"):
        GenerateConfig(engine={"kind": "sparks"})


def test_variant_verdicts_are_data_rendered_once():
    comparison = pd.DataFrame([
        {"variant": "gpt2", "hallucination_rate": 0.2, "attribute_coverage": 0.5, "rejected_rate": 0.4,
         "length_compliance": 0.9, "distinct_2": 0.7, "self_bleu": 0.2, "regurgitation_rate": 0.0,
         "rouge_l": float("nan")},
        {"variant": "template", "hallucination_rate": 0.0, "attribute_coverage": 0.5, "rejected_rate": 0.1,
         "length_compliance": 0.8, "distinct_2": 0.5, "self_bleu": 0.4, "regurgitation_rate": 0.0, "rouge_l": 0.3},
    ])
    verdicts = ev.compare_variants(comparison)
    assert [v.measure.metric for v in verdicts] == ["hallucination_rate", "attribute_coverage", "rejected_rate",
                                                    "length_compliance", "distinct_2", "self_bleu",
                                                    "regurgitation_rate"]  # ROUGE-L: n/a for GPT-2, left out
    outcome = {v.measure.metric: v.outcome for v in verdicts}
    assert outcome == {"hallucination_rate": "worse", "attribute_coverage": "same", "rejected_rate": "worse",
                       "length_compliance": "better", "distinct_2": "better", "self_bleu": "better",
                       "regurgitation_rate": "same"}
    assert verdicts[0].markdown().endswith("GPT-2 20.0% vs template 0.0% — GPT-2 is **worse**.")
    assert verdicts[4].markdown() == ("- distinct-2 of published copy: GPT-2 0.700 vs template 0.500 — GPT-2 is "
                                      "**better**.")
    text = ev.verdicts_markdown(verdicts)
    assert "worse than the template baseline on 2 of 7 measures" in text
    assert ev.verdicts_markdown([]).endswith("only the template baseline ran, so there is no comparison.")
    assert ev.compare_variants(comparison[comparison["variant"] == "template"]) == []


@pytest.mark.slow
def test_run_generate_reads_what_it_is_handed_and_writes_through_the_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    run_dir, previous = tmp_path / "run", tmp_path / "20260101T000000-tiny"
    pipeline.prepare_data({"kind": "demo", "n_users": 120, "n_products": 30, "n_days": 15, "seed": 4}, run_dir)
    counts = pd.DataFrame({"segment": "all", "channel": ["push", "push", "email", "email"],
                           "variant": ["gpt2", "template"] * 2, "impressions": 1000, "clicks": [90, 30, 30, 90],
                           "conversions": [9, 3, 3, 9]})
    loop.write_priors(previous, loop.build_priors(counts, run_id=previous.name, profile="tiny", seed=1))
    inputs = contract.resolve_inputs("04_generate", run_dir, previous_run_dir=previous)
    cfg = GenerateConfig(profile="tiny", model_size="tiny", train_steps=20, eval_every=10, n_slots=6,
                         products_per_persona=3, n_candidates=2, n_guide_users=0, channels=["push", "email"], seed=3)
    res = run_generate(cfg, inputs, run_dir=run_dir, report_dir=tmp_path / "report", progress=False)
    # no personas or recommendations in this run: one "all shoppers" persona, noted as such
    assert "profiling: personas.json not found" in res.upstream.notes and set(res.slots["segment"]) == {"all"}
    assert res.upstream.priors["run_id"] == previous.name and previous.name in res.priors_used
    shares = res.mix.set_index("channel")["gpt2_share"]
    pri = priors.read_priors(previous)
    for ch in ("push", "email"):
        assert shares[ch] == pytest.approx(priors.allocation_for(pri, "all", ch)["gpt2"])
    assert shares["push"] > 0.9 > 0.1 > shares["email"]  # gpt2 won push, the template won email
    content = contract.product("content").read(run_dir)  # written through the contract, readable by 05
    copy = content[content["content_type"] == "copy"]
    assert (copy.loc[copy["variant"] == "gpt2", "variant_share"].to_numpy() ==
            copy.loc[copy["variant"] == "gpt2", "channel"].map(shares).to_numpy()).all()
    assert len(contract.product("content_jsonl").read(run_dir)) == len(content)
    assert res.paths["cards_html"] == tmp_path / "report" / "content_cards.html" and res.paths["cards_md"].is_file()
    m = res.metrics()
    assert list(m) == METRICS and m["model"] == "embedded" and m["n_slots"] == 6
    assert m["n_copies"] == int(copy["published"].sum())
    summary = res.summary_markdown()
    assert summary.startswith(f"- **{m['n_copies']} copies published** for 6 slots")
    assert f"- Variant mix: feedback priors of run {previous.name}" in summary
    assert m["model_params"] == res.model.n_params > 0
    # no recommendations and no sampled customers: no per-user guides, said so
    assert m["guides_written"] == 0 and not contract.product("user_guides").exists(run_dir)
    assert "No per-user guides written" in res.guides_markdown() and "user_guides" not in res.paths
    rate = ev.truncated_rate(res.published[res.published["variant"] == "gpt2"], "en")
    assert m["truncated_rate"] == (None if np.isnan(rate) else pytest.approx(rate))  # None: no GPT-2 copy published
    # read it yourself: up to 12 random published copies per variant with their scores; per persona one per channel
    read = res.read_yourself(12)
    per_variant = res.published.groupby("variant").size().clip(upper=12)
    assert read.groupby("variant").size().to_dict() == per_variant.to_dict()
    assert set(read["copy"]) <= set(res.published["text"]) and {"hallucinated", "quality"} <= set(read.columns)
    assert read.equals(res.read_yourself(12))  # seeded by the run's seed
    per_persona = res.persona_channel_examples()
    assert list(per_persona["persona"]) == ["all"]
    assert set(per_persona.columns) >= set(res.published["channel"])
    # a cycle of another profile does not learn from these priors
    other = run_generate(GenerateConfig(**{**cfg.to_dict(), "profile": "demo"}), inputs, run_dir=run_dir,
                         report_dir=tmp_path / "report", progress=False)
    assert other.upstream.priors is None and (other.mix[["gpt2_share", "template_share"]] == 0.5).all().all()
