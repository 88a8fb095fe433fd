"""CUPED: variance reduction with a pre-period covariate (Deng, Xu, Kohavi & Walker, 2013).

``Y_adj = Y - theta * (X - mean(X))`` with ``theta = cov(Y, X) / var(X)`` estimated on the pooled sample of both
variants. Because assignment is random, X is independent of the variant and the adjusted difference in means is
unbiased; its variance shrinks by the factor ``1 - corr(Y, X)^2``. Here the unit is the user, ``Y`` a per-user
outcome of the campaign (clicks per impression, revenue) and ``X`` the same user's pre-campaign activity from
``events`` (see :func:`pre_period_covariate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab.feedback import stats as fstats


@dataclass(frozen=True)
class CupedResult:
    theta: float
    variance_reduction: float  # 1 - var(Y_adj) / var(Y), pooled
    diff: float  # treatment - control, adjusted
    ci_low: float
    ci_high: float
    p: float
    diff_raw: float
    ci_low_raw: float
    ci_high_raw: float
    p_raw: float
    n_treatment: int
    n_control: int

    @property
    def ci_width_ratio(self) -> float:
        """Adjusted CI width over raw CI width (< 1 means CUPED helped)."""
        return (self.ci_high - self.ci_low) / (self.ci_high_raw - self.ci_low_raw)


def cuped_theta(y, x) -> float:
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    vx = x.var(ddof=1)
    if not np.isfinite(vx) or vx == 0:
        return 0.0
    return float(np.cov(y, x, ddof=1)[0, 1] / vx)


def cuped_adjust(y, x, theta: float | None = None) -> tuple[np.ndarray, float]:
    """Adjusted outcome and the theta used."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    th = cuped_theta(y, x) if theta is None else float(theta)
    return y - th * (x - x.mean()), th


def cuped_ttest(y, x, treated, alpha: float = 0.05) -> CupedResult:
    """Welch test of the treatment effect on ``y`` before and after CUPED adjustment with covariate ``x``."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    t = np.asarray(treated, dtype=bool)
    y_adj, theta = cuped_adjust(y, x)
    raw = fstats.welch_ttest(y[t], y[~t], alpha)
    adj = fstats.welch_ttest(y_adj[t], y_adj[~t], alpha)
    vr = 1.0 - y_adj.var(ddof=1) / y.var(ddof=1) if y.var(ddof=1) > 0 else 0.0
    return CupedResult(theta, float(vr), adj.diff, adj.ci_low, adj.ci_high, adj.p, raw.diff, raw.ci_low,
                       raw.ci_high, raw.p, int(t.sum()), int((~t).sum()))


def pre_period_covariate(events: pd.DataFrame, user_ids, before, kind: str = "views") -> pd.Series:
    """Per-user pre-campaign activity from ``events`` (rows with ``timestamp < before``), indexed by user id.

    ``kind``: ``"views"`` (view events), ``"events"`` (all events) or ``"spend"`` (purchase value).
    Users without pre-period activity get 0.
    """
    ev = events
    if before is not None:
        ev = ev[ev["timestamp"] < pd.Timestamp(before)]
    if kind == "views":
        val = ev[ev["event_type"] == "view"].groupby("user_id").size()
    elif kind == "events":
        val = ev.groupby("user_id").size()
    elif kind == "spend":
        pur = ev[ev["event_type"] == "purchase"]
        val = (pur["price"] * pur["quantity"]).groupby(pur["user_id"]).sum()
    else:
        raise ValueError(f"unknown covariate kind {kind!r}")
    ids = pd.Index(pd.Series(list(user_ids)).astype(str).unique())
    val.index = val.index.astype(str)
    return val.reindex(ids, fill_value=0).astype(float)
