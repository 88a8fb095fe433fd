"""Risk flags: accounts whose behaviour is not human or not genuine (click farms, fake orders, 刷单).

Per-user behavioural signals (:data:`RISK_SIGNALS`: burstiness, events per session, sessions per
active day, seconds between clicks, orders per active day, purchases without a view, orders that
repeat an earlier amount, night-time share) are scored with **robust z-scores**:
``z = 0.6745 (x - median) / MAD`` (Iglewicz & Hoaglin's modified z-score; when the MAD is 0 the
mean absolute deviation x 1.2533 is used instead). Count-like signals are log-transformed first and
only the suspicious direction counts (a *high* event rate, a *short* gap between clicks). The scale
never drops below a floor (0.2 on log signals, about a 22% relative change; 0.05 on shares): where
nearly everyone has the same value (CDNOW: one order per purchase day) the MAD is 0, and a tiny
deviation would otherwise look like an extreme outlier.

A signal *fires* when ``z > z_threshold`` (3.5, the usual cut-off for modified z-scores). The
account's ``risk_score`` is the sum of the z-scores of its fired signals, and it is flagged when
``risk_score >= min_score`` (12 by default: one extreme signal, two strong ones, or three or more
just past the cut-off; a keen shopper who is unusual on one habit, e.g. night-time shopping with a
few repeat orders, stays below it). *Habit* signals (:data:`HABIT_SIGNALS`: orders per active day,
purchases without a view, repeated order amounts, night-time share) measure what a genuine heavy buyer can
reach at any level — CDNOW's heaviest customers buy the same-priced CD dozens of times — so they flag an
account only together with another fired signal; the signals no human reaches (bursts of clicks,
sessions or events, seconds between clicks) can flag on their own. With ``method="both"`` an account is also flagged when an
**IsolationForest** (scikit-learn) over the same transformed signals puts it among the
``contamination`` most isolated *and* a signal fires (a habit signal only with another); ``method="iforest"`` uses that
rule alone. The IsolationForest score is always reported for comparison.

A signal never fires on an artefact of the data's resolution. Signals the data's clock cannot measure
(:data:`contentlab.profiling.features.RESOLUTION_NEEDED`: on a date-only log such as CDNOW, where every
timestamp is midnight, "most events in one minute" would count a whole day's orders and every event would
be "at night") are missing in the features and left out here, with the reason in
:attr:`RiskResult.disabled`.

Flagged accounts are excluded from segmentation, CLV fitting and basket rules, and marked in
``user_profiles.parquet`` (``is_flagged``) so recommendation training can drop them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["RISK_SIGNALS", "HABIT_SIGNALS", "robust_z", "risk_flags", "precision_recall"]

# signal -> (direction, log-transform, readable description)
RISK_SIGNALS: dict[str, tuple[int, bool, str]] = {
    "max_events_per_minute": (+1, True, "most events in one minute"),
    "events_per_session": (+1, True, "events per session"),
    "sessions_per_active_day": (+1, True, "sessions per active day"),
    "median_gap_s": (-1, True, "median seconds between clicks"),
    "orders_per_active_day": (+1, True, "orders per active day"),
    "purchase_without_view_share": (+1, False, "share of purchases without viewing the product"),
    "repeat_amount_orders": (+1, True, "orders repeating an earlier order's amount"),
    "night_share": (+1, False, "share of events between 00:00 and 06:00"),
}
HABIT_SIGNALS: frozenset[str] = frozenset(
    {"orders_per_active_day", "purchase_without_view_share", "repeat_amount_orders", "night_share"})
"""Signals a genuine customer can reach at any level by habit: they flag an account only together with
another fired signal."""


MIN_SCALE_LOG = 0.2
MIN_SCALE_SHARE = 0.05


def robust_z(x: pd.Series, min_scale: float = 0.0) -> pd.Series:
    """Modified z-score ``(x - median) / scale`` with ``scale = MAD / 0.6745`` (the MAD's normal-consistent
    standard deviation), or ``1.2533 x mean absolute deviation`` when the MAD is 0; ``scale`` is never below
    ``min_scale``. NaN stays NaN."""
    x = pd.Series(x, dtype=float)
    v = x.dropna()
    if v.empty:
        return x * np.nan
    med = v.median()
    mad = (v - med).abs().median()
    scale = mad / 0.6745 if mad > 0 else 1.253314 * (v - med).abs().mean()
    scale = max(scale, min_scale)
    if not scale > 0:
        return x * 0.0
    return (x - med) / scale


@dataclass
class RiskResult:
    table: pd.DataFrame  # user_id, risk_score, n_signals, iforest_score, is_flagged, reasons, z_<signal>...
    signals: list[str]
    z_threshold: float
    min_score: float
    contamination: float
    method: str
    disabled: dict[str, str] = field(default_factory=dict)  # signal description -> why it is not used


def risk_flags(
    features: pd.DataFrame,
    z_threshold: float = 3.5,
    min_score: float = 12.0,
    contamination: float = 0.01,
    method: str = "robust",
    min_events: int = 1,
    random_state: int = 0,
    unmeasurable: Mapping[str, str] | None = None,
) -> RiskResult:
    """Score and flag accounts; ``method`` is ``"robust"``, ``"iforest"`` or ``"both"``.

    ``unmeasurable`` (feature -> reason, e.g. :attr:`FeatureSet.unmeasurable`) names signals the data
    cannot measure; they are not used even if the column holds values, and are listed in ``disabled``."""
    if method not in ("robust", "iforest", "both"):
        raise ValueError(f"method must be robust, iforest or both, not {method!r}")
    unmeasurable = dict(unmeasurable or {})
    disabled = {RISK_SIGNALS[s][2]: unmeasurable[s] for s in RISK_SIGNALS if s in unmeasurable}
    signals = [s for s in RISK_SIGNALS
               if s not in unmeasurable and s in features.columns and features[s].notna().any()]
    active = features["n_events"].fillna(0) >= min_events if "n_events" in features else pd.Series(True, index=features.index)
    tab = pd.DataFrame({"user_id": features["user_id"].astype("string")}, index=features.index)
    transformed = pd.DataFrame(index=features.index)
    for s in signals:
        direction, log, _ = RISK_SIGNALS[s]
        x = features[s].astype(float).where(active)
        if log:
            x = np.log1p(x.clip(lower=0))
        transformed[s] = x
        tab[f"z_{s}"] = direction * robust_z(x, min_scale=MIN_SCALE_LOG if log else MIN_SCALE_SHARE)
    zcols = [f"z_{s}" for s in signals]
    fired = tab[zcols].gt(z_threshold) if zcols else pd.DataFrame(index=tab.index)
    tab["n_signals"] = fired.sum(axis=1).astype("int64") if zcols else 0
    tab["risk_score"] = tab[zcols].where(fired, 0.0).fillna(0.0).sum(axis=1) if zcols else 0.0
    tab["reasons"] = [
        "; ".join(RISK_SIGNALS[s][2] for s, f in zip(signals, row) if f) for row in fired.to_numpy()
    ] if zcols else ""
    if zcols:
        alone = fired[[f"z_{s}" for s in signals if s not in HABIT_SIGNALS]].any(axis=1)
        corroborated = (tab["n_signals"] >= 2) | alone
    else:
        corroborated = pd.Series(False, index=tab.index)
    robust_flag = (tab["risk_score"] >= min_score) & corroborated & active

    iso_flag = pd.Series(False, index=tab.index)
    tab["iforest_score"] = np.nan
    if method in ("iforest", "both") and signals and int(active.sum()) >= 20:
        from sklearn.ensemble import IsolationForest  # only imported when used (a second of import time)

        X = transformed.loc[active, signals]
        X = X.fillna(X.median()).fillna(0.0)
        forest = IsolationForest(n_estimators=200, contamination=contamination, random_state=random_state)
        forest.fit(X)
        score = -forest.score_samples(X)  # higher = more isolated
        tab.loc[active, "iforest_score"] = score
        pred = pd.Series(forest.predict(X) == -1, index=X.index)
        iso_flag.loc[active] = pred & (tab.loc[active, "n_signals"] >= 1) & corroborated.loc[active]
    if method == "robust":
        flag = robust_flag
    elif method == "iforest":
        flag = iso_flag
    else:
        flag = robust_flag | iso_flag
    tab["is_flagged"] = flag.astype(bool)
    tab["flag_source"] = np.select(
        [robust_flag & iso_flag, robust_flag, iso_flag], ["robust+iforest", "robust", "iforest"], default=""
    )
    return RiskResult(tab.reset_index(drop=True), signals, z_threshold, min_score, contamination, method, disabled)


def precision_recall(flagged: pd.Series, truth: pd.Series) -> tuple[float, float, pd.DataFrame]:
    """Precision, recall and the 2x2 table of flagged vs true fraud (aligned by index)."""
    f = flagged.astype(bool)
    t = truth.reindex(f.index).fillna(False).astype(bool)
    tp = int((f & t).sum())
    fp = int((f & ~t).sum())
    fn = int((~f & t).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    table = pd.crosstab(t.rename("planted fraud"), f.rename("flagged")).reindex(
        index=[False, True], columns=[False, True], fill_value=0)
    return precision, recall, table
