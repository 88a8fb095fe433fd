"""Frequentist A/B statistics, implemented here and checked against statsmodels / scipy.

Every function is a closed-form formula (vectorised where it helps) so the numbers can be read and
audited; ``tests/unit/test_feedback_stats.py`` checks each one against the reference implementation to 1e-9.

- :func:`wilson_interval`: Wilson score interval for a proportion (= ``proportion_confint(method="wilson")``).
- :func:`two_proportion_ztest`: pooled two-proportion z-test (= ``proportions_ztest``).
- :func:`chi2_independence`: Pearson chi-square test of independence (= ``scipy.stats.chi2_contingency``).
- :func:`welch_ttest`, :func:`welch_ttest_from_stats`: Welch's unequal-variance t-test with a CI for the difference
  (= ``scipy.stats.ttest_ind(equal_var=False)``).
- :func:`ratio_lift_ci`: relative lift ``p_t / p_c - 1`` with a delta-method CI on the log scale
  (= ``confint_proportions_2indep(compare="ratio", method="log")``).
- :func:`ratio_metric_ci`: delta-method CI for a ratio of sums over randomisation units (revenue per impression,
  CTR when users see several impressions), as in Deng et al. (2018), and :func:`ratio_metric_lift_ci` for the
  relative lift of two such ratios.
- :func:`adjust_pvalues`: Holm (default), Benjamini–Hochberg or Bonferroni (= ``multipletests``).
- :func:`srm_test`: sample-ratio-mismatch chi-square goodness of fit against the planned split, flagged at p < 0.001.
- :func:`power_two_proportions`, :func:`sample_size_two_proportions`, :func:`mde_two_proportions`: power analysis on
  Cohen's h, the same model as statsmodels' ``NormalIndPower`` with ``proportion_effectsize``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

SRM_THRESHOLD = 0.001


def z_critical(alpha: float) -> float:
    """The two-sided normal critical value: 1.96 for ``alpha = 0.05``."""
    return float(stats.norm.isf(alpha / 2.0))


# ---------------------------------------------------------------------------------------------------------------
# Proportions


def wilson_interval(successes, trials, alpha: float = 0.05):
    """Wilson score interval ``(low, high)`` for ``successes / trials`` (scalars or arrays).

    Rows with ``trials == 0`` give ``(nan, nan)``.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = z_critical(alpha)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def two_proportion_ztest(k1, n1, k2, n2):
    """Pooled two-proportion z-test of ``p1 == p2`` (two-sided); returns ``(z, p)``.

    ``z > 0`` when sample 1 has the higher rate. Arrays are accepted.
    """
    k1, n1, k2, n2 = (np.asarray(a, dtype=float) for a in (k1, n1, k2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        z = (p1 - p2) / se
    p = 2.0 * stats.norm.sf(np.abs(z))
    if np.ndim(z) == 0:
        return float(z), float(p)
    return z, p


def diff_proportions_ci(k1, n1, k2, n2, alpha: float = 0.05):
    """Wald CI for the absolute difference ``p1 - p2`` (unpooled variance); returns ``(diff, low, high)``."""
    k1, n1, k2, n2 = (np.asarray(a, dtype=float) for a in (k1, n1, k2, n2))
    p1, p2 = k1 / n1, k2 / n2
    se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    d = p1 - p2
    z = z_critical(alpha)
    return d, d - z * se, d + z * se


def chi2_independence(table, correction: bool = False):
    """Pearson chi-square test of independence on an ``r x c`` table of counts; returns ``(chi2, p, dof)``.

    ``correction=True`` applies Yates' continuity correction to 2x2 tables (as scipy does).
    """
    obs = np.asarray(table, dtype=float)
    expected = obs.sum(axis=1, keepdims=True) * obs.sum(axis=0, keepdims=True) / obs.sum()
    dof = (obs.shape[0] - 1) * (obs.shape[1] - 1)
    if correction and dof == 1:
        gap = expected - obs
        obs = obs + np.sign(gap) * np.minimum(0.5, np.abs(gap))
    chi2 = float(np.sum((obs - expected) ** 2 / expected))
    return chi2, float(stats.chi2.sf(chi2, dof)), int(dof)


def chi2_two_proportions(k1, n1, k2, n2):
    """Chi-square test (no continuity correction) on the 2x2 table of successes / failures; returns ``(chi2, p)``."""
    chi2, p, _ = chi2_independence([[k1, n1 - k1], [k2, n2 - k2]])
    return chi2, p


# ---------------------------------------------------------------------------------------------------------------
# Means and ratios


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p: float
    diff: float  # mean1 - mean2
    ci_low: float
    ci_high: float


def welch_ttest_from_stats(mean1, var1, n1, mean2, var2, n2, alpha: float = 0.05) -> WelchResult:
    """Welch's t-test from summary statistics (sample variances with ddof=1)."""
    v1, v2 = var1 / n1, var2 / n2
    se = np.sqrt(v1 + v2)
    diff = mean1 - mean2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / se
        df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    p = 2.0 * stats.t.sf(abs(t), df) if np.isfinite(t) else float("nan")
    q = stats.t.isf(alpha / 2.0, df) if np.isfinite(df) else float("nan")
    return WelchResult(float(t), float(df), float(p), float(diff), float(diff - q * se), float(diff + q * se))


def welch_ttest(x, y, alpha: float = 0.05) -> WelchResult:
    """Welch's unequal-variance t-test of ``mean(x) == mean(y)`` with a CI for ``mean(x) - mean(y)``."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return welch_ttest_from_stats(x.mean(), x.var(ddof=1), len(x), y.mean(), y.var(ddof=1), len(y), alpha)


def ratio_lift_ci(k_t, n_t, k_c, n_c, alpha: float = 0.05):
    """Relative lift ``p_t / p_c - 1`` of two independent proportions with a delta-method CI.

    The delta method is applied to ``log(p_t / p_c)`` (variance ``1/k_t - 1/n_t + 1/k_c - 1/n_c``) and the interval
    is mapped back, which keeps it inside ``(-1, inf)``. Returns ``(lift, low, high)``; arrays are accepted.
    """
    k_t, n_t, k_c, n_c = (np.asarray(a, dtype=float) for a in (k_t, n_t, k_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (k_t / n_t) / (k_c / n_c)
        se = np.sqrt(1.0 / k_t - 1.0 / n_t + 1.0 / k_c - 1.0 / n_c)
        z = z_critical(alpha)
        low = ratio * np.exp(-z * se) - 1.0
        high = ratio * np.exp(z * se) - 1.0
    out = (ratio - 1.0, low, high)
    if np.ndim(out[0]) == 0:
        return tuple(float(v) for v in out)
    return out


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float
    se: float
    ci_low: float
    ci_high: float
    n_units: int


def _ratio_var(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    n = len(num)
    mx, my = den.mean(), num.mean()
    vx, vy = den.var(ddof=1), num.var(ddof=1)
    cxy = np.cov(num, den, ddof=1)[0, 1]
    r = my / mx
    var = (vy - 2.0 * r * cxy + r * r * vx) / (mx * mx * n)
    return float(r), float(var)


def ratio_metric_ci(numerator, denominator, alpha: float = 0.05) -> RatioEstimate:
    """Delta-method CI for ``sum(numerator) / sum(denominator)`` over independent units.

    ``numerator`` / ``denominator`` are per randomisation unit (e.g. per user: revenue and impressions), so the
    interval accounts for several impressions per user. Var(R) ~ (s_y^2 - 2 R s_xy + R^2 s_x^2) / (n * mean_x^2).
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    r, var = _ratio_var(num, den)
    se = np.sqrt(var)
    z = z_critical(alpha)
    return RatioEstimate(r, float(se), r - z * se, r + z * se, len(num))


def ratio_metric_lift_ci(num_t, den_t, num_c, den_c, alpha: float = 0.05):
    """Relative lift ``R_t / R_c - 1`` of two ratio metrics (independent groups), delta method on the log scale.

    Returns ``(lift, low, high, p)`` where ``p`` is the two-sided p-value of ``log(R_t / R_c) == 0``.
    """
    rt, vt = _ratio_var(np.asarray(num_t, float), np.asarray(den_t, float))
    rc, vc = _ratio_var(np.asarray(num_c, float), np.asarray(den_c, float))
    if rt <= 0 or rc <= 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    log_ratio = np.log(rt / rc)
    se = np.sqrt(vt / rt**2 + vc / rc**2)
    z = z_critical(alpha)
    p = 2.0 * stats.norm.sf(abs(log_ratio) / se)
    return float(rt / rc - 1), float(np.exp(log_ratio - z * se) - 1), float(np.exp(log_ratio + z * se) - 1), float(p)


# ---------------------------------------------------------------------------------------------------------------
# Multiple comparisons


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjusted p-values: ``"holm"`` (step-down, FWER), ``"bh"`` (Benjamini–Hochberg, FDR) or ``"bonferroni"``.

    NaN p-values are left as NaN and do not count as tests.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    method = method.lower()
    order = np.argsort(q, kind="mergesort")
    ranked = q[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method in ("bh", "fdr_bh", "benjamini-hochberg"):
        adj = np.minimum.accumulate((m / np.arange(m, 0, -1)) * ranked[::-1])[::-1]
    elif method == "bonferroni":
        adj = m * ranked
    else:
        raise ValueError(f"unknown correction {method!r}: use 'holm', 'bh' or 'bonferroni'")
    adj = np.minimum(adj, 1.0)
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


# ---------------------------------------------------------------------------------------------------------------
# Sample ratio mismatch


@dataclass(frozen=True)
class SRMResult:
    chi2: float
    p: float
    flag: bool
    observed: dict
    expected: dict
    threshold: float = SRM_THRESHOLD

    def describe(self) -> str:
        obs = ", ".join(f"{k}: {v:,}" for k, v in self.observed.items())
        if self.flag:
            return (f"SAMPLE RATIO MISMATCH (chi-square p = {self.p:.2g} < {self.threshold}): assignment counts ({obs}) "
                    "do not match the planned split; results below are untrustworthy until the cause is found.")
        return f"No sample ratio mismatch (chi-square p = {self.p:.3g} ≥ {self.threshold}; counts {obs})."


def srm_test(counts: dict | Sequence[int], planned: dict | Sequence[float] | None = None,
             threshold: float = SRM_THRESHOLD) -> SRMResult:
    """Chi-square goodness of fit of assignment counts against the planned split (equal split by default).

    ``counts`` and ``planned`` are dicts keyed by variant (or sequences in the same order); ``planned`` may be
    weights (normalised here). Flagged when ``p < threshold`` (0.001, the usual SRM alarm level).
    """
    if isinstance(counts, dict):
        keys = list(counts)
        obs = np.array([counts[k] for k in keys], dtype=float)
        if planned is None:
            w = np.ones(len(keys))
        elif isinstance(planned, dict):
            missing = [k for k in keys if k not in planned]
            if missing:
                raise ValueError(f"planned split has no share for {missing}")
            w = np.array([planned[k] for k in keys], dtype=float)
        else:
            w = np.asarray(planned, dtype=float)
    else:
        obs = np.asarray(counts, dtype=float)
        keys = list(range(len(obs)))
        w = np.ones(len(obs)) if planned is None else np.asarray(planned, dtype=float)
    if len(w) != len(obs) or np.any(w <= 0):
        raise ValueError("planned split must give a positive share for every variant")
    expected = obs.sum() * w / w.sum()
    chi2 = float(np.sum((obs - expected) ** 2 / expected))
    p = float(stats.chi2.sf(chi2, len(obs) - 1))
    return SRMResult(chi2, p, bool(p < threshold), {str(k): int(v) for k, v in zip(keys, obs)},
                     {str(k): float(v) for k, v in zip(keys, expected)}, threshold)


# ---------------------------------------------------------------------------------------------------------------
# Power and minimum detectable effect (Cohen's h, normal approximation, as statsmodels NormalIndPower)


def cohens_h(p_treatment, p_control):
    """Effect size for two proportions (= ``statsmodels.stats.proportion.proportion_effectsize``)."""
    return 2.0 * np.arcsin(np.sqrt(p_treatment)) - 2.0 * np.arcsin(np.sqrt(p_control))


def power_two_proportions(effect_size: float, nobs1: float, alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Power of the two-sided two-sample z-test for effect size ``h`` with ``nobs1`` and ``ratio * nobs1`` units."""
    nobs = 1.0 / (1.0 / nobs1 + 1.0 / (nobs1 * ratio))
    crit = stats.norm.isf(alpha / 2.0)
    shift = effect_size * np.sqrt(nobs)
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


def sample_size_two_proportions(p_control: float, p_treatment: float, alpha: float = 0.05, power: float = 0.8,
                                ratio: float = 1.0) -> float:
    """Units in the control arm (treatment gets ``ratio`` times as many) for the given power; not rounded."""
    h = abs(float(cohens_h(p_treatment, p_control)))
    if h == 0:
        return float("inf")
    z_a, z_b = stats.norm.isf(alpha / 2.0), stats.norm.ppf(power)
    guess = ((z_a + z_b) / h) ** 2 * (1.0 + 1.0 / ratio)
    f = lambda n: power_two_proportions(h, n, alpha, ratio) - power  # noqa: E731
    lo, hi = max(guess * 0.5, 1e-9), guess * 1.5
    return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-15, maxiter=500))


def mde_two_proportions(p_control: float, nobs1: float, alpha: float = 0.05, power: float = 0.8,
                        ratio: float = 1.0) -> dict:
    """Minimum detectable effect for a baseline rate and ``nobs1`` control units (upward effect).

    Returns ``{"effect_size_h", "p_treatment", "absolute", "relative"}``.
    """
    f = lambda h: power_two_proportions(h, nobs1, alpha, ratio) - power  # noqa: E731
    h_max = np.pi - 2.0 * np.arcsin(np.sqrt(p_control))  # the largest upward effect possible
    if f(h_max) < 0:
        return {"effect_size_h": float("nan"), "p_treatment": float("nan"), "absolute": float("nan"),
                "relative": float("nan")}
    h = float(optimize.brentq(f, 1e-12, h_max, xtol=1e-14, rtol=1e-15, maxiter=500))
    p_t = float(np.sin(np.arcsin(np.sqrt(p_control)) + h / 2.0) ** 2)
    return {"effect_size_h": h, "p_treatment": p_t, "absolute": p_t - p_control, "relative": p_t / p_control - 1.0}
