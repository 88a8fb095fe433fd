"""Profiling on data shaped like the real public datasets: what the data cannot measure is left out (and said),
never turned into a finding.

* CDNOW: date-only timestamps (every event at midnight), purchases only, heavy buyers repeating the same CD
  price: no time-burst signal is used, no heavy buyer is flagged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contentlab import pipeline
from contentlab.profiling import ProfilingConfig, profile_users
from contentlab.profiling.features import user_features
from contentlab.profiling.risk import RISK_SIGNALS
from contentlab.store import EventStore

PRICE_POINTS = (9.98, 10.78, 11.77, 12.49, 12.99, 13.97, 14.37, 14.96, 15.36)


def _cdnow_master_file(path: Path, n_light: int = 500, n_heavy: int = 25, seed: int = 0) -> list[str]:
    """A CDNOW_master.txt-format log (customer, YYYYMMDD, CDs, dollars): first purchases in Q1 1997, light buyers
    with 1-4 orders, heavy buyers with 30-90 orders at two or three personal price points, several orders on
    some days. Returns the heavy buyers' ids."""
    rng = np.random.default_rng(seed)
    start, days = pd.Timestamp("1997-01-01"), 546
    lines, heavy = [], []
    for i in range(n_light + n_heavy):
        cid = f"{i + 1:05d}"
        first = int(rng.integers(0, 90))
        if i >= n_light:
            heavy.append(cid)
            n = int(rng.integers(30, 90))
            own = rng.choice(PRICE_POINTS, size=int(rng.integers(2, 4)), replace=False)
            day_list = np.sort(np.r_[first, rng.integers(first, days, n - 1)])
            day_list = np.r_[day_list, day_list[: n // 8]]  # some days with two orders
        else:
            n = int(rng.integers(1, 5))
            own = rng.choice(PRICE_POINTS, size=n)
            day_list = np.sort(np.r_[first, rng.integers(first, days, n - 1)])
        for d in np.sort(day_list):
            cds = int(rng.choice([1, 1, 1, 2, 3]))
            lines.append(f"{cid} {(start + pd.Timedelta(days=int(d))):%Y%m%d} {cds} {cds * float(rng.choice(own)):.2f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return heavy


def _prepared_store(spec: dict, run_dir: Path) -> EventStore:
    pipeline.prepare_data(spec, run_dir)
    return EventStore(run_dir / pipeline.CLEAN_DIR)


@pytest.fixture(scope="module")
def cdnow_shaped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cdnow_shaped")
    heavy = _cdnow_master_file(tmp / "CDNOW_master.txt")
    store = _prepared_store({"kind": "cdnow", "path": str(tmp / "CDNOW_master.txt")}, tmp / "run")
    return store, heavy


def test_date_only_log_disables_the_clock_features(cdnow_shaped):
    store, _ = cdnow_shaped
    fs = user_features(store)
    assert fs.time_resolution == "day"
    for col in ("max_events_per_minute", "median_gap_s", "night_share", "mean_hour"):
        assert col in fs.unmeasurable and fs.frame[col].isna().all(), col
    assert "recorded to the day" in fs.skipped["time resolution"]
    # purchases only: sessions are orders, so the browsing signals are not used either
    for col in ("events_per_session", "sessions_per_active_day", "purchase_without_view_share"):
        assert col in fs.unmeasurable and fs.frame[col].isna().all(), col
    assert "purchases only" in fs.skipped["browsing signals"]


def test_no_heavy_buyer_is_flagged_on_cdnow_shaped_data(cdnow_shaped):
    store, heavy = cdnow_shaped
    res = profile_users(store, ProfilingConfig(k_max=4))
    prof = res.profiles.set_index("user_id")
    assert len(heavy) == 25 and prof.loc[heavy, "frequency"].min() >= 30
    # heavy buyers repeat their price points many times: the signal is extreme, but a habit alone flags nobody
    assert (prof.loc[heavy, "repeat_amount_orders"] >= 10).all()
    assert not prof.loc[heavy, "is_flagged"].any(), res.risk.table.loc[res.risk.table["is_flagged"], "reasons"]
    burst = RISK_SIGNALS["max_events_per_minute"][2]
    assert burst in res.risk.disabled and "max_events_per_minute" not in res.risk.signals
    assert not res.risk.table["reasons"].str.contains(burst, regex=False).any()


def _lifetimes_file(name: str) -> Path | None:
    from contentlab.data.adapters import cdnow_default_path

    try:
        return cdnow_default_path(name)
    except FileNotFoundError:
        return None


@pytest.mark.skipif(_lifetimes_file("CDNOW_sample.txt") is None, reason="lifetimes' CDNOW_sample.txt not installed")
def test_real_cdnow_sample_heavy_buyers_are_not_flagged(tmp_path):
    store = _prepared_store({"kind": "cdnow", "file": "CDNOW_sample.txt"}, tmp_path)
    res = profile_users(store, ProfilingConfig(k_max=4))
    prof = res.profiles
    heaviest = prof.nlargest(39, "frequency")
    assert heaviest["frequency"].min() >= 15
    assert not heaviest["is_flagged"].any()
