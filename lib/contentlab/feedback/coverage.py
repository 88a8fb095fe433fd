"""Does the analysis keep its promises? Coverage of the lift CI and false positives, by simulation.

Many campaigns are drawn from the simulator (:func:`contentlab.data.simulate.simulate_campaign`) with a planted
response in which the treatment's CTR is ``(1 + lift)`` times the control's in every segment x channel cell. Each
campaign is analysed exactly as :func:`contentlab.feedback.analysis.compare_variants` does with several impressions
per user (delta method over users, log-scale CI, one Holm / BH family per campaign), but vectorised over campaigns so
that hundreds of campaigns take seconds; ``tests/test_feedback_coverage.py`` checks the two give the same numbers.

- coverage: share of 95% CIs that contain the planted lift (should be 93–97%);
- false positives under no effect (``lift = 0``): the share of campaigns with at least one significant comparison
  after correction (family-wise error rate, Holm controls it at alpha) and the share of all tests that are.

Campaigns are stacked into one ``simulate_campaign`` call (user ids carry the campaign number): outcomes are
independent draws per impression, so this is the same as one call per campaign, only faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
    from contentlab.data.simulate import simulate_campaign

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
                       float(null["significant"].mean()), float(eff["significant"].mean()), eff, null)
