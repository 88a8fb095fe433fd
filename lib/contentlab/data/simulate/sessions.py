"""Sessions and the funnel: when customers come (weekday, hour, channel, trend), what they view, cart and buy.

Sessions per user follow the segment's activity rate over the user's active weeks (weekends get ``WEEKEND_LIFT``
times the traffic, hours mix a global daily profile with the segment's peak, which is its planted best send hour;
the channel mix puts the segment's planted best campaign channel above its share among all customers, web and app
counting as on-site: so both show in the activity patterns). Each session is a run of views drawn
from the choice model (items not yet launched are redrawn); each view is carted with the segment's cart rate
(adjusted by taste and discount) and each cart line bought with the segment's purchase rate at the session's
checkout. Planted "frequently bought together" pairs add the partner item to the order with ``pair_prob``.
:meth:`Funnel.record` writes the behaviour into the event log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from contentlab.data.simulate.draws import available_items
from contentlab.data.simulate.eventlog import EventLog
from contentlab.data.simulate.spec import (
    CHANNELS,
    COMPLEMENTS,
    DAY,
    DISCOUNT_LEVELS,
    EVENT_CART,
    EVENT_PURCHASE,
    EVENT_VIEW,
    HOUR_PROFILE,
    SEGMENT_SPECS,
    SEGMENTS,
    WEEKEND_LIFT,
    segment_rows,
)
from contentlab.data.simulate.state import ShopState
from contentlab.data.simulate.text import CATEGORY_KEYS


def hour_pmf(peak: float, mix: float = 0.7, sd: float = 1.6) -> np.ndarray:
    """Hour-of-day distribution: (1-mix) global profile + mix * circular Gaussian around ``peak``."""
    h = np.arange(24) + 0.5
    d = np.minimum(np.abs(h - peak), 24 - np.abs(h - peak))
    seg = np.exp(-0.5 * (d / sd) ** 2)
    return (1 - mix) * HOUR_PROFILE / HOUR_PROFILE.sum() + mix * seg / seg.sum()


def _by_segment(cdf: np.ndarray, seg: np.ndarray, u01: np.ndarray) -> np.ndarray:
    """Invert each row's segment CDF (``cdf[segment]``) at ``u01``."""
    out = np.empty(len(seg), dtype=np.int64)
    for s in range(len(SEGMENTS)):
        m = seg == s
        out[m] = np.searchsorted(cdf[s], u01[m], side="right")
    return out


@dataclass
class Sessions:
    user: np.ndarray  # per session
    start: np.ndarray  # seconds after the start of the window
    channel: np.ndarray  # index into CHANNELS

    @property
    def n(self) -> int:
        return len(self.user)


def draw_sessions(state: ShopState) -> Sessions:
    s, rng, people = state.settings, state.rng, state.people
    n_seg, n_days, seg, active_from = len(SEGMENTS), s.n_days, people.segment, people.active_from
    weekday = (state.start.day_of_week + np.arange(n_days)) % 7
    day_w = np.where(weekday >= 5, WEEKEND_LIFT, 1.0)
    trend = segment_rows("activity_trend")
    seg_day_cdf = np.zeros((n_seg, n_days + 1))
    for k in range(n_seg):
        w = day_w * np.exp(trend[k] * np.arange(n_days) / n_days)
        seg_day_cdf[k, 1:] = np.cumsum(w) / w.sum()
    rate = segment_rows("activity_rate") * s.activity_scale
    user_mult = rng.gamma(4.0, 0.25, size=people.n)
    # expected sessions: rate x active weeks, with the trend's share of the window that is active
    frac_active = 1.0 - seg_day_cdf[seg, active_from]
    mean_weeks = (n_days / 7.0) * frac_active
    n_sess_u = rng.poisson(rate[seg] * user_mult * mean_weeks)
    n_sess_u = np.maximum(n_sess_u, 1)  # everyone in the table shows up at least once
    s_user = np.repeat(np.arange(people.n), n_sess_u)
    n_sess = len(s_user)
    s_seg = seg[s_user]
    lo = seg_day_cdf[s_seg, active_from[s_user]]
    r = lo + rng.random(n_sess) * (1 - lo)
    s_day = _by_segment(seg_day_cdf, s_seg, r) - 1
    s_day = np.clip(s_day, active_from[s_user], n_days - 1)
    hour_cdf = np.array([np.cumsum(hour_pmf(SEGMENT_SPECS[name]["peak_hour"])) for name in SEGMENTS])
    hour_cdf[:, -1] = 1.0
    s_hour = _by_segment(hour_cdf, s_seg, rng.random(n_sess))
    s_start = s_day * DAY + s_hour * 3600 + rng.integers(0, 3300, n_sess)
    chan_p = np.array([[SEGMENT_SPECS[name]["channel_mix"][c] for c in CHANNELS] for name in SEGMENTS])
    chan_cdf = np.cumsum(chan_p / chan_p.sum(1, keepdims=True), axis=1)
    chan_cdf[:, -1] = 1.0
    s_chan = _by_segment(chan_cdf, s_seg, rng.random(n_sess))
    return Sessions(user=s_user, start=s_start, channel=s_chan)


@dataclass
class Funnel:
    """Views, cart lines, purchases and the planted pair additions (indices into the view arrays)."""

    view_session: np.ndarray
    view_time: np.ndarray
    view_user: np.ndarray
    view_item: np.ndarray
    view_discount: np.ndarray
    cart: np.ndarray  # index of the view each cart line comes from
    cart_time: np.ndarray
    cart_qty: np.ndarray
    checkout: np.ndarray  # per session
    purchase: np.ndarray  # index of the view each purchase line comes from
    purchase_qty: np.ndarray
    pairs: list[tuple[int, int]]  # planted (item, partner) pairs
    added_session: np.ndarray  # pair additions: the partner item bought in the same session
    added_item: np.ndarray
    added_user: np.ndarray
    view_kept: np.ndarray | None = None  # views of sessions that happen (None: all)

    def kept(self, keep_session: np.ndarray) -> Funnel:
        """The funnel without the sessions that never happen (``keep_session`` False: the user dropped out)."""
        kc = keep_session[self.view_session[self.cart]]
        kp = keep_session[self.view_session[self.purchase]]
        ka = keep_session[self.added_session]
        return replace(self, cart=self.cart[kc], cart_time=self.cart_time[kc], cart_qty=self.cart_qty[kc],
                       purchase=self.purchase[kp], purchase_qty=self.purchase_qty[kp],
                       added_session=self.added_session[ka], added_item=self.added_item[ka],
                       added_user=self.added_user[ka], view_kept=keep_session[self.view_session])

    def record(self, log: EventLog) -> None:
        """Write views, cart lines, purchases and pair additions into the event log."""
        kv = self.view_kept if self.view_kept is not None else np.ones(len(self.view_session), dtype=bool)
        c, p = self.cart, self.purchase
        log.put(self.view_time[kv], self.view_user[kv], self.view_session[kv], self.view_item[kv], EVENT_VIEW, 1,
                self.view_discount[kv])
        log.put(self.cart_time, self.view_user[c], self.view_session[c], self.view_item[c], EVENT_CART, self.cart_qty,
                self.view_discount[c])
        log.put(self.checkout[self.view_session[p]], self.view_user[p], self.view_session[p], self.view_item[p],
                EVENT_PURCHASE, self.purchase_qty, self.view_discount[p])
        ck = self.checkout[self.added_session]
        log.put(ck - 40, self.added_user, self.added_session, self.added_item, EVENT_VIEW, 1, 0.0)
        log.put(ck - 20, self.added_user, self.added_session, self.added_item, EVENT_CART, 1, 0.0)
        log.put(ck, self.added_user, self.added_session, self.added_item, EVENT_PURCHASE, 1, 0.0)


def draw_funnel(state: ShopState, pairs: list[tuple[int, int]] | None = None) -> Funnel:
    """Views, cart lines, purchases and pair additions of ``state.sessions``; ``pairs``: the planted bought-together
    pairs when they are drawn already (a shop simulated in batches of users shares them), else drawn here."""
    s, rng, cat, taste, sess = state.settings, state.rng, state.catalogue, state.taste, state.sessions
    seg = state.people.segment
    # views
    n_views_s = 1 + rng.poisson(segment_rows("views_per_session")[seg[sess.user]] - 1)
    v_sess = np.repeat(np.arange(sess.n), n_views_s)
    gaps = 5 + rng.exponential(40.0, size=len(v_sess)).astype(np.int64)
    cs = np.cumsum(gaps)
    first = np.concatenate([[0], np.cumsum(n_views_s)[:-1]])
    v_t = sess.start[v_sess] + cs - np.repeat(cs[first] - gaps[first], n_views_s)
    v_user = sess.user[v_sess]
    v_item, ok = available_items(rng, taste.sampler, v_user, v_t, cat.launch_sec)
    v_sess, v_t, v_user, v_item = v_sess[ok], v_t[ok], v_user[ok], v_item[ok]
    n_v = len(v_sess)
    v_seg = seg[v_user]
    v_disc = np.where(rng.random(n_v) < segment_rows("discount_prob")[v_seg],
                      DISCOUNT_LEVELS[rng.integers(0, len(DISCOUNT_LEVELS), n_v)], 0.0)

    # cart and purchase
    uv = np.einsum("ij,ij->i", taste.user_factors[v_user], taste.item_factors[v_item])
    boost = np.where(v_disc > 0, segment_rows("discount_cart_boost")[v_seg], 1.0)
    p_cart = segment_rows("cart_rate")[v_seg] * (0.5 + 1.0 / (1.0 + np.exp(-1.5 * uv))) * boost
    carted = rng.random(n_v) < np.clip(p_cart, 0, 0.95)
    c_idx = np.flatnonzero(carted)
    # one cart line per (session, product)
    _, first_c = np.unique(v_sess[c_idx] * cat.n + v_item[c_idx], return_index=True)
    c_idx = c_idx[np.sort(first_c)]
    c_t = v_t[c_idx] + rng.integers(3, 60, len(c_idx))
    c_qty = 1 + (rng.random(len(c_idx)) < 0.10) + (rng.random(len(c_idx)) < 0.02)
    bought = rng.random(len(c_idx)) < segment_rows("purchase_rate")[seg[v_user[c_idx]]]
    last_view_t = np.zeros(sess.n, dtype=np.int64)
    np.maximum.at(last_view_t, v_sess, v_t)
    checkout = last_view_t + rng.integers(30, 300, sess.n)
    p_idx = c_idx[bought]

    # frequently bought together: the partner is added to the same order
    if pairs is None:
        pairs = bought_together_pairs(state)
    partner = np.full(cat.n, -1)
    for a, b in pairs:
        partner[a] = b
    p_items = v_item[p_idx]
    add = (partner[p_items] >= 0) & (rng.random(len(p_idx)) < s.pair_prob)
    return Funnel(view_session=v_sess, view_time=v_t, view_user=v_user, view_item=v_item, view_discount=v_disc,
                  cart=c_idx, cart_time=c_t, cart_qty=c_qty, checkout=checkout, purchase=p_idx,
                  purchase_qty=c_qty[bought], pairs=pairs, added_session=v_sess[p_idx][add],
                  added_item=partner[p_items][add], added_user=v_user[p_idx][add])


def bought_together_pairs(state: ShopState) -> list[tuple[int, int]]:
    """Planted pairs of complementary categories among the popular half of the catalogue (no cold-start item)."""
    s, rng, cat = state.settings, state.rng, state.catalogue
    cat_index = {c: i for i, c in enumerate(CATEGORY_KEYS)}
    n_pairs = s.n_pairs if s.n_pairs is not None else max(3, cat.n // 40)
    pairs: list[tuple[int, int]] = []
    popular = np.argsort(cat.pop_rank)  # most popular first
    used: set[int] = set()
    for k in range(n_pairs):
        ca, cb = COMPLEMENTS[k % len(COMPLEMENTS)]
        cand_a = [i for i in popular[: max(10, cat.n // 2)] if cat.category[i] == cat_index[ca] and i not in used
                  and not cat.is_cold[i]]
        cand_b = [i for i in popular[: max(10, cat.n // 2)] if cat.category[i] == cat_index[cb] and i not in used
                  and not cat.is_cold[i]]
        if not cand_a or not cand_b:
            continue
        a = cand_a[int(rng.integers(0, min(4, len(cand_a))))]
        b = cand_b[int(rng.integers(0, min(4, len(cand_b))))]
        used.update((a, b))
        pairs.append((a, b))
    return pairs
