"""BG/NBD and Gamma-Gamma against published CDNOW estimates and data simulated from known parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contentlab.profiling.clv import (
    LOG_BOUND,
    NO_DROPOUT_LR,
    BetaGeoNBD,
    GammaGamma,
    calibration_holdout_summary,
    customer_lifetime_value,
    rfm_summary,
    spend_frequency_correlation,
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
    # planted drop-out is seen, and every start reaches the same optimum
    assert not model.ridge and model.dropout_identified and model.dropout_note is None
    assert model.lr_dropout > 100 * NO_DROPOUT_LR
    assert model.n_starts >= 4 and model.n_starts_at_best >= 2


def _simulate_no_dropout(n, r, alpha, T, rng):
    """Customers who never drop out (the NBD): Poisson purchases at a Gamma(r, alpha) rate over [0, T]."""
    lam = rng.gamma(r, 1 / alpha, size=n)
    freq = rng.poisson(lam * T).astype(float)
    # given the count, the purchase times are uniform on [0, T]: recency is the latest of them
    rec = np.where(freq > 0, T * rng.random(n) ** (1 / np.maximum(freq, 1)), 0.0)
    return freq, rec, np.full(n, T)


def _assert_at_optimum(model, x, tx, T):
    """No parameter moved by +-10% (within the search bounds) raises the log-likelihood."""
    fitted = [model.params[k] for k in ("r", "alpha", "a", "b")]
    best = BetaGeoNBD.loglik_terms(fitted, x, tx, T).sum()
    assert best == pytest.approx(model.log_likelihood, abs=1e-6)
    for factor in (0.9, 1.1):
        for i in range(4):
            moved = list(fitted)
            moved[i] *= factor
            if not np.exp(-LOG_BOUND) <= moved[i] <= np.exp(LOG_BOUND):
                continue
            assert BetaGeoNBD.loglik_terms(moved, x, tx, T).sum() <= best + 1e-6, (i, factor, model.params)


def test_bgnbd_does_not_see_dropout_where_there_is_none():
    """Simulated customers who never drop out: drop-out is not identified (the likelihood gains less than the
    chi-square 95% point over the no-drop-out model), the report note says so, the purchase process is recovered."""
    for seed in (11, 12, 13):
        rng = np.random.default_rng(seed)
        x, tx, T = _simulate_no_dropout(3000, 2.0, 4.0, 6.0, rng)
        model = BetaGeoNBD().fit(x, tx, T)
        assert not model.dropout_identified and model.lr_dropout < NO_DROPOUT_LR, (seed, model)
        assert "P(alive) is not a finding" in model.dropout_note
        assert model.params["r"] == pytest.approx(2.0, rel=0.15)
        assert model.params["alpha"] == pytest.approx(4.0, rel=0.15)
        assert model.expected_purchases(6.0) == pytest.approx(x.mean(), rel=0.05)
        _assert_at_optimum(model, x, tx, T)


def test_bgnbd_flags_the_no_dropout_ridge():
    """Every repeat buyer bought again on the last day: then each customer's likelihood term is the NBD's times
    prod_{j < x-1} (b+j)/(a+b+j) <= 1, so the likelihood rises strictly towards a -> 0 and has no interior maximum.
    The fit detects the ridge, reports the limit (a, b at the search bounds) and predicts with it."""
    rng = np.random.default_rng(11)
    x, _, T = _simulate_no_dropout(2000, 2.0, 4.0, 6.0, rng)
    tx = np.where(x > 0, T, 0.0)
    model = BetaGeoNBD().fit(x, tx, T)
    assert model.ridge and not model.dropout_identified and model.lr_dropout == pytest.approx(0.0, abs=1e-6)
    assert set(model.at_bound) == {"a", "b"}
    assert model.params["a"] == pytest.approx(np.exp(-LOG_BOUND)) and model.params["b"] == pytest.approx(np.exp(LOG_BOUND))
    assert model.params["r"] == pytest.approx(2.0, rel=0.15) and model.params["alpha"] == pytest.approx(4.0, rel=0.15)
    assert model.log_likelihood == pytest.approx(model.loglik_no_dropout, abs=1e-6)
    assert "cannot see drop-out" in model.dropout_note and "P(alive) is not a finding" in model.dropout_note
    _assert_at_optimum(model, x, tx, T)
    # predictions are the no-drop-out limit's: everyone alive, E[Y(t) | x, T] = t (r + x) / (alpha + T)
    assert np.all(model.p_alive(x, tx, T) == 1.0)
    r, alpha = model.params["r"], model.params["alpha"]
    np.testing.assert_allclose(model.conditional_expected_purchases(3.0, x, tx, T), 3.0 * (r + x) / (alpha + T))
    assert model.expected_purchases(6.0) == pytest.approx(x.mean(), rel=0.05)
    # a single local search stops somewhere on the ridge, short of the limit the multi-start reports
    single = BetaGeoNBD().fit(x, tx, T, x0=np.log([0.5, 1.0, 1.0, 2.0]), multistart=False)
    assert not single.ridge and single.log_likelihood < model.log_likelihood
    assert single.params["a"] > 10 * np.exp(-LOG_BOUND) or single.params["b"] < np.exp(LOG_BOUND) / 10


def test_bgnbd_multistart_beats_a_bad_single_start():
    """From a start in the homogeneous-drop-out corner (a, b huge) a single local search stays there; the
    multi-start (which also tries that start) reaches the maximum the good starts find."""
    rng = np.random.default_rng(3)
    x, tx, T = _simulate_bgnbd(3000, 0.5, 3.0, 1.2, 3.5, 40.0, rng)
    bad = np.log([1e-5, 1e-5, 1e5, 1e5])
    single = BetaGeoNBD().fit(x, tx, T, x0=bad, multistart=False)
    multi = BetaGeoNBD().fit(x, tx, T, x0=bad)
    assert multi.log_likelihood > single.log_likelihood + 10
    assert multi.params["a"] == pytest.approx(1.2, rel=0.35) and multi.params["b"] == pytest.approx(3.5, rel=0.35)
    _assert_at_optimum(multi, x, tx, T)


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
    assert gg.at_bound == [] and gg.n_starts_at_best >= 2
    # a start far out in the flat corner (q, v huge) does not stop the multi-start reaching the same fit
    again = GammaGamma().fit(x, spend, x0=np.log([1e-3, 1e5, 1e5]))
    for k in ("p", "q", "v"):
        assert again.params[k] == pytest.approx(gg.params[k], rel=1e-4)


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


@pytest.mark.skipif(CDNOW_DIR is None or not (CDNOW_DIR / "CDNOW_sample.txt").exists(),
                    reason="CDNOW_sample.txt not installed")
def test_cdnow_preset_reproduces_the_published_setting(tmp_path):
    """The packaged `cdnow` profile: the 2,357-customer sample file, calibration ending 1997-09-30 (39 weeks), through
    the stage's own path (01's validation, the EventStore, profile_users): the calibration fit is the published one."""
    from contentlab import pipeline
    from contentlab.profiling import ProfilingConfig, profile_users
    from contentlab.profiling.report import data_source
    from contentlab.run import load_profile
    from contentlab.store import EventStore

    profile = load_profile("cdnow")
    params = profile["notebooks"]["02_profiling"]
    ds = pipeline.prepare_data(profile["dataset"], tmp_path)
    assert data_source(ds.meta) == "file CDNOW_sample.txt"
    res = profile_users(EventStore(tmp_path / pipeline.CLEAN_DIR),
                        ProfilingConfig(calibration_end=params["calibration_end"], k_max=4))
    v = res.clv
    assert not res.profiles["is_flagged"].any()  # nobody is left out of the fit
    assert (v.log_start, v.calibration_end, v.holdout_start, v.log_end) == (
        pd.Timestamp("1997-01-01"), pd.Timestamp("1997-09-30"), pd.Timestamp("1997-10-01"), pd.Timestamp("1998-06-30"))
    assert v.calibration_weeks == 39.0
    # 8 of the 2,357 customers placed only $0.00 orders, which validation rejects (price > 0)
    assert v.calibration_bgnbd.n_customers == 2349
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert v.calibration_bgnbd.params[name] == pytest.approx(value, rel=0.01), (name, v.calibration_bgnbd.params)
    # the whole-log fit (CLV, bgnbd_* metrics) is a different window and says so
    assert v.bgnbd.n_customers == 2349 and v.bgnbd.params != v.calibration_bgnbd.params


def test_calibration_end_outside_the_log_is_reported_not_fitted():
    from contentlab.profiling.core import ProfilingConfig, customer_value

    tx = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"],
                       "timestamp": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-01-05", "2020-03-01", "2020-02-10"]),
                       "revenue": [10.0, 12.0, 5.0, 6.0, 7.0]})
    v = customer_value(tx, pd.Timestamp("2020-03-01"), ProfilingConfig(calibration_end="2021-01-01"))
    assert v.calibration is None and v.calibration_end is None
    assert any("calibration_end 2021-01-01 is not within the log (2020-01-01 to 2020-03-01" in n for n in v.notes)


def test_p_alive_is_not_presented_when_dropout_is_not_seen():
    """Customers who never drop out: P(alive) is unknown, not 1 for everyone; the report tables leave it out."""
    from contentlab.profiling.core import ProfilingConfig, customer_value
    from contentlab.profiling.report import segment_table, top_customers

    rng = np.random.default_rng(4)
    rows = []
    for u in range(400):  # steady buyers over 20 weeks, nobody stops
        rate = rng.gamma(2.0, 0.25)
        t = 0.0
        while True:
            t += rng.exponential(1 / rate)
            if t > 20:
                break
            rows.append((f"u{u:03d}", pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=t), float(rng.integers(5, 50))))
    tx = pd.DataFrame(rows, columns=["user_id", "timestamp", "revenue"])
    v = customer_value(tx, pd.Timestamp("2024-05-19"), ProfilingConfig(holdout_days=21))
    assert not v.bgnbd.dropout_identified
    assert v.summary["p_alive"].isna().all() and v.summary["clv"].notna().all()
    assert any("P(alive) is not a finding" in n for n in v.notes)
    prof = v.summary.reset_index().rename(columns={"frequency": "x"}).assign(
        frequency=lambda d: d["x"] + 1, monetary=lambda d: d["monetary_value"] * (d["x"] + 1), segment="A",
        R=3, rfm_segment="Champions")
    table, _ = segment_table(prof)
    assert "p_alive_mean" not in table.columns and "clv_mean" in table.columns
    assert "p_alive" not in top_customers(prof, 5, 90).columns


def test_derived_bgnbd_quantities_and_the_report_table():
    """r/α and a/(a+b) as the report shows them; the parameter table lists the fit, the derived values and the
    drop-out likelihood ratio, and Gamma-Gamma's population mean spend pγ/(q−1)."""
    from contentlab.profiling.core import CLVResult
    from contentlab.profiling.report import clv_parameter_table

    bg = BetaGeoNBD(params={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, lr_dropout=12.5)
    assert bg.purchase_rate == pytest.approx(0.243 / 4.414)
    assert bg.dropout_probability == pytest.approx(0.793 / (0.793 + 2.426))
    gg = GammaGamma(params={"p": 6.25, "q": 3.74, "v": 15.44})
    table = clv_parameter_table(CLVResult(pd.DataFrame(), bg, gg, None, None)).set_index("parameter")["value"]
    assert table["r"] == 0.243 and table["b"] == 2.426 and table["γ (v)"] == 15.44
    assert table["mean purchase rate while active, r/α (per week)"] == pytest.approx(0.0550521)
    assert table["mean drop-out probability after a purchase, a/(a+b)"] == pytest.approx(0.2463498)
    assert table[f"drop-out seen: likelihood ratio vs no drop-out (≥ {NO_DROPOUT_LR:.2f})"] == 12.5
    assert table["population mean spend per purchase day, pγ/(q−1)"] == pytest.approx(6.25 * 15.44 / 2.74)
    assert clv_parameter_table(CLVResult(pd.DataFrame(), None, None, None, None)).empty


def test_spend_frequency_correlation_among_repeat_customers():
    summary = pd.DataFrame({"frequency": [0, 1, 2, 3, 4, 0], "monetary_value": [0.0, 10.0, 12.0, 9.0, 20.0, 0.0]})
    rep = summary[summary["frequency"] > 0]
    expected = np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1]
    assert spend_frequency_correlation(summary) == pytest.approx(expected)  # one-time buyers left out
    assert np.isnan(spend_frequency_correlation(summary.iloc[:3]))  # two repeat customers: no estimate
    flat = summary.assign(monetary_value=[0.0, 5.0, 5.0, 5.0, 5.0, 0.0])
    assert np.isnan(spend_frequency_correlation(flat))  # spend does not vary: undefined, not an error


def test_holdout_totals_and_notes_print_what_was_computed():
    """Predicted against actual holdout purchase days come from the calibration table; a missing correlation
    prints as the shared NA, never 'nan'."""
    from types import SimpleNamespace

    from contentlab import fmt
    from contentlab.profiling.core import CLVResult
    from contentlab.profiling.report import clv_notes, holdout_notes

    cal = pd.DataFrame({"frequency": [0, 1, 2], "frequency_holdout": [1, 0, 2], "predicted_holdout": [0.5, 0.7, 1.9]})
    cb = BetaGeoNBD(params={"r": 1.0, "alpha": 2.0, "a": 0.5, "b": 2.0}, dropout_identified=True, n_customers=3)
    v = CLVResult(pd.DataFrame({"frequency": [1, 2], "monetary_value": [5.0, 5.0]}), cb,
                  GammaGamma(params={"p": 1.0, "q": 3.0, "v": 1.0}, n_starts=4, n_starts_at_best=4), cal, cb)
    assert v.holdout_actual == 3.0 and v.holdout_predicted == pytest.approx(3.1)
    res = SimpleNamespace(clv=v, spend_frequency_correlation=spend_frequency_correlation(v.summary))
    assert holdout_notes(res) == ["The calibration fit predicts **3** repeat purchase days in the holdout for these "
                                  "customers; **3** happened."]
    assert clv_notes(res)[-1].endswith(f"correlation among repeat customers is {fmt.NA}.")
    no_check = CLVResult(pd.DataFrame(), cb, None, None, None, notes=["no holdout check: the log is too short"])
    assert no_check.holdout_actual is None and no_check.holdout_predicted is None
    assert holdout_notes(SimpleNamespace(clv=no_check)) == ["No holdout check: the log is too short."]
