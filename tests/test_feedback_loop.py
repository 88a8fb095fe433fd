"""feedback_priors.json: written by 05, read back by 04 (round trip, newest-run lookup, shape checks)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

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
    path = loop.write_priors(run_dir, counts=_counts(), seed=3, winners={("bargain", "email"): "template"},
                             channel_winners={"email": None}, source={"exposures_source": "campaign"})
    assert path == run_dir / loop.PRIORS_FILE
    back = loop.read_priors(run_dir)
    raw = json.loads(path.read_text())
    assert back["run_id"] == "20260101T000000-tiny" == raw["run_id"]
    assert raw["schema_version"] == loop.SCHEMA_VERSION and raw["created"].endswith("Z")
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
    frame = loop.priors_frame(back)
    assert len(frame) == 6 and set(frame["variant"]) == {"gpt2", "template"}
    assert loop.allocation_for(back, "bargain", "email") == pytest.approx(alloc)
    mixed = loop.allocation_for(back, "bargain")
    assert abs(sum(mixed.values()) - 1) < 1e-9
    assert loop.allocation_for(back, "unknown", "push") == raw["channels"]["push"]["recommended_allocation"]
    assert loop.allocation_for(None, "x", default={"template": 1.0}) == {"template": 1.0}


def test_load_latest_priors_picks_newest_and_excludes(tmp_path):
    processed = tmp_path / "processed"
    older = processed / "20260101T000000-demo"
    newer = processed / "20260102T000000-tiny"
    loop.write_priors(older, counts=_counts(), profile="demo")
    loop.write_priors(newer, counts=_counts(), profile="tiny")
    (processed / "20260103T000000-demo").mkdir()  # a run without priors is ignored
    broken = processed / "20260104T000000-demo"
    broken.mkdir()
    (broken / loop.PRIORS_FILE).write_text("{not json")  # unreadable files are skipped
    got = loop.load_latest_priors(processed_dir=processed)
    assert got["run_id"] == newer.name and got["path"].endswith(loop.PRIORS_FILE)
    got = loop.load_latest_priors(exclude_run_dir=newer, processed_dir=processed)
    assert got["run_id"] == older.name
    assert loop.load_latest_priors(processed_dir=tmp_path / "nowhere") is None
    # scoped to the profile recorded in the priors: the newer tiny run does not count for demo, and no run of
    # "other" exists
    assert loop.load_latest_priors(processed_dir=processed, profile="demo")["run_id"] == older.name
    assert loop.load_latest_priors(processed_dir=processed, profile="tiny")["run_id"] == newer.name
    assert loop.load_latest_priors(processed_dir=processed, profile="other") is None
    suffixed = processed / "20260105T000000-demo-2"  # second run started in the same second
    loop.write_priors(suffixed, counts=_counts(), profile="demo")
    assert loop.load_latest_priors(processed_dir=processed, profile="demo")["run_id"] == suffixed.name
    # the recorded profile decides, not the run id: a profile named "demo-2" is not "demo"
    other = processed / "20260106T000000-demo-2"
    loop.write_priors(other, counts=_counts(), profile="demo-2")
    assert loop.load_latest_priors(processed_dir=processed, profile="demo")["run_id"] == suffixed.name
    assert loop.load_latest_priors(processed_dir=processed, profile="demo-2")["run_id"] == other.name


def test_load_latest_priors_uses_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    assert loop.load_latest_priors() is None
    run = tmp_path / "data" / "processed" / "20260105T000000-tiny"
    loop.write_priors(run, counts=_counts())
    assert loop.load_latest_priors()["run_id"] == run.name
    assert loop.load_latest_priors(exclude_run_dir=run) is None


def test_invalid_priors_rejected(tmp_path):
    pri = loop.build_priors(_counts(), run_id="r")
    pri["cells"][0]["recommended_allocation"] = {"gpt2": 0.7, "template": 0.7}
    with pytest.raises(ValueError):
        loop.write_priors(tmp_path, pri)
    with pytest.raises(ValueError):
        loop.build_priors(_counts().drop(columns=["clicks"]), run_id="r")
    assert not (tmp_path / loop.PRIORS_FILE).exists()
