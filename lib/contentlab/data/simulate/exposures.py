"""The historical content campaign (the ``exposures`` table): who was shown which copy, and how they responded.

Each impression was independently assigned 50/50 to a variant (so assignment counts follow Binomial(n, 1/2) and an
SRM check passes), products drawn from each user's own taste, one content id per (product, channel, variant). Every
user gets Poisson(``exposures_per_user``) impressions within their active days (new visitors get a welcome series,
so their segment is as well measured as the others). Outcomes come from the audience model
(:func:`contentlab.data.simulate.audience.simulate_campaign`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.simulate.audience import EXPOSURE_CHANNEL_MIX, EXPOSURE_CHANNELS, VARIANTS, simulate_campaign
from contentlab.data.simulate.draws import available_items, choice, ids, strings, timestamps
from contentlab.data.simulate.spec import DAY, SEGMENTS
from contentlab.data.simulate.state import ShopState


def historical_impressions(state: ShopState) -> pd.DataFrame:
    """The campaign's impressions (``timestamp, user_id, content_id, product_id, variant, channel, segment``)."""
    s, rng, people, cat = state.settings, state.rng, state.people, state.catalogue
    n_imp = rng.poisson(s.exposures_per_user, size=people.n)
    e_user = np.repeat(np.arange(people.n), n_imp)
    n = len(e_user)
    e_chan = choice(rng, np.array([EXPOSURE_CHANNEL_MIX[c] for c in EXPOSURE_CHANNELS]), n)
    active_from = people.active_from[e_user]
    day = active_from + np.floor(rng.random(n) * (s.n_days - active_from)).astype(np.int64)
    t = day * DAY + rng.integers(7 * 3600, 22 * 3600, n)
    item, ok = available_items(rng, state.taste.sampler, e_user, t, cat.launch_sec)
    e_user, e_chan, t, item = e_user[ok], e_chan[ok], t[ok], item[ok]
    var = rng.integers(0, 2, len(e_user))
    combo = (item * len(EXPOSURE_CHANNELS) + e_chan) * 2 + var
    codes, inv = np.unique(combo, return_inverse=True)
    content_ids = ids("C", len(codes), 5)
    return pd.DataFrame({
        "timestamp": timestamps(state.start, t),
        "user_id": strings(people.ids[e_user]),
        "content_id": strings(content_ids[inv]),
        "product_id": strings(cat.ids[item]),
        "variant": strings(np.array(VARIANTS, dtype=object)[var]),
        "channel": strings(np.array(EXPOSURE_CHANNELS, dtype=object)[e_chan]),
        "segment": strings(np.array(SEGMENTS, dtype=object)[people.segment[e_user]]),
    })


def historical_exposures(state: ShopState, truth: dict[str, Any]) -> pd.DataFrame:
    """The exposures table: the impressions with outcomes drawn from the planted response, ordered by time."""
    impressions = historical_impressions(state)
    exposures = simulate_campaign(impressions, truth, seed=int(state.rng.integers(0, 2**31 - 1)), start=state.start,
                                  n_days=state.settings.n_days)
    return exposures.sort_values(["timestamp", "user_id", "content_id"], kind="stable").reset_index(drop=True)
