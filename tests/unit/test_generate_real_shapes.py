"""04 on real catalogue shapes: the built-in demo, UCI Online Retail (GBP, upper-case stock descriptions only),
MovieLens (titles with release years, nominal prices) and CDNOW (one product "CD").

Each is prepared through the real adapters (``pipeline.prepare_data``), so the price facts come from the data
(``currency``, ``nominal_price``). Fast tests run the template path of the workflow; the slow ones run notebook 04
alone after 01 (``contentlab run --only 01_eda,04_generate``) and read what it published.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import FIXTURES, run_cli
from contentlab import pipeline
from contentlab.data.simulate import simulate
from contentlab.generate import evaluation as ev
from contentlab.generate import load_guardrails, load_templates
from contentlab.generate import workflow as wf
from contentlab.generate.config import GenerateConfig
from contentlab.generate.guides import check_guides, shopping_guides
from contentlab.generate.inputs import StageInputs
from contentlab.generate.prompts import copy_problems
from contentlab.generate.publish import content_table
from contentlab.generate.slots import build_slots

METRICS = ["model", "n_slots", "n_copies", "attribute_coverage", "hallucination_rate", "template_hallucination_rate",
           "distinct_2", "self_bleu", "rejected_rate", "heldout_perplexity", "tokens_per_s", "train_seconds",
           "fluency_rate", "truncated_rate", "style_accuracy", "scorer_precision", "scorer_recall", "model_params",
           "guides_written"]
WORDS = ["Heat", "Contact", "Story", "Night", "River", "Dream", "Star", "City", "Game", "House", "Road", "Wild", "Lost",
         "Moon", "Blue", "Dark", "King", "Love", "Time", "Fire"]


def write_online_retail(path) -> None:
    """A purchase ledger in the exact UCI Online Retail format (see test_pipeline_real_formats)."""
    ds = simulate(n_users=200, n_products=60, n_days=30, seed=3)
    ev = ds.events[ds.events["event_type"] == "purchase"].merge(ds.products[["product_id", "title"]], on="product_id")
    out = pd.DataFrame({
        "InvoiceNo": ev["order_id"].str.replace("O", "5", regex=False),
        "StockCode": ev["product_id"].str.replace("P", "8", regex=False),
        "Description": ev["title"].str.upper().str.replace(r"[^A-Z0-9 ]", " ", regex=True).str.split().str.join(" "),
        "Quantity": ev["quantity"], "InvoiceDate": ev["timestamp"].dt.strftime("%m/%d/%Y %H:%M"),
        "UnitPrice": ev["price"].round(2), "CustomerID": ev["user_id"].str.replace("U", "1", regex=False).astype(float),
        "Country": "United Kingdom",
    })
    out.to_csv(path, index=False)


def write_movielens(folder, n_users: int = 120, n_items: int = 60, seed: int = 4) -> None:
    """``u.data`` (user item rating timestamp, tab-separated) and ``u.item`` with real-format titles and genres."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for u in range(1, n_users + 1):
        for i in rng.choice(n_items, size=rng.integers(5, 20), replace=False):
            rows.append(f"{u}\t{i + 1}\t{rng.integers(1, 6)}\t{874965758 + int(rng.integers(0, 10**7))}")
    (folder / "u.data").write_text("\n".join(rows) + "\n", encoding="latin-1")
    items = []
    for i in range(1, n_items + 1):
        a, b = rng.choice(WORDS, 2, replace=False)
        year = int(rng.integers(1930, 1999))
        title = f"{a}, The ({year})" if i % 5 == 0 else f"{a} {b} ({year})"
        flags = ["0"] * 19
        flags[int(rng.integers(1, 19))] = "1"
        items.append("|".join([str(i), title, f"01-Jan-{year}", "", "http://us.imdb.com/M/title-exact?x"] + flags))
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_online_retail(root / "online_retail.csv")
    write_movielens(root / "ml")
    specs = {
        "demo": {"kind": "demo", "n_users": 150, "n_products": 40, "n_days": 15, "seed": 2},
        "online_retail": {"kind": "online_retail", "path": str(root / "online_retail.csv")},
        "movielens": {"kind": "movielens", "path": str(root / "ml" / "u.data")},
        "cdnow": {"kind": "cdnow", "path": str(FIXTURES / "cdnow" / "CDNOW_master.txt")},
    }
    mp = pytest.MonkeyPatch()
    mp.setenv("CONTENTLAB_HOME", str(root / "home"))
    out = {name: pipeline.prepare_data(spec, root / "runs" / name) for name, spec in specs.items()}
    mp.undo()
    return out, specs, root


def test_learnable_text_rule(shapes):
    data, _, _ = shapes
    checks = {name: wf.text_check(ds.products, ds.locale) for name, ds in data.items()}
    assert checks["demo"].ok and checks["demo"].described_share == 1.0 and checks["demo"].vocabulary >= 100
    for name in ("online_retail", "movielens", "cdnow"):
        assert not checks[name].ok and "no product descriptions" in checks[name].reason, name
    # the rule is on the share and the vocabulary of the descriptions, not on their presence
    demo = data["demo"].products.copy()
    short = demo.assign(description="Nice.")
    assert "no product has a description of at least 8 words" in wf.text_check(short).reason
    half = demo.assign(description=[d if i % 3 == 0 else None for i, d in enumerate(demo["description"])])
    assert "only 3" in wf.text_check(half).reason
    repetitive = demo.assign(description="a soft and warm jacket for every day of the week")
    assert "distinct words" in wf.text_check(repetitive).reason
    zh = simulate(150, 40, 15, "zh", 2).products
    assert wf.text_check(zh, "zh").ok


def test_plan_skips_gpt2_without_text_unless_pretrained(shapes):
    data, _, _ = shapes
    retail = wf.text_check(data["online_retail"].products)
    plan = wf.plan_model(GenerateConfig(), retail)
    assert not plan.generate and "no product descriptions" in plan.reason and "template baseline" in plan.reason
    pre = wf.plan_model(GenerateConfig(model="/models/distilgpt2", finetune_steps=50), retail)
    assert pre.generate and not pre.train and "not fine-tuned" in pre.reason
    demo = wf.plan_model(GenerateConfig(), wf.text_check(data["demo"].products))
    assert demo.generate and demo.train and demo.reason == ""


def _template_run(ds):
    cat = wf.prepare_catalogue(ds.products, ds.meta, ds.locale, ds.ratings if ds.has("ratings") else None)
    tpl = load_templates(ds.locale, prices=cat.prices)
    gr = load_guardrails()
    slots = build_slots(cat.products, StageInputs(), ["push", "email", "product_page"], n_slots=45, products_per_persona=15,
                        events=ds.events if ds.has("events") else None)
    cands = wf.template_candidates(slots, cat.products, {}, tpl)
    lex = wf.catalogue_lexicon(cat, ds.locale, tpl)
    scored = wf.select_best(wf.score_candidates(cands, cat.products, tpl, gr, lex, None, None, ds.locale,
                                                set(ds.users["user_id"].astype(str))))
    guides = shopping_guides(cat.products, tpl, [{"persona_id": "ALL", "segment": "all"}],
                             {"ALL": slots["product_id"].unique().tolist()[:3]})
    checks = check_guides(guides, cat.products, gr, lex, ds.locale)
    content = content_table(scored, guides, cat.products, "none", "", gr.version, tpl.version, guide_checks=checks,
                            prices=cat.prices)
    return cat, tpl, slots, scored, content


@pytest.mark.parametrize("name,sign,foreign", [("online_retail", "£", "$"), ("movielens", None, "$"),
                                               ("cdnow", "$", "£")])
def test_template_copy_on_real_shapes(shapes, name, sign, foreign):
    data, _, _ = shapes
    ds = data[name]
    cat, tpl, slots, scored, content = _template_run(ds)
    pub = content[content["published"]]
    assert len(pub[pub["content_type"] == "copy"]) > 0
    by_id = cat.products.set_index("product_id")
    for r in pub.itertuples():
        assert foreign not in r.text, r.text
        values = [v for p in str(r.product_ids).split(",") if p in by_id.index for v in by_id.loc[p].tolist()]
        assert copy_problems(f"{r.subject or ''}\n{r.text}", ds.locale, values) == [], r.text
        assert "()" not in r.text and " ," not in r.text
    if sign:
        assert pub["text"].str.contains(re.escape(sign)).any()
        assert pub.loc[pub["content_type"] == "copy", "price_text"].str.startswith(sign).all()
    else:  # MovieLens: nominal prices are never shown
        assert not pub["text"].str.contains(r"[$£€¥]|1\.00").any()
        assert (content["price_text"] == "").all() and content["price"].isna().all()
    copy = scored
    assert copy.loc[copy["published"], "length_ok"].all()  # published copy always keeps its channel's length rule
    assert (copy.loc[~copy["length_ok"] & (copy["text"] != ""), "reject_reason"].str.contains("length")).all()
    # release years, prices and stock codes are not phone numbers
    assert not scored["reject_reason"].str.contains("pii_phone").any()
    m = ev.metrics(scored, slots, None, None, None, ds.locale)
    assert list(m) == METRICS
    assert all(m[k] is None for k in ev.GPT2_METRICS) and m["model"] is None
    assert m["n_copies"] == int(scored["published"].sum()) and m["template_hallucination_rate"] == 0.0
    plan = wf.plan_model(GenerateConfig(), cat.text)
    lines = ev.summary_lines(m, scored, ev.model_comparison(scored, ds.locale), plan, cat, 2)
    text = "\n".join(lines)
    assert "nan" not in text.lower().replace("nano", "") and "**No GPT-2 copy.** The catalogue has no product descriptions" in text


def test_movielens_product_pages_are_rejected_for_length_not_published(shapes):
    data, _, _ = shapes
    _, tpl, _, scored, _ = _template_run(data["movielens"])
    page = scored[scored["channel"] == "product_page"]
    assert len(page) and not page["published"].any() and page["reject_reason"].str.contains("length").all()
    lines = ev.summary_lines(ev.metrics(scored, scored[["slot_id"]], None, None, None, "en"), scored,
                             ev.model_comparison(scored, "en"), wf.ModelPlan(False, False, "no text"),
                             wf.prepare_catalogue(data["movielens"].products, data["movielens"].meta), 2)
    assert any(line.startswith("- No product-page copy published: all") and "length" in line for line in lines)


def test_coverage_is_na_with_a_reason(shapes):
    data, _, _ = shapes
    assert "no product has a category, colour, material or brand" in ev.coverage_note(data["online_retail"].products)
    assert ev.coverage_note(data["demo"].products) == ""
    assert ev.fmt_metric(float("nan"), ".0%", "no attributes") == "n/a (no attributes)"
    assert ev.fmt_metric(None) == "n/a" and ev.fmt_metric(0.25) == "25%"


def _only_04(tmp_path, name, spec, extra=None):
    profile = tmp_path / f"{name}.yaml"
    profile.write_text(yaml.safe_dump({"name": name, "seed": 1, "dataset": spec, "notebooks": {"04_generate": {
        "model_size": "tiny", "train_steps": 20, "n_slots": 12, "n_candidates": 2, "n_guide_users": 2, **(extra or {})}}}))
    proc = run_cli(["run", "--profile", str(profile), "--only", "01_eda,04_generate"], tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_id = (tmp_path / "reports" / "latest").resolve().name
    manifest = json.loads((tmp_path / "reports" / run_id / "manifest.json").read_text(encoding="utf-8"))
    nb = {n["name"]: n for n in manifest["notebooks"]}["04_generate"]
    content = pd.read_parquet(tmp_path / "data" / "processed" / run_id / "content.parquet")
    html = next((tmp_path / "reports" / run_id).glob("04_generate*.html")).read_text(encoding="utf-8")
    md = (tmp_path / "reports" / run_id / "content_cards.md").read_text(encoding="utf-8")
    return nb, content, html, md


@pytest.mark.slow
@pytest.mark.parametrize("name", ["online_retail", "movielens"])
def test_notebook_04_skips_gpt2_on_catalogues_without_text(shapes, tmp_path, name):
    _, specs, _ = shapes
    nb, content, html, md = _only_04(tmp_path, name, specs[name])
    assert nb["status"] == "ok"
    m = nb["metrics"]
    assert set(METRICS) <= set(m) and m["model"] is None and all(m[k] is None for k in ev.GPT2_METRICS)
    assert set(content["variant"]) == {"template"} and content["published"].any()
    assert "GPT-2 copy is not generated" in html and "no product descriptions" in html
    body = re.sub(r"<style.*?</style>|<script.*?</script>", "", html, flags=re.S)
    assert not re.search(r"\bnan\b|nan%", body) and "$" not in md and not re.search(r"\$\s?\d", body)
    if name == "online_retail":
        assert "£" in md
    else:
        assert not re.search(r"[$£€¥]\s?\d", md + body)
