"""Faithfulness, diversity, novelty and reference-overlap scores on hand-made examples."""

import math

import pandas as pd
import pytest

from contentlab.generate.scoring import (
    AttributeLexicon,
    NGramIndex,
    distinct_n,
    faithfulness,
    price_mentions,
    reference_scores,
    self_bleu,
    tokens,
)

PRODUCTS = pd.DataFrame([
    {"product_id": "A", "title": "Northpeak black goose down jacket", "category": "Down Jackets", "brand": "Northpeak",
     "price": 67.99, "colour": "black", "material": "goose down", "description": "A hooded down jacket in goose down."},
    {"product_id": "B", "title": "Velora grey suede court shoe", "category": "Sneakers", "brand": "Velora",
     "price": 39.99, "colour": "grey", "material": "suede", "description": "A cushioned court shoe in suede."},
    {"product_id": "C", "title": "Aurelle navy organic cotton dress", "category": "Dresses", "brand": "Aurelle",
     "price": 42.5, "colour": "navy", "material": "organic cotton", "description": "A flowing dress. Pairs with white sneakers."},
])


@pytest.fixture(scope="module")
def lex():
    return AttributeLexicon(PRODUCTS)


def prod(pid):
    return PRODUCTS.set_index("product_id").loc[pid].to_dict()


def test_faithful_copy_has_full_coverage(lex):
    f = faithfulness("The Northpeak black goose down jacket, $67.99", prod("A"), lex)
    assert not f.hallucinated and f.coverage == 1.0 and f.n_prices == 1


def test_wrong_colour_is_flagged(lex):
    f = faithfulness("A grey goose down jacket by Northpeak", prod("A"), lex)
    assert f.hallucinated and f.wrong == ["colour=grey"]
    assert f.coverage == pytest.approx(0.75)  # category, brand, material; not colour


def test_wrong_material_brand_category_and_price_are_flagged(lex):
    f = faithfulness("Velora suede sneakers for $19.99", prod("A"), lex)
    assert set(f.wrong) == {"brand=velora", "material=suede", "category=sneakers", "price=19.99"}


def test_partial_and_supported_values_are_not_hallucinations(lex):
    # "cotton" is part of "organic cotton"; "white sneakers" appears in the product's own description
    f = faithfulness("A navy cotton dress to wear with white sneakers", prod("C"), lex)
    assert not f.hallucinated, f.wrong
    assert "colour" in f.covered and "category" in f.covered


def test_singular_category_mention_counts(lex):
    f = faithfulness("This down jacket keeps you warm", prod("A"), lex)
    assert "category" in f.covered and not f.hallucinated


def test_price_mentions():
    assert price_mentions("Now $1,299.00 or 49元, was ¥ 59") == [1299.0, 59.0, 49.0]
    assert price_mentions("Size 42, 3 colours, 100% cotton") == []


def test_zh_faithfulness():
    zh = pd.DataFrame([{"product_id": "A", "title": "连帽黑色羽绒服", "category": "羽绒服", "brand": "北极绒", "price": 449.0,
                        "colour": "黑色", "material": "白鹅绒", "description": "一件连帽羽绒服。"},
                       {"product_id": "B", "title": "灰色麂皮休闲鞋", "category": "运动鞋", "brand": "疾风", "price": 209.0,
                        "colour": "灰色", "material": "麂皮", "description": ""}])
    lex = AttributeLexicon(zh, "zh")
    a = zh.iloc[0].to_dict()
    ok = faithfulness("北极绒黑色白鹅绒羽绒服，到手价¥449.00", a, lex)
    assert not ok.hallucinated and ok.coverage == 1.0
    bad = faithfulness("北极绒灰色羽绒服，仅需399元", a, lex)
    assert set(bad.wrong) == {"colour=灰色", "price=399"}


def test_tokens_by_character_for_zh():
    assert tokens("这款Nike鞋 2024款", "zh") == ["这", "款", "nike", "鞋", "2024", "款"]
    assert tokens("The red coat's hood", "en") == ["the", "red", "coat's", "hood"]


def test_distinct_and_self_bleu():
    assert distinct_n(["a b c", "a b c"], 2) == pytest.approx(0.5)
    assert distinct_n(["a b c d"], 2) == 1.0
    assert math.isnan(distinct_n([""], 2))
    same = self_bleu(["the red coat is warm and soft"] * 3)
    varied = self_bleu(["the red coat is warm and soft", "blue jeans for weekends", "a silk dress for evenings"])
    assert same == pytest.approx(1.0) and varied < 0.2
    assert math.isnan(self_bleu(["only one"]))
    assert self_bleu(["红色大衣很暖和", "红色大衣很暖和"], "zh") == pytest.approx(1.0)


def test_longest_overlap_and_regurgitation():
    idx = NGramIndex(["a slim fit white dress in soft cotton made by aurora for everyday wear",
                      "a chunky knit scarf"])
    assert idx.longest_overlap("wow a slim fit white dress in soft cotton made by aurora yes") == 11
    assert idx.longest_overlap("nothing shared here") == 0
    assert idx.longest_overlap("chunky scarf") == 1
    assert idx.regurgitated("a slim fit white dress in soft cotton made by aurora for everyday wear")
    assert not idx.regurgitated("a relaxed denim jacket for spring evenings with friends")


def test_reference_scores():
    b, r = reference_scores("a hooded down jacket in goose down", "A hooded down jacket in goose down.")
    assert b > 0.6 and r > 0.9
    b2, r2 = reference_scores("bright summer sandals", "A hooded down jacket in goose down.")
    assert b2 < 0.1 and r2 == 0.0
    bz, rz = reference_scores("连帽羽绒服", "一件连帽羽绒服。", "zh")
    assert rz > 0.7
    assert all(math.isnan(x) for x in reference_scores("x", ""))


def test_ambiguous_colour_words_are_not_evidence():
    products = pd.DataFrame([
        {"product_id": "S", "title": "Dermacare night cream", "category": "Skincare", "brand": "Dermacare", "price": 20.0,
         "colour": "amber", "material": "retinol"},
        {"product_id": "T", "title": "Kinetic cream tee", "category": "T-Shirts", "brand": "Kinetic", "price": 15.0,
         "colour": "cream", "material": "cotton jersey"},
        {"product_id": "U", "title": "Kinetic navy tee", "category": "T-Shirts", "brand": "Kinetic", "price": 15.0,
         "colour": "navy", "material": "cotton jersey"},
    ])
    lex = AttributeLexicon(products)
    assert ("colour", "cream") in lex.ambiguous and ("colour", "navy") not in lex.ambiguous
    s = products.iloc[0].to_dict()
    assert not faithfulness("A rich night cream by Dermacare", s, lex).hallucinated
    assert faithfulness("A navy night cream by Dermacare", s, lex).wrong == ["colour=navy"]


# ---- prices in the data's currency, other products' titles, non-words ------------------------------
MOVIES = pd.DataFrame({"product_id": ["1", "2", "3", "4", "5"],
                       "title": ["Contact (1997)", "Air, The (1996)", "Toy Story (1995)", "Heat (1995)", "Heat (1995)"],
                       "category": ["Drama", "Drama", "Animation", "Action", "Action"], "price": 1.0})
RETAIL = pd.DataFrame({"product_id": ["85123A", "22423", "84029G"],
                       "title": ["LUNCH BAG RED RETROSPOT", "REGENCY CAKESTAND 3 TIER", "KNITTED UNION FLAG HOT WATER BOTTLE"],
                       "price": [1.65, 12.75, 3.39]})


def test_prices_are_checked_against_the_data_currency():
    from contentlab.generate.prices import PriceFormat

    lex = AttributeLexicon(RETAIL, prices=PriceFormat("GBP"))
    bag = RETAIL.iloc[0].to_dict()
    assert faithfulness("LUNCH BAG RED RETROSPOT, £1.65", bag, lex).wrong == []
    assert faithfulness("LUNCH BAG RED RETROSPOT for 1.65 GBP", bag, lex).wrong == []
    assert faithfulness("LUNCH BAG RED RETROSPOT, $1.65", bag, lex).wrong == ["price=$1.65 (data currency GBP)"]
    assert faithfulness("LUNCH BAG RED RETROSPOT, £2.65", bag, lex).wrong == ["price=2.65"]
    nominal = AttributeLexicon(MOVIES, prices=PriceFormat(None, "nominal"))
    f = faithfulness("Contact (1997), now $1.00", MOVIES.iloc[0].to_dict(), nominal)
    assert f.wrong == ["price=$1 (the data has no prices to show)"]


def test_other_products_titles_are_hallucinations():
    lex = AttributeLexicon(MOVIES)
    contact = MOVIES.iloc[0].to_dict()
    assert faithfulness("Contact (1997): if you liked Air, The (1996), watch this.", contact, lex).wrong == \
        ["title=air, the (1996)"]
    assert faithfulness("Contact (1997) is The Air (1996) of its year.", contact, lex).wrong == ["title=air, the (1996)"]
    assert faithfulness("New for you: Contact (1997). From our drama range.", contact, lex).wrong == []
    # a title two products share names neither; a one-word title is too common a word to count
    assert faithfulness("Contact (1997) turns up the Heat (1995)", contact, lex).wrong == []
    retail = AttributeLexicon(RETAIL)
    bag = RETAIL.iloc[0].to_dict()
    assert faithfulness("LUNCH BAG RED RETROSPOT with a REGENCY CAKESTAND 3 TIER", bag, retail).wrong == \
        ["title=regency cakestand 3 tier"]


def test_non_words_are_garbled_copy_not_hallucinations():
    lex = AttributeLexicon(RETAIL, reference_texts=["New for you", "Yours for"])
    bag = RETAIL.iloc[0].to_dict()
    f = faithfulness("LUNCH BAG OF PARTYIRALAGE", bag, lex)
    assert f.nonwords == ["nonword=partyiralage"] and f.wrong == [] and not f.hallucinated
    assert faithfulness("RETROSPOTTY BAGTIER LUNCH", bag, lex).nonwords == ["nonword=bagtier", "nonword=retrospotty"]
    assert faithfulness("Meet the lunch bagser", bag, lex).nonwords == ["nonword=bagser"]
    for ok in ("New for you: LUNCH BAG RED RETROSPOT", "A cheerful lunch bag for picnics and school days",
               "Knitted bottles keep you warm", "Yours for the weekend", "The bags are lovely and cushioned"):
        assert faithfulness(ok, bag, lex).wrong == [], ok
    assert not AttributeLexicon(RETAIL, check_words=False).nonwords("PARTYIRALAGE")
    # a model trained only on the catalogue's copy is held to its words: GPT-2 word starts ("recy") do not count
    closed = AttributeLexicon(RETAIL, reference_texts=["New in for you, a cheerful pick"], open_vocabulary=False)
    assert closed.nonwords("A cheerful LUNCH BAG in recy onions q") == ["onions", "q", "recy"]
    assert AttributeLexicon(RETAIL).nonwords("A cheerful LUNCH BAG in onions") == []
    assert AttributeLexicon(RETAIL).nonwords("红色午餐袋 PARTYIRALAGE") == ["partyiralage"]  # Chinese is not checked


def test_demo_template_copy_is_never_a_hallucination():
    from contentlab.data.simulate import simulate
    from contentlab.generate import workflow as wf
    from contentlab.generate.inputs import StageInputs
    from contentlab.generate.prompts import load_templates
    from contentlab.generate.slots import build_slots

    ds = simulate(150, 40, 15, "en", 3)
    cat = wf.prepare_catalogue(ds.products, ds.meta, "en")
    tpl = load_templates("en", prices=cat.prices)
    lex = wf.catalogue_lexicon(cat, "en", tpl)
    slots = build_slots(cat.products, StageInputs(), ["push", "email", "product_page"], n_slots=60, products_per_persona=20)
    base = wf.template_candidates(slots, cat.products, {}, tpl)
    by_id = cat.products.set_index("product_id")
    for r in base.itertuples():
        assert faithfulness(r.text, dict(by_id.loc[r.product_id], product_id=r.product_id), lex).wrong == [], r.text
