"""No markup or script is ever published: record fields are cleaned on the way in, copy is checked on the way out.

The property test draws hostile titles and descriptions (tags, entities, ``javascript:``, event handlers,
unicode look-alikes and invisible characters) from a seeded generator, runs them through the 04 steps that
write copy (templates, guides, a stand-in for GPT-2 output that copies the hostile text) and checks the
published catalogue files: ``content.parquet``, ``content.jsonl`` and the Markdown cards.
"""

import json
import random

import pandas as pd
import pytest

from contentlab.data.simulate import simulate
from contentlab.generate import load_guardrails, load_templates
from contentlab.generate import workflow as wf
from contentlab.generate.guides import check_guides, shopping_guides
from contentlab.generate.inputs import StageInputs
from contentlab.generate.publish import content_table, render_cards_html, write_cards, write_content
from contentlab.generate.sanitise import clean_text, markup_problems, sanitise_personas, sanitise_products
from contentlab.generate.slots import build_slots

PAYLOADS = [
    "<script>alert(3)</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:alert(1)'>deal</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;", "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)", "java\u200bscript:alert(1)", "&#106;avascript:alert(1)", "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "\ufe64b\ufe65x", "<svg/onload=alert(1)>", "<<script>script>alert(1)<</script>/script>", "<scr<script>ipt>x</scr</script>ipt>",
    "onmouseover=alert(1)", "<!-- hidden -->", "<style>body{display:none}</style>", "\u202egnp.exe", "\x00\x07\x1b[31m",
    "<b", "x > y < z", "<iframe src=//evil.example>", "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=",
    "\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54\uff1aalert(1)", "&lt;img src=x onerror=alert(1)&gt;",
]
WORDS = ["soft", "cotton", "tee", "LUNCH", "BAG", "RED", "RETROSPOT", "cosy", "jacket", "for", "every", "day", "&", "R&B"]


def hostile(rng: random.Random, n_words: int) -> str:
    parts = [rng.choice(WORDS) for _ in range(n_words)]
    for _ in range(rng.randint(1, 3)):
        parts.insert(rng.randint(0, len(parts)), rng.choice(PAYLOADS))
    sep = rng.choice([" ", "", "  ", "\n"])
    return sep.join(parts)


def assert_no_markup(text: str, where: str) -> None:
    low = text.lower()
    assert "<" not in text and ">" not in text, where
    assert "javascript:" not in low and "vbscript:" not in low and "onerror=" not in low, where


@pytest.mark.parametrize("payload", PAYLOADS)
def test_clean_text_leaves_no_markup(payload):
    for text in (payload, f"Soft tee {payload} in navy", payload.upper()):
        cleaned = clean_text(text)
        assert markup_problems(cleaned) == [], (text, cleaned)
        assert_no_markup(cleaned, text)
    assert markup_problems(payload), payload  # the raw payload is caught on the way out


@pytest.mark.parametrize("text", ["AT&T R&B Marks&Spencer", "连帽黑色羽绒服，到手价¥449。（限时）", "100% cotton, 2-pack",
                                  "Air, The (1996)", "Dr. Strangelove or: How I Learned to Stop Worrying (1963)",
                                  "Size 10 - 12", "Crafted for you: a slim-fit tee."])
def test_clean_text_keeps_ordinary_text(text):
    assert clean_text(text) == text
    assert markup_problems(text) == []


def test_terminal_escapes_go_whole():
    assert clean_text("cotton\x00\x07\x1b[31mfor\x1b[0m tee") == "cottonfor tee"


def test_sanitise_products_reports_and_keeps_raw():
    raw = pd.DataFrame({"product_id": ["A", "B"], "title": ["<script>alert(3)</script>", "Red bag"],
                        "description": ["Nice <b>bag</b>", None], "price": [1.0, 2.0]})
    before = raw.copy()
    clean, changed = sanitise_products(raw)
    pd.testing.assert_frame_equal(raw, before)  # raw data is never modified
    assert clean["title"].tolist() == ["A", "Red bag"]  # a title of nothing but markup becomes the id
    assert clean.loc[0, "description"] == "Nice bag" and pd.isna(clean.loc[1, "description"])
    assert changed == {"title": 1, "description": 1}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_published_catalogue_never_contains_markup(seed, tmp_path):
    rng = random.Random(seed)
    ds = simulate(120, 24, 10, "en", seed)
    products = ds.products.copy()
    for i in range(len(products)):
        if rng.random() < 0.7:
            products.loc[i, "title"] = hostile(rng, rng.randint(0, 4))
        if rng.random() < 0.7:
            products.loc[i, "description"] = hostile(rng, rng.randint(3, 30))
        if rng.random() < 0.3:
            products.loc[i, "brand"] = hostile(rng, 1)
    ratings = ds.ratings.copy()
    ratings.loc[ratings.index[: len(ratings) // 2], "review_text"] = [hostile(rng, 8) for _ in range(len(ratings) // 2)]
    catalogue = wf.prepare_catalogue(products, ds.meta, "en", ratings)
    assert catalogue.cleaned.get("products.title", 0) > 0 and "ratings.review_text" in catalogue.cleaned
    clean = catalogue.products
    tpl = load_templates("en", prices=catalogue.prices)
    gr = load_guardrails()
    personas = [{"persona_id": "P01", "segment": "s<b>1</b>", "name": "<i>bargain</i> hunters", "price_band": "budget",
                 "favourite_categories": []}]
    inputs = StageInputs(personas=sanitise_personas(personas))
    slots = build_slots(clean, inputs, ["push", "email", "product_page"], n_slots=30, products_per_persona=10)
    tpl_c = wf.template_candidates(slots, clean, inputs.persona_map, tpl)
    # a stand-in for model output that repeats the hostile raw text: must be rejected for markup
    raw_by_id = products.set_index("product_id")
    fake = tpl_c.assign(variant="gpt2", text=[f"{raw_by_id.loc[p, 'title']} {hostile(rng, 3)}" for p in tpl_c["product_id"]])
    lex = wf.catalogue_lexicon(catalogue, "en", tpl, None, inputs.personas)
    scored = wf.select_best(wf.score_candidates(pd.concat([fake, tpl_c], ignore_index=True), clean, tpl, gr, lex, None,
                                                None, "en"))
    gpt = scored[scored["variant"] == "gpt2"]
    dirty = gpt["text"].map(lambda t: bool(markup_problems(t)))
    assert dirty.any() and gpt.loc[dirty, "reject_reason"].str.contains("markup").all()
    from contentlab.generate.reviews import review_digests

    digests = review_digests(catalogue.ratings, "en", guardrails=gr)
    guides = shopping_guides(clean, tpl, inputs.personas, {"P01": slots["product_id"].unique().tolist()[:3]},
                             digests=digests)
    checks = check_guides(guides, clean, gr, lex, "en")
    content = content_table(scored, guides, clean, "embedded", "fp", gr.version, tpl.version, digests=digests,
                            guide_checks=checks, prices=catalogue.prices)
    assert content["published"].any()
    pq, jl = write_content(content, tmp_path / "run")
    _, md = write_cards(content, tmp_path / "report")
    back = pd.read_parquet(pq)
    for col in back.columns:
        if back[col].dtype == object or pd.api.types.is_string_dtype(back[col]):
            for v in back.loc[back["published"], col].dropna().astype(str):
                assert_no_markup(v, f"content.parquet {col}: {v!r}")
            for v in back[col].dropna().astype(str):  # rejected rows hold no live markup either
                assert "<script" not in v.lower() and "javascript:" not in v.lower(), (col, v)
    for line in jl.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec["published"]:
            for k, v in rec.items():
                if isinstance(v, str):
                    assert_no_markup(v, f"content.jsonl {k}: {v!r}")
    assert_no_markup(md.read_text(encoding="utf-8"), "content_cards.md")


def test_content_table_gate_unpublishes_markup():
    products = pd.DataFrame([{"product_id": "X1", "title": "Red bag", "price": 10.0}])
    scored = pd.DataFrame([{"slot_id": "s0", "persona_id": "P", "segment": "a", "product_id": "X1", "channel": "push",
                            "variant": "gpt2", "candidate": 0, "text": "Red bag <img src=x onerror=alert(1)>",
                            "rejected": False, "reject_reason": "", "reject_detail": "", "selected": True,
                            "published": True}])
    content = content_table(scored, None, products, "embedded", "fp", "1", 2)
    row = content.iloc[0]
    assert not row["published"] and row["rejected"] and row["reject_reason"] == "markup"
    assert "markup:text:tag" in row["reject_detail"] and "<" not in row["text"] and "onerror" not in row["text"]
    assert "Red bag" not in render_cards_html(content)  # unpublished: no card


def test_ascii_fast_paths_agree_with_the_per_character_rules():
    from contentlab.generate import sanitise

    def per_character(text: str) -> str:
        keep = "\t\n\r\x0b\x0c\x85\u2028\u2029"
        return "".join(" " if ch in keep else ch for ch in text if ch in keep or not sanitise._invisible(ch))

    rng = random.Random(2)
    texts = [f"a{chr(c)}b" for c in range(128)]
    texts += ["".join(chr(rng.randrange(128)) for _ in range(rng.randint(0, 40))) for _ in range(500)]
    for text in texts:
        assert sanitise._drop_invisible(text) == per_character(sanitise._ANSI.sub("", text)), repr(text)
        assert sanitise._has_invisible(text) == any(sanitise._invisible(ch) for ch in text if ch not in "\n\t")
    assert sanitise._has_invisible("tab\tand\nnewline only") is False and sanitise._has_invisible("bell\x07")
