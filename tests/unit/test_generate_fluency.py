"""The independent fluency judge: its probabilities are nltk's Kneser-Ney scores, its threshold passes about 97.5% of
unseen reference sentences, it catches broken copy (scrambled, a / an, doubled or dangling words, no sentence end),
it is fast, and 04's scoring uses it (disfluent GPT-2 copy rejected, over-long GPT-2 copy cut to its sentences)."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from contentlab.data.simulate import simulate
from contentlab.generate import load_guardrails, load_templates
from contentlab.generate import workflow as wf
from contentlab.generate.fluency import FluencyJudge, sentences, tokens


@functools.lru_cache(maxsize=2)
def _judged(locale: str):
    ds = simulate(n_users=100, n_products=300, n_days=10, seed=5, locale=locale)
    catalogue = wf.prepare_catalogue(ds.products, ds.meta, locale)
    tpl = load_templates(locale, prices=catalogue.prices)
    judge = wf.fluency_judge(catalogue.products, tpl)
    return locale, catalogue, tpl, judge


@pytest.fixture(params=["en", "zh"])
def judged(request):
    return _judged(request.param)


def test_probabilities_are_nltks_kneser_ney_scores(judged):
    locale, catalogue, tpl, judge = judged
    rec = catalogue.products.iloc[0].to_dict()
    text = tpl.delexicalise(rec["description"], rec) + (" made for the moon" if locale == "en" else "月亮的")
    seq = ["<s>", "<s>"] + tokens(text, locale) + ["</s>"]
    for i in range(2, len(seq)):
        assert judge.token_probability(seq[i], seq[i - 2:i]) == pytest.approx(judge.lm.score(seq[i], seq[i - 2:i]),
                                                                             rel=1e-9, abs=1e-15)


def test_threshold_passes_unseen_reference_sentences_and_fails_corrupted_ones(judged):
    _, _, _, judge = judged
    cal = judge.calibration
    assert cal["heldout_sentences"] > 200
    assert cal["heldout_lm_pass_share"] >= 0.97 and cal["heldout_fluent_share"] >= 0.95
    assert cal["corrupted_sentences"] > 2 * cal["heldout_sentences"]
    assert 0.95 <= cal["corrupted_rejected_share"] <= 0.98 or cal["threshold_bits"] == cal["heldout_quantile_bits"]
    assert cal["threshold_bits"] == max(cal["heldout_quantile_bits"], cal["corrupted_quantile_bits"])
    assert cal["heldout_median_bits"] < cal["threshold_bits"] <= cal["sentence_threshold_bits"]


def test_judge_catches_broken_copy_en():
    judge = _judged("en")[3]
    ok = judge.judge("Shoppers love this one.")
    assert ok.fluent and ok.reasons == [] and ok.score < judge.threshold
    scrambled = judge.judge("One this love shoppers the.")
    assert not scrambled.fluent and any("unlike the reference" in r for r in scrambled.reasons)
    assert "a / an before the wrong sound" in judge.judge("Just launched in a oversized cut.").reasons
    assert "repeated word" in judge.judge("Shoppers love love this one.").reasons
    assert any("dangling" in r or "cut sentence" in r for r in judge.judge("A dependable pick at the.").reasons)
    assert "does not end at a sentence boundary" in judge.judge("Shoppers love this one").reasons
    assert judge.judge("").reasons == ["empty"]


def test_judge_catches_broken_copy_zh():
    judge = _judged("zh")[3]
    assert judge.judge("买家好评如潮。").fluent
    assert not judge.judge("潮如评好家买。").fluent
    assert "does not end at a sentence boundary" in judge.judge("买家好评如潮，").reasons


def test_the_judge_passes_the_catalogues_own_sentences(judged):
    locale, catalogue, tpl, judge = judged
    copies = [s for rec in catalogue.products.to_dict(orient="records")
              for s in sentences(tpl.delexicalise(rec["description"], rec), locale)][:1000] * 3
    results = [judge.judge(c) for c in copies]
    assert sum(r.fluent for r in results) > 0.9 * len(results)


def test_fit_needs_reference_copy():
    with pytest.raises(ValueError, match="reference copy"):
        FluencyJudge.fit(["One sentence.", "", None], "en")
    assert wf.fluency_judge(pd.DataFrame({"product_id": ["A"], "title": ["x"]}), load_templates("en")) is None


def test_fit_channel_keeps_the_complete_sentences_that_fit():
    tpl = load_templates("en")
    long = "Shoppers love this one. Great value for winter commutes and every cold morning after that."
    assert wf.fit_channel(long, "push", tpl) == ("Shoppers love this one.", True)
    assert wf.fit_channel("Shoppers love this one.", "push", tpl) == ("Shoppers love this one.", False)
    too_long = "Great value for winter commutes and every single cold morning that comes after that one."
    assert wf.fit_channel(too_long, "push", tpl) == (too_long, False)


def test_score_candidates_rejects_disfluent_gpt2_copy_and_trims_long_copy():
    locale, catalogue, tpl, judge = _judged("en")
    products = catalogue.products
    rec = products.iloc[0].to_dict()
    brand = rec["brand"]
    texts = ["Shoppers love this one.",                                   # fluent
             "One this love shoppers the.",                               # scrambled
             f"Shoppers love this one. A best seller from {brand}, loved for every season and every occasion.",  # long
             "Shoppers love this one"]                                    # no sentence end
    cands = pd.DataFrame({"slot_id": "s0", "persona_id": "P01", "segment": "x", "product_id": rec["product_id"],
                          "channel": "push", "variant": "gpt2", "candidate": range(4), "text": texts,
                          "raw_text": texts, "prompt": "p", "style": "social_proof"})
    tpl_cand = cands.iloc[[0]].assign(variant="template", text=f"{brand} down jacket, $1", candidate=0)
    lex = wf.catalogue_lexicon(catalogue, locale, tpl, None)
    scored = wf.score_candidates(pd.concat([cands, tpl_cand], ignore_index=True), products, tpl, load_guardrails(),
                                 lex, None, None, locale, fluency=judge, delexicalised=True,
                                 endings=wf.copy_endings(pd.DataFrame({"model_target": ["Shoppers love this one."]})))
    assert {"fluent", "fluency_score", "fluency_reasons", "style", "trimmed"} <= set(scored.columns)
    g = scored[scored["variant"] == "gpt2"].set_index("candidate")
    assert bool(g.loc[0, "fluent"]) and "disfluent" not in g.loc[0, "reject_reason"]
    assert not bool(g.loc[1, "fluent"]) and "disfluent" in g.loc[1, "reject_reason"].split(";")
    assert g.loc[2, "text"] == "Shoppers love this one." and bool(g.loc[2, "trimmed"])
    assert g.loc[2, "raw_text"] == "Shoppers love this one."
    assert g.loc[2, "reject_reason"] == ""  # the kept sentence fits and ends like training copy
    assert "truncated" in g.loc[3, "reject_reason"] and "sentence boundary" in g.loc[3, "reject_detail"]
    assert (scored["style"] == "social_proof").all()
    t = scored[scored["variant"] == "template"].iloc[0]
    assert not bool(t["fluent"]) and "disfluent" not in t["reject_reason"]  # a fragment by design: judged, kept
    best = wf.select_best(scored)
    assert best.loc[best["variant"] == "gpt2", "selected"].sum() == 1
