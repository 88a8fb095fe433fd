"""The labelled copy set (package resource) and the agreement measure of a check against its labels."""

import json
import math

import pandas as pd
import pytest

from contentlab.generate import calibration as cal
from contentlab.generate.calibration import (
    CATALOGUES,
    COLUMNS,
    LABELLED_PATH,
    RECORD_FIELDS,
    faithfulness_flag,
    load_labelled,
    scorer_agreement,
)


@pytest.fixture(scope="module")
def labelled():
    return load_labelled()


def test_the_set_is_utf8_with_the_documented_columns(labelled):
    raw = LABELLED_PATH.read_bytes()
    raw.decode("utf-8")  # raises on anything else
    assert tuple(pd.read_csv(LABELLED_PATH, nrows=0).columns) == COLUMNS
    assert len(labelled) >= 200
    assert labelled["id"].is_unique
    assert set(labelled["catalogue"]) == set(CATALOGUES)
    assert (labelled["text"].str.strip() != "").all()


def test_labels_are_yes_or_no_and_every_no_says_why(labelled):
    for label in ("faithful", "fluent"):
        assert set(labelled[label]) == {"yes", "no"}, label  # both outcomes occur
    no = labelled[(labelled["faithful"] == "no") | (labelled["fluent"] == "no")]
    assert (no["note"].str.strip().str.len() >= 5).all()


def test_records_are_small_json_objects_of_the_record_fields(labelled):
    for rec_text in labelled["product"]:
        rec = json.loads(rec_text)
        assert "title" in rec and set(rec) <= set(RECORD_FIELDS)
        assert len(rec.get("description", "")) <= 400


def test_counts_per_catalogue_variant_and_channel(labelled):
    per_cat = labelled["catalogue"].value_counts()
    assert per_cat["demo_en"] >= 55 and per_cat["demo_zh"] >= 45
    assert per_cat["online_retail"] >= 40 and per_cat["movielens"] >= 40
    counts = labelled.groupby(["catalogue", "variant"]).size()
    for cat in CATALOGUES:
        for variant in ("gpt2", "template"):
            assert counts[(cat, variant)] >= 15, (cat, variant)
        assert set(labelled.loc[labelled["catalogue"] == cat, "channel"]) == {"push", "email", "product_page"}
    assert set(labelled.loc[labelled["catalogue"] == "demo_zh", "locale"]) == {"zh"}
    assert set(labelled.loc[labelled["catalogue"] != "demo_zh", "locale"]) == {"en"}


def test_load_labelled_names_what_is_wrong(tmp_path, labelled):
    bad = labelled.head(4).copy()
    bad.loc[bad.index[0], "faithful"] = "maybe"
    bad.loc[bad.index[1], ["fluent", "note"]] = ["no", ""]
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"faithful must be 'yes' or 'no'.*a 'no' label needs a note"):
        load_labelled(path)
    bad.drop(columns=["note"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing column"):
        load_labelled(path)


def _rows(labels, texts):
    return pd.DataFrame({"id": [f"x-{i}" for i in range(len(labels))], "catalogue": "demo_en", "locale": "en",
                         "variant": "gpt2", "channel": "push", "product_id": [str(i) for i in range(len(labels))],
                         "product": json.dumps({"title": "Red mug"}), "currency": "USD", "text": texts,
                         "faithful": labels, "fluent": "yes", "note": ""})


def test_scorer_agreement_counts_precision_and_recall():
    # 3 hallucinated rows (no), 5 faithful (yes); the flag fires on rows containing "BAD"
    labels = ["no", "no", "no", "yes", "yes", "yes", "yes", "yes"]
    texts = ["BAD", "BAD", "fine", "BAD", "fine", "fine", "fine", "fine"]
    seen = []

    def flag(text, product, locale, currency):
        seen.append((product["title"], product["product_id"], locale, currency))
        return "BAD" in text

    a = scorer_agreement(_rows(labels, texts), flag)
    assert (a.tp, a.fp, a.fn, a.tn) == (2, 1, 1, 4)
    assert a.precision == pytest.approx(2 / 3) and a.recall == pytest.approx(2 / 3)
    assert a.f1 == pytest.approx(2 / 3)
    assert sorted(a.disagreements["id"]) == ["x-2", "x-3"]
    assert dict(zip(a.disagreements["id"], a.disagreements["kind"])) == {"x-2": "fn", "x-3": "fp"}
    assert seen[0] == ("Red mug", "0", "en", "USD")
    assert a.summary()["n"] == 8


def test_scorer_agreement_edge_cases():
    rows = _rows(["yes", "yes"], ["a", "b"])
    never = scorer_agreement(rows, lambda *a: False)
    assert (never.tp, never.fp, never.fn, never.tn) == (0, 0, 0, 2)
    assert math.isnan(never.precision) and math.isnan(never.recall) and math.isnan(never.f1)
    always = scorer_agreement(_rows(["no", "yes"], ["a", "b"]), lambda *a: True)
    assert always.precision == 0.5 and always.recall == 1.0
    with pytest.raises(ValueError, match="label must be one of"):
        scorer_agreement(rows, lambda *a: True, label="tone")


def test_the_current_scorer_runs_on_every_labelled_row(labelled):
    flag = faithfulness_flag(labelled)
    a = scorer_agreement(labelled, flag)
    assert a.n == len(labelled)
    assert a.tp + a.fn == int((labelled["faithful"] == "no").sum())
    row = labelled[labelled["catalogue"] == "demo_en"].iloc[0]
    rec = {**json.loads(row["product"]), "product_id": row["product_id"]}
    assert flag(f"{rec['title']}, $999.99", rec, "en", "USD")  # a price the record does not hold
    with pytest.raises(KeyError, match="not in the labelled set"):
        flag("copy", {**rec, "product_id": "no-such-product"}, "en", "USD")
    # with GPT-2's words counted as words, ordinary words are no longer non-words: the flag fires less often
    opened = scorer_agreement(labelled, faithfulness_flag(labelled, open_vocabulary=True))
    assert opened.tp + opened.fp <= a.tp + a.fp


def test_the_faithfulness_scorer_agrees_with_the_people_who_read_the_copy(tmp_path, monkeypatch):
    """The bar: precision and recall of the hallucination flag >= 0.9 against the labelled set, as recorded."""
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    figures = cal.scorer_figures()
    assert figures["n"] == len(cal.load_labelled())
    assert figures["precision"] >= 0.9 and figures["recall"] >= 0.9, figures
    assert cal.scorer_figures() == figures  # cached by the labelled file and the scoring code
    assert list((tmp_path / "data" / "models" / "calibration").glob("scorer-*.json"))
