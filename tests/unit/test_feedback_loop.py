"""feedback_priors.json: built and written by 05, handed to the next cycle's 04 through the contract (round trip,
the hand-over, the profile it belongs to, shape checks)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from contentlab import contract, priors
from contentlab.feedback import bayes, loop


def _counts():
    return pd.DataFrame({
        "segment": ["bargain", "bargain", "bargain", "bargain", "premium", "premium"],
        "channel": ["email", "email", "push", "push", "email", "email"],
        "variant": ["gpt2", "template", "gpt2", "template", "gpt2", "template"],
        "impressions": [2000, 2000, 500, 520, 1500, 1480],
        "clicks": [60, 110, 30, 28, 120, 80],
        "conversions": [6, 11, 3, 2, 20, 9],
        "revenue": [300.0, 500.0, 90.0, 60.0, 2400.0, 1100.0],
    })


def test_priors_round_trip(tmp_path):
    run_dir = tmp_path / "20260101T000000-tiny"
    doc = loop.build_priors(_counts(), run_id=run_dir.name, seed=3, winners={("bargain", "email"): "template"},
                            channel_winners={"email": None}, source={"exposures_source": "campaign"})
    path = loop.write_priors(run_dir, doc)
    assert path == contract.product("feedback_priors").at(run_dir)
    back = priors.read_priors(run_dir)
    raw = json.loads(path.read_text())
    assert back["run_id"] == "20260101T000000-tiny" == raw["run_id"]
    assert raw["schema_version"] == priors.SCHEMA_VERSION and raw["created"].endswith("Z")
    assert len(raw["cells"]) == 3 and set(raw["channels"]) == {"email", "push"}
    cell = next(c for c in raw["cells"] if c["segment"] == "bargain" and c["channel"] == "email")
    # Beta(1,1) prior + counts
    assert cell["variants"]["gpt2"]["ctr"] == {"alpha": 61.0, "beta": 1941.0, "mean": 61.0 / 2002.0}
    assert cell["variants"]["template"]["cvr"]["alpha"] == 12.0 and cell["variants"]["template"]["cvr"]["beta"] == 100.0
    assert cell["winner"] == "template"
    # allocation follows Thompson sampling with the documented floor
    alloc = cell["recommended_allocation"]
    assert abs(sum(alloc.values()) - 1) < 1e-9 and alloc["template"] > 0.9 and alloc["gpt2"] >= 0.05 - 1e-12
    assert abs(cell["variants"]["template"]["p_best"] - (1 - bayes.prob_b_beats_a(111, 1891, 61, 1941))) < 1e-9
    frame = priors.priors_frame(back)
    assert len(frame) == 6 and set(frame["variant"]) == {"gpt2", "template"}
    assert priors.allocation_for(back, "bargain", "email") == pytest.approx(alloc)
    mixed = priors.allocation_for(back, "bargain")
    assert abs(sum(mixed.values()) - 1) < 1e-9
    assert priors.allocation_for(back, "unknown", "push") == raw["channels"]["push"]["recommended_allocation"]
    assert priors.allocation_for(None, "x", default={"template": 1.0}) == {"template": 1.0}


def test_the_next_cycle_is_handed_the_priors_through_the_contract(tmp_path):
    # 05 of a cycle writes its priors; the runner resolves the next cycle's 04 inputs with that run as the previous
    # cycle (it finds the run through the registry); 04 reads them back from the path it is handed
    previous, current = tmp_path / "20260101T000000-demo", tmp_path / "20260102T000000-demo"
    loop.write_priors(previous, loop.build_priors(_counts(), run_id=previous.name, profile="demo"))
    (current / "clean").mkdir(parents=True)
    contract.product("dataset").write(current, {"name": "demo", "locale": "en"})
    handed = contract.resolve_inputs("04_generate", current, previous_run_dir=previous)
    assert handed["previous_feedback_priors"] == str(contract.product("feedback_priors").at(previous))
    back = priors.read_priors(handed["previous_feedback_priors"])
    assert back["run_id"] == previous.name and back["profile"] == "demo"
    assert contract.resolve_inputs("04_generate", current)["previous_feedback_priors"] is None  # first cycle


def test_priors_belong_to_the_profile_that_measured_them():
    doc = loop.build_priors(_counts(), run_id="20260105T000000-demo-2", profile="demo")
    assert priors.of_profile(doc, "demo") and priors.of_profile(doc, None)
    # the recorded profile decides, not the run id: a profile named "demo-2" is not "demo"
    assert not priors.of_profile(doc, "demo-2") and not priors.of_profile(doc, "tiny")
    assert not priors.of_profile(None, "demo")


def test_invalid_priors_rejected(tmp_path):
    pri = loop.build_priors(_counts(), run_id="r")
    pri["cells"][0]["recommended_allocation"] = {"gpt2": 0.7, "template": 0.7}
    with pytest.raises(ValueError, match="sums to 1.4"):
        loop.write_priors(tmp_path, pri)
    with pytest.raises(ValueError, match="clicks"):
        loop.build_priors(_counts().drop(columns=["clicks"]), run_id="r")
    assert not contract.product("feedback_priors").exists(tmp_path)
    contract.product("feedback_priors").at(tmp_path).write_text(json.dumps(pri) + "x", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot be read"):
        priors.read_priors(tmp_path)
    no_cells = {k: v for k, v in pri.items() if k != "cells"}
    with pytest.raises(ValueError, match="cells"):
        priors.validate_priors(no_cells)
