"""Everything 05 computes, in one call: :func:`run_feedback` returns a :class:`FeedbackResult`.

The notebook stays thin: it calls :func:`run_feedback`, shows the tables and plots, records
:meth:`FeedbackResult.metrics` and prints :meth:`FeedbackResult.summary_markdown`.

Inputs come through :mod:`contentlab.contract`: the runner hands the stage ``inputs`` (``{product name: path or
None}``): 01's ``clean`` tables and ``dataset`` metadata (required), 04's ``content``, 02's ``user_profiles`` and
``personas`` (used when present). A notebook opened by hand gets ``inputs = {}``: they are resolved from ``run_dir``
(:func:`contentlab.contract.resolve_inputs`); with no ``run_dir`` at all a scratch run directory is prepared from the
``dataset`` spec. The stage writes the contract's ``ab_results`` and ``ab_exposures`` and, through
:func:`contentlab.feedback.loop.write_priors`, ``feedback_priors``. :func:`analyse` is the same analysis on tables
in memory, without reading or writing files.

Exposure sources (``FeedbackConfig.exposures_source``):

- ``"campaign"``: a campaign simulated from the copy 04 published (``content``) and the profiled users
  (``user_profiles``), outcomes from the planted truth (:mod:`contentlab.feedback.campaign`);
- ``"dataset"``: the dataset's own ``exposures`` table (real logs, validated on load);
- ``"auto"``: ``"campaign"`` when the dataset has planted truth and 04's content exists, else ``"dataset"``.

Segments are 02's profile segments whenever ``user_profiles`` exists (that is what 04 generates for and
what the priors are keyed by); with planted truth each profile segment is labelled with the true segment most of
its users belong to (majority vote) and its right answer is the truth's expected rate under the segment's actual
mix of true segments and channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab import config as project
from contentlab import contract, pipeline
from contentlab.data.io import Dataset
from contentlab.data.simulate.audience import expected_rates, has_planted_response, reads_text, response_channels
from contentlab.feedback import analysis as A
from contentlab.feedback import bayes, campaign, cuped, loop, strategy
from contentlab.feedback.config import FeedbackConfig
from contentlab.feedback.policy import learn_policy
from contentlab.feedback.result import PERSON, FeedbackResult
from contentlab.priors import favourite_words, of_profile, policy_of, validate_priors

__all__ = ["FeedbackConfig", "FeedbackResult", "NoExposuresError", "PERSON", "STAGE", "UNPROFILED", "analyse",
           "favourite_categories", "resolve_source", "run_feedback", "write_outputs"]

STAGE = "05_feedback"
UNPROFILED = "unprofiled"


# ------------------------------------------------------------------------------------------------------------
# Inputs


class NoExposuresError(ValueError):
    """Nothing to analyse: no exposure log and no way to simulate a campaign (the stage does not apply yet)."""


def resolve_source(ds: Dataset, requested: str, content: pd.DataFrame | None = None,
                   profiles: pd.DataFrame | None = None) -> str:
    """Where the exposures come from (see the module docstring); raises when ``requested`` cannot be served."""
    has_response = has_planted_response(ds.truth)
    has_content = content is not None and profiles is not None
    has_log = ds.has("exposures") and len(ds.tables["exposures"]) > 0
    content_file, profiles_file = contract.product("content").path, contract.product("user_profiles").path
    if requested == "auto":
        if has_response and has_content:
            return "campaign"
        if has_log:
            return "dataset"
        raise NoExposuresError("no exposures to analyse: the dataset has no exposure log yet and no campaign can "
                               f"be simulated (that needs the simulator's planted response plus {content_file} and "
                               f"{profiles_file}). Publish the copy from 04, log its impressions in the "
                               "exposures table, and the next run analyses them.")
    if requested == "campaign":
        if not has_response:
            raise ValueError("exposures_source='campaign' needs a simulated dataset (the planted audience, "
                             "truth['audience'])")
        if not has_content:
            raise ValueError(f"exposures_source='campaign' needs {content_file} (stage 04) and {profiles_file} "
                             f"(stage 02)")
        return "campaign"
    if not has_log:
        raise ValueError("exposures_source='dataset' but the dataset has no exposures table")
    return "dataset"


def favourite_categories(personas: list[dict] | None) -> dict[str, list[str]]:
    """Per persona segment, the words that name its favourite categories (:func:`contentlab.priors.favourite_words`,
    the same words 04 reranks by)."""
    return favourite_words(personas)


def _campaign_start(ds: Dataset) -> pd.Timestamp:
    if ds.has("events") and len(ds.events):
        return pd.Timestamp(ds.events["timestamp"].max()).normalize() + pd.Timedelta(days=1)
    return pd.Timestamp("2026-01-05")


# ------------------------------------------------------------------------------------------------------------
# Main entry point


def run_feedback(config: FeedbackConfig | None = None, inputs: Mapping[str, str | None] | None = None, *,
                 run_dir: str | Path = "", write: bool = True) -> FeedbackResult:
    """Read the stage's inputs, build or load the exposures, run every analysis and (``write``) write
    ``feedback_priors``, ``ab_results`` (every comparison) and ``ab_exposures`` (the impressions analysed) into
    ``run_dir`` (01's products must be there: a stage never prepares data)."""
    cfg = config or FeedbackConfig()
    run_dir = project.stage_run_dir(run_dir, STAGE, cfg.profile or "adhoc")
    handed = contract.Inputs.for_stage(STAGE, inputs, run_dir)
    ds = pipeline.load_prepared(run_dir)
    previous = _previous_priors(handed, cfg) if cfg.use_policy else None
    result = analyse(ds, cfg, content=handed.optional("content"), profiles=handed.optional("user_profiles"),
                     personas=handed.optional("personas"), run_id=run_dir.name, previous_priors=previous)
    if write:
        write_outputs(result, run_dir)
    return result


def _previous_priors(handed: contract.Inputs, cfg: FeedbackConfig) -> dict | None:
    """The previous cycle's priors (for the policy its campaign follows) when well-formed and of this profile."""
    key = contract.previous_key("feedback_priors")
    if handed.path(key) is None:
        return None
    try:
        priors = handed.optional(key)
        validate_priors(priors)
    except (ValueError, KeyError, OSError):
        return None
    return priors if of_profile(priors, cfg.profile) else None


def analyse(ds: Dataset, config: FeedbackConfig | None = None, *, content: pd.DataFrame | None = None,
            profiles: pd.DataFrame | None = None, personas: list[dict] | None = None,
            run_id: str = "", previous_priors: dict | None = None) -> FeedbackResult:
    """Everything 05 computes, from tables in memory: the prepared dataset, 04's ``content``, 02's ``profiles``
    and ``personas`` (each optional); ``run_id`` names the run in the priors for the next cycle;
    ``previous_priors``: the previous cycle's priors, whose publishing policy the campaign follows."""
    cfg = config or FeedbackConfig()
    seed = cfg.seed
    source = resolve_source(ds, cfg.exposures_source, content, profiles)
    truth = ds.truth if ds.truth else None
    notes: list[str] = []
    excluded: dict[str, int] = {}
    policy = policy_of(previous_priors) if cfg.use_policy else None
    split = cfg.planned_split

    if source == "campaign" and (policy is not None or cfg.policy_campaign):
        start = _campaign_start(ds) + pd.Timedelta(days=cfg.campaign_offset_days)
        plan = campaign.policy_campaign(content, profiles, policy, seed=seed, start=start, n_days=cfg.campaign_days,
                                        default_per_week=cfg.impressions_per_user * 7.0 / cfg.campaign_days,
                                        include_flagged=cfg.include_flagged, channels=response_channels(truth),
                                        variants=(cfg.control, cfg.treatment),
                                        exploration=cfg.exploration if policy is None else None)
        notes += plan.notes
        excluded.update(plan.excluded)
        if plan.assignments.empty:
            raise ValueError("the campaign has no audience: no profiled user has published copy in every variant")
        exp = campaign.simulate_exposures(plan, truth, seed=seed, n_days=cfg.campaign_days,
                                          products=ds.products if ds.has("products") else None)
        exp["arm"] = plan.assignments["arm"].to_numpy()
        split = plan.split or split
        notes.append(f"campaign of {cfg.campaign_days} days from {start.date()}, {plan.audience:,} users, "
                     f"{len(exp) / max(plan.audience, 1):.1f} impressions per user on average; expected variant "
                     f"split {', '.join(f'{k} {v:.1%}' for k, v in split.items())}")
    elif source == "campaign":
        plan = campaign.build_assignments(content, profiles, seed=seed, impressions_per_user=cfg.impressions_per_user,
                                          split=cfg.planned_split, include_flagged=cfg.include_flagged,
                                          channels=response_channels(truth))
        notes += plan.notes
        excluded.update(plan.excluded)
        if plan.assignments.empty:
            counts: dict = {}
            if content is not None and len(content):
                pub = content[content["published"].astype(bool)]
                if "content_type" in pub.columns:
                    pub = pub[pub["content_type"] == "copy"]
                counts = pub["variant"].value_counts().to_dict()
            shown = ", ".join(f"{v}: {counts.get(v, 0)}" for v in sorted(set(cfg.planned_split) | set(counts)))
            raise NoExposuresError(
                "there is nothing to compare: no segment has published copy in every variant of the test "
                f"(published copies per variant: {shown or 'none'}), so no campaign can be run; the generation "
                "stage's report says why copy was not published")
        start = _campaign_start(ds) + pd.Timedelta(days=cfg.campaign_offset_days)
        exp = campaign.simulate_exposures(plan, truth, seed=seed, start=start, n_days=cfg.campaign_days,
                                          products=ds.products if ds.has("products") else None)
        # copy properties that the copy effects of a response planted by hand act on (part of the right answer)
        props = plan.assignments.drop_duplicates("content_id").set_index("content_id")
        for feat in (truth.get("copy_effects") or {}):
            if feat in props.columns:
                exp[feat] = exp["content_id"].map(props[feat]).fillna(False).astype(bool)
        notes.append(f"campaign of {cfg.campaign_days} days from {start.date()} (after the event log ends), "
                     f"{plan.audience:,} users, on average {cfg.impressions_per_user:g} impressions per user")
    if source == "campaign":
        weekly = strategy.weekly_messages(exp)
        notes.append(f"messages (email, push) a user had received in the week up to each impression: median "
                     f"{np.median(weekly):g}, 90th percentile {np.quantile(weekly, 0.9):g} (compare the frequency "
                     "caps of the publishing strategy: beyond them click-through falls)")
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
        exp = _expected_for_log(exp, ds, notes)
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
    srm = A.srm_check(exp, split)

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

    logit, feats = None, None
    if content is not None and "content_id" in content:
        cont = campaign.published_copy(content).copy()
        cont["content_id"] = cont["content_id"].astype(str)
        if "segment" not in cont and "user_id" in cont and profiles is not None:
            seg = dict(zip(profiles["user_id"].astype(str), profiles["segment"].astype(str)))
            cont["segment"] = cont["user_id"].astype(str).map(seg)
        feats = A.copy_features(cont, favourite_categories(personas))
        if exp["content_id"].isin(feats["content_id"]).any():
            logit = A.copy_logit(exp, feats, cfg.alpha)
        else:
            notes.append(f"the exposures' content ids do not match {contract.product('content').path}: no "
                         "copy-feature regression")

    segment_map, truth_table = None, None
    if truth is not None and "expected_ctr" in exp and "true_segment" in exp and exp["true_segment"].notna().all():
        segment_map, truth_table = _truth_check(exp, comparison, truth, cfg)

    copy_truth = None
    if truth is not None and logit is not None and not logit.table.empty:
        copy_truth = _copy_truth(exp, logit, truth)

    plan, plan_recovery = _strategy(ds, exp, profiles, cfg) if cfg.strategy else (None, None)

    result = FeedbackResult(cfg, source, exp, notes, excluded, srm, several, unit, rates, comparison, verdicts, posteriors,
                            cuped_res, cuped_note, power, daily, cumulative, logit, segment_map, truth_table,
                            copy_truth, strategy=plan, strategy_recovery=plan_recovery)
    result.priors = _priors(result, run_id, getattr(ds, "name", ""))
    if profiles is not None and "segment" in exp:
        result.policy_followed = policy
        result.priors["policy"] = learn_policy(
            segments=sorted(exp["segment"].astype(str).unique()), strategy=plan, exposures=exp,
            features=feats if logit is not None else None, priors_cells=result.priors["cells"], previous=policy,
            run_id=run_id, exploration=cfg.exploration, alpha=cfg.alpha,
            content=campaign.published_copy(content) if content is not None else None)
        styles = {seg: p["copy_style"] for seg, p in result.priors["policy"]["segments"].items() if p["copy_style"]}
        if styles:  # the style the policy chose, where 04 reads it (contentlab.priors.copy_style_for)
            result.priors["copy_styles"] = styles
    return result


def _strategy(ds: Dataset, exp: pd.DataFrame, profiles: pd.DataFrame | None, cfg: FeedbackConfig
              ) -> tuple[strategy.PublishingStrategy | None, dict | None]:
    """The publishing strategy per profile segment from the events and an exposure log (the dataset's own, else the
    campaign just analysed), and, with planted truth, how many segments it recovers."""
    if profiles is None or "segment" not in profiles or not ds.has("events") or not len(ds.events):
        return None, None
    prof = profiles
    if "is_flagged" in prof and not cfg.include_flagged:  # accounts the campaign leaves out are not planned for
        prof = prof[~prof["is_flagged"].fillna(False).astype(bool)]
    seg = pd.Series(prof["segment"].astype(str).to_numpy(), index=prof["user_id"].astype(str).to_numpy())
    if ds.has("exposures") and len(ds.exposures):
        log = ds.exposures
    else:
        log = exp.assign(user_id=exp[PERSON])
    plan = strategy.publishing_strategy(ds.events, seg, log, seed=cfg.seed)
    recovery = None
    truth = ds.truth or {}
    if truth.get("best_hour") and truth.get("users") is not None:
        m = A.map_clusters_to_truth(prof.assign(cluster=prof["segment"].astype(str)), truth["users"])
        planted = {s: {"best_hour": truth["best_hour"][s], "best_channel": truth["best_channel"][s],
                       "fatigue_point": truth["fatigue_point"][s]} for s in truth["best_hour"]}
        recovery = plan.recovery(planted, dict(zip(m["cluster"].astype(str), m["true_segment"].astype(str))))
    return plan, recovery


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


def _expected_for_log(exp: pd.DataFrame, ds: Dataset, notes: list[str]) -> pd.DataFrame:
    """The planted probabilities of a logged campaign's impressions (``expected_ctr``, ``expected_cvr``), when the
    dataset's truth knows the audience and the text of every content id shown (``truth["historical_copy"]``)."""
    truth = ds.truth
    if not truth or not has_planted_response(truth) or "timestamp" not in exp:
        return exp
    a = exp
    if reads_text(truth):
        copy = truth.get("historical_copy")
        if copy is None or "text" not in copy:
            return exp
        text = exp["content_id"].astype(str).map(dict(zip(copy["content_id"].astype(str), copy["text"].astype(str))))
        if text.isna().any():
            notes.append("the planted truth does not know the text of every logged content id: no truth check")
            return exp
        a = exp.assign(text=text)
    rates = expected_rates(a, truth, ds.products if ds.has("products") else None)
    return exp.assign(expected_ctr=rates["expected_ctr"].to_numpy(), expected_cvr=rates["expected_cvr"].to_numpy())


# the copy features of the click regression and the planted audience's feature each one measures
_PLANTED_FEATURE = {"mentions_price": "price", "mentions_favourite_category": "favourite"}


def _copy_truth(exp: pd.DataFrame, logit: A.LogitResult, truth: dict) -> pd.DataFrame | None:
    """The planted copy effects next to the regression's estimates. With the planted audience: the weight (log-odds)
    of the feature, averaged over the true segments of the impressions; with a response planted by hand:
    multiplicative CTR effects as log-odds at the campaign's CTR."""
    rows = []
    t = logit.table.set_index("feature")
    if reads_text(truth):
        segs = truth["audience"]["segments"]
        if "true_segment" not in exp or exp["true_segment"].isna().any():
            return None
        share = exp["true_segment"].astype(str).value_counts(normalize=True)
        for feat, planted_name in _PLANTED_FEATURE.items():
            if feat not in t.index:
                continue
            planted = float(sum(w * segs[s]["ctr_weights"].get(planted_name, 0.0) for s, w in share.items()
                                if s in segs))
            rows.append((feat, float(np.exp(planted)), planted, t.loc[feat]))
    else:
        for feat, mult in (truth.get("copy_effects") or {}).items():
            if feat not in t.index or feat not in exp.columns:
                continue
            p = float(exp.loc[~exp[feat].astype(bool), "clicked"].mean())
            planted = float(np.log(mult) + np.log((1 - p) / (1 - mult * p)))  # logit(m p) - logit(p)
            rows.append((feat, float(mult), planted, t.loc[feat]))
    out = [{"feature": feat, "planted_ctr_multiplier": mult, "planted_log_odds": planted, "estimate": float(r["coef"]),
            "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
            "covered": bool(r["ci_low"] <= planted <= r["ci_high"])} for feat, mult, planted, r in rows]
    return pd.DataFrame(out) if out else None


def _truth_check(exp: pd.DataFrame, comparison: pd.DataFrame, truth: dict, cfg: FeedbackConfig):
    seg_users = exp.drop_duplicates(PERSON)[[PERSON, "segment", "true_segment"]]
    ct = pd.crosstab(seg_users["segment"], seg_users["true_segment"])
    segment_map = pd.DataFrame({"segment": ct.index.astype(str), "true_segment": ct.idxmax(axis=1).to_numpy(),
                                "purity": (ct.max(axis=1) / ct.sum(axis=1)).to_numpy(),
                                "users": ct.sum(axis=1).to_numpy()})
    metric = "ctr" if cfg.primary_metric == "ctr" else "cpi"
    # the right answer: the planted probabilities of the texts each variant actually showed, in their contexts
    tw = A.expected_winners(exp, ["segment"], cfg.control, cfg.treatment, metric)
    seg_cmp = comparison[comparison["level"] == "segment"][["segment", "winner", "lift", "lift_low", "lift_high",
                                                            "p_adj"]]
    t = segment_map.merge(tw, on="segment").merge(seg_cmp.rename(columns={"winner": "analysis_winner"}), on="segment")
    t["covers_true_lift"] = (t["lift_low"] <= t["true_lift"]) & (t["true_lift"] <= t["lift_high"])
    t["agrees"] = t["analysis_winner"] == t["true_winner"]
    t["contradicts"] = (t["analysis_winner"] != A.INCONCLUSIVE) & ~t["agrees"]
    t["gpt2_loses_here"] = t["true_winner"] == cfg.control
    return segment_map, t


def _priors(result: FeedbackResult, run_id: str, dataset_name: str) -> dict:
    """The feedback priors for the next cycle: posteriors and Thompson shares per segment x channel."""
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
    return loop.build_priors(
        counts, run_id=run_id, profile=cfg.profile, control=cfg.control, metric=cfg.primary_metric,
        min_share=cfg.thompson_min_share, draws=cfg.posterior_draws, seed=cfg.seed, winners=winners,
        channel_winners=channel_winners,
        source={"exposures_source": result.source, "dataset": dataset_name, "exposures": int(len(exp))},
        extra=extra)


def write_outputs(result: FeedbackResult, run_dir: str | Path) -> None:
    """Write the stage's products into ``run_dir``: the priors (through the loop's writer), every comparison
    (``ab_results``) and the impressions analysed (``ab_exposures``; per-impression units keep the customer in
    ``user_id`` and the unit in ``unit_id``)."""
    cfg = result.config
    result.priors_path = loop.write_priors(run_dir, result.priors)
    out = result.comparison.copy()
    out["correction"] = cfg.correction
    out["primary_metric"] = cfg.primary_metric
    out["srm_flag"] = result.srm.flag
    result.results_path = contract.product("ab_results").write(run_dir, out)
    audit = result.exposures.copy()
    if result.unit == "impression":
        audit = audit.rename(columns={"user_id": "unit_id"})
        audit["user_id"] = audit[PERSON]
    contract.product("ab_exposures").write(run_dir, audit.drop(columns=[PERSON]))
