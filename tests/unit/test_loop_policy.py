"""The publishing policy in the feedback priors (shape, round trip, checks), the campaign that follows it, and the
loop's references (the oracle beats every other policy on the same users and days; random stays below)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from contentlab import priors
from contentlab.data.simulate import PROFILES, simulate
from contentlab.data.simulate.audience import policy_impressions, simulate_campaign
from contentlab.feedback import loop
from contentlab.feedback.policy import copy_weights, learn_policy, policy_plan
from contentlab.loop import arms
from contentlab.loop.engine import LoopError, loop_settings


def _policy():
    return {"version": priors.POLICY_VERSION, "learned_from": "20260101T000000-tiny", "exploration": 0.2,
            "segments": {"bargain": {"channel": "email", "hour": 19, "frequency_cap": 3, "copy_style": None,
                                     "rerank_weights": {"mentions_price": {"coef": 0.4, "mean": 0.0, "sd": 1.0},
                                                        "length_words": {"coef": -0.2, "mean": 20.0, "sd": 5.0}},
                                     "variant_shares": {"email": {"gpt2": 0.9, "template": 0.1}}}},
            "notes": ["bargain: channel open → email"]}


def _counts():
    return pd.DataFrame({"segment": ["bargain", "bargain"], "channel": ["email", "email"],
                         "variant": ["gpt2", "template"], "impressions": [2000, 2000], "clicks": [90, 60],
                         "conversions": [9, 6], "revenue": [300.0, 200.0]})


def test_policy_round_trip_through_the_priors(tmp_path):
    run_dir = tmp_path / "20260101T000000-tiny"
    doc = loop.build_priors(_counts(), run_id=run_dir.name, seed=1)
    doc["policy"] = _policy()
    loop.write_priors(run_dir, doc)
    back = priors.read_priors(run_dir)
    assert priors.policy_of(back) == _policy()
    sp = priors.segment_policy(back, "bargain")
    assert (sp["channel"], sp["hour"], sp["frequency_cap"]) == ("email", 19, 3)
    dicts = ("rerank_weights", "variant_shares", "copy_stats")
    assert priors.segment_policy(back, "unknown") == {k: ({} if k in dicts else [] if k in ("winning_copy", "styles_tried") else None)
                                                     for k in priors.POLICY_KEYS}
    # documents without a policy (the earlier shape) still read, and have none
    old = loop.build_priors(_counts(), run_id="r", seed=1)
    priors.validate_priors(old)
    assert priors.policy_of(old) is None


@pytest.mark.parametrize("change, message", [
    (lambda p: p.update(version=2), "version"),
    (lambda p: p["segments"]["bargain"].update(hour=24), "hour"),
    (lambda p: p["segments"]["bargain"].update(frequency_cap=0), "frequency cap"),
    (lambda p: p["segments"]["bargain"].update(colour="red"), "unknown keys"),
    (lambda p: p["segments"]["bargain"]["variant_shares"]["email"].update(gpt2=0.5), "sum"),
    (lambda p: p.update(exploration=1.5), "exploration"),
    (lambda p: p["segments"]["bargain"].update(copy_stats={"email": {"c1": [10, 11]}}), "clicks <= impressions"),
])
def test_a_malformed_policy_is_rejected(change, message):
    p = copy.deepcopy(_policy())
    change(p)
    with pytest.raises(ValueError, match=message):
        priors.validate_policy(p)


def test_rerank_score_and_copy_signals():
    w = _policy()["segments"]["bargain"]["rerank_weights"]
    sig = priors.copy_signals("Big sale on boots. Save now.", ["boot"])
    assert sig["mentions_price"] == 1.0 and sig["mentions_favourite_category"] == 1.0 and sig["ends_cleanly"] == 1.0
    assert priors.rerank_score(w, sig) == pytest.approx(0.4 - 0.2 * (6 - 20) / 5)
    assert priors.rerank_score(w, {"mentions_price": float("nan")}) == 0.0
    assert priors.copy_signals("boots boots boots boots")["repetition"] > 0.5


def test_the_campaign_plan_follows_the_policy_and_explores():
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(4000)], "segment": "bargain"})
    plan = policy_plan(users, _policy(), seed=3, default_per_week=20.0, channels=["email", "push", "product_page"])
    follow = plan[plan["arm"] == "policy"]
    assert 0.17 < (plan["arm"] == "explore").mean() < 0.23
    assert (follow["channel"] == "email").all() and (follow["hour"] == 19).all() and (follow["per_week"] == 3).all()
    assert 0.87 < (follow["variant"] == "gpt2").mean() < 0.93
    explore = plan[plan["arm"] == "explore"]
    assert explore["channel"].nunique() == 3 and explore["per_week"].between(1, 12).all()
    # no policy: the first cycle's plan for everyone
    first = policy_plan(users, None, seed=3, default_per_week=20.0)
    assert (first["arm"] == "policy").all() and first["channel"].isna().all() and (first["per_week"] == 20).all()
    assert 0.47 < (first["variant"] == "gpt2").mean() < 0.53


def test_policy_impressions_send_at_the_planned_hour_channel_and_frequency():
    plan = pd.DataFrame({"user_id": ["a", "b"], "segment": ["s", "s"], "variant": ["gpt2", "gpt2"],
                         "per_week": [3.0, 7.0], "channel": ["push", None], "hour": [19.0, np.nan]})
    copy_ = pd.DataFrame({"content_id": ["c1", "c2"], "product_id": ["p1", "p2"], "variant": ["gpt2", "gpt2"],
                          "channel": ["push", "email"], "text": ["one", "two"], "segment": ["s", "s"]})
    imp = policy_impressions(plan, copy_, start="2026-03-02", n_days=14, seed=1)
    a, b = imp[imp["user_id"] == "a"], imp[imp["user_id"] == "b"]
    assert len(a) == 6 and len(b) == 14
    assert (a["channel"] == "push").all() and (a["timestamp"].dt.hour == 19).all()
    assert b["timestamp"].dt.hour.between(7, 21).all() and set(b["channel"]) <= {"push", "email"}
    assert imp["timestamp"].min() >= pd.Timestamp("2026-03-02") and imp["timestamp"].max() < pd.Timestamp("2026-03-16")
    with pytest.raises(ValueError, match="lacks columns"):
        policy_impressions(plan.drop(columns=["hour"]), copy_, start="2026-03-02", n_days=14)


@pytest.fixture(scope="module")
def shop():
    return simulate(**PROFILES["tiny"], seed=7)


def _content(shop):
    """Candidate copy per true segment (the historical campaign's texts), as 04 would write it."""
    hc = shop.truth["historical_copy"]
    segs = sorted(shop.truth["users"]["segment"].unique())
    rows = [hc.assign(segment=s, content_id=hc["content_id"] + "_" + s) for s in segs]
    c = pd.concat(rows, ignore_index=True)
    return c.assign(content_type="copy", rejected=False, published=True)


def test_the_oracle_beats_every_other_policy_on_the_same_users_and_days(shop):
    truth = shop.truth
    users = truth["users"][~truth["users"]["is_fraud"]][["user_id", "segment"]].astype(str)
    window = arms.Window(users.assign(true_segment=users["segment"]).reset_index(drop=True),
                         pd.Timestamp("2026-03-02"), 14, 20.0)
    content = _content(shop)
    got = {}
    for arm in ("oracle", "template", "random"):
        sim = arms.simulate_reference(arm, window, content, truth, shop.products, seed=5)
        assert set(sim["user_id"]) <= set(users["user_id"])
        got[arm] = arms.measure(sim, seed=1)
    # a policy that knows the best channel and hour but ignores fatigue, with a random candidate
    plan = window.users.assign(channel=[truth["best_channel"][s] for s in window.users["true_segment"]],
                               hour=[float(truth["best_hour"][s]) for s in window.users["true_segment"]],
                               per_week=20.0, variant="gpt2")
    imp = policy_impressions(plan, arms.candidate_pool(content, True), start=window.start, n_days=14, seed=2)
    got["no cap"] = arms.measure(simulate_campaign(imp, truth, seed=3, products=shop.products, with_expected=True))
    o = got["oracle"]["expected_ctr"]
    for name in ("template", "random", "no cap"):
        assert o > got[name]["expected_ctr"], name
    m = got["oracle"]
    assert m["ctr_low"] <= m["ctr"] <= m["ctr_high"] and m["impressions"] > 0


def test_learn_policy_moves_to_what_won():
    class _S:  # the slice of a publishing strategy learn_policy reads
        table = pd.DataFrame({"segment": ["bargain"], "best_channel": ["push"], "channel_source": ["response"],
                              "channel_p_best": [0.95], "best_hour": [8], "hour_pm": [1], "cap_low": [4],
                              "cap_high": [5]})
        frequency_cap = {"bargain": 4}

    class _Unsure:  # evidence that does not exclude the policy's choices: nothing moves
        table = pd.DataFrame({"segment": ["bargain"], "best_channel": ["push"], "channel_source": ["response"],
                              "channel_p_best": [0.6], "best_hour": [20], "hour_pm": [2], "cap_low": [2],
                              "cap_high": [6]})
        frequency_cap = {"bargain": 5}

    doc = loop.build_priors(_counts(), run_id="r2", seed=1)
    exp = pd.DataFrame({"segment": ["bargain"] * 4, "content_id": list("abcd"), "variant": "gpt2",
                        "channel": "email", "clicked": [True, False, False, False]})
    pol = learn_policy(segments=["bargain"], strategy=_S(), exposures=exp, features=None,
                       priors_cells=doc["cells"], previous=_policy(), run_id="r2")
    sp = pol["segments"]["bargain"]
    assert (sp["channel"], sp["hour"], sp["frequency_cap"]) == ("push", 8, 4)
    assert sp["variant_shares"]["email"] == doc["cells"][0]["recommended_allocation"]
    assert "channel email → push" in pol["notes"][0]
    assert pol["exploration"] == pytest.approx(0.1)  # half the followed policy's 0.2
    kept = learn_policy(segments=["bargain"], strategy=_Unsure(), exposures=exp, features=None,
                        priors_cells=doc["cells"], previous=_policy(), run_id="r2")["segments"]["bargain"]
    assert (kept["channel"], kept["hour"], kept["frequency_cap"]) == ("email", 19, 3)


def test_loop_settings():
    assert loop_settings({"name": "x"}, None) == {"cycles": 4, "finetune_steps": 20, "per_week": 7.0}
    assert loop_settings({"name": "x", "loop": {"cycles": 2}}, None)["cycles"] == 2
    assert loop_settings({"name": "x", "loop": {"cycles": 2, "finetune_steps": 0, "per_week": 3}}, 3) == {
        "cycles": 3, "finetune_steps": 0, "per_week": 3.0}
    for bad in ({"loop": {"cycle": 2}}, {"loop": {"cycles": 0}}, {"loop": 3}, {"loop": {"finetune_steps": -1}},
                {"loop": {"per_week": 0}}, {"loop": {"per_week": "daily"}}):
        with pytest.raises(LoopError):
            loop_settings({"name": "x", **bad}, None)


def test_copy_shares_follow_the_clicks_and_accumulate():
    pol = copy.deepcopy(_policy())
    pol["segments"]["bargain"]["copy_stats"] = {"email": {"good": [400, 60], "bad": [400, 8]}}
    c = pd.DataFrame({"content_id": ["good", "bad", "new"], "segment": "bargain", "variant": "gpt2",
                      "channel": "email"})
    w = copy_weights(c, pol, seed=1)
    assert w[0] > 0.6 and w[1] < 0.01 and 0 < w[2] < w[0] and abs(w.sum() - 1) < 1e-9
    assert (copy_weights(c, None) == 1).all()
    exp = pd.DataFrame({"segment": "bargain", "content_id": ["good", "good", "new", "bad"], "variant": "gpt2",
                        "channel": "email", "clicked": [True, False, False, True],
                        "arm": ["policy", "policy", "policy", "explore"]})
    doc = loop.build_priors(_counts(), run_id="r3", seed=1)
    learned = learn_policy(segments=["bargain"], strategy=None, exposures=exp, features=None,
                           priors_cells=doc["cells"], previous=pol, run_id="r3")
    # same context (channel, hour, cap): the policy arm's impressions add up; exploration does not count
    assert learned["segments"]["bargain"]["copy_stats"]["email"] == {"good": [402, 61], "bad": [400, 8],
                                                                     "new": [1, 0]}

    class _S:  # a strategy that moves the send hour: the evidence of another context is not added
        table = pd.DataFrame({"segment": ["bargain"], "best_channel": ["email"], "channel_source": ["response"],
                              "best_hour": [7]})
        frequency_cap = {"bargain": 3}

    moved = learn_policy(segments=["bargain"], strategy=_S(), exposures=exp, features=None,
                         priors_cells=doc["cells"], previous=pol, run_id="r3")
    # another context: only this campaign's own policy-arm impressions
    assert moved["segments"]["bargain"]["hour"] == 7
    assert moved["segments"]["bargain"]["copy_stats"] == {"email": {"good": [2, 1], "new": [1, 0]}}


def test_05_learns_a_policy_and_the_next_campaign_follows_it(shop):
    import warnings

    from contentlab.feedback import workflow
    from contentlab.feedback.config import FeedbackConfig

    truth = shop.truth
    content = _content(shop)
    profiles = truth["users"][["user_id", "segment", "is_fraud"]].rename(columns={"is_fraud": "is_flagged"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = workflow.analyse(shop, FeedbackConfig(profile="tiny", impressions_per_user=20, policy_campaign=True,
                                                      cuped=False, seed=3), content=content, profiles=profiles,
                                 run_id="c1")
        pol = first.priors["policy"]
        priors.validate_priors(first.priors)
        assert set(pol["segments"]) == set(profiles.loc[~profiles["is_flagged"], "segment"])
        assert (first.exposures["arm"] == "explore").mean() < 0.15  # 5% of users, more messages each
        second = workflow.analyse(shop, FeedbackConfig(profile="tiny", impressions_per_user=20, campaign_offset_days=14,
                                                       cuped=False, seed=3), content=content, profiles=profiles,
                                  run_id="c2", previous_priors=first.priors)
    e = second.exposures
    assert e["timestamp"].min() >= first.exposures["timestamp"].max().normalize()  # time moves forward
    assert second.policy_followed is pol and not second.srm.flag
    follow = e[e["arm"] == "policy"]
    for seg, g in follow.groupby("segment"):
        sp = pol["segments"][seg]
        if sp["channel"] is not None and sp["channel"] in set(content["channel"]):
            assert (g["channel"] == sp["channel"]).all(), seg
        if sp["hour"] is not None:
            assert (g["timestamp"].dt.hour == sp["hour"]).all(), seg
    # the policy's exploration halves
    assert second.priors["policy"]["exploration"] == pytest.approx(pol["exploration"] / 2)
    assert "Policy followed" in second.summary_markdown()


def test_04_publishes_the_candidate_that_measured_best_then_the_predicted_best():
    from contentlab.generate import workflow as wf

    scored = pd.DataFrame({"slot_id": "s1", "segment": "bargain", "persona_id": "P1", "product_id": "p1",
                           "channel": "email", "variant": "gpt2", "candidate": [0, 1, 2],
                           "text": ["Plain words here.", "Big sale today.", "Another plain one."],
                           "quality": [0.9, 0.5, 0.4], "rejected": False})
    assert wf.select_best(scored)["published"].tolist() == [True, False, False]  # no policy: quality
    pol = copy.deepcopy(_policy())
    ranked, notes = wf.rerank_by_policy(scored, {"policy": pol, "cells": []})
    assert wf.select_best(ranked)["published"].tolist() == [False, True, False]  # the price mention predicted
    cid = wf.content_id("P1", "p1", "email", "gpt2", 2, "Another plain one.")
    pol["segments"]["bargain"]["copy_stats"] = {"email": {cid: [500, 90], "other": [5000, 250]}}
    ranked, notes = wf.rerank_by_policy(scored, {"policy": pol, "cells": []})
    assert wf.select_best(ranked)["published"].tolist() == [False, False, True]  # measured beats predicted
    assert "1 candidate(s) ranked by the click-through they measured" in notes[0]


def test_the_policy_picks_the_style_whose_copy_was_clicked_most():
    from contentlab.feedback.policy import _best_style

    content = pd.DataFrame({"content_id": ["a", "b", "c"], "style": ["value", "quality", "value"]})
    exp = pd.DataFrame({"segment": "bargain", "content_id": ["a"] * 400 + ["b"] * 400 + ["c"] * 400,
                        "clicked": [True] * 40 + [False] * 360 + [True] * 80 + [False] * 320 + [True] * 40
                        + [False] * 360})
    assert _best_style(exp, content, "bargain", "value") == "quality"
    assert _best_style(exp, content, "bargain", None) == "quality"
    one = exp[exp["content_id"] != "b"]
    assert _best_style(one, content, "bargain", None) is None  # one style: nothing to compare
    assert _best_style(one, content, "bargain", "value") == "value"
    # 22 against 20 clicks in 400 impressions each: not sure enough to move away from the current style
    close = pd.DataFrame({"segment": "bargain", "content_id": ["a"] * 400 + ["b"] * 400,
                          "clicked": [True] * 20 + [False] * 380 + [True] * 22 + [False] * 378})
    assert _best_style(close, content, "bargain", "value") == "value"


def test_a_policy_cycle_challenges_the_style_with_the_style_a_proven_copy_effect_speaks_for():
    from contentlab.generate.slots import challenger_style

    pol = copy.deepcopy(_policy())  # bargain: mentions_price +0.4 proven
    doc = {"policy": pol, "cells": []}
    assert challenger_style(None, "bargain", "novelty") is None  # no policy: nothing will compare styles
    assert challenger_style(doc, "bargain", "novelty") == "value"
    assert challenger_style(doc, "bargain", "value") is None  # the effect speaks for the current style
    assert challenger_style(doc, "other", "novelty") is None  # no proven effect: no traffic spent on a challenger
    w = pol["segments"]["bargain"]["rerank_weights"]
    w["mentions_social_proof"] = {"coef": 0.9, "mean": 0.0, "sd": 1.0}
    w["mentions_novelty"] = {"coef": -0.5, "mean": 0.0, "sd": 1.0}
    assert challenger_style(doc, "bargain", "novelty") == "social_proof"  # the strongest effect first
    pol["segments"]["bargain"]["styles_tried"] = ["novelty", "social_proof"]
    assert challenger_style(doc, "bargain", "novelty") == "value"  # tried and not kept: not tried again
    pol["segments"]["bargain"]["styles_tried"] = ["shouting"]
    with pytest.raises(ValueError, match="styles tried"):
        priors.validate_policy(pol)
