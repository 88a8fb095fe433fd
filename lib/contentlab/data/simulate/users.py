"""The customers: their planted segment, sign-up day, which accounts are not genuine, and the users table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab.data.simulate.draws import choice, ids, strings, timestamps
from contentlab.data.simulate.spec import (
    AGE_BANDS,
    DAY,
    REGIONS,
    SEGMENT_AGE,
    SEGMENT_SPECS,
    SEGMENTS,
    segment_rows,
    signup_window,
)
from contentlab.data.simulate.state import ShopState

ACQUISITION_CHANNELS = ("organic", "ads", "social", "email")


@dataclass
class People:
    segment: np.ndarray  # index into SEGMENTS, per user
    signup_day: np.ndarray  # days after the start (negative: signed up before the window)
    active_from: np.ndarray  # first day of the window the user can be active
    is_fraud: np.ndarray
    n_fraud: int
    ids: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def draw_people(state: ShopState) -> People:
    s, rng = state.settings, state.rng
    n_seg = len(SEGMENTS)
    seg = choice(rng, segment_rows("share"), s.n_users)
    seg[:n_seg] = np.arange(n_seg)  # every segment present
    signup_day = np.zeros(s.n_users, dtype=int)
    for k, name in enumerate(SEGMENTS):
        m = seg == k
        lo, hi = signup_window(SEGMENT_SPECS[name]["signup"], s.n_days)
        signup_day[m] = np.floor(rng.uniform(lo, hi, size=m.sum())).astype(int)
    signup_day = np.minimum(signup_day, s.n_days - 2)
    n_fraud = int(round(s.fraud_share * s.n_users))
    if s.fraud_share > 0:
        n_fraud = max(n_fraud, 1)
    is_fraud = np.zeros(s.n_users, dtype=bool)
    is_fraud[rng.choice(s.n_users, size=n_fraud, replace=False)] = True
    return People(segment=seg, signup_day=signup_day, active_from=np.maximum(signup_day, 0), is_fraud=is_fraud,
                  n_fraud=n_fraud, ids=ids("U", s.n_users, 5))


def users_table(state: ShopState) -> pd.DataFrame:
    """The users table: sign-up date (never after the first event), region, acquisition channel, age band, gender."""
    p, rng, ev = state.people, state.rng, state.events.arrays
    first_t = np.full(p.n, state.end_sec, dtype=np.int64)
    np.minimum.at(first_t, ev["user"], ev["t"])
    signup_sec = np.minimum(p.signup_day.astype(np.int64) * DAY, (first_t // DAY) * DAY)
    acq = np.empty(p.n, dtype=object)
    age = np.empty(p.n, dtype=object)
    for k, name in enumerate(SEGMENTS):
        m = np.flatnonzero(p.segment == k)
        a = SEGMENT_SPECS[name]["acquisition"]
        acq[m] = np.array(ACQUISITION_CHANNELS, dtype=object)[
            choice(rng, np.array([a[c] for c in ACQUISITION_CHANNELS]), len(m))]
        age[m] = np.array(AGE_BANDS, dtype=object)[choice(rng, np.array(SEGMENT_AGE[name]), len(m))]
    gender = np.array(["F", "M", "U"], dtype=object)[choice(rng, np.array([0.55, 0.42, 0.03]), p.n)]
    regions = np.array(REGIONS[state.settings.locale], dtype=object)
    return pd.DataFrame({
        "user_id": strings(p.ids),
        "signup_date": timestamps(state.start, signup_sec),
        "region": strings(regions[choice(rng, np.array([0.3, 0.2, 0.15, 0.15, 0.1, 0.1]), p.n)]),
        "channel": strings(acq),
        "age_band": strings(age),
        "gender": strings(gender),
    })
