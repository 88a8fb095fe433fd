"""What 05 found (:class:`FeedbackResult`): the analysis, its recorded metrics, its summary and the report's tables.

Small cells: every per-group table of the report (channel, segment, segment × channel, each variant) goes
through :meth:`FeedbackResult.withhold_small_cells` first: a row whose group has fewer than ``MIN_CELL`` users
(in that variant, or in the smaller arm of a comparison) has its figures withheld, the shared rule of
:mod:`contentlab.privacy`. Plots show :meth:`FeedbackResult.shown` rows only. The files written for the next cycle
(``feedback_priors.json``, ``ab_results.parquet``) keep every cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab.feedback import analysis as A
from contentlab.feedback import cuped, loop
from contentlab.feedback import stats as fs
from contentlab.feedback.config import FeedbackConfig
from contentlab.fmt import esc_md
from contentlab.privacy import MIN_CELL, small_cell_note

PERSON = "person_id"  # the customer behind an impression (``user_id`` becomes the randomisation unit's id)


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
    strategy: Any = None  # strategy.PublishingStrategy: send hour, channel and frequency cap per segment
    strategy_recovery: dict | None = None  # with planted truth: segments whose planted values were recovered
    policy_followed: dict | None = None  # the publishing policy the campaign followed (the previous cycle's)
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

    # the report's tables ----------------------------------------------------------------------------------
    SMALL_CELLS_NOTE = small_cell_note(what="segments, channels and variants")
    """Printed under a table whose rows the small-cell rule withheld."""

    @property
    def metric_label(self) -> str:
        return "CTR" if self.config.primary_metric == "ctr" else "conversions per impression"

    def data_markdown(self) -> str:
        """Where the exposures come from, who was left out and why, the notes, and the SRM check."""
        exp = self.exposures
        lines = [f"- Exposures: **{self.source}** — {len(exp):,} impressions, {exp[PERSON].nunique():,} users "
                 f"(randomised per {self.unit}), {exp['content_id'].nunique():,} pieces of copy, channels: "
                 f"{', '.join(sorted(exp['channel'].unique()))}."]
        lines += [f"- Left out: {n:,} users ({why})." for why, n in self.excluded.items()]
        lines += [f"- {n}" for n in self.notes]
        lines.append(("- ⚠️ " if self.srm.flag else "- ") + self.srm.describe())
        return "\n".join(lines)

    def srm_table(self) -> pd.DataFrame:
        """Randomisation units per variant against the planned split."""
        obs, unit = self.srm.observed, self.unit
        return pd.DataFrame({"variant": list(obs), f"{unit}s": list(obs.values()),
                             f"expected_{unit}s": [self.srm.expected[k] for k in obs],
                             "planned_share": [self.config.planned_split.get(k, float("nan")) for k in obs]})

    def comparison_table(self) -> pd.DataFrame:
        """Every comparison of the correction family, named for the report."""
        label, corr = self.metric_label, self.config.correction
        return self.comparison[["level", "segment", "channel", "rate_control", "rate_treatment", "lift", "lift_low",
                                "lift_high", "p", "p_chi2", "p_adj", "significant", "winner", "method"]].rename(
            columns={"rate_control": f"{label} template", "rate_treatment": f"{label} gpt2",
                     "p_chi2": "p (chi-square)", "p_adj": f"p adjusted ({corr})"})

    def secondary_table(self) -> pd.DataFrame:
        """Conversion and revenue comparisons per channel and per segment."""
        cmp = self.comparison
        cols = [c for c in ["level", "segment", "channel", "cvr_control", "cvr_treatment", "p_cvr_adj", "rpi_lift",
                            "rpi_lift_low", "rpi_lift_high", "p_rpi_adj", "rpu_control", "rpu_treatment", "rpu_diff",
                            "rpu_diff_low", "rpu_diff_high", "p_revenue_adj"] if c in cmp]
        return cmp[cmp["level"] != "segment x channel"][cols]

    def shown_posteriors(self) -> dict[str, dict]:
        """The channels' posteriors that the small-cell rule lets a plot show."""
        shown = set(self.shown(pd.DataFrame({"channel": list(self.posteriors)}))["channel"])
        return {ch: post for ch, post in self.posteriors.items() if ch in shown}

    def posterior_table(self) -> pd.DataFrame:
        """Per channel and variant: posterior mean, 95% credible interval, P(best), expected loss (points)."""
        rows = [{"channel": ch, "variant": v, "posterior_mean": p["mean"], "ci_low": p["ci_low"],
                 "ci_high": p["ci_high"], "p_best": p["p_best"], "expected_loss_pp": 100 * p["expected_loss"]}
                for ch, post in self.posteriors.items() for v, p in sorted(post.items())]
        return pd.DataFrame(rows)

    def cuped_table(self) -> pd.DataFrame | None:
        """The raw and the CUPED-adjusted difference per user (``None`` without CUPED)."""
        c = self.cuped
        if c is None:
            return None
        return pd.DataFrame([
            {"estimate": "raw", "diff_per_user": c.diff_raw, "ci_low": c.ci_low_raw, "ci_high": c.ci_high_raw,
             "p": c.p_raw},
            {"estimate": "CUPED", "diff_per_user": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high, "p": c.p}])

    def copy_coefficients(self) -> pd.DataFrame:
        """The copy features' rows of the click regression (not the variant, channel and segment controls)."""
        t = self.logit.table
        return t[~t["feature"].str.startswith(("variant_", "channel_", "segment_"))]

    def priors_table(self) -> pd.DataFrame:
        """The priors written for the next cycle, one row per segment x channel x variant."""
        return loop.priors_frame(self.priors)[["segment", "channel", "variant", "impressions", "clicks", "ctr_mean",
                                               "cvr_mean", "p_best", "recommended_share", "winner"]]

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
        if self.strategy is not None:
            out["best_hour"] = self.strategy.best_hour
            out["best_channel"] = self.strategy.best_channel
        if self.strategy_recovery is not None:
            out["hours_recovered"] = int(self.strategy_recovery["hours_recovered"])
            out["channels_recovered"] = int(self.strategy_recovery["channels_recovered"])
        return out

    def strategy_table(self) -> pd.DataFrame | None:
        """The publishing strategy per segment: send hour (± hour, bootstrap agreement), day, channel (P(best), where
        the evidence comes from), channel mix and frequency cap (messages per week, likelihood interval)."""
        if self.strategy is None:
            return None
        t = self.strategy.table.copy()
        if "channel_mix" in t:
            t["channel_mix"] = t["channel_mix"].map(
                lambda m: ", ".join(f"{k} {v:.0%}" for k, v in m.items()) if isinstance(m, dict) else "")
        return t

    def strategy_markdown(self) -> str:
        """One line per segment: when, where and how often to publish."""
        if self.strategy is None:
            return ""
        lines = []
        hidden = 0
        for r in self.strategy.table.itertuples():
            if pd.isna(getattr(r, "best_hour", np.nan)):
                continue
            if r.users < MIN_CELL:
                hidden += 1
                continue
            cap = getattr(r, "frequency_cap", None)
            cap_txt = (f"at most **{int(cap)}** messages per week (95% interval {int(r.cap_low)}–{int(r.cap_high)})"
                       if cap is not None and not pd.isna(cap) else "no frequency cap estimated")
            lines.append(f"- **{esc_md(str(r.segment))}**: send at **{int(r.best_hour):02d}:00** (± {int(r.hour_pm)} h, "
                         f"{r.hour_agreement:.0%} of bootstrap samples agree), best day {r.best_day}; channel "
                         f"**{esc_md(str(r.best_channel))}** (P(best) {r.channel_p_best:.0%}, from {r.channel_source}); "
                         f"{cap_txt}.")
        if self.strategy_recovery is not None:
            rc = self.strategy_recovery
            lines.append(f"- Planted truth: send hour recovered (within 1 h) in {rc['hours_recovered']} of "
                         f"{rc['segments_checked']} segments, best channel in {rc['channels_recovered']}, fatigue point "
                         f"(within one message per week) in {rc['caps_recovered']}.")
        if hidden:
            lines.append(f"- {hidden} segment(s) with fewer than {MIN_CELL} users not named.")
        lines += [f"- {esc_md(n)}" for n in self.strategy.notes]
        return "\n".join(lines)

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
                           "from the planted audience, which reads each text",
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
        if self.strategy is not None and self.strategy_markdown():
            parts.append("**Publishing strategy** (send hour and day from the event log, channel and frequency cap "
                         "from the exposure log):\n\n" + self.strategy_markdown())
        if self.priors_path is not None:
            parts.append(f"**The loop:** posteriors and Thompson-sampling traffic shares for the next campaign were "
                         f"written to `{self.priors_path.name}` ({len(self.priors['cells'])} segment × channel cells); "
                         f"the generation stage reads them on the next cycle.")
        if self.policy_followed is not None:
            parts.append(f"**Policy followed:** this campaign published under the policy learned by run "
                         f"{esc_md(self.policy_followed.get('learned_from', '?'))} (each segment's channel, send hour, "
                         f"frequency cap and variant shares; {self.policy_followed.get('exploration', 0):.0%} of users "
                         "explored random choices).")
        policy = (self.priors or {}).get("policy")
        if policy:
            parts.append("**Next cycle's policy** (written into the priors):\n\n"
                         + "\n".join(f"- {esc_md(n)}" for n in policy.get("notes", [])))
        return "\n\n".join(parts)
