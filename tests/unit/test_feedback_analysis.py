"""contentlab.feedback.analysis on exposures with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from contentlab.feedback import analysis as A


def _exposures(n_users=6000, ipu=1, lifts=None, base=None, seed=0, split=0.5):
    rng = np.random.default_rng(seed)
    base = base or {"a": 0.05, "b": 0.08}
    lifts = lifts or {"a": 0.0, "b": 0.0}
    segs = np.array(sorted(base))
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(n_users)], "segment": rng.choice(segs, n_users),
                          "variant": np.where(rng.random(n_users) < split, "template", "gpt2")})
    exp = users.loc[users.index.repeat(ipu)].reset_index(drop=True)
    exp["channel"] = rng.choice(["email", "push"], len(exp))
    p = exp["segment"].map(base) * np.where(exp["variant"] == "gpt2", 1 + exp["segment"].map(lifts), 1.0)
    exp["clicked"] = rng.random(len(exp)) < p
    exp["converted"] = exp["clicked"] & (rng.random(len(exp)) < 0.1)
    exp["revenue"] = np.where(exp["converted"], rng.gamma(2.0, 30.0, len(exp)), 0.0)
    exp["timestamp"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10 * 86400, len(exp)), unit="s")
    exp["content_id"] = [f"c{i % 40}" for i in range(len(exp))]
    return A.prepare_exposures(exp)


def test_rate_table_matches_reference_intervals():
    exp = _exposures()
    rt = A.rate_table(exp, ["channel"])
    r = rt[(rt["channel"] == "email") & (rt["variant"] == "gpt2")].iloc[0]
    sub = exp[(exp["channel"] == "email") & (exp["variant"] == "gpt2")]
    assert r["impressions"] == len(sub) and r["clicks"] == sub["clicked"].sum()
    lo, hi = proportion_confint(sub["clicked"].sum(), len(sub), method="wilson")
    assert abs(r["ctr_low"] - lo) < 1e-12 and abs(r["ctr_high"] - hi) < 1e-12
    assert abs(r["rpi"] - sub["revenue"].sum() / len(sub)) < 1e-12
    assert r["rpi_low"] < r["rpi"] < r["rpi_high"]


def test_compare_uses_ztest_and_adjusts_the_whole_family():
    exp = _exposures(lifts={"a": 0.5, "b": -0.3}, seed=1)
    cmp = A.compare_variants(exp, correction="holm")
    assert cmp.attrs["n_tests"] == len(cmp) == 2 + 2 + 4
    row = cmp[(cmp["level"] == "channel") & (cmp["channel"] == "push")].iloc[0]
    sub = exp[exp["channel"] == "push"]
    k = [sub.loc[sub["variant"] == v, "clicked"].sum() for v in ("gpt2", "template")]
    n = [(sub["variant"] == v).sum() for v in ("gpt2", "template")]
    z, p = proportions_ztest(k, n)
    assert row["method"].startswith("z-test") and abs(row["p"] - p) < 1e-12 and abs(row["z"] - z) < 1e-12
    np.testing.assert_allclose(cmp["p_adj"], multipletests(cmp["p"], method="holm")[1], atol=1e-12)
    bh = A.compare_variants(exp, correction="bh")
    np.testing.assert_allclose(bh["p_adj"], multipletests(bh["p"], method="fdr_bh")[1], atol=1e-12)
    seg = cmp[cmp["level"] == "segment"].set_index("segment")
    assert seg.loc["a", "winner"] == "gpt2" and seg.loc["b", "winner"] == "template"
    assert seg.loc["a", "lift_low"] < 0.5 < seg.loc["a", "lift_high"]


def test_clustered_users_use_delta_method():
    exp = _exposures(n_users=3000, ipu=5, lifts={"a": 0.2, "b": 0.2}, seed=2)
    cmp = A.compare_variants(exp, levels={"all": []})
    assert cmp.loc[0, "method"].startswith("delta method")
    assert cmp.loc[0, "lift_low"] < cmp.loc[0, "lift"] < cmp.loc[0, "lift_high"]


def test_no_effect_false_positive_rate_after_correction():
    # 30 null experiments with 8 comparisons each: the family-wise error rate with Holm stays at or below 5%
    hits = sum(bool(A.compare_variants(_exposures(n_users=1500, seed=100 + s), bayesian=False)["significant"].any())
               for s in range(30))
    assert hits <= 5  # P(Binomial(30, 0.05) > 5) < 0.01


def test_srm_flags_broken_assignment():
    ok = A.srm_check(_exposures(seed=4), {"template": 0.5, "gpt2": 0.5})
    assert not ok.flag and ok.p > 0.001
    bad = A.srm_check(_exposures(seed=4, split=0.55), {"template": 0.5, "gpt2": 0.5})
    assert bad.flag and "untrustworthy" in bad.describe()
    cmp = A.compare_variants(_exposures(seed=4, split=0.55))
    verdicts = A.channel_verdicts(cmp, bad)
    assert all(not v["trustworthy"] and "untrustworthy" in v["text"] for v in verdicts.values())


def test_verdicts_and_time_view():
    exp = _exposures(n_users=20000, lifts={"a": 0.4, "b": 0.4}, seed=5)
    cmp = A.compare_variants(exp)
    v = A.channel_verdicts(cmp, A.srm_check(exp))
    assert set(v) == {"email", "push"}
    assert all(x["winner"] == "gpt2" and x["significant"] and "gpt2" in x["text"] for x in v.values())
    for x in v.values():  # lifts are written as signed percentages with one decimal, as the comparison has them
        lift = f"{'+' if x['lift'] >= 0 else '-'}{abs(100 * x['lift']):.1f}%"
        assert f"relative lift of gpt2 {lift} (95% CI {100 * x['lift_low']:+.1f}% to " in x["text"], x["text"]
    cum = A.cumulative_lift(exp)
    last = cum.iloc[-1]
    overall = cmp[cmp["level"] == "channel"]
    kt = exp.loc[exp["variant"] == "gpt2", "clicked"].sum()
    kc = exp.loc[exp["variant"] == "template", "clicked"].sum()
    nt, nc = (exp["variant"] == "gpt2").sum(), (exp["variant"] == "template").sum()
    assert abs(last["lift"] - ((kt / nt) / (kc / nc) - 1)) < 1e-12 and last["impressions"] == len(exp)
    assert len(overall) == 2
    # with several impressions per user the last day's CI is the overall delta-method comparison
    multi = _exposures(n_users=3000, ipu=4, lifts={"a": 0.3, "b": 0.3}, seed=8)
    cum = A.cumulative_lift(multi).iloc[-1]
    ref = A.compare_variants(multi, levels={"all": []}, bayesian=False).iloc[0]
    assert ref["method"].startswith("delta")
    for c in ("lift", "lift_low", "lift_high"):
        assert abs(cum[c] - ref[c]) < 1e-9
    daily = A.daily_ctr(exp)
    assert daily["impressions"].sum() == len(exp) and daily["day"].nunique() == 10


def test_truth_mapping_and_truth_winners():
    profiles = pd.DataFrame({"user_id": [f"u{i}" for i in range(10)], "cluster": [0] * 4 + [1] * 6})
    truth_users = pd.DataFrame({"user_id": [f"u{i}" for i in range(10)],
                                "segment": ["x", "x", "x", "y", "y", "y", "y", "y", "x", "x"]})
    m = A.map_clusters_to_truth(profiles, truth_users).set_index("cluster")
    assert m.loc[0, "true_segment"] == "x" and m.loc[0, "purity"] == 0.75
    assert m.loc[1, "true_segment"] == "y" and abs(m.loc[1, "purity"] - 4 / 6) < 1e-12
    resp = pd.DataFrame({"segment": ["x", "x", "y", "y"], "channel": ["email"] * 4,
                         "variant": ["template", "gpt2"] * 2, "ctr": [0.05, 0.07, 0.06, 0.04],
                         "cvr": [0.1] * 4, "aov": [50.0] * 4})
    exp = pd.DataFrame({"segment": ["s0"] * 4 + ["s1"] * 4, "channel": ["email"] * 8,
                        "true_segment": ["x", "x", "x", "y", "y", "y", "y", "x"]})
    tw = A.truth_winners(exp, resp, ["segment"]).set_index("segment")
    assert abs(tw.loc["s0", "true_gpt2"] - (3 * 0.07 + 0.04) / 4) < 1e-12
    assert tw.loc["s0", "true_winner"] == "gpt2" and tw.loc["s1", "true_winner"] == "template"
    # with variants: each variant's own impressions; copy effects multiply CTR where the copy has the property
    exp = pd.DataFrame({"segment": ["s0"] * 4, "channel": ["email"] * 4, "true_segment": ["x"] * 4,
                        "variant": ["template", "template", "gpt2", "gpt2"],
                        "mentions_price": [True, True, False, False]})
    tw = A.truth_winners(exp, resp, ["segment"], copy_effects={"mentions_price": 1.5}).set_index("segment")
    assert abs(tw.loc["s0", "true_template"] - 0.05 * 1.5) < 1e-12 and abs(tw.loc["s0", "true_gpt2"] - 0.07) < 1e-12
    assert tw.loc["s0", "true_winner"] == "template"  # the planted copy effect outweighs the variant lift here


def test_copy_logit_recovers_planted_feature_effect():
    rng = np.random.default_rng(9)
    n_content = 200
    texts = [("Save now: great price on " if i % 2 else "Discover the new ") + ("soft cotton tee" if i % 3 else "leather boots")
             + " " + "really " * int(rng.integers(0, 8)) for i in range(n_content)]
    content = pd.DataFrame({"content_id": [f"c{i}" for i in range(n_content)], "text": texts,
                            "segment": ["a"] * n_content, "quality_score": rng.normal(0, 1, n_content)})
    feats = A.copy_features(content, {"a": ["boots"]})
    assert feats["mentions_price"].tolist()[:2] == [0.0, 1.0]
    assert feats["mentions_favourite_category"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert "quality_score" in feats
    exp = pd.DataFrame({"content_id": rng.choice(content["content_id"], 60000),
                        "variant": rng.choice(["template", "gpt2"], 60000), "channel": "email"})
    x = exp.merge(feats, on="content_id")
    logit = -3.0 + 0.5 * x["mentions_price"] + 0.0 * x["mentions_favourite_category"]
    x["clicked"] = rng.random(len(x)) < 1 / (1 + np.exp(-logit))
    res = A.copy_logit(x[["content_id", "variant", "channel", "clicked"]], feats)
    t = res.table.set_index("feature")
    assert t.loc["mentions_price", "ci_low"] < 0.5 < t.loc["mentions_price", "ci_high"]
    assert t.loc["mentions_price", "p"] < 1e-6
    assert res.n == 60000 and "channel" not in " ".join(t.index)  # one channel: no dummy


def test_copy_logit_equals_statsmodels_logit_on_impressions():
    import statsmodels.api as sm

    rng = np.random.default_rng(12)
    content = pd.DataFrame({"content_id": [f"c{i}" for i in range(30)],
                            "text": [("Big sale on boots " if i % 3 == 0 else "New boots ") + "x " * (i % 7)
                                     for i in range(30)],
                            "segment": ["a"] * 30, "quality_score": rng.normal(0, 1, 30)})
    feats = A.copy_features(content)
    exp = pd.DataFrame({"content_id": rng.choice(content["content_id"], 8000),
                        "variant": rng.choice(["template", "gpt2"], 8000),
                        "channel": rng.choice(["email", "push"], 8000), "segment": rng.choice(["s1", "s2"], 8000)})
    exp["clicked"] = rng.random(8000) < 0.08
    res = A.copy_logit(exp, feats)
    X, y, _ = A.copy_design(exp, feats)
    t = res.table.set_index("feature")
    X = X[["const", *t.index]]  # without the columns the fit dropped as collinear
    ref = sm.Logit(y, X).fit(disp=0)
    ci = ref.conf_int()
    for f in t.index:
        assert abs(t.loc[f, "coef"] - ref.params[f]) < 1e-6
        assert abs(t.loc[f, "ci_low"] - ci.loc[f, 0]) < 1e-6 and abs(t.loc[f, "ci_high"] - ci.loc[f, 1]) < 1e-6
        assert abs(t.loc[f, "p"] - ref.pvalues[f]) < 1e-6
    assert abs(res.pseudo_r2 - ref.prsquared) < 1e-9


def test_copy_logit_drops_features_confounded_with_the_variant():
    rng = np.random.default_rng(13)
    content = pd.DataFrame({"content_id": [f"c{i}" for i in range(20)],
                            "text": [("Only 9.99 - great price " if i % 2 else "Fresh look ") + "x " * (i % 5)
                                     for i in range(20)], "segment": "a"})
    variant_of = {f"c{i}": ("template" if i % 2 else "gpt2") for i in range(20)}  # template copy = price copy
    feats = A.copy_features(content)
    exp = pd.DataFrame({"content_id": rng.choice(content["content_id"], 6000), "channel": "email"})
    exp["variant"] = exp["content_id"].map(variant_of)
    exp["clicked"] = rng.random(6000) < 0.1
    res = A.copy_logit(exp, feats)
    assert "mentions_price" not in set(res.table["feature"])
    assert any(d.startswith("mentions_price (collinear") for d in res.dropped)
    assert {"variant_template", "length_words"} <= set(res.table["feature"])
    assert np.isfinite(res.table[["coef", "ci_low", "ci_high"]].to_numpy()).all()


def test_copy_logit_refuses_runaway_coefficients_of_near_collinear_features():
    # five copies carry two features that differ only by rounding noise: the design is full rank in floating point
    # but the likelihood has no finite optimum along x1 - x2; the fit must say so instead of reporting effects
    rng = np.random.default_rng(14)
    x1 = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    feats = pd.DataFrame({"content_id": [f"c{i}" for i in range(5)], "x1": x1,
                          "x2": x1 + np.array([1e-9, -1e-9, 2e-9, 0.0, -2e-9])})
    exp = pd.DataFrame({"content_id": rng.choice(feats["content_id"], 5000), "variant": "gpt2", "channel": "email"})
    exp["clicked"] = rng.random(5000) < np.where(exp["content_id"].isin(["c0", "c3"]), 0.15, 0.05)
    res = A.copy_logit(exp, feats, controls=("variant", "channel"))
    if len(res.table):  # either the rank check dropped one, or the fit was refused: never a runaway effect
        assert np.abs(res.table["coef"]).max() <= A.MAX_ABS_COEF
    else:
        assert "fit failed" in res.note
