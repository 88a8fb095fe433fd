"""Product types in prompts and placeholders, the catalogue lexicon, and the scorer on hand-written copy in English
and Chinese: other products' types, categories, brands, colours, materials, styles, numbers and prices are caught
and named by field; the product's own words and the template text are not."""

import pandas as pd
import pytest

from contentlab.generate.lexicon import CatalogueLexicon, held, plural, singular
from contentlab.generate.prices import price_format
from contentlab.generate.prompts import copy_problems, load_templates
from contentlab.generate.scoring import AttributeLexicon, faithfulness
from contentlab.generate.workflow import _strings

EN = pd.DataFrame([
    {"product_id": "J", "title": "Frostline black puffer jacket", "category": "Down Jackets",
     "product_type": "puffer jacket", "brand": "Frostline", "price": 129.99, "colour": "black",
     "material": "goose down", "style": "hooded", "description": "A hooded puffer jacket that lasts 10 winters."},
    {"product_id": "S", "title": "Dreamwell white fitted sheet", "category": "Bedding", "product_type": "fitted sheet",
     "brand": "Dreamwell", "price": 39.99, "colour": "white", "material": "cotton sateen", "style": "400-thread-count",
     "description": "A crisp fitted sheet in cotton sateen."},
    {"product_id": "T", "title": "Kinetic blush pink t-shirt", "category": "T-Shirts", "product_type": "t-shirt",
     "brand": "Kinetic", "price": 18.99, "colour": "blush pink", "material": "organic cotton", "style": "regular-fit",
     "description": "An everyday t-shirt in organic cotton."},
    {"product_id": "E", "title": "Kinetic earbuds", "category": "Headphones", "product_type": "earbuds",
     "brand": "Kinetic", "price": 59.99, "colour": "pink", "material": "silicone tips", "style": "sweat-resistant",
     "description": "Earbuds with deep, clear bass that last 30 hours."},
    {"product_id": "D", "title": "Indigo Lane stretch denim jeans", "category": "Jeans", "product_type": "everyday jeans",
     "brand": "Indigo Lane", "price": 49.99, "colour": "indigo", "material": "stretch denim", "style": "slim",
     "description": "Everyday jeans in stretch denim."},
    {"product_id": "F", "title": "Harbor five-pocket jeans", "category": "Jeans", "product_type": "denim jeans",
     "brand": "Harbor", "price": 44.99, "colour": "clear", "material": "rigid denim", "style": "bootcut",
     "description": "Denim jeans with a bootcut leg."},
])
ZH = pd.DataFrame([
    {"product_id": "A", "title": "雪域黑色长款羽绒服", "category": "羽绒服", "product_type": "长款羽绒服", "brand": "雪域",
     "price": 899.0, "colour": "黑色", "material": "白鹅绒", "style": "连帽", "description": "这款长款羽绒服零下也能保暖。"},
    {"product_id": "B", "title": "云眠白色床单", "category": "床品", "product_type": "床单", "brand": "云眠",
     "price": 199.0, "colour": "白色", "material": "长绒棉", "style": "简约", "description": "床单柔软亲肤，配色百搭。"},
    {"product_id": "C", "title": "初棉粉色T恤", "category": "T恤", "product_type": "圆领T恤", "brand": "初棉",
     "price": 79.0, "colour": "粉色", "material": "纯棉", "style": "百搭", "description": "这款圆领T恤吸汗透气。"},
])


def rec(df, pid):
    return dict(df.set_index("product_id").loc[pid].to_dict(), product_id=pid)


# ---- product type in prompts and placeholders -------------------------------------------------------
def test_type_is_in_the_prompt_right_after_category_and_optional():
    en, zh = load_templates("en"), load_templates("zh")
    p = en.model_prompt(None, rec(EN, "J"), "push")
    assert "category: Down Jackets | type: puffer jacket | brand: Frostline" in p
    assert "| type:" not in en.model_prompt(None, {k: v for k, v in rec(EN, "J").items() if k != "product_type"},
                                            "push")
    assert "类目：羽绒服｜类型：长款羽绒服｜品牌：雪域" in zh.model_prompt(None, rec(ZH, "A"), "push")


def test_type_is_delexicalised_and_filled_with_the_right_article():
    en = load_templates("en")
    t = rec(EN, "T")
    raw = en.delexicalise("Meet the Kinetic t-shirt: a regular-fit design. Two t-shirts in blush pink.", t)
    assert raw == "Meet the [brand] [type]: a [style] design. Two [category] in [colour]."
    out = en.relexicalise("a [type] for you. Meet a [style] [type] from a [brand] shop.",
                          dict(t, product_type="everyday t-shirt", style="ultra-soft", brand="Aurelle"))
    assert out == "An everyday t-shirt for you. Meet an ultra-soft everyday t-shirt from an Aurelle shop."
    out = en.relexicalise("An [type] by [brand].", dict(t, product_type="hooded parka"))
    assert out == "A hooded parka by Kinetic." and copy_problems(out) == []
    assert en.relexicalise("a [colour] one.", dict(t, colour="one-tone grey")) == "A one-tone grey one."
    # no product type: [type] is the category's singular, a plainer noun that is still the product's own
    assert en.relexicalise("A [type].", {"category": "Sneakers"}) == "A sneaker."
    zh = load_templates("zh")
    a = rec(ZH, "A")
    assert zh.delexicalise("雪域长款羽绒服，羽绒服很暖。", a) == "[brand][type]，[category]很暖。"
    assert zh.relexicalise("[brand][type]，[category]很暖。", a) == "雪域长款羽绒服，羽绒服很暖。"


def test_without_product_types_the_prompt_and_placeholders_are_as_before():
    en = load_templates("en")
    old = {k: v for k, v in rec(EN, "S").items() if k != "product_type"}
    assert en.delexicalise("A white fitted sheet by Dreamwell.", old) == "A [colour] fitted sheet by [brand]."
    assert "type" not in en.model_prompt(None, old, "email")


# ---- the catalogue lexicon ------------------------------------------------------------------------
def test_lexicon_terms_forms_and_foreign_terms():
    assert (singular("Dresses"), singular("T-Shirts"), singular("Jeans")) == ("Dress", "T-Shirt", "Jeans")
    assert (plural("maxi dress"), plural("t-shirt"), plural("earbuds")) == ("maxi dresses", "t-shirts", "earbuds")
    lex = CatalogueLexicon(EN, "en")
    cats = {t.value: t for t in lex.terms if t.field == "category"}
    assert {"Down Jacket", "down jackets", "Down Jackets"} <= set(cats["down jackets"].forms)
    assert {"T-shirt", "t-shirts"} <= set(cats["t-shirts"].forms)
    foreign = {t.label for t in lex.foreign_terms(rec(EN, "T"))}
    assert {"type=puffer jacket", "type=fitted sheet", "brand=frostline", "category=bedding", "colour=black",
            "style=hooded"} <= foreign
    # its own values, and terms its values contain ("pink" in "blush pink"), are not foreign
    assert not foreign & {"type=t-shirt", "brand=kinetic", "colour=blush pink", "colour=pink", "category=t-shirts"}
    # "clear" is a word the earbuds' description uses, not a colour: generic, never a term
    assert ("colour", "clear") in lex.generic and "colour=clear" not in foreign
    # the category's own noun is not another product's type: "down jacket" is the Down Jackets' own
    jacket = {t.label for t in lex.foreign_terms(rec(EN, "J"))}
    assert "category=down jackets" not in jacket and "type=t-shirt" in jacket
    # several words each of which the record holds: "denim jeans" for stretch denim everyday jeans
    assert "type=denim jeans" not in {t.label for t in lex.foreign_terms(rec(EN, "D"))}
    assert held("denim jeans", ["stretch denim", "everyday jeans"]) and not held("denim coat", ["stretch denim"])
    assert lex.foreign_digits(rec(EN, "J")) == "23456789"  # "10 winters": 1 and 0 are its own
    assert lex.foreign_digits(rec(EN, "J"), ["$129.99"]) == "345678"
    generic = CatalogueLexicon(EN, "en", generic_texts=["Crafted for you: hooded or not"])
    assert ("style", "hooded") in generic.generic


def test_lexicon_zh():
    lex = CatalogueLexicon(ZH, "zh")
    foreign = {t.label for t in lex.foreign_terms(rec(ZH, "B"))}
    assert {"type=长款羽绒服", "category=羽绒服", "brand=雪域", "colour=黑色", "material=白鹅绒", "type=圆领t恤"} <= foreign
    assert not foreign & {"type=床单", "brand=云眠", "colour=白色"}
    # "百搭" is a word the bed sheet's description uses, and the T-shirt's style: generic
    assert ("style", "百搭") in lex.generic


# ---- the scorer -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def en_lex():
    tpl = load_templates("en")
    return AttributeLexicon(EN, "en", prices=price_format({"currency": "USD"}), generic_texts=_strings(tpl.spec))


@pytest.mark.parametrize("pid,text,wrong", [
    ("S", "Meet the Frostline fitted sheet: a puffer jacket design", {"brand=frostline", "type=puffer jacket"}),
    ("T", "This regular-fit earbuds from Kinetic", {"type=earbuds"}),
    ("T", "Kinetic headphones in organic cotton", {"category=headphones"}),
    ("T", "A hooded t-shirt in black goose down", {"style=hooded", "colour=black", "material=goose down"}),
    ("J", "A slim, bootcut puffer jacket", {"style=slim", "style=bootcut"}),
    ("J", "This puffer jacket lasts 30 winters, now $99", {"number=30", "price=99"}),
    ("S", "A fitted sheet that fits like your favourite jeans", {"category=jeans"}),
    ("T", "Your new t-shirt, from our T-Shirts range, for £18.99", {"price=£18.99 (data currency USD)"}),
])
def test_scorer_catches_other_products_words_by_field(en_lex, pid, text, wrong):
    assert set(faithfulness(text, rec(EN, pid), en_lex).wrong) == wrong


@pytest.mark.parametrize("pid,text", [
    ("T", "An everyday t-shirt in blush pink organic cotton, regular-fit and made by Kinetic. Yours for $18.99."),
    ("T", "Pink, soft and regular-fit: your new t-shirt."),  # "pink" is part of its own "blush pink"
    ("J", "New for you: a hooded down jacket that lasts 10 winters."),  # the category's noun, its own number
    ("D", "Indigo stretch denim jeans by Indigo Lane: denim jeans for every day."),  # its own words
    ("E", "Clear sound from Kinetic earbuds, 30 hours of it."),  # "clear" is a word here, not a colour
    ("S", "1. Dreamwell fitted sheet, $39.99: crafted for you"),  # a list number, template text
    ("S", "A 400-thread-count fitted sheet in crisp cotton sateen."),
])
def test_scorer_leaves_the_products_own_words_alone(en_lex, pid, text):
    assert faithfulness(text, rec(EN, pid), en_lex).wrong == []


def test_scorer_zh():
    lex = AttributeLexicon(ZH, "zh", prices=price_format({"currency": "CNY"}))
    b, a = rec(ZH, "B"), rec(ZH, "A")
    bad = faithfulness("雪域长款羽绒服面料的床单，黑色白鹅绒，仅需99元", b, lex)
    assert set(bad.wrong) == {"type=长款羽绒服", "category=羽绒服", "brand=雪域", "colour=黑色", "material=白鹅绒",
                              "price=99"}
    assert set(faithfulness("这款圆领T恤很适合你", b, lex).wrong) == {"type=圆领t恤", "category=t恤"}
    assert faithfulness("洗了20次也不起球的床单", b, lex).wrong == ["number=20"]
    assert faithfulness("云眠白色床单，长绒棉，简约百搭，到手价¥199", b, lex).wrong == []
    assert faithfulness("雪域长款羽绒服，黑色白鹅绒，连帽设计，零下也能保暖。", a, lex).wrong == []


def test_product_type_is_an_optional_products_column_kept_by_validation():
    from contentlab.data.schema import PRODUCTS
    from contentlab.data.validate import validate_table

    assert not PRODUCTS.column("product_type").required
    clean, rep = validate_table(EN.drop(columns=["description"]), "products")
    assert clean["product_type"].tolist() == EN["product_type"].tolist() and "product_type" not in rep.dropped_columns
    without, _ = validate_table(EN.drop(columns=["product_type"]), "products")
    assert "product_type" not in without.columns
