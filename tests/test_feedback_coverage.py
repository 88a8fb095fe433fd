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
