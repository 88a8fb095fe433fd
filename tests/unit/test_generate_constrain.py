"""The decoding constraint: token-level bans on hand-made vocabularies (English, Chinese, GPT-2's own ids), the row
layout of num_return_sequences, and a tiny embedded model trained on a catalogue whose descriptions name other
products' types: without the constraint it writes them, with it it never does."""

import re

import pandas as pd
import pytest
import torch

import contentlab.generate  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
from contentlab.generate.constrain import CURRENCY, FaithfulLogitsProcessor, TermIndex, build_constraints
from contentlab.generate.decode import SamplingParams, generate
from contentlab.generate.lexicon import CatalogueLexicon
from contentlab.generate.prompts import load_templates
from contentlab.generate.scoring import AttributeLexicon, faithfulness
from contentlab.generate.tokenizer import CompactVocab, IdentityVocab, gpt2_tokenizer
from contentlab.generate.train import TrainConfig, build_corpus, fit_copy_model

KINDS = {  # category: (types, materials, styles)
    "Down Jackets": (["puffer jacket", "quilted parka", "down coat"], ["goose down", "recycled nylon"], ["hooded", "cropped"]),
    "Dresses": (["maxi dress", "wrap dress", "slip dress"], ["silk satin", "linen blend"], ["tailored", "flowing"]),
    "Bedding": (["fitted sheet", "duvet cover", "pillowcase pair"], ["cotton sateen", "washed linen"], ["crisp", "quilted"]),
    "Sneakers": (["running shoe", "court shoe", "trainer"], ["breathable mesh", "suede"], ["chunky", "minimalist"]),
}
BRANDS = ["Frostline", "Velora", "Dreamwell", "Kinetic", "Mira", "Harbor"]
COLOURS = ["olive", "navy", "ivory", "burgundy", "sand", "charcoal", "coral", "teal"]
FEATURES = ["keeps you warm on frosty mornings", "moves with you all day long", "stays cool through summer nights",
            "grips well on wet pavements", "washes beautifully without fading", "feels light and easy to pack",
            "earns its place in every weekly rotation", "pairs with almost anything in your wardrobe"]
OCCASIONS = ["winter commutes", "garden parties", "lazy weekends", "city walking", "long journeys", "quiet evenings"]


def swapped_catalogue(swap: bool = True, n: int = 48) -> pd.DataFrame:
    """Products with a ``product_type``; with ``swap`` each description names the type of a product of another
    category (the data error the constraint must not let through)."""
    cats = list(KINDS)
    rows = []
    for i in range(n):
        cat = cats[i % len(cats)]
        types, materials, styles = KINDS[cat]
        ptype = types[(i // len(cats)) % len(types)]
        other = KINDS[cats[(i + 1) % len(cats)]][0][(i // len(cats)) % 3]
        said = other if swap else ptype
        brand, colour = BRANDS[i % len(BRANDS)], COLOURS[(i * 3) % len(COLOURS)]
        material, style = materials[i % 2], styles[(i // 2) % 2]
        desc = (f"Meet the {brand} {said}: a {style} design in {colour} for {OCCASIONS[i % len(OCCASIONS)]}. "
                f"Crafted from {material}, it {FEATURES[i % len(FEATURES)]}. "
                f"It also {FEATURES[(i + 3) % len(FEATURES)]}.")
        rows.append({"product_id": f"P{i:03d}", "title": f"{brand} {colour} {ptype}", "category": cat,
                     "product_type": ptype, "brand": brand, "price": 20.99 + i, "colour": colour,
                     "material": material, "style": style, "description": desc})
    return pd.DataFrame(rows)


def _hits(text: str, terms) -> list[str]:
    low = text.lower()
    return [t.label for t in terms
            if any(re.search(rf"(?<![\w-]){re.escape(f.lower())}(?![\w-])", low) for f in t.forms)]


# ---- token-level bans ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def en_setup():
    products = swapped_catalogue(swap=False)
    tok = gpt2_tokenizer()
    vocab = CompactVocab.from_texts(tok, [" " + d for d in products["description"]] + ["Price [price] 20.99 $"])
    lex = CatalogueLexicon(products, "en")
    return products, vocab, lex, TermIndex.build(lex, vocab)


def _scores_after(processor, prefix_ids, prompt, width):
    ids = torch.tensor([prompt + prefix_ids] * len(processor.rows))
    return processor(ids, torch.zeros((len(processor.rows), width)))


def test_a_foreign_multi_token_term_is_banned_at_its_last_token(en_setup):
    products, vocab, lex, index = en_setup
    recs = products.to_dict(orient="records")
    puffer = next(r for r in recs if r["product_type"] == "puffer jacket")
    sheet = next(r for r in recs if r["product_type"] == "fitted sheet")
    seq = vocab.encode(" puffer jacket")
    assert len(seq) >= 2
    prompt = vocab.encode("copy:")
    proc = FaithfulLogitsProcessor([index.constraint(sheet), index.constraint(puffer)], len(prompt), vocab.size)
    out = _scores_after(proc, seq[:-1], prompt, vocab.size)
    assert out[0, seq[-1]] == -float("inf"), "a fitted sheet's copy cannot complete 'puffer jacket'"
    assert out[1, seq[-1]] == 0, "the puffer jacket's own type stays free"
    # before the last piece nothing of the term is banned for the owner, and unrelated words stay free
    free = vocab.encode(" design")[0]  # a word of every category's copy
    assert out[0, free] == 0 and out[1, free] == 0


def test_single_token_terms_digits_and_currency(en_setup):
    products, vocab, lex, index = en_setup
    rec = products.iloc[0].to_dict()  # olive? the first product's colour
    c = index.constraint(rec)
    other_colour = next(col for col in ["navy", "teal", "coral", "ivory"] if col != rec["colour"])
    tok = vocab.encode(" " + other_colour)
    assert len(tok) == 1 and tok[0] in c.static, "a one-token foreign colour is banned outright"
    own = vocab.encode(" " + rec["colour"])
    assert len(own) > 1 or own[0] not in c.static
    for d in "0123456789":
        ids = list(index.digit_ids[d])
        assert ids and set(ids) <= set(c.static), f"digit {d}: no record value holds it, so it is banned"
    assert set(index.currency_ids) <= set(c.static) and CURRENCY not in c.allowed
    dollar = vocab.encode("$")
    assert dollar[0] in c.static
    shown = index.constraint(rec, allow_currency=True, allowed_text=["$20.99"])
    assert CURRENCY in shown.allowed and dollar[0] not in shown.static
    assert not set(index.digit_ids["2"]) & set(shown.static) and set(index.digit_ids["5"]) <= set(shown.static)


def test_rows_follow_num_return_sequences(en_setup):
    products, vocab, lex, index = en_setup
    recs = products.to_dict(orient="records")
    puffer = next(r for r in recs if r["product_type"] == "puffer jacket")
    sheet = next(r for r in recs if r["product_type"] == "fitted sheet")
    a, b = index.constraint(puffer), index.constraint(sheet)
    seq = vocab.encode(" puffer jacket")
    prompt = vocab.encode("copy:")
    # two prompts, three candidates each: rows 0-2 are the puffer jacket's, rows 3-5 the fitted sheet's
    proc = FaithfulLogitsProcessor([a, a, a, b, b, b], len(prompt), vocab.size)
    out = _scores_after(proc, seq[:-1], prompt, vocab.size)
    assert (out[:3, seq[-1]] == 0).all() and (out[3:, seq[-1]] == -float("inf")).all()
    with pytest.raises(ValueError, match="rows"):
        proc(torch.tensor([prompt] * 4), torch.zeros((4, vocab.size)))


def test_boundary_forms_only_after_a_non_word_token(en_setup):
    products, vocab, lex, index = en_setup
    rec = next(r for r in products.to_dict(orient="records") if r["brand"] != "Velora")
    c = index.constraint(rec)
    bare = vocab.encode("Velora")
    prompt = vocab.encode("copy: (")
    proc = FaithfulLogitsProcessor([c], len(prompt), vocab.size)
    out = _scores_after(proc, bare[:-1], prompt, vocab.size)
    assert out[0, bare[-1]] == -float("inf"), "'(Velora' is a brand name"
    inside = vocab.encode("copy: x")
    proc2 = FaithfulLogitsProcessor([c], len(inside), vocab.size)
    if len(bare) > 1:
        got = _scores_after(proc2, bare[:-1], inside, vocab.size)
        assert got[0, bare[-1]] == 0, "the same pieces inside another word stay free"


def test_zh_terms_with_character_units_and_with_byte_level_bpe():
    zh = pd.DataFrame([
        {"product_id": "A", "title": "雪域长款羽绒服", "category": "羽绒服", "product_type": "长款羽绒服", "brand": "雪域",
         "price": 899.0, "colour": "黑色", "material": "白鹅绒", "style": "连帽", "description": "这款羽绒服保暖。"},
        {"product_id": "B", "title": "云眠床单", "category": "床品", "product_type": "床单", "brand": "云眠",
         "price": 199.0, "colour": "白色", "material": "长绒棉", "style": "简约", "description": "这款床单柔软。"},
    ])
    lex = CatalogueLexicon(zh, "zh")
    tok = gpt2_tokenizer()
    compact = CompactVocab.from_texts(tok, list(zh["description"]) + list(zh["title"]) + ["这款的"])
    sheet = zh.iloc[1].to_dict()
    for vocab in (compact, IdentityVocab(tok)):
        index = TermIndex.build(lex, vocab)
        c = index.constraint(sheet)
        seq = vocab.encode("羽绒服")
        assert c.banned_after(tuple(seq[:-1]), False) and seq[-1] in c.banned_after(tuple(seq[:-1]), False)
        own = vocab.encode("床单")
        assert own[-1] not in c.banned_after(tuple(own[:-1]), False) if len(own) > 1 else own[0] not in c.static
    # GPT-2's byte-level BPE merges across characters: the forms after a preceding character are in the map too
    index = TermIndex.build(lex, IdentityVocab(tok))
    full = tuple(tok.encode("的羽绒服"))
    assert any(full[-len(k) - 1:-1] == k for k in index.always if k), "'的羽绒服' has its own token sequence"


# ---- a model that learned to write other products' types -------------------------------------------
@pytest.fixture(scope="module")
def swapped_model(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(tmp_path_factory.mktemp("home")))
        products = swapped_catalogue(swap=True)
        tpl = load_templates("en")
        # the intro sentences ("Meet the [brand] <type>: ...") are the general-style email targets
        corpus = build_corpus(products, tpl, channels=("email",), heldout_share=0.1, seed=0)
        corpus = corpus[corpus["style"] == "general"].reset_index(drop=True)
        cm = fit_copy_model(corpus, size="tiny", train=TrainConfig(steps=80, batch_size=8, lr=5e-3, eval_every=40, patience=10),
                            progress=False)
    return products, tpl, corpus, cm


@pytest.mark.slow
def test_without_the_constraint_foreign_types_appear_with_it_none_do(swapped_model):
    products, tpl, corpus, cm = swapped_model
    # the training copy itself names other products' types (the data error), delexicalised or not
    types = "|".join(t for kind in KINDS.values() for t in kind[0])
    assert corpus["model_target"].str.contains(types).mean() > 0.8
    # the catalogue as it should be: the same products, each description naming the product's own type
    clean = swapped_catalogue(swap=False)
    lex = CatalogueLexicon(clean, "en")
    recs = clean.to_dict(orient="records")[:16]
    prompts = [tpl.model_prompt(None, r, "email", style="general") for r in recs]
    params = SamplingParams(n_candidates=4, temperature=1.0, max_new_tokens=40)
    free = generate(cm, prompts, params, batch_size=8, seed=3, max_new_tokens=40)
    cons = build_constraints(lex, cm.vocab, recs)
    held = generate(cm, prompts, params, batch_size=8, seed=3, max_new_tokens=40, constraints=cons)
    foreign = [lex.foreign_terms(r) for r in recs]
    free_hits = [h for texts, terms in zip(free.texts, foreign) for t in texts for h in _hits(t, terms)]
    held_hits = [(t, _hits(t, terms)) for texts, terms in zip(held.texts, foreign) for t in texts if _hits(t, terms)]
    assert len(free_hits) >= 8 and any(h.startswith("type=") for h in free_hits), free_hits
    assert held_hits == []
    assert not any(re.search(r"\d|\$", t) for texts in held.texts for t in texts)
    # the scorer agrees on the filled-in copy: no other product's type, category, brand, colour, material or style
    scorer = AttributeLexicon(clean, "en", check_words=False)
    wrong = [w for texts, r in zip(held.texts, recs) for t in texts
             for w in faithfulness(tpl.relexicalise(t, r), r, scorer).wrong]
    assert wrong == []
    free_wrong = [w for texts, r in zip(free.texts, recs) for t in texts
                  for w in faithfulness(tpl.relexicalise(t, r), r, scorer).wrong]
    assert any(w.startswith("type=") for w in free_wrong)


def test_words_only_other_categories_use_are_kept_out_of_a_products_copy():
    rows = []
    for i in range(8):
        rows.append({"product_id": f"H{i}", "title": f"Pulse earbuds {i}", "category": "Headphones",
                     "product_type": "earbuds", "brand": "Pulse", "colour": "black", "material": "aluminium",
                     "style": "foldable", "price": 50.0,
                     "description": "Meet the Pulse earbuds. It delivers deep, clear bass on every commute."})
        rows.append({"product_id": f"J{i}", "title": f"Northpeak coat {i}", "category": "Down Jackets",
                     "product_type": "down coat", "brand": "Northpeak", "colour": "navy", "material": "goose down",
                     "style": "hooded", "price": 120.0,
                     "description": "Meet the Northpeak coat. It keeps you warm well below freezing on every commute."})
    products = pd.DataFrame(rows)
    lex = CatalogueLexicon(products, "en")
    coat, buds = products.iloc[1].to_dict(), products.iloc[0].to_dict()
    foreign = {t.value for t in lex.category_foreign_words(coat)}
    assert {"bass", "deep", "clear", "delivers"} <= foreign and not foreign & {"commute", "every", "meet", "warm"}
    assert {"freezing", "warm"} <= {t.value for t in lex.category_foreign_words(buds)}
    tok = gpt2_tokenizer()
    vocab = CompactVocab.from_texts(tok, list(products["description"]) + list(products["title"]))
    index = TermIndex.build(lex, vocab)
    c = index.constraint(coat)
    bass = vocab.encode(" bass")
    assert bass[-1] in (c.static if len(bass) == 1 else c.banned_after(tuple(bass[:-1]), False))
    warm = vocab.encode(" warm")
    assert warm[-1] not in (c.static if len(warm) == 1 else c.banned_after(tuple(warm[:-1]), False))
