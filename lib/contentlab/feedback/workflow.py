"""Everything 05 computes, in one call: :func:`run_feedback` returns a :class:`FeedbackResult`.

The notebook stays thin: it calls :func:`run_feedback`, shows the tables and plots, records
:meth:`FeedbackResult.metrics` and prints :meth:`FeedbackResult.summary_markdown`.

Exposure sources (``FeedbackConfig.exposures_source``):

- ``"campaign"``: a campaign simulated from the copy 04 published (``run_dir/content.parquet``) and the profiled
  users (``run_dir/user_profiles.parquet``), outcomes from the planted truth (:mod:`contentlab.feedback.campaign`);
- ``"dataset"``: the dataset's own ``exposures`` table (real logs, validated on load);
- ``"auto"``: ``"campaign"`` when the dataset has planted truth and 04's content exists, else ``"dataset"``.

Small cells: every per-group table of the report (channel, segment, segment × channel, each variant) goes
through :meth:`FeedbackResult.withhold_small_cells` first: a row whose group has fewer than ``MIN_CELL`` users
(in that variant, or in the smaller arm of a comparison) has its figures withheld, the shared rule of
:mod:`contentlab.privacy`. Plots show :meth:`FeedbackResult.shown` rows only. The files written for the next cycle
(``feedback_priors.json``, ``ab_results.parquet``) keep every cell.

Segments are 02's profile segments whenever ``user_profiles.parquet`` exists (that is what 04 generates for and
what the priors are keyed by); with planted truth each profile segment is labelled with the true segment most of
its users belong to (majority vote) and its right answer is the truth's expected rate under the segment's actual
mix of true segments and channels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab.feedback import analysis as A
from contentlab.feedback import bayes, campaign, cuped, loop
from contentlab.feedback import stats as fs
from contentlab.privacy import MIN_CELL

CONTENT_FILE = "content.parquet"
PROFILES_FILE = "user_profiles.parquet"
PERSONAS_FILE = "personas.json"
RESULTS_FILE = "ab_results.parquet"
EXPOSURES_FILE = "ab_exposures.parquet"  # the impressions analysed (audit trail; simulated campaign or the log)
UNPROFILED = "unprofiled"
PERSON = "person_id"  # the customer behind an impression (``user_id`` becomes the randomisation unit's id)


@dataclass
class FeedbackConfig:
    exposures_source: str = "auto"  # "auto" | "campaign" | "dataset"
    profile: str | None = None  # the run profile, recorded in feedback_priors.json (the next cycle reads its own)
    correction: str = "holm"  # "holm" | "bh"
    alpha: float = 0.05
    planned_split: dict[str, float] = field(default_factory=lambda: {"template": 0.5, "gpt2": 0.5})
    control: str = "template"
    treatment: str = "gpt2"
    primary_metric: str = "ctr"  # "ctr" | "cpi"
    randomisation_unit: str = "auto"  # "auto" | "user" | "impression"
    cuped: bool = True
    cuped_covariate: str = "views"  # "views" | "events" | "spend" (pre-period, from events)
    impressions_per_user: float = 40.0  # simulated campaign: mean impressions per user
    campaign_days: int = 14
    include_flagged: bool = False
    power: float = 0.8
    target_lift: float = 0.10
    thompson_min_share: float = 0.05
    posterior_draws: int = 20000

    def __post_init__(self) -> None:
        if self.exposures_source not in ("auto", "campaign", "dataset"):
            raise ValueError("exposures_source must be 'auto', 'campaign' or 'dataset'")
        if self.correction not in ("holm", "bh"):
            raise ValueError("correction must be 'holm' or 'bh'")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if self.randomisation_unit not in ("auto", "user", "impression"):
            raise ValueError("randomisation_unit must be 'auto', 'user' or 'impression'")
        if self.primary_metric not in A.PRIMARY_METRICS:
            raise ValueError(f"primary_metric must be one of {sorted(A.PRIMARY_METRICS)}")
        missing = {self.control, self.treatment} - set(self.planned_split)
        if missing:
            raise ValueError(f"planned_split needs a share for {sorted(missing)}")


@dataclass
class FeedbackResult:
    config: FeedbackConfig
    source: str
    exposures: pd.DataFrame
    notes: list[str]
    excluded: dict[str, int]
    srm: fs.SRMResult
    users_in_several_variants: int
    unit: str  # randomisation unit the analysis used: "user" or "impression"
    rates: dict[str, pd.DataFrame]  # "overall", "channel", "segment", "segment x channel"
    comparison: pd.DataFrame
    verdicts: dict[str, dict]
    posteriors: dict[str, dict]  # channel -> variant -> posterior summary
    cuped: cuped.CupedResult | None
    cuped_note: str
    power: pd.DataFrame
    daily: pd.DataFrame
    cumulative: pd.DataFrame
    logit: A.LogitResult | None
    segment_map: pd.DataFrame | None  # profile segment -> true segment, purity
    truth_table: pd.DataFrame | None  # per segment: analysis winner vs planted winner
    copy_truth: pd.DataFrame | None = None  # planted copy effects vs the regression's estimates
    priors: dict | None = None
    priors_path: Path | None = None
    results_path: Path | None = None

    # -------------------------------------------------------------------------------------------------------
    @property
    def has_truth(self) -> bool:
        return self.truth_table is not None and not self.truth_table.empty

    @property
    def winners(self) -> dict[str, str]:
        return {ch: v["winner"] for ch, v in self.verdicts.items()}

    @property
    def planted_truth_agrees(self) -> bool | None:
        if not self.has_truth:
            return None
        return bool(self.truth_table["agrees"].all())

    # small cells -------------------------------------------------------------------------------------------
    def _users_by_cell(self) -> dict[tuple[str, str, str], int]:
        cached = getattr(self, "_cell_users_cache", None)
        if cached is not None:
            return cached
        exp = self.exposures
        counts: dict[tuple[str, str, str], int] = {}
        for keys in ([], ["segment"], ["channel"], ["segment", "channel"]):
            n = exp.groupby([*keys, "variant"], observed=True)[PERSON].nunique()
            for idx, value in n.items():
                idx = idx if isinstance(idx, tuple) else (idx,)
                labels = dict(zip([*keys, "variant"], map(str, idx)))
                counts[(labels.get("segment", A.ALL), labels.get("channel", A.ALL), labels["variant"])] = int(value)
        self._cell_users_cache = counts
        return counts

    def cell_users(self, table: pd.DataFrame) -> pd.Series:
        """Users behind each row of a per-group table (columns ``segment`` / ``channel``, ``"all"`` or absent =
        pooled): with a ``variant`` column the users shown that variant, else the users of the smaller arm."""
        counts = self._users_by_cell()
        arms = [self.config.control, self.config.treatment]
        out = []
        for _, row in table.iterrows():
            seg = str(row["segment"]) if "segment" in table else A.ALL
            ch = str(row["channel"]) if "channel" in table else A.ALL
            if "variant" in table:
                out.append(counts.get((seg, ch, str(row["variant"])), 0))
            else:
                out.append(min(counts.get((seg, ch, v), 0) for v in arms))
        return pd.Series(out, index=table.index, dtype="int64")

    def withhold_small_cells(self, table: pd.DataFrame, value_cols: list[str] | None = None,
                             min_cell: int = MIN_CELL) -> tuple[pd.DataFrame, int]:
        """A per-group table for display under the small-cell rule; returns ``(table, rows withheld)``.

        Adds the users behind each row (``users`` per variant, or ``smaller_arm_users`` for a comparison) and
        withholds every figure of the rows under ``min_cell`` (all columns except the group labels, unless
        ``value_cols`` names them)."""
        from contentlab.report import withhold_small_cells

        labels = [c for c in ("level", "segment", "true_segment", "channel", "variant", "feature") if c in table]
        count_col = "users" if "variant" in table else "smaller_arm_users"
        t = table.copy()
        users = self.cell_users(t)
        if count_col in t:
            t[count_col] = users
        else:
            t.insert(max((t.columns.get_loc(c) for c in labels), default=-1) + 1, count_col, users)
        cols = value_cols if value_cols is not None else [c for c in t.columns if c not in labels and c != count_col]
        return withhold_small_cells(t, count_col, cols, min_cell)

    def shown(self, table: pd.DataFrame, min_cell: int = MIN_CELL) -> pd.DataFrame:
        """The rows of a per-group table that the small-cell rule lets a plot show."""
        return table[self.cell_users(table) >= min_cell]

    def metrics(self) -> dict[str, Any]:
        """The recorded metrics (fixed names) plus a few context values."""
        cmp = self.comparison
        out = {
            "srm_p": self.srm.p,
            "srm_flag": self.srm.flag,
            "n_variants": int(self.exposures["variant"].nunique()),
            "n_tests": int(cmp["p"].notna().sum()),
            "n_significant_after_correction": int(cmp["significant"].sum()),
            "winner": self.winners,
            "exposures_source": self.source,
            "impressions": int(len(self.exposures)),
            "users": int(self.exposures[PERSON].nunique()),
            "randomisation_unit": self.unit,
        }
        if self.cuped is not None:
            out["cuped_variance_reduction"] = self.cuped.variance_reduction
        if self.has_truth:
            out["planted_truth_agrees"] = self.planted_truth_agrees
            out["segments_agreeing"] = int(self.truth_table["agrees"].sum())
            out["segments_contradicting"] = int(self.truth_table["contradicts"].sum())
            out["segments_checked"] = int(len(self.truth_table))
        return out

    def _shown_cells(self) -> set[tuple[str, str]]:
        rows = pd.DataFrame([{"segment": A.ALL, "channel": str(ch)} for ch in self.verdicts])
        if rows.empty:
            return set()
        rows = self.shown(rows)
        return set(zip(rows["segment"], rows["channel"]))

    def summary_markdown(self) -> str:
        """Summary first: SRM alarm (if any), one verdict per channel, truth check, the loop."""
        cfg = self.config
        parts = []
        if self.srm.flag:
            parts.append("### ⚠️ Sample ratio mismatch\n\n" + self.srm.describe())
        src = {"campaign": "a campaign simulated from the copy the generation stage published, outcomes drawn "
                           "from the planted response",
               "dataset": "the dataset's own exposure log"}[self.source]
        corr = {"holm": "Holm", "bh": "Benjamini–Hochberg"}[cfg.correction]
        parts.append(
            f"**A/B test of `{cfg.treatment}` against `{cfg.control}` copy** on {len(self.exposures):,} impressions "
            f"to {self.exposures[PERSON].nunique():,} users ({src}; randomised by {self.unit}). Primary metric: "
            f"{'click-through rate' if cfg.primary_metric == 'ctr' else 'conversions per impression'}; "
            f"{int(self.comparison['p'].notna().sum())} comparisons (per channel, per segment, per segment × channel) "
            f"corrected together with {corr} at α = {cfg.alpha}; "
            f"{int(self.comparison['significant'].sum())} are significant after correction.")
        small = {(A.ALL, str(ch)) for ch in self.verdicts} - self._shown_cells()
        for ch, v in self.verdicts.items():
            if (A.ALL, str(ch)) in small:
                parts.append(f"- **{ch}**: figures withheld (fewer than {MIN_CELL} users in an arm).")
            else:
                parts.append("- " + v["text"])
        if not self.srm.flag:
            parts.append(self.srm.describe())
        if self.has_truth:
            t = self.truth_table
            agree = int(t["agrees"].sum())
            shown = self.shown(t)
            lines = ", ".join(f"{r.segment} → {r.analysis_winner} (planted: {r.true_winner})" for r in shown.itertuples())
            if len(shown) < len(t):
                lines += (f"{'; ' if len(shown) else ''}{len(t) - len(shown)} segment(s) with fewer than {MIN_CELL} "
                          "users in an arm not named")
            wrong = int(t["contradicts"].sum())
            open_ = int((t["analysis_winner"] == A.INCONCLUSIVE).sum())
            if self.planted_truth_agrees:
                verdict = f"agrees with the simulator's planted response in all {len(t)} segments"
            elif wrong:
                verdict = (f"CONTRADICTS the simulator's planted response in {wrong} of {len(t)} segments "
                           f"(a significant winner that is not the planted one)")
            else:
                verdict = (f"does not contradict the simulator's planted response, but {open_} of {len(t)} segments "
                           f"are inconclusive at this sample size, so it does not confirm it either")
            parts.append(f"**Planted truth check:** the per-segment finding {verdict} ({agree} of {len(t)} "
                         f"segments match): {lines}.")
        if self.copy_truth is not None:
            for r in self.copy_truth.itertuples():
                parts.append(f"**Copy:** `{r.feature}` — planted CTR × {r.planted_ctr_multiplier:g} (log-odds "
                             f"{r.planted_log_odds:+.3f}); estimated {r.estimate:+.3f} (95% CI {r.ci_low:+.3f} to "
                             f"{r.ci_high:+.3f}), {'covers' if r.covered else 'misses'} the planted effect.")
        if self.priors_path is not None:
            parts.append(f"**The loop:** posteriors and Thompson-sampling traffic shares for the next campaign were "
                         f"written to `{self.priors_path.name}` ({len(self.priors['cells'])} segment × channel cells); "
                         f"the generation stage reads them on the next cycle.")
        return "\n\n".join(parts)


# ------------------------------------------------------------------------------------------------------------
# Inputs


def _read_parquet(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


class NoExposuresError(ValueError):
    """Nothing to analyse: no exposure log and no way to simulate a campaign (the stage does not apply yet)."""


def resolve_source(ds, run_dir: Path, requested: str) -> str:
    has_response = bool(ds.truth) and ds.truth.get("response") is not None
    has_content = (run_dir / CONTENT_FILE).exists() and (run_dir / PROFILES_FILE).exists()
    has_log = ds.has("exposures") and len(ds.tables["exposures"]) > 0
    if requested == "auto":
        if has_response and has_content:
            return "campaign"
        if has_log:
            return "dataset"
        raise NoExposuresError("no exposures to analyse: the dataset has no exposure log yet and no campaign can "
                               "be simulated (that needs the simulator's planted response plus content.parquet and "
                               "user_profiles.parquet). Publish the copy from 04, log its impressions in the "
                               "exposures table, and the next run analyses them.")
    if requested == "campaign":
        if not has_response:
            raise ValueError("exposures_source='campaign' needs a simulated dataset (planted truth['response'])")
        if not has_content:
            raise ValueError(f"exposures_source='campaign' needs {CONTENT_FILE} (stage 04) and {PROFILES_FILE} "
                             f"(stage 02) in {run_dir}")
        return "campaign"
    if not has_log:
        raise ValueError("exposures_source='dataset' but the dataset has no exposures table")
    return "dataset"


def _favourite_categories(run_dir: Path) -> dict[str, list[str]]:
    path = run_dir / PERSONAS_FILE
    if not path.exists():
        return {}
    try:
        personas = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}
    out = {}
    for p in personas if isinstance(personas, list) else []:
        cats = [str(c) for c in p.get("favourite_categories") or []]
        words = set()
        for c in cats:  # "T-Shirts" should match "t-shirt" and "tshirt"
            low = c.lower()
            words |= {low, low.rstrip("s"), low.replace("-", "").rstrip("s"), low.replace("-", " ").rstrip("s")}
        out[str(p.get("segment"))] = sorted(w for w in words if len(w) >= 3)
    return out


def _campaign_start(ds) -> pd.Timestamp:
    if ds.has("events") and len(ds.events):
        return pd.Timestamp(ds.events["timestamp"].max()).normalize() + pd.Timedelta(days=1)
    return pd.Timestamp("2026-01-05")


# ------------------------------------------------------------------------------------------------------------
# Main entry point


def run_feedback(ds, run_dir: str | Path, config: FeedbackConfig | None = None, seed: int = 0,
                 write: bool = True) -> FeedbackResult:
    """Build or load the exposures, run every analysis, write ``feedback_priors.json``, ``ab_results.parquet``
    (every comparison) and ``ab_exposures.parquet`` (the impressions analysed)."""
    cfg = config or FeedbackConfig()
    run_dir = Path(run_dir)
    source = resolve_source(ds, run_dir, cfg.exposures_source)
    truth = ds.truth if ds.truth else None
    notes: list[str] = []
    excluded: dict[str, int] = {}
    profiles = _read_parquet(run_dir / PROFILES_FILE)
    content = _read_parquet(run_dir / CONTENT_FILE)

    if source == "campaign":
        plan = campaign.build_assignments(content, profiles, seed=seed, impressions_per_user=cfg.impressions_per_user,
                                          split=cfg.planned_split, include_flagged=cfg.include_flagged,
                                          channels=set(truth["response"]["channel"].astype(str)))
        notes += plan.notes
        excluded.update(plan.excluded)
        if plan.assignments.empty:
            raise ValueError("the campaign has no audience: no profiled user has published copy in every variant")
        start = _campaign_start(ds)
        exp = campaign.simulate_exposures(plan, truth, seed=seed, start=start, n_days=cfg.campaign_days)
        # copy properties the simulator's planted copy effects act on (part of the right answer)
        props = plan.assignments.drop_duplicates("content_id").set_index("content_id")
        for feat in (truth.get("copy_effects") or {}):
            if feat in props.columns:
                exp[feat] = exp["content_id"].map(props[feat]).fillna(False).astype(bool)
        notes.append(f"campaign of {cfg.campaign_days} days from {start.date()} (after the event log ends), "
                     f"{plan.audience:,} users, on average {cfg.impressions_per_user:g} impressions per user")
    else:
        exp = ds.exposures.copy()
        if profiles is not None:
            seg = pd.Series(profiles["segment"].astype(str).to_numpy(), index=profiles["user_id"].astype(str))
            if "segment" in exp:
                exp["logged_segment"] = exp["segment"].astype(str)
            exp["segment"] = exp["user_id"].astype(str).map(seg).fillna(UNPROFILED)
            notes.append("segments are the profile segments of stage 02 (the logged segment is kept as "
                         "logged_segment)")
        exp = campaign.attach_true_segment(exp, truth)
    exp = A.prepare_exposures(exp)

    # integrity first
    several = A.users_in_several_variants(exp)
    unit = cfg.randomisation_unit
    if unit == "auto":
        # a log where most users saw both variants was randomised per impression
        unit = "impression" if several > 0.5 * exp["user_id"].nunique() else "user"
    exp[PERSON] = exp["user_id"]
    if unit == "impression":
        # every impression is its own randomisation unit: the user-level machinery then works per impression
        exp["user_id"] = pd.RangeIndex(len(exp)).astype(str)
        notes.append(f"randomised per impression ({several:,} users saw both variants): tests, SRM and intervals "
                     "treat impressions as the independent units")
    elif several:
        notes.append(f"{several:,} users saw more than one variant (assignment leak: their impressions count for the "
                     "variant shown, but they contaminate the comparison)")
    srm = A.srm_check(exp, cfg.planned_split)

    rates = {"overall": A.rate_table(exp, [], cfg.alpha), "channel": A.rate_table(exp, ["channel"], cfg.alpha),
             "segment": A.rate_table(exp, ["segment"], cfg.alpha),
             "segment x channel": A.rate_table(exp, ["segment", "channel"], cfg.alpha)}
    comparison = A.compare_variants(exp, control=cfg.control, treatment=cfg.treatment, primary=cfg.primary_metric,
                                    alpha=cfg.alpha, correction=cfg.correction, seed=seed)
    verdicts = A.channel_verdicts(comparison, srm, cfg.alpha)

    num_col = A.PRIMARY_METRICS[cfg.primary_metric][0]
    num_flag = "clicked" if num_col == "clicks" else "converted"
    posteriors = {}
    for ch, g in exp.groupby("channel", sort=True):
        variants = sorted(g["variant"].unique())
        k = [int(g.loc[g["variant"] == v, num_flag].sum()) for v in variants]
        n = [int((g["variant"] == v).sum()) for v in variants]
        posteriors[str(ch)] = bayes.posterior_summary(k, n, variants, draws=cfg.posterior_draws, seed=seed)

    cuped_res, cuped_note = None, ""
    if cfg.cuped:
        cuped_res, cuped_note = _run_cuped(ds, exp, cfg, num_flag)

    power = A.power_table(rates["segment"], alpha=cfg.alpha, power=cfg.power, target_lift=cfg.target_lift,
                          impressions_per_user=float(len(exp) / max(exp[PERSON].nunique(), 1)))
    daily = A.daily_ctr(exp, cfg.alpha) if "timestamp" in exp else pd.DataFrame()
    cumulative = A.cumulative_lift(exp, cfg.control, cfg.treatment, cfg.alpha) if "timestamp" in exp else pd.DataFrame()

    logit = None
    if content is not None and "content_id" in content:
        cont = campaign.published_copy(content).copy()
        cont["content_id"] = cont["content_id"].astype(str)
        if "segment" not in cont and "user_id" in cont and profiles is not None:
            seg = dict(zip(profiles["user_id"].astype(str), profiles["segment"].astype(str)))
            cont["segment"] = cont["user_id"].astype(str).map(seg)
        feats = A.copy_features(cont, _favourite_categories(run_dir))
        if exp["content_id"].isin(feats["content_id"]).any():
            logit = A.copy_logit(exp, feats, cfg.alpha)
        else:
            notes.append("the exposures' content ids do not match content.parquet: no copy-feature regression")

    segment_map, truth_table = None, None
    if truth is not None and truth.get("response") is not None and "true_segment" in exp \
            and exp["true_segment"].notna().all():
        segment_map, truth_table = _truth_check(exp, comparison, truth, cfg)

    copy_truth = None
    if truth is not None and logit is not None and not logit.table.empty and truth.get("copy_effects"):
        copy_truth = _copy_truth(exp, logit, truth["copy_effects"])

    result = FeedbackResult(cfg, source, exp, notes, excluded, srm, several, unit, rates, comparison, verdicts, posteriors,
                            cuped_res, cuped_note, power, daily, cumulative, logit, segment_map, truth_table,
                            copy_truth)
    if write:
        _write_outputs(result, run_dir, ds, seed)
    return result


def _run_cuped(ds, exp: pd.DataFrame, cfg: FeedbackConfig, num_flag: str) -> tuple[cuped.CupedResult | None, str]:
    if not ds.has("events") or "timestamp" not in exp:
        return None, "CUPED skipped: no events table to build a pre-period covariate from"
    start = exp["timestamp"].min()
    users = exp.groupby("user_id").agg(y=(num_flag, "sum"), n=(num_flag, "size"), variant=("variant", "first"),
                                       person=(PERSON, "first"))
    users = users[users["variant"].isin([cfg.control, cfg.treatment])]
    x = cuped.pre_period_covariate(ds.events, users["person"].unique(), before=start, kind=cfg.cuped_covariate)
    xu = users["person"].astype(str).map(x).fillna(0.0).to_numpy(float)
    if np.var(xu) == 0:
        return None, "CUPED skipped: the pre-period covariate is constant"
    res = cuped.cuped_ttest(users["y"].to_numpy(float), xu, (users["variant"] == cfg.treatment).to_numpy(), cfg.alpha)
    what = {"views": "product views", "events": "events", "spend": "spend"}[cfg.cuped_covariate]
    note = (f"CUPED on {num_flag.replace('clicked', 'clicks').replace('converted', 'conversions')} per user with "
            f"pre-campaign {what} as covariate (before {pd.Timestamp(start).date()}): θ = {res.theta:.4g}, variance "
            f"reduced by {100 * res.variance_reduction:.1f}%, CI width × {res.ci_width_ratio:.3f}.")
    return res, note


def _copy_truth(exp: pd.DataFrame, logit: A.LogitResult, effects: dict[str, float]) -> pd.DataFrame | None:
    """Planted multiplicative CTR effects as log-odds at the campaign's CTR, next to the regression's estimates."""
    rows = []
    t = logit.table.set_index("feature")
    for feat, mult in effects.items():
        if feat not in t.index or feat not in exp.columns:
            continue
        p = float(exp.loc[~exp[feat].astype(bool), "clicked"].mean())
        planted = float(np.log(mult) + np.log((1 - p) / (1 - mult * p)))  # logit(m p) - logit(p)
        r = t.loc[feat]
        rows.append({"feature": feat, "planted_ctr_multiplier": float(mult), "planted_log_odds": planted,
                     "estimate": float(r["coef"]), "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
                     "covered": bool(r["ci_low"] <= planted <= r["ci_high"])})
    return pd.DataFrame(rows) if rows else None


def _truth_check(exp: pd.DataFrame, comparison: pd.DataFrame, truth: dict, cfg: FeedbackConfig):
    seg_users = exp.drop_duplicates(PERSON)[[PERSON, "segment", "true_segment"]]
    ct = pd.crosstab(seg_users["segment"], seg_users["true_segment"])
    segment_map = pd.DataFrame({"segment": ct.index.astype(str), "true_segment": ct.idxmax(axis=1).to_numpy(),
                                "purity": (ct.max(axis=1) / ct.sum(axis=1)).to_numpy(),
                                "users": ct.sum(axis=1).to_numpy()})
    metric = "ctr" if cfg.primary_metric == "ctr" else "cpi"
    tw = A.truth_winners(exp, truth["response"], ["segment"], cfg.control, cfg.treatment, metric,
                         copy_effects=truth.get("copy_effects") or {})
    seg_cmp = comparison[comparison["level"] == "segment"][["segment", "winner", "lift", "lift_low", "lift_high",
                                                            "p_adj"]]
    t = segment_map.merge(tw, on="segment").merge(seg_cmp.rename(columns={"winner": "analysis_winner"}), on="segment")
    t["covers_true_lift"] = (t["lift_low"] <= t["true_lift"]) & (t["true_lift"] <= t["lift_high"])
    t["agrees"] = t["analysis_winner"] == t["true_winner"]
    t["contradicts"] = (t["analysis_winner"] != A.INCONCLUSIVE) & ~t["agrees"]
    loses = set(truth.get("gpt2_loses_in") or [])
    t["gpt2_loses_here"] = t["true_segment"].isin(loses)
    return segment_map, t


def _write_outputs(result: FeedbackResult, run_dir: Path, ds, seed: int) -> None:
    cfg = result.config
    exp = result.exposures
    counts = exp.groupby(["segment", "channel", "variant"], observed=True).agg(
        impressions=("clicked", "size"), clicks=("clicked", "sum"), conversions=("converted", "sum"),
        revenue=("revenue", "sum")).reset_index()
    cells = result.comparison[result.comparison["level"] == "segment x channel"]
    winners = {(r.segment, r.channel): (None if r.winner == A.INCONCLUSIVE else r.winner) for r in cells.itertuples()}
    channel_winners = {ch: (None if v["winner"] == A.INCONCLUSIVE else v["winner"]) for ch, v in result.verdicts.items()}
    extra: dict[str, Any] = {"srm_p": result.srm.p, "srm_flag": result.srm.flag,
                             "trustworthy": not result.srm.flag, "correction": cfg.correction, "alpha": cfg.alpha}
    if result.has_truth:
        extra["planted_truth_agrees"] = result.planted_truth_agrees
    result.priors = loop.build_priors(
        counts, run_id=run_dir.name, profile=cfg.profile, control=cfg.control, metric=cfg.primary_metric,
        min_share=cfg.thompson_min_share, draws=cfg.posterior_draws, seed=seed, winners=winners,
        channel_winners=channel_winners,
        source={"exposures_source": result.source, "dataset": getattr(ds, "name", ""), "exposures": int(len(exp))},
        extra=extra)
    result.priors_path = loop.write_priors(run_dir, result.priors)
    out = result.comparison.copy()
    out["correction"] = cfg.correction
    out["primary_metric"] = cfg.primary_metric
    out["srm_flag"] = result.srm.flag
    result.results_path = run_dir / RESULTS_FILE
    out.to_parquet(result.results_path, index=False)
    audit = exp.copy()
    if result.unit == "impression":
        audit = audit.rename(columns={"user_id": "unit_id"})
        audit["user_id"] = audit[PERSON]
    audit.drop(columns=[PERSON]).to_parquet(run_dir / EXPOSURES_FILE, index=False)


def config_dict(cfg: FeedbackConfig) -> dict:
    return asdict(cfg)
