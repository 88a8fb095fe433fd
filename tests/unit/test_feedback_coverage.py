"""Coverage of the lift CI and false positives after correction, on campaigns drawn from the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from contentlab.feedback import analysis as A
from contentlab.feedback import coverage as C

# high CTRs give every segment x channel cell enough clicks for informative intervals at this small scale
# (the benchmark runs realistic CTRs with more users)
BASE = {("s1", "email"): 0.30, ("s1", "push"): 0.25, ("s2", "email"): 0.45, ("s2", "push"): 0.40}
LIFT = 0.20


@pytest.fixture(scope="module")
def study():
    return C.coverage_study(200, lift=LIFT, n_users=500, impressions_per_user=3, seed=0, base=BASE)


def test_vectorised_analysis_equals_compare_variants():
    exp = C.simulate_campaigns(2, 0.15, n_users=1500, seed=3)
    fast = C.analyse_campaigns(exp)
    one = A.prepare_exposures(exp[exp["campaign"] == 1])
    ref = A.compare_variants(one, bayesian=False)
    m = fast[fast["campaign"] == 1].merge(ref, on=["level", "segment", "channel"], suffixes=("", "_ref"))
    assert len(m) == len(ref) == 8 and (m["method"] == "delta method, per-user ratio").all()
    for c in ("lift", "lift_low", "lift_high", "p", "p_adj"):
        np.testing.assert_allclose(m[c], m[f"{c}_ref"], rtol=0, atol=1e-12)


def test_ci_coverage_of_planted_lift(study):
    # 1,600 intervals from 200 campaigns (8 per campaign, correlated): with as few as 200 independent intervals the
    # 99% sampling band around 95% is +-4 points, so 92-98% is a strict but fair band at this scale
    assert 0.92 <= study.coverage <= 0.98, study.describe()
    for level, cov in study.coverage_by_level.items():
        assert 0.90 <= cov <= 0.99, (level, study.describe())
    # the same intervals do not cover a lift 30 points off, nor "no effect": the check can fail
    eff = study.effect_table
    for wrong in (LIFT + 0.3, 0.0):
        assert ((eff["lift_low"] <= wrong) & (wrong <= eff["lift_high"])).mean() < 0.8


def test_false_positives_under_no_effect_after_correction(study):
    # Holm controls the family-wise error at 5%; with 200 null campaigns the one-sided 99% sampling bound is 8.6%
    assert study.fwer <= 0.086, study.describe()
    assert study.per_test_fpr <= 0.05
    # without correction the same null tests reject far more often
    null = study.null_table
    raw_fwer = (null.assign(raw=null["p"] < 0.05).groupby("campaign")["raw"].any()).mean()
    assert raw_fwer > study.fwer


# ---------------------------------------------------------------------------------------------------------------
# judging a simulated rate against its goal, with its uncertainty


def test_a_point_estimate_over_the_goal_is_never_a_pass():
    from contentlab.feedback import stats as fs

    # 26 of 500 campaigns with a false positive: 5.2%, CI 3.6-7.5% -> consistent with <= 5%, not "meets"
    lo, hi = fs.wilson_interval(26, 500)
    v = C.judge_at_most("FWER", 26 / 500, lo, hi, 0.05)
    assert v.status == C.CONSISTENT and not v.shortfall
    assert "5.20% (95% CI 3.57–7.51%)" in v.line() and "CONSISTENT WITH the goal <= 5%" in v.line() and "MEETS" not in v.line()
    lo, hi = fs.wilson_interval(60, 500)  # 12%: the whole CI above the goal
    assert C.judge_at_most("FWER", 0.12, lo, hi, 0.05).status == C.MISSES
    lo, hi = fs.wilson_interval(8, 500)  # 1.6%: the whole CI below
    assert C.judge_at_most("FWER", 0.016, lo, hi, 0.05).status == C.MEETS
    assert C.judge_within("coverage", 0.95, 0.94, 0.96, 0.93, 0.97).status == C.MEETS
    assert C.judge_within("coverage", 0.965, 0.955, 0.975, 0.93, 0.97).status == C.CONSISTENT
    assert C.judge_within("coverage", 0.90, 0.88, 0.92, 0.93, 0.97).shortfall


def test_clustered_ci_is_wider_than_treating_correlated_tests_as_independent():
    import pandas as pd

    from contentlab.feedback import stats as fs

    # 100 campaigns of 8 tests; in 10 of them all 8 tests are significant together, in the others none
    share = pd.Series([1.0] * 10 + [0.0] * 90)
    est, lo, hi = C.clustered_mean_ci(share)
    sd = share.std(ddof=1)
    assert est == pytest.approx(0.10) and hi - est == pytest.approx(1.959964 * sd / 10, rel=1e-6)
    naive_lo, naive_hi = fs.wilson_interval(80, 800)
    assert hi - lo > naive_hi - naive_lo
    # weights: a campaign's share counts by its number of tests
    est_w, _, _ = C.clustered_mean_ci(pd.Series([0.5, 0.0]), pd.Series([2.0, 6.0]))
    assert est_w == pytest.approx(1 / 8)


def test_judge_study_and_power_report(study):
    verdicts = C.judge_study(study)
    assert [v.what.split(" (")[0] for v in verdicts] == [
        "coverage of the 95% CI", "campaigns with any false positive after correction",
        "tests significant under no effect after correction"]
    assert all(v.low <= v.estimate <= v.high for v in verdicts)
    assert verdicts[0].estimate == pytest.approx(study.coverage) and verdicts[1].estimate == pytest.approx(study.fwer)
    assert verdicts[2].estimate == pytest.approx(study.per_test_fpr)
    assert not any(v.shortfall for v in verdicts), [v.line() for v in verdicts]
    low, lines = C.power_report(study, base=BASE, impressions_per_user=3)
    eff = study.effect_table
    power = eff.groupby("level")["significant"].mean()
    assert low == bool((power < 0.8).any())
    assert len(lines) == 3 + low and all("LOW POWER" in ln for ln, p in zip(lines, power.reindex(
        ["channel", "segment", "segment x channel"])) if p < 0.8)
    # the same study judged against a power goal it cannot reach names the campaign size that would
    low, lines = C.power_report(study, goal=0.999, base=BASE, impressions_per_user=3)
    assert low and "LOW POWER" in lines[0] and lines[-1].startswith("a campaign would need about")
