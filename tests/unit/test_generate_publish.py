"""Template baseline, slots, review digests, guides, content catalogue and escaped content cards."""

import json

import pandas as pd
import pytest

from contentlab import contract
from contentlab.data.simulate import simulate
from contentlab.generate.baseline import baseline_for_slots
from contentlab.generate.guardrails import load_guardrails
from contentlab.generate.guides import check_guides, shopping_guides
from contentlab.generate.inputs import StageInputs
from contentlab.generate.prices import price_format
from contentlab.generate.prompts import copy_problems, load_templates
from contentlab.generate.publish import (
    CONTENT_COLUMNS,
    content_table,
    render_cards_html,
    render_cards_markdown,
    write_cards,
    write_content,
)
from contentlab.generate.reviews import review_digests, sentence_polarity
from contentlab.generate.scoring import AttributeLexicon, faithfulness
from contentlab.generate.slots import build_slots

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module", params=["en", "zh"])
def shop(request):
    ds = simulate(200, 40, 20, request.param, 5)
    return ds, request.param


def test_baseline_fits_channels_and_is_faithful(shop):
    ds, loc = shop
    tpl = load_templates(loc, prices=price_format(ds.meta))
    products = ds.products
    slots = build_slots(products, StageInputs(), ["push", "email", "product_page"], n_slots=30, products_per_persona=10,
                        events=ds.events)
    assert len(slots) == 30 and set(slots["channel"]) == {"push", "email", "product_page"}
    base = baseline_for_slots(slots, products, {}, tpl)
    lex = AttributeLexicon(products, loc)
    by_id = products.set_index("product_id")
    for r in base.itertuples():
        assert tpl.hard_limit_ok(r.text, r.channel), r.text
        assert copy_problems(r.text, loc, by_id.loc[r.product_id].tolist()) == [], r.text
        f = faithfulness(r.text, dict(by_id.loc[r.product_id]), lex)
        assert not f.hallucinated, (r.text, f.wrong)
    page = base[base["channel"] == "product_page"]
    assert page["text"].map(lambda t: tpl.length_ok(t, "product_page")).mean() > 0.8


def test_slots_follow_recommendations_and_personas(shop):
    ds, loc = shop
    users = ds.users["user_id"].astype(str).tolist()
    profiles = pd.DataFrame({"user_id": users, "segment": ["a" if i % 2 else "b" for i in range(len(users))],
                             "persona_id": ["P01" if i % 2 else "P02" for i in range(len(users))]})
    pids = ds.products["product_id"].tolist()
    recs = pd.DataFrame([{"user_id": u, "rank": k + 1, "product_id": pids[(k + (7 if i % 2 else 0)) % len(pids)]}
                         for i, u in enumerate(users) for k in range(3)])
    personas = [{"persona_id": "P01", "segment": "a", "name": "trend_seeker", "favourite_categories": []},
                {"persona_id": "P02", "segment": "b", "name": "bargain_hunter", "favourite_categories": []}]
    inputs = StageInputs(personas=personas, profiles=profiles, recommendations=recs)
    slots = build_slots(ds.products, inputs, ["push"], n_slots=4, products_per_persona=2)
    assert slots.groupby("persona_id")["product_id"].apply(list).to_dict() == {"P01": pids[7:9], "P02": pids[0:2]}
    assert set(slots["source"]) == {"recommendations"}


def test_review_digests(shop):
    ds, loc = shop
    d = review_digests(ds.ratings, loc, guardrails=load_guardrails())
    assert len(d) > 5
    row = d.sort_values("n_reviews").iloc[-1]
    assert row["positive"] and row["social_proof"]
    reviews = " ".join(ds.ratings.loc[ds.ratings["product_id"] == row["product_id"], "review_text"].dropna())
    for s in list(row["positive"]) + list(row["negative"]):
        assert s in reviews  # extractive
    assert sentence_polarity("Not worth the money.", 3) == -1
    assert sentence_polarity("Great value, I love it.", 3) == 1


def test_guides_use_real_prices(shop):
    ds, loc = shop
    tpl = load_templates(loc, prices=price_format(ds.meta))
    products = ds.products
    pids = products["product_id"].tolist()[:3]
    g = shopping_guides(products, tpl, [{"persona_id": "P01", "segment": "a", "name": "trend_seeker"}], {"P01": pids})
    text = g["text"].iloc[0]
    sign = "$" if loc == "en" else "¥"
    for pid in pids:
        p = products.set_index("product_id").loc[pid]
        assert f"{sign}{p['price']:.2f}" in text and str(p["title"]) in text
    chk = check_guides(g, products, load_guardrails(), AttributeLexicon(products, loc), loc)
    assert not chk["rejected"].any(), chk.to_dict("records")


def test_guides_greet_nobody_by_persona_or_segment_name(shop):
    """A persona or segment name is an internal label ("Cart Abandoners"): no guide's subject or text shows it."""
    ds, loc = shop
    tpl = load_templates(loc, prices=price_format(ds.meta))
    pids = ds.products["product_id"].tolist()[:3]
    personas = [{"persona_id": "P01", "segment": "Cart Abandoners", "name": "Cart Abandoners"},
                {"persona_id": "P02", "segment": "流失风险", "name": "流失风险"}]
    g = shopping_guides(ds.products, tpl, personas, {"P01": pids, "P02": pids})
    assert len(g) == 2
    for _, row in g.iterrows():
        for name in ("Cart Abandoners", "流失风险", tpl.persona_name(None)):
            assert name not in row["subject"] and name not in row["text"], (name, row["subject"], row["text"])
        assert row["subject"] == ("Your picks this week" if loc == "en" else "本周为你挑选的好物")


def _content(products):
    scored = pd.DataFrame([
        {"slot_id": "s0000", "persona_id": "P01", "segment": "trend <b>seeker</b>", "product_id": "X1", "channel": "push",
         "variant": v, "candidate": 0, "text": t, "prompt": "p", "attribute_coverage": 1.0, "hallucinated": False,
         "wrong_attributes": "", "length_ok": True, "perplexity": 3.0, "longest_overlap": 2, "regurgitated": False,
         "bleu": 0.1, "rouge_l": 0.2, "quality": 1.0, "rejected": rej, "reject_reason": rr, "reject_detail": "",
         "selected": not rej, "published": not rej}
        for v, t, rej, rr in [("gpt2", "Fresh <i>look</i> & more", False, ""), ("template", "Template copy", False, ""),
                              ("gpt2", "The best ever", True, "banned_claim")]
    ])
    return content_table(scored, None, products, "embedded", "abc123", "1.0.0", 1,
                         variant_shares={("trend <b>seeker</b>", "push", "gpt2"): 0.7})


def test_cards_escape_everything(tmp_path):
    products = pd.DataFrame([{"product_id": "X1", "title": "Red bag", "price": 10.0}])
    content = _content(products)
    assert list(content.columns) == CONTENT_COLUMNS
    assert content.loc[content["variant"] == "gpt2", "variant_share"].tolist() == [0.7, 0.7]
    # markup in published copy never reaches a card: the catalogue gate unpublishes it (reason "markup")
    gpt = content[(content["variant"] == "gpt2") & (content["candidate"] == 0)].iloc[0]
    assert not gpt["published"] and "markup" in gpt["reject_reason"] and "<i>" not in gpt["text"]
    # and whatever a card shows is escaped (a frame that did not go through the gate)
    raw = content.copy()
    raw.loc[:, "product_title"] = XSS
    raw.loc[raw["variant"] == "template", "text"] = "Fresh <i>look</i> & more"
    page = render_cards_html(raw)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<i>look</i>" not in page and "<b>seeker</b>" not in page and "&amp; more" in page
    assert "The best ever" not in page  # rejected candidates are not published
    assert "http://" not in page and "https://" not in page
    md = render_cards_markdown(raw)
    assert "<" not in md and ">" not in md and "&lt;script&gt;" in md
    h, m = write_cards(raw, tmp_path)
    assert h.read_text(encoding="utf-8") == page


def test_content_files_round_trip(tmp_path):
    products = pd.DataFrame([{"product_id": "X1", "title": "Red bag", "price": 10.0}])
    content = _content(products)
    pq, jl = write_content(content, tmp_path)
    # written where the contract puts them, and readable through it by the feedback stage
    assert (pq, jl) == (contract.product("content").at(tmp_path), contract.product("content_jsonl").at(tmp_path))
    back = contract.product("content").read(tmp_path)
    assert len(back) == 3 and back["content_id"].is_unique
    rows = [json.loads(line) for line in jl.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and set(rows[0]) == set(CONTENT_COLUMNS)
    rejected = {r["reject_reason"]: r for r in rows if r["rejected"]}
    assert set(rejected) == {"banned_claim", "markup"} and not any(r["published"] for r in rejected.values())
    assert rejected["markup"]["text"] == "Fresh look & more"  # stored without its markup
    assert {r["variant"] for r in rows} == {"gpt2", "template"}
