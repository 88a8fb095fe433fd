"""BG/NBD and Gamma-Gamma against published CDNOW estimates and data simulated from known parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contentlab.profiling.clv import (
    BetaGeoNBD, GammaGamma, calibration_holdout_summary, customer_lifetime_value, rfm_summary,
)

try:
    import importlib.util

    _spec = importlib.util.find_spec("lifetimes")
    CDNOW_DIR = Path(_spec.origin).parent / "datasets" if _spec and _spec.origin else None
except Exception:  # pragma: no cover
    CDNOW_DIR = None

needs_cdnow = pytest.mark.skipif(
    CDNOW_DIR is None or not (CDNOW_DIR / "CDNOW_master.txt").exists(), reason="CDNOW_master.txt not installed"
)


def _read_cdnow_master() -> pd.DataFrame:
    """CDNOW_master.txt: whitespace separated customer, date (YYYYMMDD), number of CDs, dollars."""
    df = pd.read_csv(CDNOW_DIR / "CDNOW_master.txt", sep=r"\s+", header=None, skiprows=1,
                     names=["customer", "date", "cds", "dollars"], dtype={"customer": str, "date": str})
    df["timestamp"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return df


def _cdnow_sample_ids() -> set[str]:
    """The 2,357 customers of Fader & Hardie's 1/10 systematic sample (first column of CDNOW_sample.txt)."""
    s = pd.read_csv(CDNOW_DIR / "CDNOW_sample.txt", sep=r"\s+", header=None, usecols=[0], names=["customer"],
                    dtype={"customer": str})
    return set(s["customer"])


@pytest.fixture(scope="module")
def cdnow_calibration() -> pd.DataFrame:
    tx = _read_cdnow_master()
    tx = tx[tx["customer"].isin(_cdnow_sample_ids())]
    return calibration_holdout_summary(tx, "1997-09-30", "1998-06-30", "customer", "timestamp", "dollars", period_days=7)


@needs_cdnow
def test_cdnow_summary_matches_the_published_data(cdnow_calibration):
    cal = cdnow_calibration
    # Fader & Hardie's summary: 2,357 customers, 1,411 with no repeat purchase, T of customer 1 = 38.86 weeks
    assert len(cal) == 2357
    assert int((cal["frequency"] == 0).sum()) == 1411
    assert cal["T"].max() == pytest.approx(38.857, abs=1e-3)
    assert int(cal["frequency"].sum()) == 2457


@needs_cdnow
def test_bgnbd_reproduces_fader_hardie_lee_2005_on_cdnow(cdnow_calibration):
    cal = cdnow_calibration
    model = BetaGeoNBD().fit(cal["frequency"], cal["recency"], cal["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert model.params[name] == pytest.approx(value, rel=0.01), (name, model.params)
    # published log-likelihood -9582.4
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.5)


@needs_cdnow
def test_gamma_gamma_reproduces_published_cdnow_spend_model(cdnow_calibration):
    cal = cdnow_calibration
    gg = GammaGamma().fit(cal["frequency"], cal["monetary_value"])
    assert gg.n_customers == 946
    published = {"p": 6.25, "q": 3.74, "v": 15.44}
    for name, value in published.items():
        assert gg.params[name] == pytest.approx(value, rel=0.01), (name, gg.params)


@needs_cdnow
def test_cdnow_holdout_forecast_is_close_to_actual(cdnow_calibration):
    cal = cdnow_calibration
    model = BetaGeoNBD().fit(cal["frequency"], cal["recency"], cal["T"])
    pred = model.conditional_expected_purchases(cal["duration_holdout"].iloc[0], cal["frequency"], cal["recency"], cal["T"])
    # 39-week holdout: the model's total is within 15% of the 1,882 actual repeat purchase days
    assert cal["frequency_holdout"].sum() == 1882
    assert pred.sum() == pytest.approx(1882, rel=0.15)
    # customers with more calibration purchases are predicted (and observed) to buy more
    by_f = pd.DataFrame({"f": cal["frequency"].clip(upper=4), "pred": pred, "act": cal["frequency_holdout"]}).groupby("f").mean()
    assert by_f["pred"].is_monotonic_increasing and by_f["act"].is_monotonic_increasing


def _simulate_bgnbd(n, r, alpha, a, b, T, rng):
    """Draw (frequency, recency) per customer from the BG/NBD story with a common T."""
    lam = rng.gamma(r, 1 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    freq = np.zeros(n)
    rec = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            freq[i] += 1
            rec[i] = t
            if rng.random() < p[i]:
                break
    return freq, rec, np.full(n, T)


def test_bgnbd_recovers_simulated_parameters():
    rng = np.random.default_rng(3)
    true = {"r": 0.5, "alpha": 3.0, "a": 1.2, "b": 3.5}
    x, tx, T = _simulate_bgnbd(8000, true["r"], true["alpha"], true["a"], true["b"], 40.0, rng)
    model = BetaGeoNBD().fit(x, tx, T)
    assert model.params["r"] == pytest.approx(true["r"], rel=0.12)
    assert model.params["alpha"] == pytest.approx(true["alpha"], rel=0.2)
    assert model.params["a"] == pytest.approx(true["a"], rel=0.35)
    assert model.params["b"] == pytest.approx(true["b"], rel=0.35)
    # the fitted population forecast matches the simulated mean count
    assert model.expected_purchases(40.0) == pytest.approx(x.mean(), rel=0.05)


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(5)
    p, q, v = 4.0, 5.0, 20.0
    n = 5000
    x = rng.integers(1, 8, size=n).astype(float)
    nu = rng.gamma(q, 1 / v, size=n)
    spend = np.array([rng.gamma(p, 1 / nu_i, size=int(k)).mean() for nu_i, k in zip(nu, x)])
    gg = GammaGamma().fit(x, spend)
    assert gg.params["p"] == pytest.approx(p, rel=0.1)
    assert gg.params["q"] == pytest.approx(q, rel=0.15)
    assert gg.params["v"] == pytest.approx(v, rel=0.2)
    assert gg.population_mean_spend == pytest.approx(spend.mean(), rel=0.05)


def test_predictions_behave():
    m = BetaGeoNBD(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    # no repeat purchase: certainly alive under BG/NBD
    assert m.p_alive([0], [0], [30])[0] == 1.0
    # same frequency, earlier last purchase -> less likely alive and fewer expected purchases
    pa = m.p_alive([3, 3], [25, 5], [30, 30])
    assert pa[0] > pa[1]
    e = m.conditional_expected_purchases(10, [3, 3], [25, 5], [30, 30])
    assert e[0] > e[1] > 0
    # expectations grow with the horizon
    e1, e2 = m.conditional_expected_purchases(np.array([5.0, 20.0]), [2, 2], [10, 10], [30, 30])
    assert e2 > e1
    # E[X(t)] at t -> 0 is 0
    assert m.expected_purchases(1e-9) == pytest.approx(0, abs=1e-6)


def test_rfm_summary_by_hand():
    tx = pd.DataFrame({
        "user_id": ["a", "a", "a", "a", "b"],
        "timestamp": pd.to_datetime(["2020-01-01 09:00", "2020-01-01 18:00", "2020-01-08 10:00", "2020-01-15 10:00", "2020-01-10 10:00"]),
        "revenue": [10.0, 5.0, 20.0, 40.0, 7.0],
    })
    s = rfm_summary(tx, observation_end="2020-01-29")
    # a: purchase days 1, 8, 15 -> 2 repeats, recency 2 weeks, T 4 weeks; repeat spend mean (20 + 40) / 2
    assert s.loc["a", "frequency"] == 2
    assert s.loc["a", "recency"] == pytest.approx(2.0)
    assert s.loc["a", "T"] == pytest.approx(4.0)
    assert s.loc["a", "monetary_value"] == pytest.approx(30.0)
    assert s.loc["b", "frequency"] == 0 and s.loc["b", "monetary_value"] == 0
    cal = calibration_holdout_summary(tx, "2020-01-08", "2020-01-29")
    assert cal.loc["a", "frequency"] == 1 and cal.loc["a", "frequency_holdout"] == 1
    # b's first purchase falls after the calibration period: not a calibration customer
    assert "b" not in cal.index
    assert cal["duration_holdout"].iloc[0] == pytest.approx(3.0)


def test_clv_discounting():
    bg = BetaGeoNBD(params={"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5})
    gg = GammaGamma(params={"p": 6.0, "q": 4.0, "v": 15.0})
    args = ([2.0], [10.0], [20.0], [30.0])
    undiscounted = customer_lifetime_value(bg, gg, *args, horizon_days=360, annual_discount_rate=0.0)
    discounted = customer_lifetime_value(bg, gg, *args, horizon_days=360, annual_discount_rate=0.2)
    # without discounting CLV = expected purchases over the horizon x expected spend
    expect = bg.conditional_expected_purchases(360 / 7, *args[:3]) * gg.conditional_expected_average_profit([2.0], [30.0])
    assert undiscounted[0] == pytest.approx(expect[0], rel=1e-9)
    assert 0 < discounted[0] < undiscounted[0]


@needs_cdnow
def test_cdnow_through_the_adapter_and_event_store(tmp_path):
    """The stage's own path: CDNOW adapter -> Parquet -> EventStore orders -> summary -> BG/NBD."""
    from contentlab.data.adapters import load_cdnow
    from contentlab.profiling.core import order_transactions
    from contentlab.store import EventStore

    ds, _ = load_cdnow(CDNOW_DIR / "CDNOW_master.txt")
    ds.events.to_parquet(tmp_path / "events.parquet", index=False)
    tx = order_transactions(EventStore(tmp_path))
    tx = tx[tx["user_id"].isin(_cdnow_sample_ids())]
    cal = calibration_holdout_summary(tx, "1997-09-30", "1998-06-30", "user_id", "timestamp", "revenue")
    assert len(cal) == 2357
    model = BetaGeoNBD().fit(cal["frequency"], cal["recency"], cal["T"])
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert model.params[name] == pytest.approx(value, rel=0.01), (name, model.params)
