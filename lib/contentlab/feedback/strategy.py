"""Publishing strategy per segment: when to send, on which channel, and how often, with its uncertainty.

:func:`publishing_strategy` reads the behaviour log and (when there is one) an exposure log and recommends, per
segment:

- **send hour** and **day of week**: the hour (circularly smoothed over its neighbours) and weekday in which the
  segment's sessions start most often, per user; the uncertainty is a bootstrap over users (``hour_pm``: the
  largest distance from the recommended hour among 95% of the bootstrap choices, ``hour_agreement``: the share of
  bootstrap choices equal to it);
- **channel**: with an exposure log that has enough clicks, the channel with the highest click-through rate
  (Beta(1 + clicks, 1 + misses) posteriors, ``channel_p_best`` = P(best) from posterior draws); otherwise the channel
  where the segment is most over-represented among session starts compared with all customers (on-site sessions,
  web and app, count as ``product_page``), with a user bootstrap for P(best). ``channel_mix`` recommends shares in
  proportion to that over-representation;
- **frequency cap** (messages per week): from the exposure log, the fatigue point ``k`` that maximises the
  likelihood of a binomial model of clicks with a channel intercept and a ``log(max(weekly / k, 1))`` fatigue term
  (``weekly``: the messages the user received in the 7 days up to and including the impression); the interval is
  every ``k`` within the 95% likelihood-ratio bound.

Everything is keyed by the segments handed in (02's profile segments in the stage); a segment with too little data
gets no recommendation and a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CHANNEL_MAP = {"web": "product_page", "app": "product_page", "email": "email", "push": "push",
               "product_page": "product_page"}
MESSAGE_CHANNELS = ("email", "push")
MIN_SESSIONS = 30
MIN_CLICKS_PER_CELL = 20
CAPS = tuple(range(1, 13))


@dataclass
class PublishingStrategy:
    table: pd.DataFrame  # one row per segment: the recommendation and its uncertainty
    hours: pd.DataFrame  # segment x hour: share of session starts
    channels: pd.DataFrame  # segment x channel: activity share, lift, and (with exposures) CTR with its interval
    fatigue: pd.DataFrame | None  # segment x cap: log-likelihood below the best
    notes: list[str] = field(default_factory=list)

    @property
    def best_hour(self) -> dict[str, int]:
        t = self.table.dropna(subset=["best_hour"])
        return {str(r.segment): int(r.best_hour) for r in t.itertuples()}

    @property
    def best_channel(self) -> dict[str, str]:
        t = self.table.dropna(subset=["best_channel"])
        return {str(r.segment): str(r.best_channel) for r in t.itertuples()}

    @property
    def frequency_cap(self) -> dict[str, int]:
        if "frequency_cap" not in self.table:
            return {}
        t = self.table.dropna(subset=["frequency_cap"])
        return {str(r.segment): int(r.frequency_cap) for r in t.itertuples()}

    def recovery(self, planted: dict[str, dict[str, Any]], true_segment: dict[str, str]) -> dict[str, Any]:
        """How many segments' recommendations match the planted truth: ``planted`` maps a true segment to its
        ``best_hour``, ``best_channel`` and ``fatigue_point``; ``true_segment`` maps each segment here to a true
        segment. An hour counts within one hour (circularly), a cap within one message per week."""
        hours = channels = caps = checked = 0
        for seg, true in true_segment.items():
            p = planted.get(true)
            if p is None:
                continue
            checked += 1
            h = self.best_hour.get(seg)
            if h is not None:
                d = abs(h - int(p["best_hour"]))
                hours += int(min(d, 24 - d) <= 1)
            channels += int(self.best_channel.get(seg) == p["best_channel"])
            cap = self.frequency_cap.get(seg)
            caps += int(cap is not None and abs(cap - int(p["fatigue_point"])) <= 1)
        return {"hours_recovered": hours, "channels_recovered": channels, "caps_recovered": caps,
                "segments_checked": checked}


# ---------------------------------------------------------------------------------------------------------------
# Activity patterns


def _session_starts(events: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    ev = events[["timestamp", "user_id", "channel"] + (["session_id"] if "session_id" in events else [])].copy()
    ev["user_id"] = ev["user_id"].astype(str)
    ev = ev.sort_values("timestamp", kind="stable")
    starts = ev.drop_duplicates("session_id") if "session_id" in ev else ev
    starts = starts.assign(segment=starts["user_id"].map(segments))
    starts = starts[starts["segment"].notna()]
    ts = pd.to_datetime(starts["timestamp"])
    return pd.DataFrame({"user_id": starts["user_id"].to_numpy(), "segment": starts["segment"].astype(str).to_numpy(),
                         "hour": ts.dt.hour.to_numpy(), "day": ts.dt.day_of_week.to_numpy(),
                         "channel": starts["channel"].astype(str).map(CHANNEL_MAP).fillna(
                             starts["channel"].astype(str)).to_numpy()})


def _smooth(counts: np.ndarray) -> np.ndarray:
    """Circular 3-hour moving sum along the last axis (24 hours)."""
    return counts + np.roll(counts, 1, axis=-1) + np.roll(counts, -1, axis=-1)


def _user_matrix(s: pd.DataFrame, col: str, levels: list) -> np.ndarray:
    users, u = np.unique(s["user_id"].to_numpy(), return_inverse=True)
    lv = pd.Index(levels).get_indexer(s[col])
    m = np.zeros((len(users), len(levels)))
    ok = lv >= 0
    np.add.at(m, (u[ok], lv[ok]), 1.0)
    return m


def _bootstrap_rows(m: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Column totals of ``m`` under ``n_boot`` resamples of its rows (users) with replacement."""
    w = rng.multinomial(len(m), np.full(len(m), 1.0 / len(m)), size=n_boot).astype(float)
    return w @ m


def _hours(s: pd.DataFrame, rng: np.random.Generator, n_boot: int) -> dict[str, Any]:
    m = _user_matrix(s, "hour", list(range(24)))
    best = int(np.argmax(_smooth(m.sum(0))))
    boot = np.argmax(_smooth(_bootstrap_rows(m, rng, n_boot)), axis=1)
    d = np.abs(boot - best)
    d = np.minimum(d, 24 - d)
    return {"best_hour": best, "hour_pm": int(np.quantile(d, 0.95)), "hour_agreement": float(np.mean(boot == best)),
            "hour_share": m.sum(0) / m.sum()}


def _days(s: pd.DataFrame, rng: np.random.Generator, n_boot: int, day_counts: np.ndarray) -> dict[str, Any]:
    m = _user_matrix(s, "day", list(range(7))) / np.maximum(day_counts, 1)
    best = int(np.argmax(m.sum(0)))
    boot = np.argmax(_bootstrap_rows(m, rng, n_boot), axis=1)
    return {"best_day": DAYS[best], "day_agreement": float(np.mean(boot == best))}


def _activity_channels(starts: pd.DataFrame, channels: list[str], rng: np.random.Generator,
                       n_boot: int) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    overall = starts["channel"].value_counts(normalize=True).reindex(channels).fillna(0.0)
    rows, best = [], {}
    for seg, s in starts.groupby("segment", sort=True):
        m = _user_matrix(s, "channel", channels)
        tot = m.sum(0)
        share = tot / max(tot.sum(), 1.0)
        lift = np.where(overall.to_numpy() > 0, share / np.maximum(overall.to_numpy(), 1e-12), 0.0)
        boot = _bootstrap_rows(m, rng, n_boot)
        boot_lift = boot / np.maximum(boot.sum(1, keepdims=True), 1.0) / np.maximum(overall.to_numpy(), 1e-12)
        p_best = np.bincount(np.argmax(boot_lift, axis=1), minlength=len(channels)) / n_boot
        for j, ch in enumerate(channels):
            lo, hi = _beta_interval(tot[j], tot.sum() - tot[j])
            rows.append({"segment": str(seg), "channel": ch, "sessions": int(tot[j]), "activity_share": share[j],
                         "share_low": lo, "share_high": hi, "activity_lift": lift[j], "activity_p_best": p_best[j]})
        mix = lift / lift.sum() if lift.sum() > 0 else np.full(len(channels), 1.0 / len(channels))
        best[str(seg)] = {"channel": channels[int(np.argmax(lift))], "p_best": float(p_best.max()),
                          "mix": {ch: round(float(x), 3) for ch, x in zip(channels, mix)}}
    return pd.DataFrame(rows), best


def _beta_interval(k: float, miss: float, level: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    a = (1 - level) / 2
    return float(stats.beta.ppf(a, 1 + k, 1 + miss)), float(stats.beta.ppf(1 - a, 1 + k, 1 + miss))


# ---------------------------------------------------------------------------------------------------------------
# Response in an exposure log


def _response_channels(exp: pd.DataFrame, rng: np.random.Generator, draws: int = 4000
                       ) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    rows, best = [], {}
    for seg, g in exp.groupby("segment", sort=True):
        cells = g.groupby("channel", sort=True)["clicked"].agg(["sum", "size"])
        k, n = cells["sum"].to_numpy(float), cells["size"].to_numpy(float)
        post = rng.beta(1 + k, 1 + n - k, size=(draws, len(k)))
        p_best = np.bincount(np.argmax(post, axis=1), minlength=len(k)) / draws
        for j, ch in enumerate(cells.index):
            lo, hi = _beta_interval(k[j], n[j] - k[j])
            rows.append({"segment": str(seg), "channel": str(ch), "impressions": int(n[j]), "clicks": int(k[j]),
                         "ctr": k[j] / n[j] if n[j] else np.nan, "ctr_low": lo, "ctr_high": hi,
                         "ctr_p_best": p_best[j]})
        if len(k) and k.min() >= MIN_CLICKS_PER_CELL:
            best[str(seg)] = {"channel": str(cells.index[int(np.argmax((1 + k) / (2 + n)))]),
                              "p_best": float(p_best.max())}
    return pd.DataFrame(rows), best


def weekly_messages(exp: pd.DataFrame, message_channels=MESSAGE_CHANNELS) -> np.ndarray:
    """Per impression: the messages (``message_channels``) its user received in the 7 days up to and including it
    (at least 1)."""
    u = pd.factorize(exp["user_id"].astype(str))[0].astype(np.int64)
    t = pd.to_datetime(exp["timestamp"]).to_numpy().astype("datetime64[s]").astype(np.int64)
    t = t - (t.min() if len(t) else 0) + 8 * 86_400
    key = u * np.int64(2**33) + t
    msg = np.sort(key[exp["channel"].astype(str).isin(set(message_channels)).to_numpy()])
    w = np.searchsorted(msg, key, side="right") - np.searchsorted(msg, key - 7 * 86_400, side="right")
    return np.maximum(w, 1)


def _fatigue(exp: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, Any]], list[str]]:
    import statsmodels.api as sm

    notes: list[str] = []
    e = exp.assign(weekly=weekly_messages(exp))
    rows, best = [], {}
    for seg, g in e.groupby("segment", sort=True):
        cnt = g.groupby(["channel", "weekly"], sort=True)["clicked"].agg(["sum", "size"]).reset_index()
        if cnt["sum"].sum() < 50 or cnt["weekly"].max() <= min(CAPS):
            notes.append(f"{seg}: too few clicks or no variation in how often users were messaged for a "
                         "frequency cap")
            continue
        y = np.column_stack([cnt["sum"].to_numpy(float), (cnt["size"] - cnt["sum"]).to_numpy(float)])
        base = pd.get_dummies(cnt["channel"].astype(str), dtype=float)
        ll, slope = {}, {}
        for k in CAPS:
            x = base.assign(fatigue=np.log(np.maximum(cnt["weekly"].to_numpy(float) / k, 1.0)))
            if x["fatigue"].nunique() < 2:
                continue
            try:
                fit = sm.GLM(y, x, family=sm.families.Binomial()).fit()
            except Exception:  # a singular design for this cap: it cannot be judged
                continue
            ll[k], slope[k] = float(fit.llf), float(fit.params["fatigue"])
        if not ll:
            continue
        k_best = max(ll, key=ll.get)
        inside = [k for k in ll if 2 * (ll[k_best] - ll[k]) <= 3.841]
        for k in ll:
            rows.append({"segment": str(seg), "cap": k, "loglik_below_best": ll[k] - ll[k_best],
                         "fatigue_slope": slope[k]})
        if slope[k_best] >= 0:
            notes.append(f"{seg}: CTR does not fall with more messages per week in this log; no frequency cap")
            continue
        best[str(seg)] = {"cap": int(k_best), "low": int(min(inside)), "high": int(max(inside)),
                          "slope": slope[k_best]}
    return pd.DataFrame(rows), best, notes


# ---------------------------------------------------------------------------------------------------------------


def publishing_strategy(events: pd.DataFrame, segments: pd.Series | dict, exposures: pd.DataFrame | None = None, *,
                        seed: int = 0, n_boot: int = 200) -> PublishingStrategy:
    """The publishing strategy per segment (see the module docstring).

    ``events``: the behaviour log (``timestamp``, ``user_id``, ``channel``, ``session_id`` if any);
    ``segments``: user_id -> segment; ``exposures``: an exposure log (``timestamp``, ``user_id``, ``channel``,
    ``clicked``; its users' segments from ``segments``), or ``None``."""
    seg = pd.Series(segments) if isinstance(segments, dict) else segments
    seg = pd.Series(seg.astype(str).to_numpy(), index=seg.index.astype(str))
    missing = [c for c in ("timestamp", "user_id", "channel") if c not in events]
    if missing:
        raise ValueError(f"the events lack {missing}: no publishing strategy")
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    starts = _session_starts(events, seg)
    ts = pd.to_datetime(events["timestamp"])
    days = pd.date_range(ts.min().normalize(), ts.max().normalize(), freq="D")
    day_counts = np.bincount(days.day_of_week, minlength=7).astype(float)
    channels = sorted(set(starts["channel"]))
    act_channels, act_best = _activity_channels(starts, channels, rng, n_boot)
    hour_rows, table = [], []
    for s, g in starts.groupby("segment", sort=True):
        row: dict[str, Any] = {"segment": str(s), "users": int(g["user_id"].nunique()), "sessions": int(len(g))}
        if len(g) < MIN_SESSIONS:
            notes.append(f"{s}: fewer than {MIN_SESSIONS} sessions, no send time recommended")
            table.append(row)
            continue
        h = _hours(g, rng, n_boot)
        hour_rows += [{"segment": str(s), "hour": hr, "share": float(x)} for hr, x in enumerate(h.pop("hour_share"))]
        row.update(h)
        row.update(_days(g, rng, n_boot, day_counts))
        row.update({"best_channel": act_best[str(s)]["channel"], "channel_p_best": act_best[str(s)]["p_best"],
                    "channel_source": "activity", "channel_mix": act_best[str(s)]["mix"]})
        table.append(row)
    tab = pd.DataFrame(table)
    chan_table, fatigue = act_channels, None
    if exposures is not None and len(exposures) and {"clicked", "channel", "user_id", "timestamp"} <= set(exposures):
        exp = exposures[["timestamp", "user_id", "channel", "clicked"]].copy()
        exp["segment"] = exp["user_id"].astype(str).map(seg)
        exp = exp[exp["segment"].notna()]
        resp_table, resp_best = _response_channels(exp, rng)
        if not resp_table.empty:
            chan_table = act_channels.merge(resp_table, on=["segment", "channel"], how="outer")
        for i, r in tab.iterrows():
            b = resp_best.get(r["segment"])
            if b is not None:
                tab.loc[i, ["best_channel", "channel_p_best", "channel_source"]] = [b["channel"], b["p_best"],
                                                                                    "response"]
        fat_table, fat_best, fat_notes = _fatigue(exp)
        notes += fat_notes
        fatigue = fat_table if not fat_table.empty else None
        tab["frequency_cap"] = tab["segment"].map(lambda x: fat_best.get(x, {}).get("cap"))
        tab["cap_low"] = tab["segment"].map(lambda x: fat_best.get(x, {}).get("low"))
        tab["cap_high"] = tab["segment"].map(lambda x: fat_best.get(x, {}).get("high"))
    else:
        notes.append("no exposure log: channels from activity patterns only, no frequency cap")
    return PublishingStrategy(tab, pd.DataFrame(hour_rows), chan_table, fatigue, notes)
