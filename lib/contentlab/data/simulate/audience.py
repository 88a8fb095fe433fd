"""The audience model: the planted response of customers to content, and :func:`simulate_campaign`.

This is the simulator's one interface to the feedback stage. The planted response is a table (``truth["response"]``:
segment, channel, variant, ctr, cvr, aov) built by :func:`response_table`; :func:`simulate_campaign` draws clicks,
conversions and revenue for any set of impressions from a truth dict that holds such a table (plus, optionally,
``users`` to resolve a user's true segment and ``copy_effects``). It needs nothing else of the simulator, so a
campaign can be drawn from a response planted by hand (``{"response": frame, "copy_effects": {}}``).

Planted values: CTR and CVR per channel times segment multipliers; GPT-2 copy lifts CTR in every segment except
``loyal_premium``, where the template wins; mentioning the price in the copy lifts CTR by ``COPY_EFFECTS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.simulate.spec import DAY, SEGMENTS

EXPOSURE_CHANNELS: tuple[str, ...] = ("email", "push", "product_page")
VARIANTS: tuple[str, ...] = ("template", "gpt2")

# Planted campaign response: CTR/CVR per channel, segment multipliers, GPT-2 relative lifts.
BASE_CTR = dict(email=0.035, push=0.025, product_page=0.060)
BASE_CVR = dict(email=0.08, push=0.06, product_page=0.12)
SEGMENT_CTR_MULT = dict(bargain_hunter=1.1, trend_seeker=1.3, loyal_premium=0.9, casual_browser=0.8, new_visitor=1.0)
SEGMENT_CVR_MULT = dict(bargain_hunter=0.9, trend_seeker=0.8, loyal_premium=1.6, casual_browser=0.5, new_visitor=0.8)
GPT2_CTR_LIFT = dict(bargain_hunter=0.25, trend_seeker=0.30, loyal_premium=-0.25, casual_browser=0.20, new_visitor=0.25)
GPT2_CVR_LIFT = dict(bargain_hunter=0.05, trend_seeker=0.05, loyal_premium=-0.10, casual_browser=0.05, new_visitor=0.05)
COPY_EFFECTS = {"mentions_price": 1.10}
"""Optional copy-feature effects on CTR (multiplicative), applied by :func:`simulate_campaign` when the
assignments carry a boolean column of that name. ``truth["response"]`` is the CTR without them."""

EXPOSURE_CHANNEL_MIX = dict(email=0.4, push=0.3, product_page=0.3)
VARIANT_SPLIT = {"template": 0.5, "gpt2": 0.5}


def response_table(segment_price: dict[str, float]) -> pd.DataFrame:
    """The planted response per segment x channel x variant; ``aov`` is 1.3 x the segment's typical price."""
    rows = []
    for s in SEGMENTS:
        for ch in EXPOSURE_CHANNELS:
            for var in VARIANTS:
                ctr = BASE_CTR[ch] * SEGMENT_CTR_MULT[s] * (1 + (GPT2_CTR_LIFT[s] if var == "gpt2" else 0.0))
                cvr = BASE_CVR[ch] * SEGMENT_CVR_MULT[s] * (1 + (GPT2_CVR_LIFT[s] if var == "gpt2" else 0.0))
                aov = segment_price[s] * 1.3
                rows.append((s, ch, var, round(ctr, 6), round(cvr, 6), round(aov, 2)))
    df = pd.DataFrame(rows, columns=["segment", "channel", "variant", "ctr", "cvr", "aov"])
    for c in ("segment", "channel", "variant"):
        df[c] = df[c].astype("str")
    return df


def _codes(values: pd.Series, names: list[str]) -> np.ndarray:
    """Position of each value in ``names`` (-1 when absent); factorises first, so it is fast on long columns."""
    codes, uniques = pd.factorize(values.astype(str))
    lookup = pd.Index(names).get_indexer([str(u) for u in uniques])
    return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int64)


def simulate_campaign(
    assignments: pd.DataFrame,
    truth: dict[str, Any],
    seed: int = 0,
    start: str | pd.Timestamp = "2026-01-05",
    n_days: int = 14,
) -> pd.DataFrame:
    """Draw clicks, conversions and revenue for a set of impressions from the planted response.

    ``assignments`` has one row per impression with ``user_id, content_id, product_id, variant,
    channel, segment`` (optionally ``timestamp``; otherwise impressions are spread over ``n_days``
    from ``start`` in waking hours). ``segment`` should be a true segment name; rows whose segment is
    not in ``truth["response"]`` (e.g. a cluster label) use the user's true segment from
    ``truth["users"]``, and failing that the average over segments. Unknown channel/variant
    combinations raise ``ValueError``.

    Outcome model: ``clicked ~ Bernoulli(ctr * prod(copy effects))``, ``converted = clicked and
    Bernoulli(cvr)``, ``revenue = converted * aov * LogNormal(mean 1, sd 0.3 in log)``. Copy effects
    (``truth["copy_effects"]``, e.g. ``mentions_price``) apply when the assignments carry a boolean
    column of that name. Returns the exposures table (schema ``exposures``) with one row per
    assignment row, in the same order (repeated ``(timestamp, user_id, content_id)`` keys are moved
    on by whole seconds so the key stays unique).
    """
    required = ["user_id", "content_id", "product_id", "variant", "channel", "segment"]
    missing = [c for c in required if c not in assignments.columns]
    if missing:
        raise ValueError(f"assignments lack columns {missing}")
    rng = np.random.default_rng(seed)
    a = assignments.reset_index(drop=True)
    n = len(a)
    resp = truth["response"]
    seg_names = [str(x) for x in pd.unique(resp["segment"].astype(str))]
    ch_names = [str(x) for x in pd.unique(resp["channel"].astype(str))]
    var_names = [str(x) for x in pd.unique(resp["variant"].astype(str))]
    # response cube [segment (+ average), channel, variant] -> ctr, cvr, aov (NaN where not planted)
    cube = np.full((len(seg_names) + 1, len(ch_names), len(var_names), 3), np.nan)
    si = pd.Index(seg_names).get_indexer(resp["segment"].astype(str))
    ci = pd.Index(ch_names).get_indexer(resp["channel"].astype(str))
    vi = pd.Index(var_names).get_indexer(resp["variant"].astype(str))
    cube[si, ci, vi] = resp[["ctr", "cvr", "aov"]].to_numpy(float)
    with np.errstate(invalid="ignore"):
        cube[-1] = np.nanmean(cube[:-1], axis=0) if len(seg_names) else np.nan
    s_code = _codes(a["segment"], seg_names)
    unknown = s_code < 0
    if unknown.any():
        s_code[unknown] = len(seg_names)  # average over segments ...
        if truth.get("users") is not None:  # ... unless the user's true segment is known
            tu = truth["users"]
            true_seg = pd.Series(pd.Index(seg_names).get_indexer(tu["segment"].astype(str)),
                                 index=tu["user_id"].astype(str).to_numpy())
            true_seg = true_seg[~true_seg.index.duplicated()]
            found = a.loc[unknown, "user_id"].astype(str).map(true_seg).to_numpy()
            ok = ~pd.isna(found)
            idx = np.flatnonzero(unknown)[ok]
            s_code[idx] = np.where(found[ok].astype(int) >= 0, found[ok].astype(int), len(seg_names))
    c_code = _codes(a["channel"], ch_names)
    v_code = _codes(a["variant"], var_names)
    vals = cube[s_code, np.maximum(c_code, 0), np.maximum(v_code, 0)]
    bad = (c_code < 0) | (v_code < 0) | np.isnan(vals[:, 0])
    if bad.any():
        combos = a.loc[bad, ["channel", "variant"]].drop_duplicates().head(5).to_dict("records")
        raise ValueError(f"no planted response for channel/variant {combos}")
    ctr, cvr, aov = vals[:, 0].copy(), vals[:, 1], vals[:, 2]
    for feat, mult in truth.get("copy_effects", {}).items():
        if feat in a.columns:
            ctr *= np.where(a[feat].fillna(False).astype(bool).to_numpy(), mult, 1.0)
    clicked = rng.random(n) < np.clip(ctr, 0, 1)
    converted = clicked & (rng.random(n) < cvr)
    revenue = np.where(converted, aov * np.exp(rng.normal(-0.045, 0.3, n)), 0.0)
    if "timestamp" in a.columns:
        ts = pd.to_datetime(a["timestamp"]).to_numpy().astype("datetime64[s]")
    else:
        st = pd.Timestamp(start).normalize().to_datetime64().astype("datetime64[s]")
        secs = rng.integers(0, n_days, n) * DAY + rng.integers(7 * 3600, 22 * 3600, n)
        ts = st + secs.astype("timedelta64[s]")
    # the key (timestamp, user_id, content_id) must be unique: move repeats on by whole seconds
    secs = ts.astype(np.int64)
    u_code, u_uniq = pd.factorize(a["user_id"])
    k_code, k_uniq = pd.factorize(a["content_id"])
    group = u_code.astype(np.int64) * (len(k_uniq) + 1) + k_code.astype(np.int64)
    order = np.lexsort((secs, group))
    g, t = group[order], secs[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    if not new_group.all():  # within a (user, content) group: t'_i = max(t_i, t'_(i-1) + 1)
        pos = np.arange(len(t)) - np.maximum.accumulate(np.where(new_group, np.arange(len(t)), 0))
        base = t - pos
        span = int(base.max() - base.min()) + 1
        gid = np.cumsum(new_group)
        run = np.maximum.accumulate(base - base.min() + gid * span) - gid * span + base.min()
        secs[order] = run + pos
    ts = secs.astype("datetime64[s]")
    out = pd.DataFrame({
        "timestamp": pd.Series(ts.astype("datetime64[ns]")),
        "user_id": a["user_id"].astype("str"),
        "content_id": a["content_id"].astype("str"),
        "product_id": a["product_id"].astype("str"),
        "variant": a["variant"].astype("str"),
        "channel": a["channel"].astype("str"),
        "clicked": clicked,
        "converted": converted,
        "revenue": np.round(revenue, 2),
        "segment": a["segment"].astype("str"),
    })
    return out
