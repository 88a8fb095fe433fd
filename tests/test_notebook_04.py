"""Notebook 04 inside the whole tiny pipeline (``tiny_run``): recorded metrics agree with content.parquet."""

import json

import pandas as pd
import pytest

METRICS = ["model", "n_slots", "n_copies", "attribute_coverage", "hallucination_rate", "template_hallucination_rate",
           "distinct_2", "self_bleu", "rejected_rate", "heldout_perplexity", "tokens_per_s", "train_seconds"]


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


@pytest.fixture(scope="module")
def content(run):
    return pd.read_parquet(run.run_dir / "content.parquet")


pytestmark = pytest.mark.slow


def test_metrics_recorded(run):
    nb = run.notebook("04_generate")
    assert nb["status"] == "ok"
    m = nb["metrics"]
    for name in METRICS:
        assert name in m, name
    assert m["model"] == "embedded"
    for name in ("attribute_coverage", "hallucination_rate", "template_hallucination_rate", "rejected_rate"):
        assert 0.0 <= m[name] <= 1.0
    assert m["heldout_perplexity"] > 1.0 and m["tokens_per_s"] > 0 and m["train_seconds"] >= 0


def test_metrics_match_content(run, content):
    m = run.metrics("04_generate")
    copy = content[content["content_type"] == "copy"]
    gpt = copy[copy["variant"] == "gpt2"]
    tpl = copy[copy["variant"] == "template"]
    assert m["n_slots"] == copy["slot_id"].nunique()
    assert m["n_copies"] == int(copy["published"].sum())
    assert m["hallucination_rate"] == pytest.approx(gpt["hallucinated"].mean())
    assert m["template_hallucination_rate"] == pytest.approx(tpl["hallucinated"].mean())
    assert m["rejected_rate"] == pytest.approx(gpt["rejected"].mean())
    assert m["attribute_coverage"] == pytest.approx(gpt["attribute_coverage"].mean())
    assert set(gpt["model"]) == {m["model"]}


def test_published_copy_is_clean(run, content):
    from contentlab.generate.prompts import copy_problems
    from contentlab.generate.sanitise import markup_problems

    products = pd.read_parquet(run.run_dir / "clean" / "products.parquet").set_index("product_id")
    pub = content[content["published"]]
    assert len(pub) and pub.loc[pub["content_type"] == "copy", "length_ok"].all()
    for r in pub.itertuples():
        ids = [p for p in str(r.product_ids).split(",") if p in products.index]
        values = [v for p in ids for v in products.loc[p].tolist()]
        assert copy_problems(f"{r.subject or ''}\n{r.text}", "en", values) == [], r.text
        assert markup_problems(r.text) == [] and "£" not in r.text and "¥" not in r.text
    assert pub.loc[pub["content_type"] == "copy", "price_text"].str.startswith("$").all()  # the demo sells in USD
    assert not content["reject_reason"].str.contains("pii_phone").any()


def test_content_shape(run, content):
    assert content["content_id"].is_unique
    assert set(content["variant"]) <= {"gpt2", "template"}
    assert {"copy", "guide"} <= set(content["content_type"])
    assert not (content["published"] & content["rejected"]).any()
    rej = content[content["rejected"]]
    assert (rej["reject_reason"] != "").all()
    assert not content.loc[content["hallucinated"] & (content["content_type"] == "copy"), "published"].any()
    lines = (run.run_dir / "content.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(content)
    assert json.loads(lines[0])["content_id"] == content["content_id"].iloc[0]


def test_cards_and_report(run):
    cards = (run.report_dir / "content_cards.html").read_text(encoding="utf-8")
    assert "<script" not in cards.lower()
    assert (run.report_dir / "content_cards.md").exists()
    reports = list(run.report_dir.glob("04_generate*.html"))
    assert reports
    html = reports[0].read_text(encoding="utf-8")
    for section in ("Marketing copy generation", "The model", "Prompt templates", "GPT-2 vs template", "Examples",
                    "Rejections", "Review digests", "Shopping guides", "Where each variant stands"):
        assert section in html, section
    assert "data:image/png" in html  # the loss curve
    assert "nan%" not in html and "Inputs and catalogue checks" in html and "prices shown in USD" in html
    # raw user ids never appear in the report or the cards
    users = pd.read_parquet(run.run_dir / "clean" / "users.parquet")["user_id"].astype(str)
    long_ids = [u for u in users if len(u) >= 5][:50]
    assert not any(u in html or u in cards for u in long_ids)
