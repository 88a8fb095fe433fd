"""Copy styles: sentence tagging (en, zh), the persona rule, persona-conditioned training targets and corpus, the
style on slots (profiling's choice, overridden by the feedback priors), and the style-accuracy classifier."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from contentlab import priors as pr
from contentlab.copystyle import ALL_STYLES, GENERAL, STYLES, persona_style
from contentlab.data.simulate import PROFILES, simulate
from contentlab.generate import load_guardrails
from contentlab.generate.inputs import StageInputs
from contentlab.generate.prices import price_format
from contentlab.generate.prompts import load_templates
from contentlab.generate.slots import build_slots, slot_style
from contentlab.generate.style import sentence_style, style_accuracy
from contentlab.generate.train import build_corpus
from contentlab.profiling.personas import build_personas

PRODUCT = {"product_id": "A", "title": "Northpeak down jacket", "category": "Down Jackets", "brand": "Northpeak",
           "colour": "navy", "material": "goose down", "style": "hooded longline", "price": 119.99,
           "description": ("This hooded longline down jacket from Northpeak is made for winter commutes. "
                           "Great value for winter commutes. Built to last in goose down. "
                           "Just launched for the new season. Shoppers love this one. "
                           "Crafted from goose down, it keeps you warm well below freezing, so early mornings and long "
                           "evenings outside feel easy. A dependable pick at $119.99. "
                           "The navy shade is easy to pair with the rest of your wardrobe. "
                           "Ships in recyclable packaging with free returns.")}


@pytest.fixture(scope="module")
def shop():
    return simulate(**PROFILES["tiny"], seed=7)


@pytest.fixture(scope="module")
def shop_zh():
    return simulate(**PROFILES["tiny"], seed=7, locale="zh")


# ---- sentence tagging ----------------------------------------------------------------------------
@pytest.mark.parametrize("sentence, style", [
    ("Great value for winter commutes.", "value"),
    ("A dependable pick at $119.99.", "value"),
    ("Built to last in goose down.", "quality"),
    ("Crafted from goose down, it keeps you warm.", "quality"),
    ("Just launched for the new season.", "novelty"),
    ("Shoppers love this one.", "social_proof"),
    ("Reviewers rave about the goose down.", "social_proof"),  # what shoppers say comes before the material
    ("Ships in recyclable packaging with free returns.", "general"),
    ("The navy shade is easy to pair with the rest of your wardrobe.", "general"),
])
def test_sentence_style_en(sentence, style):
    assert sentence_style(sentence, PRODUCT, "en") == style


def test_sentence_style_reads_the_products_own_price_and_material():
    other = dict(PRODUCT, material="silk satin", price=15.0)
    assert sentence_style("Made with goose down so it packs small.", PRODUCT) == "quality"
    assert sentence_style("Made with goose down so it packs small.", other) == "general"
    assert sentence_style("Yours for 119.99 today.", PRODUCT) == "value"
    assert sentence_style("Yours for 119.99 today.", other) == "general"
    assert sentence_style("A dependable pick at [price].") == "value"


@pytest.mark.parametrize("sentence, style", [
    ("到手价¥599，性价比出众。", "value"), ("做工精细，品质看得见。", "quality"), ("新季新品，抢先上新。", "novelty"),
    ("买家好评如潮。", "social_proof"), ("环保包装发货，支持七天无理由退换。", "general"),
    ("精选白鹅绒，轻盈不臃肿。", "quality"),
])
def test_sentence_style_zh(sentence, style):
    assert sentence_style(sentence, {"material": "白鹅绒", "price": 599}, "zh") == style


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_simulated_descriptions_speak_to_every_aspect(locale, shop, shop_zh):
    ds = shop if locale == "en" else shop_zh
    tpl = load_templates(locale)
    seen = pd.DataFrame([{s: any(t == s for _, t in tpl.tagged_sentences(r["description"], r)) for s in ALL_STYLES}
                         for r in ds.products.to_dict(orient="records")])
    assert seen.mean().min() > 0.75, seen.mean()  # every aspect in most descriptions
    assert seen["quality"].all() and seen["general"].all()
    # the reference copy never teaches a claim the guardrails ban ("best seller", "首选")
    guard = load_guardrails()
    assert not [d for d in ds.products["description"] if guard.check(d, locale, set())]


# ---- the persona rule ----------------------------------------------------------------------------
REFERENCE = {"price_index": 1.0, "discount_share": 0.15, "novelty_share": 0.10, "median_tenure_days": 200}


@pytest.mark.parametrize("metrics, style", [
    ({"price_index": 0.6, "discount_share": 0.40}, "value"),
    ({"price_index": 1.4, "discount_share": 0.05}, "quality"),
    ({"price_index": 1.05, "novelty_share": 0.35}, "novelty"),
    ({"price_index": 1.0, "median_tenure_days": 40}, "social_proof"),
    ({"price_index": 1.02, "discount_share": 0.16, "novelty_share": 0.11, "median_tenure_days": 190}, "general"),
])
def test_persona_style_rules(metrics, style):
    got, reason = persona_style(metrics, REFERENCE)
    assert got == style
    assert reason and (style == GENERAL or re.search(r"\d", reason))


def test_persona_style_strongest_rule_wins_and_missing_metrics_are_skipped():
    # premium (1.3x) but far more attention on new products (4x): novelty is the stronger signal
    assert persona_style({"price_index": 1.3, "novelty_share": 0.4}, REFERENCE)[0] == "novelty"
    assert persona_style({"price_index": None, "discount_share": float("nan")}, REFERENCE)[0] == GENERAL
    assert persona_style({"price_index": 1.5}, {})[0] == "quality"  # no reference: the category median
    assert persona_style({"discount_share": 0.9}, {})[0] == GENERAL  # no reference share: not used


def test_personas_carry_their_copy_style():
    rng = np.random.default_rng(0)
    rows = []
    for cluster, (pi, disc, nov, ten) in enumerate([(0.6, 0.5, 0.05, 300), (1.5, 0.02, 0.05, 500),
                                                    (1.0, 0.1, 0.6, 300), (1.0, 0.1, 0.05, 300)]):
        for _ in range(40):
            rows.append({"cluster": cluster, "segment": f"seg{cluster}", "price_index": pi + rng.normal(0, 0.02),
                         "discount_share": disc, "novelty_share": nov, "tenure_days": ten + rng.normal(0, 5),
                         "frequency": 2.0 + rng.normal(0, 0.1), "monetary": 100.0, "aov": 50.0})
    personas = {p["segment"]: p for p in build_personas(pd.DataFrame(rows))}
    assert {k: p["copy_style"] for k, p in personas.items()} == {
        "seg0": "value", "seg1": "quality", "seg2": "novelty", "seg3": GENERAL}
    assert "discount" in personas["seg0"]["copy_style_reason"]
    assert personas["seg0"]["metrics"]["discount_share"] == pytest.approx(0.5)
    assert personas["seg2"]["metrics"]["novelty_share"] == pytest.approx(0.6)


# ---- targets and corpus --------------------------------------------------------------------------
def test_training_targets_are_whole_sentences_of_the_style_that_fit():
    tpl = load_templates("en", prices=price_format({"currency": "USD"}))
    push = {s: tpl.training_target(PRODUCT, "push", s) for s in ALL_STYLES}
    assert push == {"value": "Great value for winter commutes.", "quality": "Built to last in goose down.",
                    "novelty": "Just launched for the new season.", "social_proof": "Shoppers love this one.",
                    "general": "Ships in recyclable packaging with free returns."}
    for s in ALL_STYLES:
        email = tpl.training_target(PRODUCT, "email", s)
        assert len(email) <= 80 and email.endswith(".") and sentence_style(email, PRODUCT) == s
    # quality has a sentence over 80 characters: the email takes the longest one that fits
    assert tpl.training_target(PRODUCT, "email", "quality") == "Built to last in goose down."
    page = tpl.training_target(dict(PRODUCT, description=PRODUCT["description"] + " " + " ".join(
        ["Thoughtful details mean it has a two-way zip and deep hand pockets for your keys and phone."] * 2)),
        "product_page", "novelty")
    assert page.startswith("Just launched for the new season. This hooded longline")
    assert "Shoppers love" not in page and "value" not in page
    assert 40 <= len(page.split()) <= 120
    no_novelty = dict(PRODUCT, description="Great value for winter commutes. Built to last in goose down.")
    assert tpl.training_target(no_novelty, "push", "novelty") == ""
    assert tpl.training_target(no_novelty, "product_page", "value") == ""  # under 40 words: left out
    with pytest.raises(ValueError, match="copy style"):
        tpl.training_target(PRODUCT, "push", "loud")


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_corpus_is_conditioned_on_the_style(locale, shop, shop_zh):
    ds = shop if locale == "en" else shop_zh
    tpl = load_templates(locale, prices=price_format(ds.meta))
    personas = [{"persona_id": "P01", "segment": "s", "name": "savers", "price_band": "budget",
                 "favourite_categories": [], "copy_style": "quality"}]
    corpus = build_corpus(ds.products, tpl, personas)
    assert set(corpus["style"]) == set(ALL_STYLES)
    head = "copy style: " if locale == "en" else "文案风格："
    assert all(p.startswith(f"{head}{s}") for p, s in zip(corpus["prompt"], corpus["style"]))
    # the prompt's style, not the persona's, is the target's
    by = corpus.set_index(["product_id", "channel", "style"])["target"]
    assert by.groupby(level=[0, 1]).nunique().mean() > 2.5
    for rec in ds.products.head(10).to_dict(orient="records"):
        for (ch, s), target in corpus[corpus["product_id"] == rec["product_id"]].set_index(
                ["channel", "style"])["target"].items():
            if ch != "product_page":
                assert sentence_style(target, rec, locale) == s
                assert len(target) <= tpl.channels[ch]["max_chars"] and tpl.complete_sentence(target)
    assert (corpus["model_target"] != corpus["target"]).mean() > 0.3  # delexicalised
    held = corpus[corpus["split"] == "heldout"]
    assert held.groupby(["product_id", "channel"]).size().max() == 1 and held["style"].nunique() >= 4
    assert not set(held["product_id"]) & set(corpus.loc[corpus["split"] == "train", "product_id"])
    # about five pairs per product and channel (one for a held-out product), minus pairs with no fitting sentence
    assert 3.2 * len(ds.products) * 3 < len(corpus) <= 5 * len(ds.products) * 3


def test_model_prompt_style_comes_from_the_argument_then_the_persona():
    tpl = load_templates("en")
    persona = {"persona_id": "P01", "name": "savers", "copy_style": "value"}
    assert tpl.model_prompt(persona, PRODUCT, "push").startswith("copy style: value | push notification")
    assert tpl.model_prompt(persona, PRODUCT, "push", style="novelty").startswith("copy style: novelty |")
    assert tpl.model_prompt(None, PRODUCT, "push").startswith("copy style: general |")
    with pytest.raises(ValueError, match="copy style"):
        tpl.model_prompt(dict(persona, copy_style="shouty"), PRODUCT, "push")


# ---- slots and priors ----------------------------------------------------------------------------
def _priors(copy_styles=None):
    cell = {"segment": "bargain_hunter", "channel": "push", "recommended_allocation": {"gpt2": 0.5, "template": 0.5},
            "variants": {v: {"impressions": 10, "ctr": {"alpha": 1, "beta": 1}, "cvr": {"alpha": 1, "beta": 1}}
                         for v in ("gpt2", "template")}}
    doc = {"schema_version": 1, "run_id": "r", "created": "now", "variants": ["gpt2", "template"], "cells": [cell]}
    if copy_styles is not None:
        doc["copy_styles"] = copy_styles
    return doc


def test_slots_take_the_persona_style_unless_the_priors_override_it(shop):
    personas = [{"persona_id": "P01", "segment": "bargain_hunter", "name": "b", "favourite_categories": [],
                 "copy_style": "value"},
                {"persona_id": "P02", "segment": "trend_seeker", "name": "t", "favourite_categories": [],
                 "copy_style": "novelty"},
                {"persona_id": "P03", "segment": "casual", "name": "c", "favourite_categories": []}]
    slots = build_slots(shop.products, StageInputs(personas=personas), ["push"], n_slots=6, products_per_persona=2)
    assert slots.groupby("persona_id")["style"].first().to_dict() == {"P01": "value", "P02": "novelty",
                                                                      "P03": GENERAL}
    doc = _priors({"bargain_hunter": "social_proof"})
    pr.validate_priors(doc)
    slots = build_slots(shop.products, StageInputs(personas=personas, priors=doc), ["push"], n_slots=6,
                        products_per_persona=2)
    got = slots.groupby("persona_id")[["style", "style_source"]].first()
    assert got.loc["P01"].tolist() == ["social_proof", "feedback priors"]
    assert got.loc["P02"].tolist() == ["novelty", "profiling"]
    assert slot_style({"segment": "x"}, doc) == (GENERAL, "default")
    # with a publishing policy (the loop's later cycles) each persona's last product is written in a challenger style
    price = {"mentions_price": {"coef": 0.5, "mean": 0.0, "sd": 1.0}}
    doc["policy"] = {"version": pr.POLICY_VERSION, "learned_from": "r", "exploration": 0.05, "notes": [],
                     "segments": {"bargain_hunter": {"rerank_weights": price, "styles_tried": ["social_proof"]},
                                  "trend_seeker": {"rerank_weights": price}}}
    pr.validate_priors(doc)
    slots = build_slots(shop.products, StageInputs(personas=personas, priors=doc), ["push"], n_slots=6,
                        products_per_persona=2)
    styles = slots.groupby("persona_id")["style"].agg(list).to_dict()
    assert styles == {"P01": ["social_proof", "value"], "P02": ["novelty", "value"], "P03": [GENERAL, GENERAL]}
    assert slots["style_source"].str.startswith("challenger").sum() == 2


def test_priors_copy_styles_are_checked():
    assert pr.copy_style_for(_priors({"a": "value"}), "a") == "value"
    assert pr.copy_style_for(_priors({"a": "value"}), "b") is None
    assert pr.copy_style_for(_priors(), "a") is None and pr.copy_style_for(None, "a") is None
    with pytest.raises(ValueError, match="not copy styles"):
        pr.validate_priors(_priors({"a": "loud"}))
    with pytest.raises(ValueError, match="must map segments"):
        pr.validate_priors(_priors(["value"]))


# ---- style accuracy ------------------------------------------------------------------------------
def test_style_accuracy_reads_styles_back_from_separable_copy():
    rng = np.random.default_rng(0)
    words = {"value": ["great value", "a smart buy", "easy on the budget"],
             "quality": ["built to last", "crafted with care", "quality you can feel"],
             "novelty": ["just launched", "new season", "the latest"],
             "social_proof": ["shoppers love it", "a best seller", "reviewers rave"]}
    rows = [{"text": f"{rng.choice(w)} for {rng.choice(['you', 'winter', 'the office'])}.", "style": s}
            for s, w in words.items() for _ in range(30)]
    df = pd.DataFrame(rows)
    got = style_accuracy(df, seed=1)
    assert got.measured and got.accuracy > 0.9 and got.n_train + got.n_test == len(df)
    assert got.majority == pytest.approx(0.25) and list(got.confusion.index) == sorted(STYLES)
    shuffled = style_accuracy(df.assign(style=rng.permutation(df["style"].to_numpy())), seed=1)
    assert shuffled.accuracy < 0.6  # no signal, no accuracy


def test_style_accuracy_needs_two_styles_and_a_text_column():
    got = style_accuracy(pd.DataFrame({"text": ["a.", "b.", "c."], "style": ["value"] * 3}))
    assert not got.measured and "at least 2 styles" in got.reason
    with pytest.raises(ValueError, match="'text'"):
        style_accuracy(pd.DataFrame({"copy": ["a"], "style": ["value"]}))


def test_style_accuracy_zh_uses_characters():
    rows = [{"text": t, "style": s} for s, ts in {"value": ["超值好价。", "性价比高。"], "novelty": ["新品上市。", "当季新款。"]}.items()
            for t in ts * 10]
    assert style_accuracy(pd.DataFrame(rows), locale="zh").accuracy == 1.0
