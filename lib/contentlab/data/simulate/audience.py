"""The audience model: how customers respond to content, and :func:`simulate_campaign`.

This is the simulator's one interface to the feedback stage. The simulator's audience *reads*: the planted model
(``truth["audience"]``, built by :func:`contentlab.data.simulate.response.plant_model`) gives every impression a
probability of a click and of a conversion from the copy's **text** (its features: favourite category, preferred
attribute, price, novelty, social proof, length, readability, wrong attribute, truncation, broken sentences,
repetition) and its **context** (segment, channel, hour, weekday, fatigue); the variant label never enters.
``truth["response"]`` is the reference response per segment x channel (a plain copy at the best hour) with the AOV.

:func:`simulate_campaign` also accepts a response planted **by hand** per segment x channel x variant
(``{"response": frame with a variant column}``): a label-driven design for studies of the test machinery (the
feedback stage's coverage study plants a known lift that way); optional multiplicative ``copy_effects`` then apply
to impressions that carry a boolean column of that name. The simulator's own shops never use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import contentlab.data.simulate.response as R
from contentlab.data.simulate.spec import DAY

EXPOSURE_CHANNELS: tuple[str, ...] = R.RESPONSE_CHANNELS
VARIANTS: tuple[str, ...] = ("template", "gpt2")
EXPOSURE_CHANNEL_MIX = dict(email=0.4, push=0.3, product_page=0.3)
VARIANT_SPLIT = {"template": 0.5, "gpt2": 0.5}
expected_ctr = R.expected_ctr
expected_cvr = R.expected_cvr


def reads_text(truth: dict[str, Any] | None) -> bool:
    """Whether ``truth`` holds the planted text-reading audience (``truth["audience"]``)."""
    return bool(truth) and isinstance(truth.get("audience"), dict) and "segments" in truth["audience"]


def has_planted_response(truth: dict[str, Any] | None) -> bool:
    """Whether a campaign can be drawn from ``truth``: the planted audience, or a response table planted by hand."""
    if reads_text(truth):
        return True
    resp = (truth or {}).get("response")
    return isinstance(resp, pd.DataFrame) and {"segment", "channel", "variant", "ctr"} <= set(resp.columns)


def response_channels(truth: dict[str, Any]) -> set[str]:
    """The channels the planted response knows."""
    if reads_text(truth):
        return set(truth["audience"]["channels"])
    return set(truth["response"]["channel"].astype(str))


def _codes(values: pd.Series, names: list[str]) -> np.ndarray:
    """Position of each value in ``names`` (-1 when absent); factorises first, so it is fast on long columns."""
    codes, uniques = pd.factorize(values.astype(str))
    lookup = pd.Index(names).get_indexer([str(u) for u in uniques])
    return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int64)


def _true_segments(a: pd.DataFrame, truth: dict[str, Any], seg_names: list[str]) -> np.ndarray:
    """Each impression's segment index in ``seg_names``: its own label when known, else the user's true segment from
    ``truth["users"]``, else -1 (the average over segments)."""
    s_code = _codes(a["segment"], seg_names)
    unknown = s_code < 0
    if unknown.any() and truth.get("users") is not None:
        tu = truth["users"]
        true_seg = pd.Series(pd.Index(seg_names).get_indexer(tu["segment"].astype(str)),
                             index=tu["user_id"].astype(str).to_numpy())
        true_seg = true_seg[~true_seg.index.duplicated()]
        found = a.loc[unknown, "user_id"].astype(str).map(true_seg).to_numpy()
        ok = ~pd.isna(found)
        idx = np.flatnonzero(unknown)[ok]
        s_code[idx] = np.where(found[ok].astype(int) >= 0, found[ok].astype(int), -1)
    return s_code


def _timestamps(a: pd.DataFrame, rng: np.random.Generator, start, n_days: int) -> np.ndarray:
    """Impression times (seconds): the given ones, or spread over ``n_days`` from ``start`` in waking hours; the key
    ``(timestamp, user_id, content_id)`` made unique by moving repeats on by whole seconds."""
    n = len(a)
    if "timestamp" in a.columns:
        ts = pd.to_datetime(a["timestamp"]).to_numpy().astype("datetime64[s]")
    else:
        st = pd.Timestamp(start).normalize().to_datetime64().astype("datetime64[s]")
        secs = rng.integers(0, n_days, n) * DAY + rng.integers(7 * 3600, 22 * 3600, n)
        ts = st + secs.astype("timedelta64[s]")
    secs = ts.astype(np.int64)
    u_code, u_uniq = pd.factorize(a["user_id"])
    k_code, k_uniq = pd.factorize(a["content_id"])
    group = u_code.astype(np.int64) * (len(k_uniq) + 1) + k_code.astype(np.int64)
    order = np.lexsort((secs, group))
    g, t = group[order], secs[order]
    new_group = np.r_[True, g[1:] != g[:-1]] if len(g) else np.array([], dtype=bool)
    if not new_group.all():  # within a (user, content) group: t'_i = max(t_i, t'_(i-1) + 1)
        pos = np.arange(len(t)) - np.maximum.accumulate(np.where(new_group, np.arange(len(t)), 0))
        base = t - pos
        span = int(base.max() - base.min()) + 1
        gid = np.cumsum(new_group)
        run = np.maximum.accumulate(base - base.min() + gid * span) - gid * span + base.min()
        secs[order] = run + pos
    return secs


def _table_rates(a: pd.DataFrame, truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CTR, CVR and AOV per impression from a response planted by hand (segment x channel x variant)."""
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
    s_code = _true_segments(a, truth, seg_names)
    s_code[s_code < 0] = len(seg_names)
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
    return ctr, cvr, aov


def _audience_rates(a: pd.DataFrame, truth: dict[str, Any], products: pd.DataFrame | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CTR, CVR and AOV per impression from the planted audience that reads the copy."""
    model = truth["audience"]
    chans = a["channel"].astype(str)
    unknown = sorted(set(chans) - set(model["channels"]))
    if unknown:
        raise ValueError(f"no planted response for channel(s) {unknown[:5]}")
    if "text" not in a.columns:
        raise ValueError("the planted audience reads the copy: the impressions need a text column")
    seg_names = list(model["segments"])
    s_code = _true_segments(a, truth, seg_names)
    ctr, cvr = R.expected_rates(a, s_code, model, products)
    resp = truth.get("response")
    if isinstance(resp, pd.DataFrame) and "aov" in resp:
        aov_by = resp.groupby(resp["segment"].astype(str))["aov"].mean()
        seg_aov = np.array([float(aov_by.get(s, aov_by.mean())) for s in seg_names] + [float(aov_by.mean())])
    else:
        seg_aov = np.full(len(seg_names) + 1, 50.0)
    aov = seg_aov[np.where(s_code < 0, len(seg_names), s_code)]
    return ctr, cvr, aov


def simulate_campaign(
    assignments: pd.DataFrame,
    truth: dict[str, Any],
    seed: int = 0,
    start: str | pd.Timestamp = "2026-01-05",
    n_days: int = 14,
    products: pd.DataFrame | None = None,
    with_expected: bool = False,
) -> pd.DataFrame:
    """Draw clicks, conversions and revenue for a set of impressions from the planted response.

    ``assignments`` has one row per impression with ``user_id, content_id, product_id, variant, channel, segment``,
    and ``text`` (the copy shown) when ``truth`` holds the planted audience; optionally ``timestamp`` (otherwise
    impressions are spread over ``n_days`` from ``start`` in waking hours). ``segment`` should be a true segment
    name; rows whose segment is unknown (e.g. a cluster label) use the user's true segment from ``truth["users"]``,
    and failing that the average over segments. ``products``: the products table the copy is judged against (a
    wrong attribute needs it). Unknown channels raise ``ValueError``.

    Outcome model: ``clicked ~ Bernoulli(ctr)``, ``converted = clicked and Bernoulli(cvr)``, ``revenue = converted *
    aov * LogNormal(mean 1, sd 0.3 in log)``, with ``ctr`` and ``cvr`` from the planted audience (text and context:
    :mod:`contentlab.data.simulate.response`; fatigue counts the messages of these impressions) or from a table
    planted by hand (see the module docstring). Returns the exposures table (schema ``exposures``) with one row per
    assignment row, in the same order (repeated ``(timestamp, user_id, content_id)`` keys are moved on by whole
    seconds so the key stays unique); ``with_expected`` adds ``expected_ctr`` and ``expected_cvr`` (the planted
    probabilities of each impression: the right answer an analysis is checked against).
    """
    required = ["user_id", "content_id", "product_id", "variant", "channel", "segment"]
    missing = [c for c in required if c not in assignments.columns]
    if missing:
        raise ValueError(f"assignments lack columns {missing}")
    if not has_planted_response(truth):
        raise ValueError("truth has no planted response (truth['audience'] or a response table by "
                         "segment, channel and variant)")
    rng = np.random.default_rng(seed)
    a = assignments.reset_index(drop=True)
    n = len(a)
    secs = _timestamps(a, rng, start, n_days)
    ts = secs.astype("datetime64[s]")
    if reads_text(truth):
        ctr, cvr, aov = _audience_rates(a.assign(timestamp=pd.Series(ts.astype("datetime64[ns]"))), truth, products)
    else:
        ctr, cvr, aov = _table_rates(a, truth)
    clicked = rng.random(n) < np.clip(ctr, 0, 1)
    converted = clicked & (rng.random(n) < cvr)
    revenue = np.where(converted, aov * np.exp(rng.normal(-0.045, 0.3, n)), 0.0)
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
    if with_expected:
        out["expected_ctr"] = np.asarray(ctr, float)
        out["expected_cvr"] = np.asarray(cvr, float)
    return out


def expected_rates(impressions: pd.DataFrame, truth: dict[str, Any], products: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """The planted ``expected_ctr`` and ``expected_cvr`` of impressions that happened (``timestamp`` required, and
    ``text`` for the planted audience), without drawing outcomes; same index as ``impressions``."""
    a = impressions.reset_index(drop=True)
    if "timestamp" not in a.columns:
        raise ValueError("expected_rates needs the impressions' timestamps")
    ctr, cvr, _ = _audience_rates(a, truth, products) if reads_text(truth) else _table_rates(a, truth)
    return pd.DataFrame({"expected_ctr": ctr, "expected_cvr": cvr}, index=impressions.index)


# ---------------------------------------------------------------------------------------------------------------
# Campaigns under a publishing policy

WAKING_HOURS = (7, 22)  # an impression without a planned hour is sent in [7, 22)


def policy_impressions(plan: pd.DataFrame, copy: pd.DataFrame, *, start: str | pd.Timestamp, n_days: int,
                       seed: int = 0, key: str = "segment") -> pd.DataFrame:
    """The impressions a publishing policy sends: one row per impression, ready for :func:`simulate_campaign`.

    ``plan`` has one row per user: ``user_id``, ``segment``, ``variant`` (the copy variant the user is shown),
    ``per_week`` (impressions per week), ``channel`` (``None``: the channel of the copy drawn, i.e. the copy's own
    mix), ``hour`` (0-23, ``NaN``: a random waking hour per impression), and ``key`` (default ``segment``: which copy
    pool the user draws from); any other column is carried to every impression. ``copy`` holds the copy that can
    be shown: ``content_id``, ``product_id``, ``variant``, ``channel``, ``text`` and the ``key`` column (and
    optionally ``weight``: a copy's share of its pool's draws, equal shares without). Each user
    receives ``max(1, round(per_week * n_days / 7))`` impressions spread evenly over the ``n_days`` from ``start``
    (a random phase per user; with a planned hour a whole ``per_week`` never puts more than ``per_week`` in any
    7 days), each a copy drawn at random from the pool of (key, variant, channel), else of (key,
    variant) on any channel (the impression then takes the copy's channel). Users with no copy in their pool are
    left out. The policy decides where and when; the audience only ever sees the text and its context."""
    need = {"user_id", "segment", "variant", "per_week", "channel", "hour", key}
    missing = sorted(need - set(plan.columns))
    if missing:
        raise ValueError(f"the plan lacks columns {missing}")
    missing = sorted({"content_id", "product_id", "variant", "channel", "text", key} - set(copy.columns))
    if missing:
        raise ValueError(f"the copy lacks columns {missing}")
    if n_days < 1:
        raise ValueError("n_days must be at least 1")
    rng = np.random.default_rng(seed)
    c = copy.reset_index(drop=True)
    weight = c["weight"].to_numpy(float) if "weight" in c.columns else np.ones(len(c))
    if (weight < 0).any() or not np.isfinite(weight).all():
        raise ValueError("copy weights must be finite and >= 0")
    pools3 = {k: np.asarray(v) for k, v in c.groupby([key, "variant", "channel"], sort=False).indices.items()}
    pools2 = {k: np.asarray(v) for k, v in c.groupby([key, "variant"], sort=False).indices.items()}
    p = plan.reset_index(drop=True)
    p = p[[(str(k), str(v)) in pools2 for k, v in zip(p[key], p["variant"])]].reset_index(drop=True)
    cols = ["user_id", "content_id", "product_id", "variant", "channel", "segment", "text", "timestamp"]
    if p.empty:
        return pd.DataFrame(columns=cols)
    n_imp = np.maximum(1, np.round(p["per_week"].to_numpy(float) * n_days / 7.0)).astype(np.int64)
    rep = np.repeat(np.arange(len(p)), n_imp)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(n_imp) - n_imp, n_imp)
    phase = rng.random(len(p))[rep]
    day = np.minimum(np.floor((within + phase) * n_days / n_imp[rep]).astype(np.int64), n_days - 1)
    hour = p["hour"].astype(float).to_numpy()[rep]
    free = np.isnan(hour)
    hour[free] = rng.integers(WAKING_HOURS[0], WAKING_HOURS[1], int(free.sum()))
    st = pd.Timestamp(start).normalize().to_datetime64().astype("datetime64[s]")
    # a planned hour keeps one minute per user: impressions r a week apart are then exactly 7 days apart, so no
    # 7-day window holds more than the plan's r (the audience's fatigue counts the 7 days before an impression)
    minute = np.where(free, rng.integers(0, 3600, len(rep)), rng.integers(0, 3600, len(p))[rep])
    secs = day * DAY + hour.astype(np.int64) * 3600 + minute
    chan = p["channel"].to_numpy(dtype=object)[rep]
    keys = p[key].astype(str).to_numpy(dtype=object)[rep]
    var = p["variant"].astype(str).to_numpy(dtype=object)[rep]
    group = pd.Series([(k, v, ch if isinstance(ch, str) else None) for k, v, ch in zip(keys, var, chan)])
    codes, uniques = pd.factorize(group)
    picked = np.empty(len(rep), dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    for g, (k, v, ch) in enumerate(uniques):
        idx = order[bounds[g]:bounds[g + 1]]
        pool = pools3.get((k, v, ch)) if ch is not None else None
        if pool is None:
            pool = pools2[(k, v)]
        w = weight[pool]
        w = w / w.sum() if w.sum() > 0 else np.full(len(pool), 1.0 / len(pool))
        picked[idx] = pool[rng.choice(len(pool), size=len(idx), p=w)]
    out = pd.DataFrame({
        "user_id": p["user_id"].astype(str).to_numpy(dtype=object)[rep],
        "content_id": c["content_id"].astype(str).to_numpy(dtype=object)[picked],
        "product_id": c["product_id"].astype(str).to_numpy(dtype=object)[picked],
        "variant": var,
        "channel": c["channel"].astype(str).to_numpy(dtype=object)[picked],
        "segment": p["segment"].astype(str).to_numpy(dtype=object)[rep],
        "text": c["text"].astype(str).to_numpy(dtype=object)[picked],
        "timestamp": pd.Series((st + secs.astype("timedelta64[s]")).astype("datetime64[ns]")),
    })
    for col in p.columns:
        if col not in out.columns and col not in ("per_week", "hour", key):
            out[col] = p[col].to_numpy(dtype=object)[rep]
    for col in ("user_id", "content_id", "product_id", "variant", "channel", "segment", "text"):
        out[col] = out[col].astype(str)
    return out.sort_values(["timestamp", "user_id"], kind="stable").reset_index(drop=True)
