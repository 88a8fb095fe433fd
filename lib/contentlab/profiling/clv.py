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
on one day are one purchase occasion), time is measured in weeks (``period_days=7``). The published
estimates r=0.243, alpha=4.414, a=0.793, b=2.426 (log-likelihood -9582.4) are for their 1/10 sample of
the cohort — 2,357 customers, ``CDNOW_sample.txt`` in the ``lifetimes`` package — over the 39-week
calibration period 1997-01-01 to 1997-09-30; this module reproduces them (tests/unit/test_profiling_clv.py).
The full cohort of 23,570 customers (``CDNOW_master.txt``) over the same window gives r=0.252,
alpha=4.789, a=0.723, b=2.161, and the whole 78-week log other values again: a figure is only comparable
with the published one for the same file and window (the packaged ``cdnow`` run profile is that setting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = [
    "rfm_summary",
    "calibration_holdout_summary",
    "BetaGeoNBD",
    "GammaGamma",
    "customer_lifetime_value",
    "spend_frequency_correlation",
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
    observation_end: str | pd.Timestamp | None = None,
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
    calibration_end: str | pd.Timestamp,
    observation_end: str | pd.Timestamp | None = None,
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

NO_DROPOUT_LR = float(stats.chi2.ppf(0.95, 1))
"""Drop-out counts as *identified* when twice the log-likelihood gain of BG/NBD over its no-drop-out
limit (the NBD: a → 0 or b → ∞) is at least this, the 95% point of chi-square with 1 degree of
freedom (3.84). Below it the data do not show drop-out clearly enough to call anyone "not alive"."""

_SAME_OPTIMUM = 1e-6
"""Two local fits reached the same optimum when their mean log-likelihoods differ by less than this."""


def _local_fit(negll, x0: np.ndarray) -> optimize.OptimizeResult:
    """One local search over log-parameters from ``x0`` (L-BFGS-B within the bounds)."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(x0)
    x0 = np.clip(np.asarray(x0, float), -LOG_BOUND + 1e-6, LOG_BOUND - 1e-6)
    return optimize.minimize(negll, x0, method="L-BFGS-B", bounds=bounds,
                             options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-10})


def _polish(negll, res: optimize.OptimizeResult, rounds: int = 6) -> optimize.OptimizeResult:
    """Alternate Nelder-Mead (robust on flat, curved valleys) and a fresh L-BFGS-B (a new curvature
    estimate) from the best point until neither improves the objective any more."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(res.x)
    best = res
    for _ in range(rounds):
        before = best.fun
        nm = optimize.minimize(negll, best.x, method="Nelder-Mead", bounds=bounds,
                               options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000, "maxfev": 4000})
        if nm.fun < best.fun:
            best = nm
        lb = _local_fit(negll, best.x)
        if lb.fun < best.fun:
            best = lb
        if not before - best.fun > 1e-13 * max(1.0, abs(before)):
            break
    return best


@dataclass
class MultiStart:
    """The outcome of a multi-start fit: the best point after polishing and what each start reached."""

    best: optimize.OptimizeResult
    start_values: list[float]  # objective reached from each start (before polishing)

    @property
    def n_starts(self) -> int:
        return len(self.start_values)

    @property
    def n_at_best(self) -> int:
        """How many starts reached the best objective on their own (before polishing)."""
        return int(sum(v - self.best.fun < _SAME_OPTIMUM for v in self.start_values))


def _multistart(negll, starts) -> MultiStart:
    """Minimise ``negll`` from every start (a small deterministic set), keep the best, polish it."""
    runs = [_local_fit(negll, np.asarray(s, float)) for s in starts]
    runs = [r for r in runs if np.isfinite(r.fun)]
    if not runs:
        raise ValueError("the likelihood is not finite at any starting point")
    best = min(runs, key=lambda r: r.fun)
    return MultiStart(_polish(negll, best), [float(r.fun) for r in runs])


def _at_bound(params: dict[str, float]) -> list[str]:
    return [k for k, v in params.items() if abs(np.log(v)) >= LOG_BOUND - 1e-3]


def _minimise(negll, x0: np.ndarray) -> optimize.OptimizeResult:
    """A single start with polishing (kept for callers that supply their own start)."""
    return _polish(negll, _local_fit(negll, x0))


# --------------------------------------------------------------------------- BG/NBD

@dataclass
class BetaGeoNBD:
    """BG/NBD model; ``fit`` by maximum likelihood, then predict per customer.

    Parameters after fitting: ``r``, ``alpha`` (Gamma purchase rate heterogeneity), ``a``, ``b``
    (Beta drop-out heterogeneity). Time is in the units of the summary (weeks by default).

    The fit is a multi-start: a local search from each of a small deterministic set of starting
    points (:meth:`starting_points`), the best kept and polished. The model's no-drop-out limit (the
    NBD, reached as ``a → 0`` or ``b → ∞``) is fitted too, and compared:

    * ``ridge`` is True when the likelihood is highest at that limit: it keeps rising along a ridge
      towards ``a → 0, b → ∞`` and has no interior maximum. The parameters are then reported at the
      limit (``r``, ``alpha`` of the NBD; ``a`` at the lower and ``b`` at the upper search bound), so
      every customer is "alive" with probability ~1: the data show no drop-out.
    * ``dropout_identified`` is True when drop-out is seen: no ridge, and the likelihood-ratio statistic
      ``lr_dropout`` = 2 (LL − LL of the limit) is at least :data:`NO_DROPOUT_LR`.
    * ``n_starts`` / ``n_starts_at_best``: how many starts were tried and how many reached the best
      optimum on their own (a check that the optimum is not an accident of the start).
    """

    penalizer: float = 0.0
    params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = False
    ridge: bool = False
    dropout_identified: bool = True
    lr_dropout: float = float("nan")
    loglik_no_dropout: float = float("nan")
    n_starts: int = 0
    n_starts_at_best: int = 0
    at_bound: list[str] = field(default_factory=list)

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

    @staticmethod
    def loglik_terms_no_dropout(params, frequency, T) -> np.ndarray:
        """Per-customer log-likelihood of the no-drop-out limit (NBD: Poisson purchases at a Gamma(r, alpha)
        rate, never dropping out); BG/NBD's likelihood tends to it as a → 0 or b → ∞."""
        r, alpha = params
        x, T = _as_arrays(frequency, T)
        return special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)

    def _negll(self, logp, x, tx, T, w):
        p = np.exp(logp)
        ll = self.loglik_terms(p, x, tx, T)
        val = -(w * ll).sum() / w.sum() + self.penalizer * (p**2).sum()
        return val if np.isfinite(val) else 1e100

    @staticmethod
    def starting_points(frequency, T, weights=None) -> list[np.ndarray]:
        """The deterministic starts (log-parameters): two purchase-rate shapes ``r`` (alpha set so that
        r/alpha is the observed mean purchase rate) times three drop-out shapes (a, b): rare drop-out with
        little heterogeneity, moderate, and frequent drop-out."""
        x, T = _as_arrays(frequency, T)
        w = np.ones_like(x) if weights is None else np.asarray(weights, float)
        rate = max(np.average(x / np.maximum(T, 1e-9), weights=w), 1e-3)
        starts = []
        for r in (0.5, 2.0):
            for a, b in ((0.5, 5.0), (1.0, 2.0), (2.0, 1.0)):
                starts.append(np.log([r, r / rate, a, b]))
        return starts

    def fit(self, frequency, recency, T, weights=None, x0=None, multistart: bool = True) -> BetaGeoNBD:
        """Maximum likelihood. ``x0`` (log-parameters) is added to the starts; ``multistart=False`` searches
        from ``x0`` alone (or the first default start), without polishing, for comparisons."""
        x, tx, T = _as_arrays(frequency, recency, T)
        if not (len(x) == len(tx) == len(T)) or len(x) == 0:
            raise ValueError("frequency, recency and T must be non-empty and of equal length")
        if np.any(tx > T + 1e-9) or np.any(x < 0) or np.any((x == 0) & (tx != 0)):
            raise ValueError("invalid summary: need 0 <= recency <= T, recency == 0 when frequency == 0")
        # Aggregate identical (x, tx, T) rows: exact, and much faster on large customer bases.
        keys = pd.DataFrame({"x": x, "tx": tx, "T": T, "w": 1.0 if weights is None else np.asarray(weights, float)})
        grp = keys.groupby(["x", "tx", "T"], sort=False)["w"].sum().reset_index()
        gx, gtx, gT, gw = (grp[c].to_numpy(float) for c in ("x", "tx", "T", "w"))
        wsum = gw.sum()
        starts = self.starting_points(gx, gT, gw)
        if x0 is not None:
            starts = [np.asarray(x0, float)] + starts
        negll = lambda lp: self._negll(lp, gx, gtx, gT, gw)  # noqa: E731
        if multistart:
            ms = _multistart(negll, starts)
        else:
            single = _local_fit(negll, starts[0])
            ms = MultiStart(single, [float(single.fun)])
        res = ms.best
        ll_fit = float((gw * self.loglik_terms(np.exp(res.x), gx, gtx, gT)).sum())

        # the no-drop-out limit (NBD) fitted on its own
        def negll_nd(lp):
            val = -(gw * self.loglik_terms_no_dropout(np.exp(lp), gx, gT)).sum() / wsum
            return val + self.penalizer * (np.exp(lp) ** 2).sum() if np.isfinite(val) else 1e100

        nd = _multistart(negll_nd, [s[:2] for s in starts[:: 3]]).best if multistart else _local_fit(negll_nd, starts[0][:2])
        ll_nd = float((gw * self.loglik_terms_no_dropout(np.exp(nd.x), gx, gT)).sum())

        self.ridge = bool(multistart and ll_nd >= ll_fit - _SAME_OPTIMUM * wsum)
        if self.ridge:
            # the supremum is the limit itself: report it at the search bounds, with the limit's r, alpha
            r, alpha = np.exp(nd.x)
            a, b = np.exp(-LOG_BOUND), np.exp(LOG_BOUND)
        else:
            r, alpha, a, b = np.exp(res.x)
        self.params = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood = float((gw * self.loglik_terms([r, alpha, a, b], gx, gtx, gT)).sum())
        self.loglik_no_dropout = ll_nd
        self.lr_dropout = max(0.0, 2.0 * (self.log_likelihood - ll_nd))
        self.dropout_identified = (not self.ridge) and self.lr_dropout >= NO_DROPOUT_LR
        self.at_bound = _at_bound(self.params)
        self.n_customers = int(wsum)
        self.n_starts, self.n_starts_at_best = ms.n_starts, ms.n_at_best
        self.converged = bool(np.isfinite(res.fun))
        return self

    @property
    def purchase_rate(self) -> float:
        """Mean purchase rate of an active customer, r/α (purchases per time unit: per week by default)."""
        return self.params["r"] / self.params["alpha"]

    @property
    def dropout_probability(self) -> float:
        """Mean probability of dropping out after a purchase, a/(a+b) (the mean of the Beta(a, b) mixing)."""
        return self.params["a"] / (self.params["a"] + self.params["b"])

    @property
    def dropout_note(self) -> str | None:
        """Plain-language statement when drop-out is not seen by the model (None when it is)."""
        if not self.params or self.dropout_identified:
            return None
        if self.ridge:
            return ("BG/NBD cannot see drop-out in this log: the likelihood keeps rising towards the model's "
                    "no-drop-out limit (a → 0, b → ∞), so a and b are reported at the search bound and P(alive) is "
                    "close to 1 for everyone; P(alive) is not a finding here")
        return (f"BG/NBD sees little drop-out in this log: its likelihood beats the no-drop-out model by a "
                f"likelihood-ratio statistic of {self.lr_dropout:.2f}, below {NO_DROPOUT_LR:.2f} (95%), so a and b "
                f"are weakly determined and P(alive) is not a finding here")

    def _p(self):
        if not self.params:
            raise RuntimeError("model is not fitted")
        return self.params["r"], self.params["alpha"], self.params["a"], self.params["b"]

    def expected_purchases(self, t) -> np.ndarray:
        """E[X(t)]: expected purchases in a period of length ``t`` for a new customer."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, dtype=float)
        if self.ridge:  # the no-drop-out limit: Poisson purchases at a Gamma(r, alpha) rate
            return r * t / alpha
        z = t / (alpha + t)
        hyp = special.hyp2f1(r, b, a + b - 1, z)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T)."""
        r, alpha, a, b = self._p()
        x, tx, T = _as_arrays(frequency, recency, T)
        if self.ridge:  # the no-drop-out limit: everyone is alive
            return np.ones(np.broadcast(x, tx, T).shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_term, 700))), 1.0)

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (Fader et al. eq. 10)."""
        r, alpha, a, b = self._p()
        x, tx, T = _as_arrays(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if self.ridge:  # the no-drop-out limit: the posterior rate is Gamma(r + x, alpha + T)
            return t * (r + x) / (alpha + T)
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

    Parameters after fitting: ``p``, ``q``, ``v`` (gamma: the scale of the spend heterogeneity). Fitted,
    like BG/NBD, from a small deterministic set of starts (:meth:`starting_points`), the best polished;
    ``at_bound`` names parameters that ran to the search bound (e.g. ``q`` and ``v`` → ∞ together: customers'
    mean spends do not differ beyond what their own purchases show).
    """

    penalizer: float = 0.0
    params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float = float("nan")
    n_customers: int = 0
    n_starts: int = 0
    n_starts_at_best: int = 0
    at_bound: list[str] = field(default_factory=list)

    @staticmethod
    def starting_points(monetary) -> list[np.ndarray]:
        """Method-of-moments-style starts (log-parameters): ``p`` from the spread of spend (and p = 1),
        ``q`` = 3 or 10, ``v`` so that the population mean spend p·v/(q−1) equals the observed mean."""
        m = np.asarray(monetary, float)
        cv2 = max(np.var(m) / np.mean(m) ** 2, 1e-3)
        starts = []
        for p0 in (max(1.0 / cv2, 0.5), 1.0):
            for q0 in (3.0, 10.0):
                starts.append(np.log([p0, q0, (q0 - 1) * np.mean(m) / p0]))
        return starts

    @staticmethod
    def loglik_terms(params, frequency, monetary) -> np.ndarray:
        p, q, v = params
        x, m = _as_arrays(frequency, monetary)
        return (
            special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
            + q * np.log(v) + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(v + x * m)
        )

    def fit(self, frequency, monetary, x0=None) -> GammaGamma:
        x, m = _as_arrays(frequency, monetary)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < 3:
            raise ValueError("Gamma-Gamma needs at least 3 customers with repeat purchases")

        def negll(lp):
            par = np.exp(lp)
            val = -self.loglik_terms(par, x, m).mean() + self.penalizer * (par**2).sum()
            return val if np.isfinite(val) else 1e100

        ms = _multistart(negll, ([np.asarray(x0, float)] if x0 is not None else []) + self.starting_points(m))
        res = ms.best
        p, q, v = np.exp(res.x)
        self.params = {"p": float(p), "q": float(q), "v": float(v)}
        self.log_likelihood = float(self.loglik_terms(np.exp(res.x), x, m).sum())
        self.at_bound = _at_bound(self.params)
        self.n_starts, self.n_starts_at_best = ms.n_starts, ms.n_at_best
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


def spend_frequency_correlation(summary: pd.DataFrame) -> float:
    """Correlation between purchase frequency and mean spend per purchase among repeat customers (``frequency > 0``
    in an :func:`rfm_summary`): Gamma-Gamma assumes they are independent. NaN with fewer than 3 repeat customers
    or when either does not vary."""
    rep = summary[summary["frequency"] > 0]
    if len(rep) <= 2:
        return float("nan")
    x, m = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    if np.std(x) == 0 or np.std(m) == 0:
        return float("nan")
    return float(np.corrcoef(x, m)[0, 1])


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
