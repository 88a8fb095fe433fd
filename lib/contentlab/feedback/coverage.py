"""Does the analysis keep its promises? Coverage of the lift CI and false positives, by simulation.

Many campaigns are drawn from the simulator's audience model
(:func:`contentlab.data.simulate.audience.simulate_campaign`) with a planted response in which the treatment's CTR
is ``(1 + lift)`` times the control's in every segment x channel cell. Each campaign is analysed exactly as
:func:`contentlab.feedback.analysis.compare_variants` does with several impressions per user (delta method over
users, log-scale CI, one Holm / BH family per campaign), but vectorised over campaigns so that hundreds of campaigns
take seconds; ``tests/unit/test_feedback_coverage.py`` checks the two give the same numbers.

- coverage: share of 95% CIs that contain the planted lift (should be 93–97%);
- false positives under no effect (``lift = 0``): the share of campaigns with at least one significant comparison
  after correction (family-wise error rate, Holm controls it at alpha) and the share of all tests that are.

:func:`judge_study` judges each against its goal with its 95% CI (``meets`` / ``consistent with`` / ``misses``;
only ``misses`` is a shortfall) and :func:`power_report` flags a campaign size too small to detect the planted lift.

Campaigns are stacked into one ``simulate_campaign`` call (user ids carry the campaign number): outcomes are
independent draws per impression, so this is the same as one call per campaign, only faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from contentlab.data.simulate.audience import simulate_campaign
from contentlab.feedback import stats as fs

CONTROL, TREATMENT = "template", "gpt2"
DEFAULT_BASE = {("s1", "email"): 0.035, ("s1", "push"): 0.025, ("s2", "email"): 0.05, ("s2", "push"): 0.04}
LEVELS = {"channel": ["channel"], "segment": ["segment"], "segment x channel": ["segment", "channel"]}


def planted_truth(lift: float, base: dict[tuple[str, str], float] | None = None) -> dict:
    """A truth dict for ``simulate_campaign``: control CTR per (segment, channel), treatment ``(1 + lift)`` times it."""
    base = base or DEFAULT_BASE
    rows = []
    for (seg, ch), ctr in base.items():
        rows.append((seg, ch, CONTROL, ctr, 0.1, 50.0))
        rows.append((seg, ch, TREATMENT, ctr * (1.0 + lift), 0.1, 50.0))
    resp = pd.DataFrame(rows, columns=["segment", "channel", "variant", "ctr", "cvr", "aov"])
    return {"response": resp, "copy_effects": {}}


def stacked_assignments(n_campaigns: int, n_users: int, impressions_per_user: float, seed: int,
                        base: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Impressions of ``n_campaigns`` independent campaigns: users split 50/50 per campaign, segments in equal
    shares, ``1 + Poisson(impressions_per_user - 1)`` impressions per user on a random channel."""
    base = base or DEFAULT_BASE
    rng = np.random.default_rng(seed)
    segments = sorted({s for s, _ in base})
    channels = sorted({c for _, c in base})
    n = n_campaigns * n_users
    camp = np.repeat(np.arange(n_campaigns), n_users)
    user = np.arange(n)
    seg = np.array(segments, dtype=object)[rng.integers(0, len(segments), n)]
    var = np.where(rng.random(n) < 0.5, CONTROL, TREATMENT).astype(object)
    k = 1 + rng.poisson(max(impressions_per_user - 1.0, 0.0), n)
    idx = np.repeat(user, k)
    ch = np.array(channels, dtype=object)[rng.integers(0, len(channels), len(idx))]
    return pd.DataFrame({
        "campaign": camp[idx],
        "user_id": pd.Series([f"k{c}-u{u}" for c, u in zip(camp[idx], idx)], dtype="str"),
        "content_id": pd.Series(ch + "-" + var[idx], dtype="str"),
        "product_id": "p",
        "variant": pd.Series(var[idx], dtype="str"),
        "channel": pd.Series(ch, dtype="str"),
        "segment": pd.Series(seg[idx], dtype="str"),
    })


def simulate_campaigns(n_campaigns: int, lift: float, n_users: int = 2000, impressions_per_user: float = 5.0,
                       seed: int = 0, base: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Exposures of ``n_campaigns`` campaigns (column ``campaign``) drawn by the simulator."""
    a = stacked_assignments(n_campaigns, n_users, impressions_per_user, seed, base)
    exp = simulate_campaign(a.drop(columns="campaign"), planted_truth(lift, base), seed=seed + 1)
    camp = dict(zip(a["user_id"], a["campaign"]))
    exp["campaign"] = exp["user_id"].map(camp).astype(int)
    return exp


def analyse_campaigns(exp: pd.DataFrame, levels: dict[str, list[str]] | None = None, alpha: float = 0.05,
                      correction: str = "holm") -> pd.DataFrame:
    """Lift of treatment over control per campaign x level x group: delta method over users on the log scale,
    p-values adjusted within each campaign. Returns one row per comparison."""
    levels = levels or LEVELS
    z = stats.norm.isf(alpha / 2)
    finest = sorted({c for by in levels.values() for c in by})
    base = exp.groupby(["campaign", *finest, "variant", "user_id"], observed=True, sort=False).agg(
        x=("clicked", "size"), y=("clicked", "sum")).reset_index()
    out = []
    for level, by in levels.items():
        u = base.groupby(["campaign", *by, "variant", "user_id"], observed=True, sort=False)[["x", "y"]].sum()
        u = u.reset_index()
        u["xx"], u["yy"], u["xy"] = u["x"] ** 2, u["y"] ** 2, u["x"] * u["y"]
        g = u.groupby(["campaign", *by, "variant"], observed=True)[["x", "y", "xx", "yy", "xy"]].agg(["sum", "size"])
        n = g[("x", "size")].to_numpy(float)
        sx, sy = g[("x", "sum")].to_numpy(float), g[("y", "sum")].to_numpy(float)
        sxx, syy, sxy = (g[(c, "sum")].to_numpy(float) for c in ("xx", "yy", "xy"))
        mx, my = sx / n, sy / n
        vx = (sxx - n * mx * mx) / (n - 1)
        vy = (syy - n * my * my) / (n - 1)
        cxy = (sxy - n * mx * my) / (n - 1)
        r = my / mx
        var = (vy - 2 * r * cxy + r * r * vx) / (mx * mx * n)
        frame = pd.DataFrame({"r": r, "var": var}, index=g.index).reset_index()
        wide = frame.pivot_table(index=["campaign", *by], columns="variant", values=["r", "var"])
        rt, rc = wide[("r", TREATMENT)].to_numpy(), wide[("r", CONTROL)].to_numpy()
        vt, vc = wide[("var", TREATMENT)].to_numpy(), wide[("var", CONTROL)].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(rt / rc)
            se = np.sqrt(vt / rt**2 + vc / rc**2)
        res = wide.index.to_frame(index=False)
        res["level"] = level
        res["lift"] = rt / rc - 1
        res["lift_low"] = np.exp(log_ratio - z * se) - 1
        res["lift_high"] = np.exp(log_ratio + z * se) - 1
        res["p"] = 2 * stats.norm.sf(np.abs(log_ratio) / se)
        out.append(res)
    allres = pd.concat(out, ignore_index=True)
    for c in ("segment", "channel"):
        if c in allres:
            allres[c] = allres[c].fillna("all")
    allres["p_adj"] = np.nan
    for _, idx in allres.groupby("campaign").indices.items():
        allres.loc[allres.index[idx], "p_adj"] = fs.adjust_pvalues(allres["p"].to_numpy()[idx], correction)
    allres["significant"] = allres["p_adj"] < alpha
    return allres


@dataclass
class StudyResult:
    n_campaigns: int
    lift: float
    coverage: float  # share of all CIs covering the planted lift
    coverage_by_level: dict[str, float]
    n_intervals: int
    null_campaigns: int
    fwer: float  # share of null campaigns with any significant comparison after correction
    per_test_fpr: float  # share of null comparisons significant after correction
    power: float  # share of (planted-lift) comparisons significant after correction
    effect_table: pd.DataFrame | None = None  # every comparison of the planted-lift campaigns
    null_table: pd.DataFrame | None = None  # every comparison of the no-effect campaigns
    n_users: int | None = None  # users per campaign

    def describe(self) -> str:
        def ci(p: float, n: int) -> str:
            lo, hi = fs.wilson_interval(round(p * n), n)
            return f"{100 * p:.1f}% (95% CI {100 * lo:.1f}–{100 * hi:.1f}%)"
        lines = [f"planted lift {self.lift:+.0%}: {self.n_campaigns} campaigns, {self.n_intervals} intervals",
                 f"  coverage of the 95% CI: {ci(self.coverage, self.n_intervals)}"]
        lines += [f"    {lvl}: {100 * c:.1f}%" for lvl, c in self.coverage_by_level.items()]
        lines += [f"  power after correction: {100 * self.power:.1f}% of comparisons",
                  f"no effect: {self.null_campaigns} campaigns",
                  f"  campaigns with any false positive after correction (FWER): {ci(self.fwer, self.null_campaigns)}",
                  f"  tests significant after correction (per-test false-positive rate): {100 * self.per_test_fpr:.2f}%"]
        return "\n".join(lines)


def _batched(n_campaigns: int, lift: float, n_users: int, impressions_per_user: float, seed: int, alpha: float,
             correction: str, base, batch: int) -> pd.DataFrame:
    parts = []
    for b, first in enumerate(range(0, n_campaigns, batch)):
        size = min(batch, n_campaigns - first)
        exp = simulate_campaigns(size, lift, n_users, impressions_per_user, seed + 1009 * b, base)
        res = analyse_campaigns(exp, alpha=alpha, correction=correction)
        res["campaign"] += first
        parts.append(res)
    return pd.concat(parts, ignore_index=True)


def coverage_study(n_campaigns: int = 500, lift: float = 0.15, n_users: int = 2000,
                   impressions_per_user: float = 5.0, seed: int = 0, alpha: float = 0.05,
                   correction: str = "holm", null_campaigns: int | None = None,
                   base: dict[tuple[str, str], float] | None = None, batch: int = 100) -> StudyResult:
    """Run ``n_campaigns`` campaigns with the planted ``lift`` and ``null_campaigns`` (default the same number)
    without an effect (in batches of ``batch`` campaigns per simulator call); report coverage, power and false
    positives."""
    null_campaigns = n_campaigns if null_campaigns is None else null_campaigns
    eff = _batched(n_campaigns, lift, n_users, impressions_per_user, seed, alpha, correction, base, batch)
    covered = (eff["lift_low"] <= lift) & (lift <= eff["lift_high"])
    by_level = {lvl: float(c.mean()) for lvl, c in covered.groupby(eff["level"], sort=False)}
    null = _batched(null_campaigns, 0.0, n_users, impressions_per_user, seed + 7919, alpha, correction, base, batch)
    fwer = float(null.groupby("campaign")["significant"].any().mean())
    return StudyResult(n_campaigns, lift, float(covered.mean()), by_level, int(len(eff)), null_campaigns, fwer,
                       float(null["significant"].mean()), float(eff["significant"].mean()), eff, null, n_users)


# ------------------------------------------------------------------------------------------------------------
# judging a simulated rate against its goal, with its uncertainty

MEETS, CONSISTENT, MISSES = "meets", "consistent with", "misses"
DEFAULT_POWER_GOAL = 0.8  # the conventional target, the feedback notebook's ``power_target`` default


@dataclass
class Verdict:
    """A rate estimated by simulation against a goal: ``status`` is ``"meets"`` (the whole 95% CI satisfies the
    goal), ``"misses"`` (the whole CI violates it) or ``"consistent with"`` (the CI straddles the goal: the
    simulation cannot tell; more campaigns would). Only ``"misses"`` is a shortfall."""

    what: str
    estimate: float
    low: float
    high: float
    goal: str
    status: str

    @property
    def shortfall(self) -> bool:
        return self.status == MISSES

    def line(self) -> str:
        word = {MEETS: "MEETS", CONSISTENT: "CONSISTENT WITH", MISSES: "MISSES"}[self.status]
        tail = "" if self.status != CONSISTENT else " (the CI straddles the goal: more campaigns would decide)"
        return (f"{self.what}: {100 * self.estimate:.2f}% (95% CI {100 * self.low:.2f}–{100 * self.high:.2f}%) "
                f"{word} the goal {self.goal}{tail}")


def clustered_mean_ci(values_by_cluster: pd.Series, weights: pd.Series | None = None,
                      alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean of a per-cluster share (e.g. share of a campaign's tests that are significant) with a CI over clusters
    (ratio estimator, normal approximation): the comparisons of one campaign are not independent of each other."""
    x = values_by_cluster.to_numpy(float)
    w = np.ones_like(x) if weights is None else weights.to_numpy(float)
    n = len(x)
    est = float((x * w).sum() / w.sum())
    if n < 2:
        return est, 0.0, 1.0
    resid = w * (x - est) / w.mean()
    se = float(np.sqrt((resid ** 2).sum() / (n * (n - 1))))
    z = stats.norm.isf(alpha / 2)
    return est, max(0.0, est - z * se), min(1.0, est + z * se)


def judge_at_most(what: str, estimate: float, low: float, high: float, goal: float) -> Verdict:
    status = MEETS if high <= goal else (MISSES if low > goal else CONSISTENT)
    return Verdict(what, estimate, low, high, f"<= {100 * goal:g}%", status)


def judge_within(what: str, estimate: float, low: float, high: float, lo_goal: float, hi_goal: float) -> Verdict:
    if lo_goal <= low and high <= hi_goal:
        status = MEETS
    elif high < lo_goal or low > hi_goal:
        status = MISSES
    else:
        status = CONSISTENT
    return Verdict(what, estimate, low, high, f"in [{100 * lo_goal:g}%, {100 * hi_goal:g}%]", status)


def _share_by_campaign(table: pd.DataFrame, flag: pd.Series) -> tuple[pd.Series, pd.Series]:
    g = flag.groupby(table["campaign"])
    return g.mean(), g.size()


def judge_study(res: StudyResult, fpr_goal: float = 0.05, coverage_goal: tuple[float, float] = (0.93, 0.97)
                ) -> list[Verdict]:
    """The study's promises with their 95% CIs: CI coverage of the planted lift, the family-wise error rate and the
    per-test false-positive rate after correction (shares of tests are judged with a CI over campaigns)."""
    eff, null = res.effect_table, res.null_table
    covered = (eff["lift_low"] <= res.lift) & (res.lift <= eff["lift_high"])
    verdicts = [judge_within("coverage of the 95% CI", *clustered_mean_ci(*_share_by_campaign(eff, covered)),
                             *coverage_goal)]
    any_fp = null.groupby("campaign")["significant"].any()
    k, n = int(any_fp.sum()), int(len(any_fp))
    lo, hi = fs.wilson_interval(k, n)
    verdicts.append(judge_at_most(f"campaigns with any false positive after correction (FWER, {k} of {n})",
                                  k / n, float(lo), float(hi), fpr_goal))
    verdicts.append(judge_at_most("tests significant under no effect after correction (per-test rate)",
                                  *clustered_mean_ci(*_share_by_campaign(null, null["significant"])), fpr_goal))
    return verdicts


def power_report(res: StudyResult, alpha: float = 0.05, goal: float = DEFAULT_POWER_GOAL,
                 base: dict[tuple[str, str], float] | None = None, impressions_per_user: float = 5.0
                 ) -> tuple[bool, list[str]]:
    """Power after correction per level of comparison; ``(low, lines)`` where ``low`` says some level detects the
    planted lift in fewer than ``goal`` of its comparisons, with the campaign size 80% power would need."""
    base = base or DEFAULT_BASE
    eff = res.effect_table
    lines, low = [], False
    for level, sig in eff.groupby("level", sort=False)["significant"]:
        p = float(sig.mean())
        flag = p < goal
        low |= flag
        lines.append(f"power after correction, {level}: {100 * p:.1f}% of comparisons detect the planted "
                     f"{res.lift:+.0%} lift{' — LOW POWER (goal ' + f'{100 * goal:g}%)' if flag else ''}")
    if low:
        # segment x channel cells, the smallest base rate, Bonferroni for the whole family (Holm's first step)
        n_tests = int(eff.groupby("campaign").size().median())
        p0 = min(base.values())
        per_arm = fs.sample_size_two_proportions(p0, p0 * (1 + res.lift), alpha / n_tests, goal)
        users = 2 * per_arm * len(base) / max(impressions_per_user, 1e-9)
        lines.append(f"a campaign would need about {users:,.0f} users (not {res.n_users:,}) for {100 * goal:g}% power "
                     f"on its smallest segment x channel cell (CTR {100 * p0:.1f}%, {n_tests} tests corrected "
                     f"together); the checks above stand, but at this size most real effects go undetected")
    return low, lines
