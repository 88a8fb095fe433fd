"""The profiling computations over the run's event store: features -> risk -> RFM -> segments -> CLV, and rules.

:func:`profile_users` builds the per-user profile table from an :class:`~contentlab.store.EventStore`;
:func:`basket_rules` mines the association rules; :func:`write_outputs` writes the stage's products through
:mod:`contentlab.contract` (which spells their file names). :func:`contentlab.profiling.workflow.run_profiling`
runs the whole stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from contentlab import contract
from contentlab.profiling import clv as clvmod
from contentlab.profiling.config import ProfilingConfig
from contentlab.profiling.features import FeatureSet, user_features
from contentlab.profiling.rfm import rfm_scores
from contentlab.profiling.risk import RiskResult, risk_flags
from contentlab.profiling.rules import baskets_from_purchases, rules_by_segment
from contentlab.profiling.segments import (
    FLAGGED_SEGMENT,
    INACTIVE_SEGMENT,
    Clustering,
    cluster_users,
    name_clusters,
)
from contentlab.store import EventStore

__all__ = ["ProfilingConfig", "UserProfiles", "CLVResult", "profile_users", "customer_value", "basket_rules",
           "order_transactions", "write_outputs", "STAGE"]

STAGE = "02_profiling"


@dataclass
class CLVResult:
    summary: pd.DataFrame  # per buyer: frequency, recency, T, monetary_value (+ predictions)
    bgnbd: clvmod.BetaGeoNBD | None
    gg: clvmod.GammaGamma | None
    calibration: pd.DataFrame | None  # per buyer in calibration: frequency, predicted/actual holdout purchases
    calibration_bgnbd: clvmod.BetaGeoNBD | None
    notes: list[str] = field(default_factory=list)
    horizon_days: int = 90
    holdout_days: int = 14
    # windows (days, inclusive): the whole log the CLV fit used, and the calibration/holdout split
    log_start: pd.Timestamp | None = None
    log_end: pd.Timestamp | None = None
    calibration_end: pd.Timestamp | None = None

    @property
    def holdout_start(self) -> pd.Timestamp | None:
        return None if self.calibration_end is None else self.calibration_end + pd.Timedelta(days=1)

    @property
    def calibration_weeks(self) -> float | None:
        if self.calibration_end is None or self.log_start is None:
            return None
        return ((self.calibration_end - self.log_start).days + 1) / 7.0

    @property
    def log_weeks(self) -> float | None:
        """Length of the whole log the CLV fit used, in weeks (both ends inclusive)."""
        if self.log_start is None or self.log_end is None:
            return None
        return ((self.log_end - self.log_start).days + 1) / 7.0

    @property
    def holdout_actual(self) -> float | None:
        """Repeat purchase days that happened in the holdout period (calibration customers); None without a check."""
        return None if self.calibration is None else float(self.calibration["frequency_holdout"].sum())

    @property
    def holdout_predicted(self) -> float | None:
        """Repeat purchase days the calibration fit predicted for the holdout period; None without a check."""
        return None if self.calibration is None else float(self.calibration["predicted_holdout"].sum())


@dataclass
class UserProfiles:
    """What :func:`profile_users` found: the profile table and the models behind its columns."""

    profiles: pd.DataFrame
    features: FeatureSet
    risk: RiskResult
    clustering: Clustering | None
    clv: CLVResult
    config: ProfilingConfig
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def segment_names(self) -> dict[int, str]:
        return self.clustering.names if self.clustering else {}


def order_transactions(store: EventStore, has_orders: bool | None = None) -> pd.DataFrame:
    """One row per order: user_id, timestamp (first line), revenue (price x quantity)."""
    if has_orders is None:
        cols = store.columns("events")
        has_orders = "order_id" in cols and bool(store.scalar("SELECT COUNT(order_id) > 0 FROM events"))
    key = "order_id" if has_orders else "session_id"
    tx = store.sql(
        f"""SELECT user_id, {key} AS order_key, MIN(timestamp) AS timestamp, SUM(price * quantity) AS revenue
            FROM events WHERE event_type = 'purchase' GROUP BY user_id, {key}"""
    )
    tx["user_id"] = tx["user_id"].astype("string")
    return tx


def customer_value(tx: pd.DataFrame, reference_time: pd.Timestamp, cfg: ProfilingConfig) -> CLVResult:
    """BG/NBD + Gamma-Gamma on the orders: fit on the whole log for CLV, and on a calibration period to
    compare predicted and actual purchases in the holdout after it. The calibration period ends on
    ``cfg.calibration_end`` when given (e.g. 1997-09-30 for Fader & Hardie's CDNOW setting), else
    ``cfg.holdout_days`` before the end of the log."""
    notes: list[str] = []
    period = cfg.clv_period_days
    end = pd.Timestamp(reference_time).floor("D") if reference_time is not None and not pd.isna(reference_time) else None
    if tx.empty or end is None:
        return CLVResult(pd.DataFrame(), None, None, None, None, ["there are no purchases, so there is no CLV"],
                         cfg.clv_horizon_days, cfg.holdout_days)
    first_day = pd.to_datetime(tx["timestamp"]).min().floor("D")
    summary = clvmod.rfm_summary(tx, "user_id", "timestamp", "revenue", end, period)
    bg = gg = None
    try:
        bg = clvmod.BetaGeoNBD().fit(summary["frequency"], summary["recency"], summary["T"])
    except Exception as exc:
        notes.append(f"BG/NBD fit failed: {exc}")
    try:
        gg = clvmod.GammaGamma().fit(summary["frequency"], summary["monetary_value"])
    except Exception as exc:
        notes.append(f"Gamma-Gamma fit failed ({exc}); spend per order = the customer's mean order value")
    if gg is not None and gg.at_bound:
        notes.append(f"Gamma-Gamma parameter(s) {', '.join(gg.at_bound)} reached the search bound: customers' mean "
                     f"spend per purchase hardly differs beyond what their own purchases show")
    h = cfg.clv_horizon_days
    if bg is not None:
        if bg.dropout_note:
            notes.append(bg.dropout_note)
        elif bg.at_bound:
            notes.append(f"BG/NBD parameter(s) {', '.join(bg.at_bound)} reached the search bound: the likelihood keeps "
                         f"rising towards a limit of the model")
        x, tx_, T = summary["frequency"], summary["recency"], summary["T"]
        # P(alive) is only a finding when the model sees drop-out; otherwise it is unknown, not "1 for everyone"
        summary["p_alive"] = bg.p_alive(x, tx_, T) if bg.dropout_identified else np.nan
        summary[f"expected_purchases_{h}d"] = bg.conditional_expected_purchases(h / period, x, tx_, T)
        if gg is not None:
            summary["expected_spend"] = gg.conditional_expected_average_profit(x, summary["monetary_value"])
            summary["clv"] = clvmod.customer_lifetime_value(
                bg, gg, x, tx_, T, summary["monetary_value"], horizon_days=h, period_days=period,
                annual_discount_rate=cfg.annual_discount_rate)
        else:
            mean_order = tx.groupby("user_id")["revenue"].mean().reindex(summary.index)
            summary["expected_spend"] = mean_order.to_numpy()
            summary["clv"] = summary[f"expected_purchases_{h}d"] * summary["expected_spend"]
    calib = cal_bg = None
    if cfg.calibration_end is not None:
        cal_end = pd.Timestamp(cfg.calibration_end).floor("D")
        usable = first_day <= cal_end < end
        why = (f"calibration_end {cal_end.date()} is not within the log ({first_day.date()} to {end.date()}, the "
               f"holdout needs at least its last day)")
    else:
        cal_end = end - pd.Timedelta(days=cfg.holdout_days)
        usable = cfg.holdout_days > 0 and cal_end > first_day + pd.Timedelta(days=cfg.holdout_days)
        why = f"the log ({first_day.date()} to {end.date()}) is too short for a {cfg.holdout_days}-day holdout period"
    if usable:
        try:
            cal = clvmod.calibration_holdout_summary(tx, cal_end, end, "user_id", "timestamp", "revenue", period)
            cal_bg = clvmod.BetaGeoNBD().fit(cal["frequency"], cal["recency"], cal["T"])
            cal["predicted_holdout"] = cal_bg.conditional_expected_purchases(
                cal["duration_holdout"].to_numpy(), cal["frequency"], cal["recency"], cal["T"])
            calib = cal
        except Exception as exc:
            notes.append(f"calibration/holdout check failed: {exc}")
    else:
        notes.append(f"no holdout check: {why}")
    return CLVResult(summary, bg, gg, calib, cal_bg, notes, h, (end - cal_end).days, first_day, end,
                     cal_end if calib is not None else None)


def profile_users(store: EventStore, cfg: ProfilingConfig | None = None) -> UserProfiles:
    """Build the per-user profile table (features, risk, RFM, segments, CLV)."""
    cfg = cfg or ProfilingConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    fs = user_features(store)
    timings["features"] = time.perf_counter() - t0
    df = fs.frame

    t0 = time.perf_counter()
    risk = risk_flags(df, z_threshold=cfg.risk_z, min_score=cfg.risk_min_score,
                      contamination=cfg.risk_contamination, method=cfg.risk_method, random_state=cfg.random_state,
                      unmeasurable=fs.unmeasurable)
    flagged = risk.table["is_flagged"].to_numpy()
    timings["risk"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # flagged accounts' fake orders would shift every quintile boundary: they are scored apart
    rfm = rfm_scores(df, "recency_days", "frequency", "monetary", exclude=flagged, excluded_label=FLAGGED_SEGMENT)
    timings["rfm"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    active = (df["n_events"] >= cfg.min_events_to_cluster).to_numpy()
    to_cluster = active & ~flagged
    clustering = None
    cluster = pd.Series(-1, index=df.index, dtype="int64")
    segment = pd.Series(INACTIVE_SEGMENT, index=df.index, dtype="string")
    segment[flagged] = FLAGGED_SEGMENT
    if to_cluster.sum() >= cfg.k_min + 1:
        sub = df[to_cluster]
        clustering = cluster_users(sub, cfg.k_range, random_state=cfg.random_state, sample_size=cfg.silhouette_sample,
                                   n_init=cfg.kmeans_n_init, k=cfg.k)
        clustering.names = name_clusters(sub, clustering.labels, population=fs.population)
        cluster.loc[clustering.labels.index] = clustering.labels
        segment.loc[clustering.labels.index] = clustering.labels.map(clustering.names).astype("string")
    timings["segments"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tx = order_transactions(store, fs.has_orders)
    # flagged accounts' orders are not genuine: they would distort the purchase and spend models
    tx = tx[~tx["user_id"].isin(set(df.loc[flagged, "user_id"]))]
    value = customer_value(tx, fs.reference_time, cfg)
    timings["clv"] = time.perf_counter() - t0

    out = df.copy()
    out = pd.concat([out, rfm], axis=1)
    out["cluster"] = cluster.astype("int64")
    out["segment"] = segment
    out["is_flagged"] = flagged.astype(bool)
    out["risk_score"] = risk.table["risk_score"].to_numpy()
    h = cfg.clv_horizon_days
    clv_cols = ["p_alive", f"expected_purchases_{h}d", "expected_spend", "clv"]
    if not value.summary.empty and "p_alive" in value.summary:
        s = value.summary.copy()
        s.index = s.index.astype("string")
        s = s.rename(columns={"frequency": "bgnbd_frequency", "recency": "bgnbd_recency", "T": "bgnbd_T",
                              "monetary_value": "repeat_spend"})
        keep = ["bgnbd_frequency", "bgnbd_recency", "bgnbd_T", "repeat_spend"] + [c for c in clv_cols if c in s]
        out = out.merge(s[keep], left_on="user_id", right_index=True, how="left")
    for c in clv_cols:
        if c not in out:
            out[c] = np.nan
    out["persona_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
    return UserProfiles(out, fs, risk, clustering, value, cfg, timings)


def basket_rules(store: EventStore, profiles: pd.DataFrame, cfg: ProfilingConfig | None = None,
                 exclude_flagged: bool = True) -> tuple[pd.DataFrame, str | None]:
    """Association rules overall and per segment; returns (rules, reason when skipped)."""
    cfg = cfg or ProfilingConfig()
    cols = store.columns("events")
    key = "order_id" if "order_id" in cols else "session_id"
    purchases = store.sql(f"SELECT user_id, {key}, product_id FROM events WHERE event_type = 'purchase'")
    purchases["user_id"] = purchases["user_id"].astype("string")
    if exclude_flagged:
        bad = set(profiles.loc[profiles["is_flagged"], "user_id"])
        purchases = purchases[~purchases["user_id"].isin(bad)]
    baskets = baskets_from_purchases(purchases)
    if baskets.empty:
        return rules_by_segment(baskets, pd.Series(dtype="string")), "there are no purchases"
    multi = baskets.groupby("basket_id").size()
    if (multi >= 2).sum() == 0:
        return rules_by_segment(baskets.iloc[:0], pd.Series(dtype="string")), (
            "no basket holds more than one product (e.g. CDNOW records one synthetic product per order), "
            "so there is nothing bought together to learn from")
    seg = profiles.set_index("user_id")["segment"]
    seg = seg[profiles.set_index("user_id")["cluster"] >= 0]
    rules = rules_by_segment(
        baskets, seg, min_segment_baskets=cfg.rule_min_segment_baskets, min_support=cfg.rule_min_support,
        min_confidence=cfg.rule_min_confidence, min_lift=cfg.rule_min_lift, min_count=cfg.rule_min_count)
    return rules, None if not rules.empty else "no itemset reached the support, confidence and count thresholds"


def write_outputs(run_dir: str | Path, result: UserProfiles, personas: list[dict], rules: pd.DataFrame
                  ) -> dict[str, Path]:
    """Write the stage's products through the contract: ``user_profiles``, ``personas``, ``association_rules`` and
    ``risk_flags`` (checked against the columns/keys the contract promises, replaced atomically); returns
    ``{product name: path}``.

    Also sets ``persona_id`` in ``result.profiles`` (the persona of the user's segment, missing for
    users outside the clustered segments)."""
    prof = result.profiles.copy()
    pmap = {p["cluster"]: p["persona_id"] for p in personas}
    prof["persona_id"] = prof["cluster"].map(pmap).astype("string")
    result.profiles = prof
    written = {"user_profiles": prof, "personas": personas, "association_rules": rules,
               "risk_flags": result.risk.table}
    if set(written) != set(contract.stage(STAGE).products):
        raise contract.ContractError(f"{STAGE} writes {sorted(written)}, the contract declares "
                                     f"{sorted(contract.stage(STAGE).products)}")
    return {name: contract.product(name).write(run_dir, obj) for name, obj in written.items()}
