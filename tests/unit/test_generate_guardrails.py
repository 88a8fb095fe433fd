"""Guardrails: banned claims EN/ZH with allow-listed uses, PII, profanity, versioned extendable lists."""

import pytest

from contentlab.generate.guardrails import load_guardrails


@pytest.fixture(scope="module")
def g():
    return load_guardrails()


def reasons(g, text, locale="en", user_ids=None):
    return sorted({v.reason for v in g.check(text, locale, user_ids)})


@pytest.mark.parametrize("text", [
    "The best jacket of the season", "Our No.1 pick", "Rated #1 by runners", "Warmth guaranteed",
    "100% satisfaction", "The cheapest price in town", "A world-class fit", "Number one for comfort",
])
def test_banned_claims_en(g, text):
    assert reasons(g, text) == ["banned_claim"]


@pytest.mark.parametrize("text", [
    "100% cotton tee in navy", "Best before 12/2027", "Made from 100% organic cotton", "Best regards, the team",
    "A secure zip pocket", "Nobody does it like this", "Light and soft",
])
def test_allowed_or_clean_en(g, text):
    assert reasons(g, text) == []


@pytest.mark.parametrize("text", ["全网最低价", "最佳选择", "销量第一", "唯一正品", "独家首发", "顶级工艺", "国家级品质", "世界级设计", "极品面料",
                                  "品牌NO.1"])
def test_banned_claims_zh(g, text):
    assert reasons(g, text, "zh") == ["banned_claim"]


@pytest.mark.parametrize("text", ["第一次穿就爱上", "100%纯棉面料", "最后一天上新", "轻薄保暖，通勤百搭"])
def test_allowed_or_clean_zh(g, text):
    assert reasons(g, text, "zh") == []


def test_pii_and_profanity(g):
    assert reasons(g, "Write to jane.doe@example.com") == ["pii_email"]
    assert reasons(g, "Call +44 20 7946 0958 today") == ["pii_phone"]
    assert reasons(g, "致电13812345678", "zh") == ["pii_phone"]
    assert reasons(g, "Hi U000123, new in", user_ids={"U000123"}) == ["pii_user_id"]
    assert reasons(g, "customer id: 88231") == ["pii_user_id"]
    assert reasons(g, "Now $1299.00, size 42, 3 colours") == []
    assert reasons(g, "This damn coat") == ["profanity"]
    assert reasons(g, "这他妈的好看", "zh") == ["profanity"]


PHONES = [
    ("Call +44 20 7946 0958 today", "+44 20 7946 0958"), ("Ring 020 7946 0958", "020 7946 0958"),
    ("(020) 7946 0958", "(020) 7946 0958"), ("Questions? (555) 123-4567", "(555) 123-4567"),
    ("555-123-4567", "555-123-4567"), ("Free on 1-800-555-0199", "1-800-555-0199"), ("800.555.0199", "800.555.0199"),
    ("+1 (555) 123-4567", "+1 (555) 123-4567"), ("0044 20 7946 0958", "0044 20 7946 0958"),
    ("致电13812345678", "13812345678"), ("手机 138 1234 5678", "138 1234 5678"), ("电话：010-12345678。", "010-12345678"),
    ("call 5551234567 now", "5551234567"), ("Tel: 7946 0958 12", "7946 0958 12"),
]


@pytest.mark.parametrize("text,number", PHONES)
def test_phone_numbers_are_found(g, text, number):
    found = [v for v in g.check(text, "zh") if v.reason == "pii_phone"]
    assert [v.term for v in found] == [number]


@pytest.mark.parametrize("text", [
    # movie release years (the MovieLens catalogue), year ranges and dates
    "Contact (1997) for fans of Air, The (1996) (1993) and (1995)", "(1995) (1996) (1993)", "1996 1993 2001",
    "Star Wars (1977) 1980 1983 box set", "2019-2020-2021", "Valid 01.01.2024-31.12.2024",
    # prices
    "Now $1299.00, size 42, 3 colours", "£1,299.00 or £ 1 299", "¥ 1299 000",
    # sizes and quantities
    "sizes 42 44 46 48 50", "250 500 1000 ml", "120 x 200 cm", "size 100 120 140 160 cm", "Only £1.65 for 12 pieces",
    # product codes (Online Retail stock codes, barcodes, ISBNs, invoices)
    "SKU 85123 22423", "EAN 5012345678900", "EAN: 0123456789012", "stock code 851230224", "ISBN 978-3-16-148410-0",
    "Order 581483 581484", "LUNCH BAG RED RETROSPOT 85123 22423 47566 pack of 3", "Batch 1234567890", "货号 85123224230",
])
def test_years_prices_sizes_and_codes_are_not_phone_numbers(g, text):
    assert [v.term for v in g.check(text, "zh") if v.reason == "pii_phone"] == []


def test_every_violation_names_its_term(g):
    found = g.check("The best coat, guaranteed. Mail a@b.co", "en")
    assert [(v.reason, v.term) for v in found] == [("banned_claim", "best"), ("banned_claim", "guaranteed"),
                                                   ("pii_email", "a@b.co")]


def test_lists_are_versioned_and_extendable(g, tmp_path):
    assert g.version == "1.1.0"
    assert g.describe()["banned_claims_zh"] >= 20
    (tmp_path / "banned_claims_en.txt").write_text("# house rule\nunmissable\n", encoding="utf-8")
    ext = load_guardrails(extra_dir=tmp_path)
    assert ext.version.endswith("+extra")
    assert reasons(ext, "An unmissable deal") == ["banned_claim"]
    assert reasons(g, "An unmissable deal") == []
