"""Template rendering never leaves an empty slot or a broken sentence; prices follow the data's currency.

The property tests draw records with random missing fields from a seeded generator (no hypothesis in the lock
file) and render every channel's baseline and a shopping guide for each.
"""

import random

import pytest

from contentlab.generate.guides import guide_text
from contentlab.generate.prices import PriceFormat, price_format
from contentlab.generate.prompts import copy_problems, load_templates

FIELDS = {
    "en": {"category": ["Down Jackets", "Jeans", "Handbags", "Drama", "Skincare"], "brand": ["Northpeak", "Velora", "Basics & Co"],
           "colour": ["black", "forest green", "navy"], "material": ["goose down", "organic cotton", "suede"],
           "style": ["hooded", "slim-fit", "everyday"],
           "description": ["A hooded down jacket that keeps the cold out on the way to work. Packs into its own pocket.",
                           "Soft, light and easy to wear. It goes with everything in the wardrobe.",
                           "One short line."],
           "title": ["LUNCH BAG RED RETROSPOT", "Air, The (1996)", "Northpeak black goose down jacket", "CD",
                     "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963)"]},
    "zh": {"category": ["羽绒服", "牛仔裤", "剧情"], "brand": ["北极绒", "远山"], "colour": ["黑色", "浅蓝色"],
           "material": ["白鹅绒", "弹力牛仔布"], "style": ["连帽", "直筒"],
           "description": ["这款连帽羽绒服，冬季通勤用着刚刚好。选用白鹅绒，可收纳进自带口袋。", "百搭舒适。"],
           "title": ["连帽黑色羽绒服 北极绒白鹅绒", "午餐袋", "玩具总动员 (1995)"]},
}
MISSING = [None, float("nan"), "", "   ", "nan", "None"]


def random_record(rng: random.Random, locale: str) -> dict:
    f = FIELDS[locale]
    rec = {"product_id": f"P{rng.randint(1, 9999)}", "title": rng.choice(f["title"])}
    for key in ("category", "brand", "colour", "material", "style", "description"):
        rec[key] = rng.choice(f[key]) if rng.random() < 0.5 else rng.choice(MISSING)
    rec["price"] = rng.choice([1.65, 19.99, 449.0, None, float("nan")])
    return rec


@pytest.mark.parametrize("locale", ["en", "zh"])
@pytest.mark.parametrize("currency", ["USD", "GBP", None])
def test_templates_never_leave_an_empty_slot(locale, currency):
    rng = random.Random(hash((locale, currency)) % 1000)
    prices = PriceFormat(currency) if currency else PriceFormat(None, "no currency")
    tpl = load_templates(locale, prices=prices)
    personas = [None, {"persona_id": "P1", "name": "bargain hunters", "price_band": "budget"},
                {"persona_id": "P2", "name": "premium", "price_band": "premium"}]
    for _ in range(300):
        rec = random_record(rng, locale)
        for ch in ("push", "email", "product_page"):
            text = tpl.baseline(rng.choice(personas), rec, ch)
            assert text, (rec, ch)
            assert "{" not in text and "}" not in text
            assert copy_problems(text, locale, rec.values()) == [], (text, rec)
            if locale == "en":
                masked = text.replace(rec["title"], "Xx")
                for bad in ("()", " ,", "of and", "  ", "by,", "by.", " :"):
                    assert bad not in masked, (bad, text)
            if not prices.show or rec["price"] is None or rec["price"] != rec["price"]:
                assert not any(sym in text for sym in "$£¥€"), text
        items = [random_record(rng, locale) for _ in range(3)]
        subject, body = guide_text("bargain hunters", items, tpl)
        assert copy_problems(subject + "\n" + body, locale, [v for r in items for v in r.values()]) == [], body
        assert "{" not in body and "()" not in body and "（）" not in body


def test_copy_problems_names_the_issue_examples():
    assert "empty slot between words" in copy_problems("This drama is made of and is.")
    assert "dangling word before punctuation" in copy_problems("Drama by, $1.65")
    assert "empty brackets" in copy_problems("1. LUNCH BAG RED RETROSPOT (), $1.65: ")
    assert "space before punctuation" in copy_problems("Red bag , now")
    assert "double space" in copy_problems("Red  bag")
    assert "repeated punctuation" in copy_problems("Red bag, , now")
    assert copy_problems("A pick at $51.99.. Soft.") == ["repeated punctuation"]
    assert copy_problems("Wait for it... soft.") == []
    assert "dangling word before punctuation" in copy_problems("Yours for.")
    assert copy_problems("（）羽绒服", "zh") == ["empty brackets"]
    assert copy_problems("Meet the Kinetic sports bra: a t-shirt for") == ["cut sentence"]
    assert copy_problems("it keeps its its place.") == ["repeated word"]
    assert copy_problems("A oversized tote. Meet an down jacket.") == ["a / an before the wrong sound"]
    assert copy_problems("羽绒服，", "zh") == ["cut sentence"]
    for ok in ("New for you: Air, The (1996). From our drama range.", "Black goose down jacket by Northpeak, $67.99",
               "Made of 100% cotton. Yours for £1.65.", "1. Toy Story (1995): animation", "Basics & Co tee, $9.99",
               "连帽黑色羽绒服，¥449.00", "A unique, hooded jacket for an hour outdoors.", "Grade A item: an orange tee.",
               "Made for a European winter."):
        assert copy_problems(ok, "zh" if "羽" in ok else "en") == [], ok


def test_sentence_without_its_fields_is_replaced_or_dropped():
    tpl = load_templates("en", prices=PriceFormat("GBP"))
    movie = {"product_id": "1", "title": "Toy Story (1995)", "category": "Animation", "price": 1.0}
    assert tpl.baseline(None, movie, "product_page") == ("New for you: Toy Story (1995). From our animation range. "
                                                         "Yours for £1.00.")
    retail = {"product_id": "85123A", "title": "LUNCH BAG RED RETROSPOT", "price": 1.65}
    assert tpl.baseline(None, retail, "push") == "LUNCH BAG RED RETROSPOT, £1.65."
    assert tpl.baseline(None, retail, "email") == "New for you: LUNCH BAG RED RETROSPOT, £1.65."
    # the product type names the thing; a rendering with a broken sentence gives way to the next template
    jacket = {"product_id": "J1", "title": "Northpeak goose down down jacket", "category": "Down Jackets",
              "product_type": "down jacket", "brand": "Northpeak", "colour": "cream", "material": "goose down",
              "price": 120.0}
    assert tpl.baseline(None, jacket, "push") == "Cream down jacket by Northpeak, £120.00."
    buds = {"product_id": "E1", "title": "Pulse earbuds", "category": "Headphones", "product_type": "earbuds",
            "brand": "Pulse", "colour": "white", "price": 60.0}
    assert tpl.baseline(None, buds, "email") == "New for you: the white earbuds by Pulse, £60.00."
    _, body = guide_text("all shoppers", [dict(retail, product_id="85123A")], tpl)
    assert "1. LUNCH BAG RED RETROSPOT, £1.65" in body and "()" not in body and "Prices are current list prices in GBP." in body


def test_prices_follow_the_data():
    assert price_format({"currency": "GBP"}).format(1.65) == "£1.65"
    assert price_format({"currency": "usd"}).format(19.99) == "$19.99"
    assert price_format({"currency": "CNY"}).format(449) == "¥449.00"
    assert price_format({"currency": "JPY"}).format(1650) == "¥1650"
    assert price_format({"currency": "CHF"}).format(1.65) == "1.65 CHF"
    nominal = price_format({"source": "movielens", "nominal_price": True, "currency": "USD"})
    assert not nominal.show and nominal.format(1.0) == "" and "nominal" in nominal.reason
    assert not price_format({}).show and "currency" in price_format({}).reason
    assert not price_format({"currency": "pounds"}).show
    assert price_format({"source_meta": {"currency": "GBP"}}).currency == "GBP"
    assert PriceFormat("GBP").format(None) == "" and PriceFormat("GBP").format(float("nan")) == ""


@pytest.mark.parametrize("meta", [{"nominal_price": True}, {}])
def test_no_price_anywhere_without_real_prices(meta):
    tpl = load_templates("en", prices=price_format(meta))
    rec = {"product_id": "1", "title": "Contact (1997)", "category": "Drama", "price": 1.0}
    for ch in ("push", "email", "product_page"):
        text = tpl.baseline(None, rec, ch)
        assert "$" not in text and "1.00" not in text, text
    assert "price" not in tpl.model_prompt(None, rec, "push")
    subject, body = guide_text("all shoppers", [rec], tpl)
    assert "$" not in body and "1.00" not in body and "Prices are" not in body
    # generated copy whose sentence needs a price the data does not have loses that sentence
    assert tpl.relexicalise("A moving [category]. Yours for [price].", rec) == "A moving drama."


def test_delexicalised_price_takes_its_currency_sign_along():
    tpl = load_templates("zh", prices=PriceFormat("CNY"))
    rec = {"product_id": "1", "title": "羽绒服", "price": 449.0}
    assert tpl.delexicalise("到手价¥449，性价比出众。", rec) == "到手价[price]，性价比出众。"
    en = load_templates("en", prices=PriceFormat("GBP"))
    assert en.delexicalise("A steal at $1.65 or 1.65 GBP.", {"price": 1.65}) == "A steal at [price] or [price]."
    assert en.relexicalise("A steal at [price].", {"price": 1.65}) == "A steal at £1.65."
