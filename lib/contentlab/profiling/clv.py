"""Customer lifetime value: BG/NBD (purchase frequency and survival) and Gamma-Gamma (spend).

Both models are fitted by maximum likelihood with :mod:`scipy.optimize`; the log-likelihoods are
written out here (vectorised with ``scipy.special``), and optimised over log-parameters so every
parameter stays positive.

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive, a
  customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after each purchase
  they drop out with probability ``p ~ Beta(a, b)``. Per customer it needs the RFM summary
  ``frequency`` (x: number of *repeat* purchase periods), ``recency`` (t_x: time of the last
  purchase since the first) and ``T`` (time since the first purchase to the end of calibration).
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang 1999): the spend per
  transaction of a customer is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)``; it is fitted on
  customers with at least one repeat purchase, with ``monetary`` = mean value of their repeat
  transactions.

Units follow Fader & Hardie's CDNOW analysis: transactions are aggregated per day (several orders
on one day are one purchase occasion), time is measured in weeks (``period_days=7``). On CDNOW with
calibration ending 1997-09-30 this reproduces r=0.243, alpha=4.414, a=0.793, b=2.426.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = [
    "rfm_summary",
    "calibration_holdout_summary",
    "BetaGeoNBD",
    "GammaGamma",
    "customer_lifetime_value",
]


# --------------------------------------------------------------------------- summaries

def _daily(transactions: pd.DataFrame, customer_col: str, datetime_col: str, monetary_col: str | None) -> pd.DataFrame:
    """One row per customer and purchase day (several orders on a day are one occasion)."""
    cols = [customer_col, datetime_col] + ([monetary_col] if monetary_col else [])
    tx = transactions[cols].copy()
    tx["_day"] = pd.to_datetime(tx[datetime_col]).dt.floor("D")
    agg = {monetary_col: "sum"} if monetary_col else {datetime_col: "size"}
    daily = tx.groupby([customer_col, "_day"], sort=True, observed=True).agg(agg).reset_index()
    return daily


def rfm_summary(
    transactions: pd.DataFrame,
    customer_col: str = "user_id",
    datetime_col: str = "timestamp",
    monetary_col: str | None = "revenue",
    observation_end: "str | pd.Timestamp | None" = None,
    period_days: float = 7.0,
) -> pd.DataFrame:
    """The BG/NBD summary per customer: ``frequency``, ``recency``, ``T`` (+ ``monetary_value``).

    ``frequency`` counts repeat purchase days, ``recency`` is the time from the first to the last
    purchase day and ``T`` from the first purchase day to ``observation_end`` (inclusive day), both
    in units of ``period_days`` days. ``monetary_value`` is the mean value of the repeat purchase
    days (0 for customers without a repeat purchase), as the Gamma-Gamma model expects.
    Transactions after ``observation_end`` are ignored.
    """
    tx = transactions
    end = pd.Timestamp(observation_end) if observation_end is not None else pd.to_datetime(tx[datetime_col]).max()
    end = end.floor("D")
    tx = tx[pd.to_datetime(tx[datetime_col]) < end + pd.Timedelta(days=1)]
    daily = _daily(tx, customer_col, datetime_col, monetary_col)
    g = daily.groupby(customer_col, sort=True, observed=True)["_day"]
    first = g.min()
    last = g.max()
    n = g.size()
    out = pd.DataFrame(
        {
            "frequency": (n - 1).astype(float),
            "recency": (last - first).dt.days / period_days,
            "T": (end - first).dt.days / period_days,
        }
    )
    if monetary_col:
        daily["_is_first"] = daily["_day"].eq(daily[customer_col].map(first))
        rep = daily[~daily["_is_first"]].groupby(customer_col, observed=True)[monetary_col].mean()
        out["monetary_value"] = rep.reindex(out.index).fillna(0.0).astype(float)
    out.index.name = customer_col
    return out


def calibration_holdout_summary(
    transactions: pd.DataFrame,
    calibration_end: "str | pd.Timestamp",
    observation_end: "str | pd.Timestamp | None" = None,
    customer_col: str = "user_id",
    datetime_col: str = "timestamp",
    monetary_col: str | None = "revenue",
    period_days: float = 7.0,
) -> pd.DataFrame:
    """Calibration summary (customers whose first purchase is in calibration) plus holdout counts.

    Adds ``frequency_holdout`` (purchase days in ``(calibration_end, observation_end]``) and
    ``duration_holdout`` (holdout length in periods).
    """
    cal_end = pd.Timestamp(calibration_end).floor("D")
    ts = pd.to_datetime(transactions[datetime_col])
    obs_end = (pd.Timestamp(observation_end) if observation_end is not None else ts.max()).floor("D")
    if obs_end <= cal_end:
        raise ValueError(f"observation_end {obs_end.date()} must be after calibration_end {cal_end.date()}")
    cal = rfm_summary(transactions, customer_col, datetime_col, monetary_col, cal_end, period_days)
    hold = transactions[(ts >= cal_end + pd.Timedelta(days=1)) & (ts < obs_end + pd.Timedelta(days=1))]
    hold_daily = _daily(hold, customer_col, datetime_col, None) if len(hold) else pd.DataFrame(columns=[customer_col, "_day"])
    counts = hold_daily.groupby(customer_col, observed=True).size() if len(hold_daily) else pd.Series(dtype=float)
    cal["frequency_holdout"] = counts.reindex(cal.index).fillna(0).astype(float).to_numpy()
    cal["duration_holdout"] = (obs_end - cal_end).days / period_days
    return cal


# --------------------------------------------------------------------------- helpers

def _as_arrays(*cols) -> list[np.ndarray]:
    return [np.asarray(c, dtype=float) for c in cols]


LOG_BOUND = 12.0
"""Log-parameters are searched in [-12, 12] (parameters between 6e-6 and 1.6e5). A parameter at the
bound means the likelihood keeps rising towards a limit of the model: e.g. BG/NBD ``b`` at the upper
bound says the data show (almost) no drop-out, the model's Poisson/NBD limit."""


def _minimise(negll, x0: np.ndarray) -> optimize.OptimizeResult:
    """Minimise over log-parameters: L-BFGS-B from the starting values; Nelder-Mead takes over when
    L-BFGS-B reports no convergence (e.g. a flat ridge of the likelihood)."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(x0)
    x0 = np.clip(np.asarray(x0, float), -LOG_BOUND + 1e-6, LOG_BOUND - 1e-6)
    res = optimize.minimize(negll, x0, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10})
    if res.success:
        return res
    polish = optimize.minimize(negll, res.x, method="Nelder-Mead", bounds=bounds,
                               options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 3000, "maxfev": 3000})
    return polish if polish.fun < res.fun else res


# --------------------------------------------------------------------------- BG/NBD

@dataclass
class BetaGeoNBD:
    """BG/NBD model; ``fit`` by maximum likelihood, then predict per customer.

    Parameters after fitting: ``r``, ``alpha`` (Gamma purchase rate heterogeneity), ``a``, ``b``
    (Beta drop-out heterogeneity). Time is in the units of the summary (weeks by default).
    """

    penalizer: float = 0.0
    params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = False

    @staticmethod
    def loglik_terms(params, frequency, recency, T) -> np.ndarray:
        """Per-customer log-likelihood (vectorised)."""
        r, alpha, a, b = params
        x, tx, T = _as_arrays(frequency, recency, T)
        A1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        A2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        A3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            A4 = np.where(
                x > 0,
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
                -np.inf,
            )
        return A1 + A2 + np.logaddexp(A3, A4)

    def _negll(self, logp, x, tx, T, w):
        p = np.exp(logp)
        ll = self.loglik_terms(p, x, tx, T)
        val = -(w * ll).sum() / w.sum() + self.penalizer * (p**2).sum()
        return val if np.isfinite(val) else 1e100

    def fit(self, frequency, recency, T, weights=None, x0=None) -> "BetaGeoNBD":
        x, tx, T = _as_arrays(frequency, recency, T)
        if not (len(x) == len(tx) == len(T)) or len(x) == 0:
            raise ValueError("frequency, recency and T must be non-empty and of equal length")
        if np.any(tx > T + 1e-9) or np.any(x < 0) or np.any((x == 0) & (tx != 0)):
            raise ValueError("invalid summary: need 0 <= recency <= T, recency == 0 when frequency == 0")
        # Aggregate identical (x, tx, T) rows: exact, and much faster on large customer bases.
        keys = pd.DataFrame({"x": x, "tx": tx, "T": T, "w": 1.0 if weights is None else np.asarray(weights, float)})
        grp = keys.groupby(["x", "tx", "T"], sort=False)["w"].sum().reset_index()
        gx, gtx, gT, gw = (grp[c].to_numpy(float) for c in ("x", "tx", "T", "w"))
        if x0 is None:
            # Starting values: r/alpha = mean purchase rate among the active, a < b (most survive a purchase).
            rate = max(np.average(gx / np.maximum(gT, 1e-9), weights=gw), 1e-3)
            x0 = np.log([0.5, 0.5 / rate, 1.0, 2.0])
        res = _minimise(lambda lp: self._negll(lp, gx, gtx, gT, gw), np.asarray(x0, float))
        r, alpha, a, b = np.exp(res.x)
        self.params = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood = float(-res.fun * gw.sum()) if self.penalizer == 0 else float(
            (gw * self.loglik_terms(np.exp(res.x), gx, gtx, gT)).sum())
        self.n_customers = int(gw.sum())
        self.converged = bool(res.success) or np.isfinite(res.fun)
        return self

    def _p(self):
        if not self.params:
            raise RuntimeError("model is not fitted")
        return self.params["r"], self.params["alpha"], self.params["a"], self.params["b"]

    def expected_purchases(self, t) -> np.ndarray:
        """E[X(t)]: expected purchases in a period of length ``t`` for a new customer."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        hyp = special.hyp2f1(r, b, a + b - 1, z)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T)."""
        r, alpha, a, b = self._p()
        x, tx, T = _as_arrays(frequency, recency, T)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_term, 700))), 1.0)

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (Fader et al. eq. 10)."""
        r, alpha, a, b = self._p()
        x, tx, T = _as_arrays(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        # (alpha+T)/(alpha+T+t) raised to r+x, in logs for large x
        first = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        numer = (a + b + x - 1) / (a - 1) * (1 - first * hyp)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        denom = 1 + np.where(x > 0, np.exp(np.minimum(log_term, 700)), 0.0)
        out = numer / denom
        return np.where(np.isfinite(out), np.maximum(out, 0.0), 0.0)


# --------------------------------------------------------------------------- Gamma-Gamma

@dataclass
class GammaGamma:
    """Gamma-Gamma spend model; ``fit`` on customers with ``frequency > 0``.

    Parameters after fitting: ``p``, ``q``, ``v`` (gamma: the scale of the spend heterogeneity).
    """

    penalizer: float = 0.0
    params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n_customers: int = 0

    @staticmethod
    def loglik_terms(params, frequency, monetary) -> np.ndarray:
        p, q, v = params
        x, m = _as_arrays(frequency, monetary)
        return (
            special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
            + q * np.log(v) + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(v + x * m)
        )

    def fit(self, frequency, monetary, x0=None) -> "GammaGamma":
        x, m = _as_arrays(frequency, monetary)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < 3:
            raise ValueError("Gamma-Gamma needs at least 3 customers with repeat purchases")

        def negll(lp):
            par = np.exp(lp)
            val = -self.loglik_terms(par, x, m).mean() + self.penalizer * (par**2).sum()
            return val if np.isfinite(val) else 1e100

        if x0 is None:
            # Method-of-moments-style start: q a little above 2, p from the spread of spend, v from the mean.
            cv2 = max(np.var(m) / np.mean(m) ** 2, 1e-3)
            p0 = max(1.0 / cv2, 0.5)
            q0 = 3.0
            v0 = (q0 - 1) * np.mean(m) / p0
            x0 = np.log([p0, q0, v0])
        res = _minimise(negll, np.asarray(x0, float))
        p, q, v = np.exp(res.x)
        self.params = {"p": float(p), "q": float(q), "v": float(v)}
        self.log_likelihood = float(self.loglik_terms(np.exp(res.x), x, m).sum())
        self.n_customers = int(len(x))
        return self

    def conditional_expected_average_profit(self, frequency, monetary) -> np.ndarray:
        """E[M | x, m_x]: a weighted mean of the population mean and the customer's own mean."""
        if not self.params:
            raise RuntimeError("model is not fitted")
        p, q, v = self.params["p"], self.params["q"], self.params["v"]
        x, m = _as_arrays(frequency, monetary)
        pop_mean = p * v / (q - 1) if q > 1 else np.nan
        return np.where(x > 0, (p * (v + x * m)) / (p * x + q - 1), pop_mean)

    @property
    def population_mean_spend(self) -> float:
        p, q, v = self.params["p"], self.params["q"], self.params["v"]
        return p * v / (q - 1) if q > 1 else float("nan")


# --------------------------------------------------------------------------- CLV

def customer_lifetime_value(
    bgnbd: BetaGeoNBD,
    gg: GammaGamma,
    frequency,
    recency,
    T,
    monetary,
    horizon_days: float = 365.0,
    period_days: float = 7.0,
    annual_discount_rate: float = 0.10,
    step_days: float = 30.0,
) -> np.ndarray:
    """Discounted expected revenue over ``horizon_days``.

    The horizon is cut into steps of ``step_days``; each step's expected purchases (the increment
    of the conditional expectation) times the expected spend is discounted at
    ``(1 + annual_discount_rate) ** (step_end_days / 365)``.
    """
    spend = gg.conditional_expected_average_profit(frequency, monetary)
    n_steps = max(int(np.ceil(horizon_days / step_days)), 1)
    total = np.zeros(len(np.asarray(frequency)), dtype=float)
    prev = np.zeros_like(total)
    for i in range(1, n_steps + 1):
        end_days = min(i * step_days, horizon_days)
        cum = bgnbd.conditional_expected_purchases(end_days / period_days, frequency, recency, T)
        total += (cum - prev) * spend / (1 + annual_discount_rate) ** (end_days / 365.0)
        prev = cum
    return total
