"""Fraud: accounts that are not genuine, each with one to three patterns on top of ordinary behaviour.

No single column gives them away: click-farm bursts (hundreds of views seconds apart on a handful of products at
night), impossible session rates (dozens of sessions per hour on several days) and fake orders (many tiny orders of
the same cheap product at odd hours; :mod:`contentlab.data.simulate.reviews` gives about half a 5-star review).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contentlab.data.simulate.draws import choice
from contentlab.data.simulate.eventlog import EventLog
from contentlab.data.simulate.spec import DAY, EVENT_CART, EVENT_PURCHASE, EVENT_VIEW
from contentlab.data.simulate.state import ShopState

PATTERNS = {
    "click_burst": "1-3 sessions of 150-400 views 1-3 s apart on 1-4 products, 01:00-05:00",
    "session_rate": "2-4 days with 25-45 sessions 40-120 s apart, 1-3 views each",
    "fake_orders": "10-30 single-line orders of one cheap product at 00:00-05:00, half with a 5-star review",
}
WEB, APP = 0, 1  # the channels (indices into CHANNELS) the patterns' sessions come from


@dataclass
class FraudPlant:
    patterns: dict[str, list[str]] = field(default_factory=dict)  # user id -> its patterns
    fake_order_lines: list[tuple[int, int, int]] = field(default_factory=list)  # (user, item, t) of fake purchases


def plant_fraud(state: ShopState, log: EventLog) -> FraudPlant:
    """Write every fraud account's patterns into ``log``; returns who does what."""
    s, rng, cat, people = state.settings, state.rng, state.catalogue, state.people
    n_days = s.n_days
    out = FraudPlant()
    cheap = np.argsort(cat.price)[: max(3, cat.n // 5)]
    paired = np.array([i for pair in state.funnel.pairs for i in pair], dtype=np.int64)
    cheap = np.setdiff1d(cheap, paired)  # keep the planted pairs clean
    for u in np.flatnonzero(people.is_fraud):
        k = int(choice(rng, np.array([0.4, 0.45, 0.15]), 1)[0]) + 1
        patterns = list(rng.choice(list(PATTERNS), size=k, replace=False))
        out.patterns[str(people.ids[u])] = sorted(str(p) for p in patterns)
        lo_day = people.active_from[u]
        available = np.flatnonzero(cat.launch_day <= lo_day)
        if "click_burst" in patterns:
            for _ in range(int(rng.integers(1, 4))):
                n_b = int(rng.integers(150, 400))
                t0b = int(rng.integers(lo_day, n_days)) * DAY + int(rng.integers(1, 5)) * 3600
                t = t0b + np.cumsum(rng.integers(1, 4, n_b))
                items = rng.choice(rng.choice(available, size=int(rng.integers(1, 5))), size=n_b)
                sess = log.new_sessions(np.array([WEB]))
                log.put(t, np.full(n_b, u), np.full(n_b, sess), items, EVENT_VIEW, 1, 0.0)
        if "session_rate" in patterns:
            for day in rng.choice(np.arange(lo_day, n_days), size=min(int(rng.integers(2, 5)), n_days - lo_day),
                                  replace=False):
                n_s = int(rng.integers(25, 45))
                s_t = day * DAY + int(rng.integers(0, 20)) * 3600 + np.cumsum(rng.integers(40, 120, n_s))
                n_vs = rng.integers(1, 4, n_s)
                first = log.new_sessions(np.full(n_s, APP))
                sess = np.repeat(np.arange(first, first + n_s), n_vs)
                within = np.concatenate([np.arange(1, m + 1) for m in n_vs]) * 2
                t = np.repeat(s_t, n_vs) + within
                items = rng.choice(available, size=len(t))
                log.put(t, np.full(len(t), u), sess, items, EVENT_VIEW, 1, 0.0)
        if "fake_orders" in patterns:
            pool = np.intersect1d(cheap, available)
            item = int(rng.choice(pool)) if len(pool) else int(rng.choice(available))
            n_o = int(rng.integers(10, 30))
            days = rng.integers(lo_day, n_days, n_o)
            t = days * DAY + rng.integers(0, 5 * 3600, n_o)
            first = log.new_sessions(np.full(n_o, WEB))
            sess = np.arange(first, first + n_o)
            log.put(t, np.full(n_o, u), sess, np.full(n_o, item), EVENT_VIEW, 1, 0.0)
            log.put(t + 3, np.full(n_o, u), sess, np.full(n_o, item), EVENT_CART, 1, 0.0)
            log.put(t + 8, np.full(n_o, u), sess, np.full(n_o, item), EVENT_PURCHASE, 1, 0.0)
            out.fake_order_lines.extend((u, item, int(x) + 8) for x in t)
    return out
