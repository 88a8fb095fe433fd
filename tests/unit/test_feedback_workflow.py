"""run_feedback end to end on a small simulated shop (without the notebook): inputs through the contract, sources,
SRM alarm, truth check, the products written."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from contentlab import contract, pipeline
from contentlab.feedback import loop, workflow

NAMES = {"bargain_hunter": "Deal Seekers", "trend_seeker": "Trend Seekers", "loyal_premium": "Premium Loyalists",
         "casual_browser": "Casual Browsers", "new_visitor": "Newcomers"}
SPEC = {"kind": "demo", "n_users": 600, "n_products": 60, "n_days": 21, "seed": 5}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A run directory as 01, 02 and 04 leave it: prepared data, profiles, personas and published copy."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(home))
        run_dir = home / "data" / "processed" / "20260101T000000-test"
        ds = pipeline.prepare_data(SPEC, run_dir)
        tu = ds.truth["users"]
        # profiles as 02 would write them: a segment per user (here the planted one, renamed), flagged fraud
        prof = pd.DataFrame({"user_id": tu["user_id"].astype(str), "segment": tu["segment"].map(NAMES),
                             "persona_id": tu["segment"].map(NAMES).str[:3],
                             "cluster": tu["segment"].astype("category").cat.codes, "is_flagged": tu["is_fraud"]})
        contract.product("user_profiles").write(run_dir, prof)
        contract.product("personas").write(run_dir, [
            {"persona_id": s[:3], "name": s, "segment": s, "size": int((prof["segment"] == s).sum()),
             "favourite_categories": ["Sneakers"]} for s in NAMES.values()])
        rows = []
        for seg in NAMES.values():
            for i in range(3):
                for ch in ("email", "push", "product_page"):
                    for var in ("template", "gpt2"):
                        text = f"New sneakers {i} for {seg}" + (" at a great price" if var == "gpt2" and i else "")
                        rows.append({"content_id": f"{seg[:3]}{i}{ch}{var}", "content_type": "copy", "segment": seg,
                                     "product_id": str(ds.products["product_id"].iloc[i]), "channel": ch,
                                     "variant": var, "text": text, "published": True, "quality": float(i)})
        contract.product("content").write(run_dir, pd.DataFrame(rows))
        yield ds, run_dir


def run(run_dir, write=False, inputs=None, **settings):
    return workflow.run_feedback(workflow.FeedbackConfig(**settings), inputs, run_dir=run_dir, write=write)


def test_campaign_source_truth_check_and_outputs(shop):
    ds, run_dir = shop
    res = run(run_dir, write=True, impressions_per_user=60, seed=1)
    assert res.source == "campaign" and res.unit == "user"
    m = res.metrics()
    assert m["n_variants"] == 2 and m["n_tests"] == len(res.comparison) == 3 + 5 + 15
    assert set(m["winner"]) == {"email", "push", "product_page"}
    assert m["srm_flag"] is False and 0 <= m["srm_p"] <= 1
    t = res.truth_table.set_index("segment")
    assert t.loc["Premium Loyalists", "true_winner"] == "template" and t.loc["Premium Loyalists", "gpt2_loses_here"]
    assert (t["purity"] == 1).all()  # profiles are the planted segments here
    assert m["segments_contradicting"] == 0
    assert m["planted_truth_agrees"] == bool((t["analysis_winner"] == t["true_winner"]).all())
    # the stage's products, read back through the contract
    results = contract.product("ab_results").read(run_dir)
    assert len(results) == m["n_tests"] and (results["correction"] == "holm").all()
    audit = contract.product("ab_exposures").read(run_dir)
    assert len(audit) == m["impressions"] and audit["user_id"].nunique() == m["users"]
    pri = loop.read_priors(run_dir)
    assert pri["run_id"] == run_dir.name and pri["extra"]["srm_flag"] is False
    assert not res.exposures["user_id"].isin(ds.truth["users"].loc[ds.truth["users"]["is_fraud"], "user_id"]).any()
    assert "Planted truth check" in res.summary_markdown()
    assert res.logit is not None and "mentions_price" in set(res.logit.table["feature"])


def test_publishing_strategy_per_profile_segment(shop):
    ds, run_dir = shop
    res = run(run_dir, impressions_per_user=5, seed=2)
    m = res.metrics()
    assert set(m["best_hour"]) == set(m["best_channel"]) == set(NAMES.values())
    assert all(0 <= h < 24 for h in m["best_hour"].values())
    assert set(m["best_channel"].values()) <= {"email", "push", "product_page"}
    # profile segment -> planted segment by majority: the recovery counts are checked against the planted truth
    truth = ds.truth
    inverse = {v: k for k, v in NAMES.items()}
    hours = sum(min(abs(h - truth["best_hour"][inverse[s]]), 24 - abs(h - truth["best_hour"][inverse[s]])) <= 1
                for s, h in m["best_hour"].items())
    channels = sum(c == truth["best_channel"][inverse[s]] for s, c in m["best_channel"].items())
    assert m["hours_recovered"] == hours and m["channels_recovered"] == channels
    assert hours >= 4 and channels >= 3
    assert "**Publishing strategy**" in res.summary_markdown()
    assert res.strategy_table() is not None and len(res.strategy_table()) == 5
    assert run(run_dir, impressions_per_user=5, seed=2, strategy=False).strategy is None


def test_srm_alarm_goes_first_and_marks_results_untrustworthy(shop):
    ds, run_dir = shop
    res = run(run_dir, impressions_per_user=5, planned_split={"template": 0.6, "gpt2": 0.4}, seed=2)
    users = res.exposures.drop_duplicates("user_id")["variant"].value_counts(normalize=True)
    assert abs(users["template"] - 0.6) < 0.06  # the campaign follows the planned split ...
    assert not res.srm.flag  # checked against its own plan
    # ... and a log that does not match the plan raises the alarm
    broken = res.exposures
    from contentlab.feedback import analysis as A

    srm = A.srm_check(broken, {"template": 0.5, "gpt2": 0.5})
    assert srm.flag and srm.p < 0.001
    res.srm = srm
    res.verdicts = A.channel_verdicts(res.comparison, srm)
    text = res.summary_markdown()
    assert text.startswith("### ⚠️ Sample ratio mismatch") and "untrustworthy" in text
    assert all(not v["trustworthy"] for v in res.verdicts.values())


def test_dataset_source_uses_the_exposure_log(shop):
    ds, run_dir = shop
    res = run(run_dir, exposures_source="dataset", seed=3)
    assert res.source == "dataset"
    assert len(res.exposures) == len(ds.exposures)
    assert set(res.exposures["segment"]) <= set(NAMES.values()) | {workflow.UNPROFILED}
    assert "logged_segment" in res.exposures and res.has_truth
    # the simulator's log randomises every impression: the analysis notices and uses impressions as units
    assert res.unit == "impression"
    counts = ds.exposures["variant"].value_counts()
    assert res.srm.observed == {"gpt2": int(counts["gpt2"]), "template": int(counts["template"])}
    assert res.metrics()["users"] == ds.exposures["user_id"].nunique()
    row = res.comparison[res.comparison["level"] == "channel"].iloc[0]
    assert row["method"].startswith("z-test")
    assert (res.rates["channel"]["users"] <= ds.exposures["user_id"].nunique()).all()


def test_source_resolution_errors(shop, tmp_path):
    ds, run_dir = shop
    prepared_only = tmp_path / "prepared-only"  # 01 ran, 02 and 04 did not
    prepared_only.mkdir()
    for name in ("clean", "dataset"):
        p = contract.product(name)
        (shutil.copytree if p.format == "dir" else shutil.copy)(p.at(run_dir), p.at(prepared_only))
    with pytest.raises(ValueError, match="content.parquet"):
        run(prepared_only, exposures_source="campaign")
    assert run(prepared_only, impressions_per_user=5).source == "dataset"  # no content: the log
    assert workflow.resolve_source(ds, "auto") == "dataset"
    with pytest.raises(contract.ContractError, match="01_eda"):  # nothing prepared: says which stage writes it
        run(tmp_path / "empty")
    with pytest.raises(ValueError):
        workflow.FeedbackConfig(correction="bonferroni")


def test_inputs_handed_over_are_what_the_stage_reads(shop):
    """The runner's ``inputs`` decide: content the runner did not hand over is not used, even if the run directory
    has it; with ``inputs = {}`` (a notebook opened by hand) the products are found in the run directory."""
    _, run_dir = shop
    handed = contract.resolve_inputs(workflow.STAGE, run_dir)
    assert handed["content"] and handed["user_profiles"] and handed["personas"]
    assert run(run_dir, inputs=handed, impressions_per_user=5).source == "campaign"
    assert run(run_dir, inputs={**handed, "content": None}, impressions_per_user=5).source == "dataset"


def test_planted_copy_effect_is_reported_against_the_estimate(shop):
    ds, run_dir = shop
    res = run(run_dir, impressions_per_user=60, seed=1)
    ct = res.copy_truth.set_index("feature")
    # the planted audience's price weight (log-odds), averaged over the true segments of the impressions
    share = res.exposures["true_segment"].value_counts(normalize=True)
    segs = ds.truth["audience"]["segments"]
    planted = sum(w * segs[s]["ctr_weights"]["price"] for s, w in share.items())
    assert ct.loc["mentions_price", "planted_log_odds"] == pytest.approx(planted)
    assert ct.loc["mentions_price", "planted_ctr_multiplier"] == pytest.approx(np.exp(planted))
    assert ct.loc["mentions_price", "covered"] == bool(
        ct.loc["mentions_price", "ci_low"] <= ct.loc["mentions_price", "planted_log_odds"] <= ct.loc["mentions_price", "ci_high"])
    assert "**Copy:** `mentions_price`" in res.summary_markdown()


def test_small_cells_are_withheld_in_every_per_group_table(shop, tmp_path):
    """Three users relabelled into their own profile segment: the analysis keeps them (the priors and results files
    have every cell), the report's tables withhold that segment's figures, plots and the summary leave it out."""
    from contentlab import plotting
    from contentlab.feedback import analysis as A
    from contentlab.privacy import MIN_CELL
    from contentlab.report import lint_html

    ds, run_dir = shop
    small_dir = tmp_path / run_dir.name
    shutil.copytree(run_dir, small_dir)
    prof = contract.product("user_profiles").read(small_dir)
    few = ds.exposures["user_id"].astype(str).drop_duplicates().iloc[:3]
    prof.loc[prof["user_id"].isin(few), "segment"] = "Tiny Group"
    contract.product("user_profiles").write(small_dir, prof)
    res = run(small_dir, exposures_source="dataset", seed=3)
    exp = res.exposures
    assert set(exp.loc[exp["segment"] == "Tiny Group", workflow.PERSON]) == set(few)
    cmp = res.comparison
    tiny = cmp["segment"] == "Tiny Group"
    assert tiny.sum() == 1 + exp["channel"].nunique()  # the segment and each of its channels are analysed

    # users behind each row, recomputed with pandas: the smaller arm of a comparison, the variant's own users
    users = res.cell_users(cmp)
    for i in (cmp.index[tiny][0], cmp.index[~tiny][0], cmp.index[-1]):
        row = cmp.loc[i]
        sub = exp if row["segment"] == A.ALL else exp[exp["segment"] == row["segment"]]
        sub = sub if row["channel"] == A.ALL else sub[sub["channel"] == row["channel"]]
        assert users[i] == sub.groupby("variant")[workflow.PERSON].nunique().reindex(["template", "gpt2"]).min()
    rates = res.rates["segment x channel"]
    assert (res.cell_users(rates) == rates["users"]).all()

    shown, withheld = res.withhold_small_cells(cmp[["level", "segment", "channel", "lift", "lift_low", "lift_high", "p",
                                                    "significant", "winner"]])
    assert withheld == tiny.sum() and (users[tiny] < MIN_CELL).all() and (users[~tiny] >= MIN_CELL).all()
    assert (shown.loc[tiny, "smaller_arm_users"] == f"<{MIN_CELL}").all()
    assert shown.loc[tiny, ["lift", "p"]].isna().all().all() and shown.loc[tiny, "winner"].isna().all()
    assert shown.loc[~tiny, "lift"].notna().all() and (shown.loc[~tiny, "winner"] == cmp.loc[~tiny, "winner"]).all()
    page = plotting.table(shown, percent=["lift", "lift_low", "lift_high"], integer=["smaller_arm_users"]).to_html()
    assert "Tiny Group" in page and "&lt;5" in page and lint_html(page) == []
    # per variant (rates, priors): the users shown that variant
    per_variant, n = res.withhold_small_cells(res.rates["segment"][["segment", "variant", "users", "ctr"]])
    assert n == 2 and (per_variant.loc[per_variant["segment"] == "Tiny Group", "users"] == f"<{MIN_CELL}").all()
    assert "Tiny Group" not in set(res.shown(res.rates["segment"])["segment"])
    assert "Tiny Group" not in set(res.shown(res.power)["segment"])
    # the summary names no small group's result
    text = res.summary_markdown()
    if res.has_truth:
        assert "Tiny Group →" not in text and "1 segment(s) with fewer than 5 users in an arm not named" in text
