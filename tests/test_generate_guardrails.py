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


def test_every_violation_names_its_term(g):
    found = g.check("The best coat, guaranteed. Mail a@b.co", "en")
    assert [(v.reason, v.term) for v in found] == [("banned_claim", "best"), ("banned_claim", "guaranteed"),
                                                   ("pii_email", "a@b.co")]


def test_lists_are_versioned_and_extendable(g, tmp_path):
    assert g.version == "1.0.0"
    assert g.describe()["banned_claims_zh"] >= 20
    (tmp_path / "banned_claims_en.txt").write_text("# house rule\nunmissable\n", encoding="utf-8")
    ext = load_guardrails(extra_dir=tmp_path)
    assert ext.version.endswith("+extra")
    assert reasons(ext, "An unmissable deal") == ["banned_claim"]
    assert reasons(g, "An unmissable deal") == []
