"""The A/B analysis of 05: exposures in, tables and verdicts out.

Input is the ``exposures`` table (one row per impression: ``user_id``, ``content_id``, ``product_id``, ``variant``,
``channel``, ``timestamp``, ``clicked``, ``converted``, ``revenue``, ``segment``), either the dataset's own log or a
campaign simulated from the copy 04 published (:mod:`contentlab.feedback.campaign`).

Metrics per variant: CTR = clicks / impressions, CVR = conversions / clicks, CPI = conversions / impressions,
RPI = revenue / impressions, RPU = revenue per assigned user.

Inference. The randomisation unit is the user. When every user contributes one impression per analysed cell the
impression-level tests are exact (pooled z-test, chi-square, Wilson, log-scale delta-method lift). When users see
several impressions their outcomes are correlated, so the lift CI and its p-value use the delta method on per-user
sums (ratio of means), which stays valid under that clustering; ``unit="auto"`` picks between the two per cell.
Primary-metric p-values of every comparison shown (per channel, per segment, per segment x channel) form one
family and are adjusted together with Holm (default) or Benjamini–Hochberg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab import priors
from contentlab.feedback import bayes
from contentlab.feedback import stats as fs
from contentlab.fmt import pct

CONTROL = "template"
TREATMENT = "gpt2"
INCONCLUSIVE = "inconclusive"
ALL = "all"

PRIMARY_METRICS = {"ctr": ("clicks", "impressions"), "cpi": ("conversions", "impressions")}
LEVELS = {"channel": ["channel"], "segment": ["segment"], "segment x channel": ["segment", "channel"]}


# ---------------------------------------------------------------------------------------------------------------
# Input


def prepare_exposures(exposures: pd.DataFrame) -> pd.DataFrame:
    """Normalised copy: string ids/labels, boolean outcomes, float revenue, ``segment`` present ("all" if absent)."""
    need = ["user_id", "variant", "channel", "clicked", "converted"]
    missing = [c for c in need if c not in exposures.columns]
    if missing:
        raise ValueError(f"exposures lack required columns {missing}")
    exp = exposures.copy()
    for col in ("user_id", "content_id", "product_id", "variant", "channel", "segment"):
        if col in exp.columns:
            exp[col] = exp[col].astype(str)
    if "segment" not in exp.columns:
        exp["segment"] = ALL
    exp["clicked"] = exp["clicked"].astype(bool)
    exp["converted"] = exp["converted"].astype(bool)
    if "revenue" not in exp.columns:
        exp["revenue"] = 0.0
    exp["revenue"] = exp["revenue"].astype(float).fillna(0.0)
    if "timestamp" in exp.columns:
        exp["timestamp"] = pd.to_datetime(exp["timestamp"])
    return exp


# ---------------------------------------------------------------------------------------------------------------
# Sample ratio mismatch


def srm_check(exposures: pd.DataFrame, planned: dict[str, float] | None = None, unit: str = "user_id",
              threshold: float = fs.SRM_THRESHOLD) -> fs.SRMResult:
    """SRM test on the number of randomisation units (users) per variant against the planned split."""
    units = exposures.drop_duplicates([unit, "variant"]).groupby("variant")[unit].size()
    counts = {str(k): int(v) for k, v in units.items()}
    if planned is not None:
        for v in planned:
            counts.setdefault(str(v), 0)
        planned = {str(k): float(v) for k, v in planned.items()}
    return fs.srm_test(counts, planned, threshold)


def users_in_several_variants(exposures: pd.DataFrame, unit: str = "user_id") -> int:
    """Users who saw more than one variant (a broken assignment; they contaminate the comparison)."""
    return int((exposures.groupby(unit)["variant"].nunique() > 1).sum())


# ---------------------------------------------------------------------------------------------------------------
# Descriptive tables


def _user_level(exp: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return exp.groupby([*by, "variant", "user_id"], observed=True, sort=False).agg(
        impressions=("clicked", "size"), clicks=("clicked", "sum"), conversions=("converted", "sum"),
        revenue=("revenue", "sum")).reset_index()


def rate_table(exposures: pd.DataFrame, by: list[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Per group x variant: users, impressions, clicks, conversions, revenue; CTR / CVR / CPI with Wilson
    intervals and RPI (revenue per impression) with a per-user delta-method interval."""
    by = list(by or [])
    exp = exposures
    users = _user_level(exp, by)
    keys = [*by, "variant"]
    agg = users.groupby(keys, observed=True).agg(
        users=("user_id", "size"), impressions=("impressions", "sum"), clicks=("clicks", "sum"),
        conversions=("conversions", "sum"), revenue=("revenue", "sum")).reset_index()
    agg["ctr"] = agg["clicks"] / agg["impressions"]
    agg["ctr_low"], agg["ctr_high"] = fs.wilson_interval(agg["clicks"], agg["impressions"], alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["cvr"] = agg["conversions"] / agg["clicks"]
    agg["cvr_low"], agg["cvr_high"] = fs.wilson_interval(agg["conversions"], agg["clicks"], alpha)
    agg["cpi"] = agg["conversions"] / agg["impressions"]
    agg["cpi_low"], agg["cpi_high"] = fs.wilson_interval(agg["conversions"], agg["impressions"], alpha)
    rpi = []
    for _, g in users.groupby(keys, observed=True, sort=True):
        if len(g) > 1:
            est = fs.ratio_metric_ci(g["revenue"], g["impressions"], alpha)
            rpi.append((est.ratio, est.ci_low, est.ci_high))
        else:
            r = float(g["revenue"].sum() / g["impressions"].sum())
            rpi.append((r, np.nan, np.nan))
    agg = agg.sort_values(keys).reset_index(drop=True)
    agg[["rpi", "rpi_low", "rpi_high"]] = np.array(rpi, dtype=float).reshape(-1, 3)
    if "person_id" in exp.columns:  # randomised per impression: count the people, not the units
        people = exp.groupby(keys, observed=True)["person_id"].nunique().rename("people").reset_index()
        agg = agg.merge(people, on=keys, how="left")
        agg["users"] = agg.pop("people")
    agg["rpu"] = agg["revenue"] / agg["users"]
    return agg


# ---------------------------------------------------------------------------------------------------------------
# Comparisons


def _needs_clustering(users: pd.DataFrame) -> bool:
    return bool((users["impressions"] > 1).any())


def _compare_group(g: pd.DataFrame, control: str, treatment: str, primary: str, unit: str, alpha: float,
                   seed: int, bayesian: bool = True) -> dict:
    """All tests for one group (treatment vs control) from its per-user table."""
    num_col, den_col = PRIMARY_METRICS[primary]
    c, t = g[g["variant"] == control], g[g["variant"] == treatment]
    row: dict = {"users_control": len(c), "users_treatment": len(t)}
    sums = {}
    for arm, d in (("control", c), ("treatment", t)):
        for col in ("impressions", "clicks", "conversions", "revenue"):
            sums[f"{col}_{arm}"] = float(d[col].sum())
    row.update({k: (int(v) if not k.startswith("revenue") else v) for k, v in sums.items()})
    kc, nc = sums[f"{num_col}_control"], sums[f"{den_col}_control"]
    kt, nt = sums[f"{num_col}_treatment"], sums[f"{den_col}_treatment"]
    if len(c) == 0 or len(t) == 0 or nc == 0 or nt == 0:
        row.update(rate_control=np.nan, rate_treatment=np.nan, lift=np.nan, lift_low=np.nan, lift_high=np.nan,
                   p=np.nan, z=np.nan, p_z=np.nan, chi2=np.nan, p_chi2=np.nan, method="not tested")
        return row
    row["rate_control"], row["rate_treatment"] = kc / nc, kt / nt
    row["diff"] = kt / nt - kc / nc
    # impression-level tests (exact when each user has one impression in the group)
    if 0 < kc + kt < nc + nt:
        row["z"], row["p_z"] = fs.two_proportion_ztest(kt, nt, kc, nc)
        row["chi2"], row["p_chi2"] = fs.chi2_two_proportions(kt, nt, kc, nc)
    else:
        row["z"], row["p_z"], row["chi2"], row["p_chi2"] = 0.0, 1.0, 0.0, 1.0
    clustered = unit == "user" or (unit == "auto" and _needs_clustering(g))
    if clustered and len(c) > 1 and len(t) > 1 and kc > 0 and kt > 0:
        lift, lo, hi, p = fs.ratio_metric_lift_ci(t[num_col], t[den_col], c[num_col], c[den_col], alpha)
        row.update(lift=lift, lift_low=lo, lift_high=hi, p=p, method="delta method, per-user ratio")
    elif kc > 0 and kt > 0:
        lift, lo, hi = fs.ratio_lift_ci(kt, nt, kc, nc, alpha)
        row.update(lift=lift, lift_low=lo, lift_high=hi, p=row["p_z"], method="z-test, log-delta lift CI")
    else:
        row.update(lift=np.nan, lift_low=np.nan, lift_high=np.nan, p=row["p_z"], method="z-test (no lift CI: 0 events)")
    # secondary metrics
    if sums["clicks_control"] > 0 and sums["clicks_treatment"] > 0:
        row["cvr_control"] = sums["conversions_control"] / sums["clicks_control"]
        row["cvr_treatment"] = sums["conversions_treatment"] / sums["clicks_treatment"]
        if sums["conversions_control"] + sums["conversions_treatment"] > 0:
            _, row["p_cvr"] = fs.two_proportion_ztest(sums["conversions_treatment"], sums["clicks_treatment"],
                                                      sums["conversions_control"], sums["clicks_control"])
    if len(c) > 1 and len(t) > 1:
        w = fs.welch_ttest(t["revenue"], c["revenue"], alpha)
        row.update(rpu_control=float(c["revenue"].mean()), rpu_treatment=float(t["revenue"].mean()),
                   rpu_diff=w.diff, rpu_diff_low=w.ci_low, rpu_diff_high=w.ci_high, welch_t=w.t, p_revenue=w.p)
        if sums["revenue_control"] > 0 and sums["revenue_treatment"] > 0:
            lift, lo, hi, p = fs.ratio_metric_lift_ci(t["revenue"], t["impressions"], c["revenue"], c["impressions"],
                                                      alpha)
            row.update(rpi_lift=lift, rpi_lift_low=lo, rpi_lift_high=hi, p_rpi=p)
    if not bayesian:
        return row
    # Bayesian view of the primary rate
    post = bayes.posterior_summary([kc, kt], [nc, nt], [control, treatment], seed=seed)
    row["p_treatment_best"] = post[treatment]["p_best"]
    row["expected_loss_control"] = post[control]["expected_loss"]
    row["expected_loss_treatment"] = post[treatment]["expected_loss"]
    return row


def compare_variants(exposures: pd.DataFrame, levels: dict[str, list[str]] | None = None, control: str = CONTROL,
                     treatment: str = TREATMENT, primary: str = "ctr", alpha: float = 0.05,
                     correction: str = "holm", unit: str = "auto", seed: int = 0,
                     bayesian: bool = True) -> pd.DataFrame:
    """Treatment vs control for every group of every level, with the primary p-values adjusted as one family.

    Columns: ``level``, ``channel``, ``segment`` (``"all"`` when pooled), arm counts, ``rate_control``,
    ``rate_treatment``, ``lift`` (relative) with ``lift_low`` / ``lift_high``, ``p`` (primary test, see ``method``),
    ``z`` / ``p_z`` (pooled z-test), ``chi2`` / ``p_chi2``, ``p_adj``, ``significant``, ``winner``
    (the better variant if significant after correction, else ``"inconclusive"``), CVR / revenue tests
    (``p_cvr``, Welch ``p_revenue`` on revenue per user, ``rpi_lift`` delta-method CI), and the Bayesian
    ``p_treatment_best`` and expected losses (``bayesian=False`` skips them, for simulations).
    """
    levels = LEVELS if levels is None else levels
    if primary not in PRIMARY_METRICS:
        raise ValueError(f"primary metric must be one of {sorted(PRIMARY_METRICS)}")
    exp = exposures[exposures["variant"].isin([control, treatment])]
    rows = []
    finest = sorted({c for by in levels.values() for c in by})
    base = _user_level(exp, finest)
    for level, by in levels.items():
        users = base if by == finest else base.groupby([*by, "variant", "user_id"], observed=True, sort=False)[
            ["impressions", "clicks", "conversions", "revenue"]].sum().reset_index()
        groups = users.groupby(by, observed=True, sort=True) if by else [((), users)]
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            labels = dict(zip(by, map(str, key)))
            row = {"level": level, "channel": labels.get("channel", ALL), "segment": labels.get("segment", ALL)}
            row.update(_compare_group(g, control, treatment, primary, unit, alpha, seed, bayesian))
            rows.append(row)
    out = pd.DataFrame(rows)
    out["p_adj"] = fs.adjust_pvalues(out["p"].to_numpy(float), correction)
    out["significant"] = out["p_adj"] < alpha
    out["winner"] = np.where(~out["significant"], INCONCLUSIVE,
                             np.where(out["rate_treatment"] > out["rate_control"], treatment, control))
    for sec in ("p_cvr", "p_revenue", "p_rpi"):
        if sec in out:
            out[f"{sec}_adj"] = fs.adjust_pvalues(out[sec].to_numpy(float), correction)
    out.attrs.update(correction=correction, alpha=alpha, primary=primary, control=control, treatment=treatment,
                     n_tests=int(out["p"].notna().sum()))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Verdicts


def channel_verdicts(comparison: pd.DataFrame, srm: fs.SRMResult, alpha: float = 0.05) -> dict[str, dict]:
    """One verdict per channel: winner, lift with CI, significance after correction, SRM status, prose."""
    attrs = comparison.attrs
    control, treatment = attrs.get("control", CONTROL), attrs.get("treatment", TREATMENT)
    metric = attrs.get("primary", "ctr").upper()
    corr = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(attrs.get("correction", "holm"), attrs.get("correction"))
    out = {}
    for _, r in comparison[comparison["level"] == "channel"].iterrows():
        lift_txt = (f"{pct(r['lift'], sign=True)} (95% CI {pct(r['lift_low'], sign=True)} to "
                    f"{pct(r['lift_high'], sign=True)})")
        if r["significant"]:
            head = f"**{r['winner']}** wins on {metric}"
            sig = f"significant after {corr} correction (adjusted p = {r['p_adj']:.2g})"
        else:
            lead = treatment if r["rate_treatment"] > r["rate_control"] else control
            head = f"no significant winner ({lead} leads)"
            sig = f"not significant after {corr} correction (adjusted p = {r['p_adj']:.2g})"
        srm_txt = ("SRM detected: the assignment is broken, treat this result as untrustworthy"
                   if srm.flag else f"no sample ratio mismatch (p = {srm.p:.2g})")
        text = (f"**{r['channel']}**: {head}. {metric} {treatment} {100 * r['rate_treatment']:.2f}% vs {control} "
                f"{100 * r['rate_control']:.2f}%, relative lift of {treatment} {lift_txt}; {sig}; "
                f"P({treatment} is better) = {r['p_treatment_best']:.3f}; {srm_txt}.")
        out[str(r["channel"])] = {"winner": r["winner"], "lift": r["lift"], "lift_low": r["lift_low"],
                                  "lift_high": r["lift_high"], "p_adj": r["p_adj"], "significant": bool(r["significant"]),
                                  "trustworthy": not srm.flag, "text": text}
    return out


# ---------------------------------------------------------------------------------------------------------------
# Power for the next campaign


def power_table(rates: pd.DataFrame, users_per_arm: pd.Series | None = None, alpha: float = 0.05,
                power: float = 0.8, target_lift: float = 0.10, impressions_per_user: float = 1.0) -> pd.DataFrame:
    """Per segment: baseline (control) rate, MDE at the observed size, and the size needed for ``target_lift``.

    ``rates`` is :func:`rate_table` by segment; sizes are in impressions per arm (and users, given
    ``impressions_per_user``), using Cohen's h with the normal approximation (as statsmodels NormalIndPower).
    """
    rows = []
    ctrl = rates[rates["variant"] == CONTROL]
    for _, r in ctrl.iterrows():
        p0 = float(r["ctr"])
        n_now = float(r["impressions"])
        if not (0 < p0 < 1):
            continue
        mde = fs.mde_two_proportions(p0, n_now, alpha, power)
        need = fs.sample_size_two_proportions(p0, min(p0 * (1 + target_lift), 0.999), alpha, power)
        rows.append({"segment": r["segment"], "baseline_ctr": p0, "impressions_per_arm_now": int(n_now),
                     "mde_relative_now": mde["relative"], "target_lift": target_lift,
                     "impressions_per_arm_needed": int(np.ceil(need)),
                     "users_per_arm_needed": int(np.ceil(need / max(impressions_per_user, 1e-9)))})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# Time view


def daily_ctr(exposures: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per day x variant: impressions, clicks, CTR with Wilson interval."""
    exp = exposures.assign(day=exposures["timestamp"].dt.floor("D"))
    d = exp.groupby(["day", "variant"], observed=True).agg(impressions=("clicked", "size"),
                                                           clicks=("clicked", "sum")).reset_index()
    d["ctr"] = d["clicks"] / d["impressions"]
    d["ctr_low"], d["ctr_high"] = fs.wilson_interval(d["clicks"], d["impressions"], alpha)
    return d


def cumulative_lift(exposures: pd.DataFrame, control: str = CONTROL, treatment: str = TREATMENT,
                    alpha: float = 0.05, unit: str = "auto") -> pd.DataFrame:
    """Relative CTR lift of ``treatment`` over ``control`` on all data up to each day, with its CI.

    The CI is computed as in :func:`compare_variants`: delta method over users' cumulative clicks / impressions
    when users have several impressions (``unit="auto"`` or ``"user"``), else the log-scale proportion CI; the last
    day therefore equals the overall comparison.
    """
    exp = exposures[exposures["variant"].isin([control, treatment])]
    exp = exp.assign(day=exp["timestamp"].dt.floor("D"))
    days = np.sort(exp["day"].unique())
    per = exp.groupby(["variant", "user_id", "day"], observed=True).agg(x=("clicked", "size"), y=("clicked", "sum"))
    rows = {"day": days}
    sums = {}
    clustered = unit == "user" or (unit == "auto" and bool((exp.groupby("user_id").size() > 1).any()))
    for v in (control, treatment):
        pv = per.loc[v].reset_index()
        mx = pv.pivot_table(index="user_id", columns="day", values="x", aggfunc="sum", fill_value=0)
        my = pv.pivot_table(index="user_id", columns="day", values="y", aggfunc="sum", fill_value=0)
        mx = mx.reindex(columns=days, fill_value=0).cumsum(axis=1).to_numpy(float)
        my = my.reindex(columns=days, fill_value=0).cumsum(axis=1).to_numpy(float)
        active = mx > 0  # users assigned so far (seen at least once up to the day)
        n = active.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sx, sy = mx.sum(axis=0), my.sum(axis=0)
            mean_x, mean_y = sx / n, sy / n
            vx = ((mx - mean_x) ** 2 * active).sum(axis=0) / (n - 1)
            vy = ((my - mean_y) ** 2 * active).sum(axis=0) / (n - 1)
            cxy = ((mx - mean_x) * (my - mean_y) * active).sum(axis=0) / (n - 1)
            r = sy / sx
            var = (vy - 2 * r * cxy + r * r * vx) / (mean_x**2 * n)
        sums[v] = (sy, sx, r, var)
    kt, nt, rt, vt = sums[treatment]
    kc, nc, rc, vc = sums[control]
    z = fs.z_critical(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        if clustered:
            log_ratio = np.log(rt / rc)
            se = np.sqrt(vt / rt**2 + vc / rc**2)
            lift, lo, hi = rt / rc - 1, np.exp(log_ratio - z * se) - 1, np.exp(log_ratio + z * se) - 1
        else:
            lift, lo, hi = fs.ratio_lift_ci(kt, nt, kc, nc, alpha)
    ok = (kt > 0) & (kc > 0)
    rows.update(lift=np.where(ok, lift, np.nan), lift_low=np.where(ok, lo, np.nan), lift_high=np.where(ok, hi, np.nan),
                impressions=(nt + nc).astype(int))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# Copy features vs response

PRICE_PATTERN = priors.PRICE_PATTERN


def _mentions(text: str, words) -> bool:
    t = str(text).lower()
    return any(w and str(w).lower() in t for w in words)


def copy_features(content: pd.DataFrame, favourite_categories: dict[str, list[str]] | None = None,
                  text_col: str = "text", segment_col: str = "segment") -> pd.DataFrame:
    """Features of each published copy: the text signals of :func:`contentlab.priors.copy_signals`
    (``length_words``, ``mentions_price``, ``mentions_novelty``, ``mentions_social_proof``, ``repetition``,
    ``ends_cleanly``), ``mentions_favourite_category`` (the text names one of its segment's favourite categories)
    and the generation stage's numeric quality scores
    (every numeric column of ``content`` whose name contains ``score``, ``quality``, ``fluency``, ``relevance``,
    ``diversity``, ``perplexity``, ``coverage``, ``bleu`` or ``rouge``)."""
    feats = pd.DataFrame({"content_id": content["content_id"].astype(str)})
    text = content[text_col].astype(str) if text_col in content else pd.Series([""] * len(content))
    signals = pd.DataFrame([priors.copy_signals(t) for t in text], columns=list(priors.TEXT_SIGNALS))
    for c in priors.TEXT_SIGNALS:
        feats[c] = signals[c].astype(float).to_numpy()
    if favourite_categories and segment_col in content:
        segs = content[segment_col].astype(str).to_numpy()
        feats["mentions_favourite_category"] = [float(_mentions(t, favourite_categories.get(s, [])))
                                                for t, s in zip(text, segs)]
    score_cols = [c for c in content.columns if c not in ("content_id",)
                  and re.search(r"score|quality|fluency|relevance|diversity|perplexity|coverage|bleu|rouge", c, re.IGNORECASE)
                  and pd.api.types.is_numeric_dtype(content[c]) and not pd.api.types.is_bool_dtype(content[c])]
    for c in score_cols:
        feats[c] = content[c].astype(float).to_numpy()
    return feats.drop_duplicates("content_id")


@dataclass
class LogitResult:
    table: pd.DataFrame  # feature, coef, ci_low, ci_high, p, odds_ratio (per 1 sd for continuous features)
    n: int
    pseudo_r2: float
    dropped: list[str]
    note: str = ""


def copy_design(exposures: pd.DataFrame, features: pd.DataFrame,
                controls: tuple[str, ...] = ("variant", "channel", "segment")) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Impression-level design matrix (with constant), outcome ``clicked`` and the features dropped."""
    feat_cols = [c for c in features.columns if c != "content_id"]
    df = exposures.drop(columns=[c for c in feat_cols if c in exposures.columns]).merge(
        features, on="content_id", how="inner")
    dropped = []
    X = pd.DataFrame(index=df.index)
    for c in feat_cols:
        x = df[c].astype(float)
        if x.isna().mean() > 0.5 or x.nunique(dropna=True) < 2:
            dropped.append(c)
            continue
        x = x.fillna(x.median())
        is_binary = set(np.unique(x)) <= {0.0, 1.0}
        X[c] = x if is_binary else (x - x.mean()) / x.std(ddof=0)
    for c in controls:
        if c in df and df[c].nunique() > 1:
            X = X.join(pd.get_dummies(df[c].astype(str), prefix=c, drop_first=True, dtype=float))
    X.insert(0, "const", 1.0)
    return X, df["clicked"].astype(float), dropped


MAX_ABS_COEF = 20.0  # log-odds: a fitted copy-feature effect beyond this is an artefact of the design, not an effect


def copy_logit(exposures: pd.DataFrame, features: pd.DataFrame, alpha: float = 0.05,
               controls: tuple[str, ...] = ("variant", "channel", "segment")) -> LogitResult:
    """Logistic regression of ``clicked`` on copy features, with Wald CIs.

    Continuous features are standardised (coefficients per standard deviation); binary ones stay 0/1.
    ``controls`` (variant, channel, segment) enter as dummies, so a feature is compared within the same audience.
    Constant or mostly missing features are dropped and listed. Impressions sharing every covariate value are
    collapsed into binomial counts and fitted as a binomial GLM with logit link: the same likelihood, hence the
    same estimates and standard errors as ``statsmodels.Logit`` on the impression rows (checked in the tests),
    in a fraction of the time.
    """
    import statsmodels.api as sm

    empty = pd.DataFrame(columns=["feature", "coef", "ci_low", "ci_high", "p", "odds_ratio"])
    X, y, dropped = copy_design(exposures, features, controls)
    n = len(y)
    if X.shape[1] < 2 or y.nunique() < 2:
        return LogitResult(empty, n, float("nan"), dropped, "not enough variation to fit")
    cols = list(X.columns)
    grouped = X.assign(_y=y.to_numpy()).groupby(cols, sort=False)["_y"].agg(["sum", "size"]).reset_index()
    endog = np.column_stack([grouped["sum"].to_numpy(float), (grouped["size"] - grouped["sum"]).to_numpy(float)])
    # a copy feature that is a linear combination of the controls and earlier columns (e.g. only template copy
    # mentions price) cannot be told apart from them: drop it and say so instead of reporting a split estimate
    order = ["const"] + [c for c in cols if c != "const" and c.split("_")[0] in controls] + \
        [c for c in cols if c != "const" and c.split("_")[0] not in controls]
    kept: list[str] = []
    for c in order:
        trial = grouped[kept + [c]].to_numpy(float)
        if np.linalg.matrix_rank(trial) == len(kept) + 1:
            kept.append(c)
        else:
            dropped.append(f"{c} (collinear with variant / channel / segment or other features)")
    exog = grouped[kept].astype(float)
    try:
        fit = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
    except Exception as exc:  # perfect separation / singular design on tiny data
        return LogitResult(empty, n, float("nan"), dropped, f"fit failed: {exc}")
    if not np.all(np.isfinite(fit.bse)):
        return LogitResult(empty, n, float("nan"), dropped, "fit failed: singular design")
    # near-collinear copy features (a few distinct copies carry many features) or quasi-separation: the fit "works"
    # but its coefficients run off to implausible sizes; no effect of a copy feature is tens of log-odds
    if not getattr(fit, "converged", True) or not np.all(np.isfinite(fit.params)) or \
            float(np.abs(fit.params).max()) > MAX_ABS_COEF:
        return LogitResult(empty, n, float("nan"), dropped,
                           f"fit failed: did not converge or a coefficient ran beyond ±{MAX_ABS_COEF:g} log-odds "
                           "(near-collinear copy features or separation)")
    ci = fit.conf_int(alpha)
    table = pd.DataFrame({"feature": fit.params.index, "coef": fit.params.to_numpy(), "ci_low": ci[0].to_numpy(),
                          "ci_high": ci[1].to_numpy(), "p": fit.pvalues.to_numpy()})
    table["odds_ratio"] = np.exp(table["coef"])
    table = table[table["feature"] != "const"].reset_index(drop=True)
    # McFadden's pseudo R^2 against the intercept-only model (closed form)
    p_bar = float(y.mean())
    ll_null = n * (p_bar * np.log(p_bar) + (1 - p_bar) * np.log(1 - p_bar))
    k, m = grouped["sum"].to_numpy(float), grouped["size"].to_numpy(float)
    eta = exog.to_numpy() @ fit.params.to_numpy()
    ll = float(np.sum(k * eta - m * np.logaddexp(0.0, eta)))
    return LogitResult(table, n, 1.0 - ll / ll_null, dropped)


# ---------------------------------------------------------------------------------------------------------------
# Planted truth


def map_clusters_to_truth(profiles: pd.DataFrame, truth_users: pd.DataFrame, cluster_col: str = "cluster"
                          ) -> pd.DataFrame:
    """Majority vote: each profile cluster -> the planted true segment most of its users belong to.

    Returns one row per cluster: ``cluster``, ``true_segment``, ``purity`` (share of the majority), ``users``.
    """
    m = profiles[["user_id", cluster_col]].astype({"user_id": str}).merge(
        truth_users[["user_id", "segment"]].astype({"user_id": str}).rename(columns={"segment": "true_segment"}),
        on="user_id", how="inner")
    ct = pd.crosstab(m[cluster_col], m["true_segment"])
    out = pd.DataFrame({"cluster": ct.index, "true_segment": ct.idxmax(axis=1).to_numpy(),
                        "purity": (ct.max(axis=1) / ct.sum(axis=1)).to_numpy(), "users": ct.sum(axis=1).to_numpy()})
    return out.reset_index(drop=True)


def truth_winners(exposures: pd.DataFrame, response: pd.DataFrame, by: list[str], control: str = CONTROL,
                  treatment: str = TREATMENT, metric: str = "ctr",
                  copy_effects: dict[str, float] | None = None) -> pd.DataFrame:
    """The planted right answer per group: each variant's expected rate over the impressions it actually received
    (their true segments, channels and copy), and the variant with the higher expected rate.

    ``exposures`` needs ``true_segment`` and ``channel`` (and ``variant``; without it both variants are evaluated on
    the group's whole mix). ``response`` is ``truth["response"]`` (segment, channel, variant, ctr, cvr, aov).
    ``copy_effects`` (``truth["copy_effects"]``, e.g. ``{"mentions_price": 1.1}``) multiply the CTR of impressions
    whose boolean column of that name is true, as the simulator does. ``metric``: ``"ctr"`` or ``"cpi"``.
    """
    resp = pd.DataFrame({"true_segment": response["segment"].astype(str), "channel": response["channel"].astype(str),
                         "variant": response["variant"].astype(str),
                         "_rate": response["ctr"] * (response["cvr"] if metric == "cpi" else 1.0)})
    by_cols = list(dict.fromkeys(by))
    effects = {f: m for f, m in (copy_effects or {}).items() if f in exposures.columns}
    cols = list(dict.fromkeys([*by_cols, "true_segment", "channel", *effects]))
    base = exposures[cols].copy()
    base["true_segment"] = base["true_segment"].astype(str)
    base["channel"] = base["channel"].astype(str)
    mult = np.ones(len(base))
    for f, m in effects.items():
        mult = mult * np.where(base[f].fillna(False).astype(bool).to_numpy(), m, 1.0)
    base["_mult"] = mult
    rates = {}
    for v in (control, treatment):
        if "variant" in exposures.columns:
            part = base[(exposures["variant"].astype(str) == v).to_numpy()]
        else:
            part = base
        r = part.assign(variant=v).merge(resp, on=["true_segment", "channel", "variant"], how="left")
        r["_expected"] = r["_rate"] * r["_mult"]
        rates[v] = r.groupby(by_cols, observed=True)["_expected"].agg(lambda x: x.mean() if x.notna().all() else np.nan)
    out = pd.DataFrame({f"true_{control}": rates[control], f"true_{treatment}": rates[treatment]}).reset_index()
    for c in by_cols:
        out[c] = out[c].astype(str)
    out["true_lift"] = out[f"true_{treatment}"] / out[f"true_{control}"] - 1
    out["true_winner"] = np.where(out[f"true_{treatment}"] > out[f"true_{control}"], treatment, control)
    return out


def expected_winners(exposures: pd.DataFrame, by: list[str], control: str = CONTROL, treatment: str = TREATMENT,
                     metric: str = "ctr") -> pd.DataFrame:
    """The planted right answer per group from each impression's planted probabilities (``expected_ctr`` and, for
    ``metric="cpi"``, ``expected_cvr``, as the simulator's audience gave them to the text actually shown in its
    context): each variant's mean expected rate over the impressions it received, and the variant with the higher
    one. Same columns as :func:`truth_winners` (``true_<control>``, ``true_<treatment>``, ``true_lift``,
    ``true_winner``)."""
    if "expected_ctr" not in exposures:
        raise ValueError("the exposures carry no expected_ctr (no planted audience behind them)")
    rate = exposures["expected_ctr"].astype(float)
    if metric == "cpi":
        rate = rate * exposures["expected_cvr"].astype(float)
    by_cols = list(dict.fromkeys(by))
    base = exposures[by_cols].copy()
    base["_rate"] = rate.to_numpy()
    rates = {}
    for v in (control, treatment):
        part = base[(exposures["variant"].astype(str) == v).to_numpy()]
        rates[v] = part.groupby(by_cols, observed=True)["_rate"].mean()
    out = pd.DataFrame({f"true_{control}": rates[control], f"true_{treatment}": rates[treatment]}).reset_index()
    for c in by_cols:
        out[c] = out[c].astype(str)
    out["true_lift"] = out[f"true_{treatment}"] / out[f"true_{control}"] - 1
    out["true_winner"] = np.where(out[f"true_{treatment}"] > out[f"true_{control}"], treatment, control)
    return out
