"""The notebook's steps end to end on tiny simulated shops, English and Chinese."""

import pandas as pd
import pytest

import contentlab.generate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from contentlab.data.simulate import simulate
from contentlab.generate import load_guardrails, load_templates
from contentlab.generate import workflow as wf
from contentlab.generate.publish import CONTENT_COLUMNS, content_table, write_cards, write_content
from contentlab.generate.prompts import copy_problems
from contentlab.generate.sanitise import markup_problems
from contentlab.generate.scoring import NGramIndex
from contentlab.generate.slots import Inputs, build_slots

METRICS = ["model", "n_slots", "n_copies", "attribute_coverage", "hallucination_rate", "template_hallucination_rate",
           "distinct_2", "self_bleu", "rejected_rate", "heldout_perplexity", "tokens_per_s", "train_seconds"]


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
    inputs = Inputs(personas=personas)
    st = wf.Settings(model_size="tiny", train_steps=40, eval_every=20, n_slots=6, products_per_persona=2,
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
    comp = wf.model_comparison(scored, locale).set_index("variant")
    assert (comp["published_length_compliance"].dropna() == 1.0).all()
    m = wf.metrics(scored, slots, cm, stats, train_seconds, locale)
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
    m = wf.metrics(scored, scored[["slot_id"]], None, None, None, "en")
    assert list(m) == METRICS
    assert m["model"] is None and all(m[k] is None for k in wf.GPT2_METRICS)
    assert m["n_slots"] == 2 and m["n_copies"] == 1 and m["template_hallucination_rate"] == 0.0


def test_copy_endings_reject_copy_that_stops_mid_phrase():
    corpus = pd.DataFrame({"model_target": ["Northpeak built this [category] for winter commutes",
                                            "A soft tee. Made with [material] so it layers easily.",
                                            "Yours for [price]."]})
    endings = wf.copy_endings(corpus)
    assert {"commutes", "tee", "easily", "[price]"} <= endings and "winter" not in endings
    cands = pd.DataFrame({"slot_id": "s0", "product_id": "A", "channel": "push", "variant": "gpt2", "candidate": [0, 1],
                          "text": ["Northpeak built this jacket for winter", "Northpeak built this jacket for winter commutes"],
                          "raw_text": ["Northpeak built this [category] for winter",
                                       "Northpeak built this [category] for winter commutes"], "prompt": "p"})
    products = pd.DataFrame({"product_id": ["A"], "title": ["Northpeak jacket"], "category": ["Down Jackets"],
                             "price": [67.99], "description": ["Northpeak built this down jacket for winter commutes."]})
    tpl = load_templates("en")
    lex = wf.catalogue_lexicon(wf.prepare_catalogue(products, {"currency": "USD"}), "en", tpl, None)
    scored = wf.score_candidates(cands, products, tpl, load_guardrails(), lex, None, None, "en", delexicalised=True,
                                 endings=endings)
    assert scored["reject_reason"].tolist()[0] == "truncated" and "'winter'" in scored["reject_detail"].iloc[0]
    assert "truncated" not in scored["reject_reason"].iloc[1]
