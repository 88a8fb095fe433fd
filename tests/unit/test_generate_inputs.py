"""What 04 reads, through the contract: upstream products that are missing or malformed are reported, not fatal;
the previous cycle's feedback priors are handed over as ``inputs["previous_feedback_priors"]`` and used only when
they were measured by a run of the same profile; no generation module imports another stage."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from contentlab import contract, priors
from contentlab.feedback import loop
from contentlab.generate.inputs import PRIORS, STAGE, read_inputs
from contentlab.generate.slots import variant_mix

LIB = Path(__file__).resolve().parents[2] / "lib" / "contentlab"
STAGES = ("eda", "profiling", "recommend", "generate", "feedback")


def _counts():
    return pd.DataFrame({"segment": ["s", "s"], "channel": ["push", "push"], "variant": ["gpt2", "template"],
                         "impressions": [1000, 1000], "clicks": [80, 40], "conversions": [8, 4],
                         "revenue": [80.0, 40.0]})


def _priors_of(run_dir: Path, profile: str | None) -> str:
    doc = loop.build_priors(_counts(), run_id=run_dir.name, profile=profile, seed=1)
    return str(priors.write_priors(run_dir, doc))


def test_missing_and_malformed_inputs_are_reported_not_fatal(tmp_path):
    (tmp_path / "personas.json").write_text("{not json", encoding="utf-8")
    pd.DataFrame({"user_id": ["u1"]}).to_parquet(tmp_path / "recommendations.parquet")
    inputs = {"personas": str(tmp_path / "personas.json"), "user_profiles": None,
              "recommendations": str(tmp_path / "recommendations.parquet")}
    got = read_inputs(inputs, use_priors=False)
    assert got.personas == [] and got.recommendations is None and got.profiles is None and got.priors is None
    notes = "\n".join(got.notes)
    assert "profiling: personas.json unreadable (JSONDecodeError)" in notes
    assert "recommendations: recommendations.parquet lacks what the contract promises" in notes
    assert "profiling: user_profiles.parquet not found" in notes
    assert "feedback: priors not used (use_priors=False)" in notes
    assert variant_mix(None, "a", "push") == {"gpt2": 0.5, "template": 0.5}


def test_upstream_products_are_read_and_personas_cleaned(tmp_path):
    personas = [{"persona_id": "P01", "name": "<b>Trend</b> seekers", "segment": "trend", "size": 10,
                 "favourite_categories": ["Tops"]}]
    contract.product("personas").write(tmp_path, personas)
    contract.product("user_profiles").write(tmp_path, pd.DataFrame(
        {"user_id": ["u1", "u2"], "segment": ["trend", "trend"], "persona_id": ["P01", "P01"],
         "is_flagged": [False, False]}))
    inputs = {name: str(contract.product(name).at(tmp_path)) for name in ("personas", "user_profiles")}
    got = read_inputs({**inputs, "recommendations": None}, use_priors=False)
    assert [p["name"] for p in got.personas] == ["Trend seekers"] and len(got.profiles) == 2
    assert got.notes[:3] == ["profiling: personas.json, 1 personas", "profiling: user_profiles.parquet, 2 rows",
                             "recommendations: recommendations.parquet not found"]


def test_priors_of_its_own_profile_only(tmp_path):
    demo = _priors_of(tmp_path / "20260101T000000-demo", "demo")
    tiny = _priors_of(tmp_path / "20260102T000000-tiny", "tiny")
    demo2 = _priors_of(tmp_path / "20260103T000000-demo-2", "demo-2")
    got = read_inputs({PRIORS: demo}, profile="demo")
    assert got.priors["run_id"] == "20260101T000000-demo"
    assert "feedback: feedback_priors.json of run 20260101T000000-demo (1 segment x channel cells)" in got.notes
    # another profile's priors are not used, whatever their run id says: a demo cycle never learns from a tiny run,
    # and "demo-2" is not "demo"
    for path, other in ((tiny, "tiny"), (demo2, "demo-2")):
        got = read_inputs({PRIORS: path}, profile="demo")
        assert got.priors is None
        assert any(f"measured by profile {other!r}, not 'demo': not used" in n for n in got.notes), got.notes
    assert read_inputs({PRIORS: tiny}).priors["run_id"] == "20260102T000000-tiny"  # unscoped: any profile
    first = read_inputs({PRIORS: None}, profile="cdnow")
    assert first.priors is None and any("no earlier feedback_priors.json of profile 'cdnow' (first cycle)" in n
                                        for n in first.notes)


def test_malformed_priors_fall_back_to_the_even_mix(tmp_path):
    doc = loop.build_priors(_counts(), run_id="r", profile="demo")
    doc["cells"][0]["recommended_allocation"] = {"gpt2": 0.7, "template": 0.7}
    path = tmp_path / "feedback_priors.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    got = read_inputs({PRIORS: str(path)}, profile="demo")
    assert got.priors is None and any(n.startswith("feedback: priors unreadable (ValueError") for n in got.notes)
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert read_inputs({PRIORS: str(tmp_path / "broken.json")}, profile="demo").priors is None


def test_variant_mix_follows_the_priors(tmp_path):
    path = _priors_of(tmp_path / "20260101T000000-demo", "demo")
    pri = read_inputs({PRIORS: path}, profile="demo").priors
    cell = pri["cells"][0]["recommended_allocation"]
    assert variant_mix(pri, "s", "push") == pytest.approx(cell)
    assert cell["gpt2"] > 0.9  # 8% vs 4% CTR: Thompson sampling sends almost all traffic to gpt2
    # a segment the campaign did not see takes its channel's pooled allocation; an unseen channel the even mix
    assert variant_mix(pri, "other", "push") == pytest.approx(pri["channels"]["push"]["recommended_allocation"])
    assert variant_mix(pri, "other", "email") == {"gpt2": 0.5, "template": 0.5}


def test_inputs_as_handed_over_or_resolved_from_the_run_directory(tmp_path):
    handed = {"clean": "x", "previous_feedback_priors": "y"}
    assert contract.Inputs.for_stage(STAGE, handed, tmp_path).paths == handed
    with pytest.raises(contract.ContractError, match="04_generate needs clean"):
        contract.Inputs.for_stage(STAGE, {}, tmp_path)  # nothing prepared: a stage never prepares data
    (tmp_path / "clean").mkdir()
    contract.product("dataset").write(tmp_path, {"name": "demo", "locale": "en"})
    got = contract.Inputs.for_stage(STAGE, {}, tmp_path)
    assert got.path("clean") == tmp_path / "clean" and got.path(PRIORS) is None  # by hand: no previous cycle
    assert got.path("user_profiles") is None


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_generation_imports_no_other_stage_and_priors_no_stage_at_all():
    for path in sorted((LIB / "generate").glob("*.py")):
        other = [m for m in _imports(path) if m.split(".")[:2][-1] in STAGES and not m.startswith("contentlab.generate")
                 and m.startswith("contentlab.")]
        assert not other, f"{path.name} imports {other}"
    assert not [m for m in _imports(LIB / "priors.py") if m.startswith("contentlab.") and m.split(".")[1] in STAGES]
