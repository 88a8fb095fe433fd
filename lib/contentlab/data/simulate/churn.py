"""Churn: customers who drop out for good after a repeat purchase day, as in the BG/NBD model.

Every genuine customer has a drop-out probability ``p ~ Beta(dropout_a, dropout_b)`` (``dropout_a = 0``: none):
after each repeat purchase day (a day with a purchase other than the first one) they stop with probability ``p``,
and their later sessions never happen. Fraud accounts never drop out (their patterns are planted apart). Churn draws
from its own random stream, so every other draw of the simulation is the same with or without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contentlab.data.simulate.spec import DAY
from contentlab.data.simulate.state import ShopState

MODEL = ("after each repeat purchase day (every purchase day but the first) a genuine customer stops for good with "
         "probability dropout_prob ~ Beta(a, b), as in BG/NBD; fraud accounts never drop out")

NEVER = np.iinfo(np.int64).max


@dataclass
class Dropout:
    prob: np.ndarray  # per user
    time: np.ndarray  # seconds after the start of the purchase after which the user stops (NEVER: does not)

    def dropped_out(self, end_sec: int) -> np.ndarray:
        return self.time < end_sec

    def sessions_kept(self, session_user: np.ndarray, session_start: np.ndarray) -> np.ndarray:
        """Sessions that happen: those starting no later than their user's drop-out."""
        return session_start <= self.time[session_user]


def plant_dropout(state: ShopState) -> Dropout:
    s, people, sess, funnel = state.settings, state.people, state.sessions, state.funnel
    crng = state.churn_rng()
    p_drop = crng.beta(s.dropout_a, s.dropout_b, size=people.n) if s.dropout_a > 0 else np.zeros(people.n)
    p_drop[people.is_fraud] = 0.0  # fraud patterns are planted apart
    buy_sess = np.unique(funnel.view_session[funnel.purchase])
    bs_user, bs_t = sess.user[buy_sess], funnel.checkout[buy_sess]
    o = np.lexsort((bs_t, bs_user))
    bs_user, bs_t = bs_user[o], bs_t[o]
    # purchase occasions are days (as BG/NBD counts them); the first is the start of the relationship
    bs_day = bs_t // DAY
    new_day = np.r_[True, (bs_user[1:] != bs_user[:-1]) | (bs_day[1:] != bs_day[:-1])]
    first_day = np.r_[True, bs_user[1:] != bs_user[:-1]]
    chance = new_day & ~first_day
    drops = chance & (crng.random(len(bs_user)) < p_drop[bs_user])
    dropout_t = np.full(people.n, NEVER, dtype=np.int64)
    np.minimum.at(dropout_t, bs_user[drops], bs_t[drops])  # the first purchase after which the user stops
    return Dropout(prob=p_drop, time=dropout_t)
