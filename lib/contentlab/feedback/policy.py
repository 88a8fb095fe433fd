"""The publishing policy: what 05 learned, written into the feedback priors for the next cycle, and the campaign
plan that follows a policy.

:func:`learn_policy` turns one cycle's analysis into the next cycle's policy (shape: :mod:`contentlab.priors`),
per profile segment:

- **channel**: the publishing strategy's channel (:mod:`contentlab.feedback.strategy`); a channel chosen from
  activity patterns only is used while there is no earlier choice, and a measured one (click-through per channel in
  the campaign) replaces the policy's channel when its P(best) is at least ``CHANNEL_SURE``;
- **hour**: the strategy's send hour (the hour the segment's sessions start most often), unless the policy's hour
  is within its bootstrap uncertainty (``hour_pm``);
- **frequency cap**: the strategy's fatigue point (messages per week beyond which click-through falls), unless the
  policy's cap lies inside its likelihood interval; without an estimate the previous cap is kept (a choice moves
  only when the evidence is against it);
- **rerank weights**: the click regression's coefficients of the copy signals (:func:`contentlab.priors.copy_signals`
  and 04's quality scores), fitted on the segment's own impressions (variant and channel as controls), kept only when
  their 95% interval excludes 0 (an unproven effect reranks nothing);
- **exploration**: the share of users the next campaign shows random choices: ``exploration`` on the first policy,
  then half the share the followed policy had (at least ``MIN_EXPLORATION``): the more cycles the policy has been
  measured, the less traffic random choices cost;
- **variant shares**: the Thompson shares of the segment x channel cells of the priors;
- **copy stats**: impressions and clicks per copy (``content_id``) on the policy's channel, all from one context
  (the campaign's policy arm, added to the stats so far while the channel, hour and cap stay the same; a new context
  starts again from this campaign's impressions): the next campaign draws each impression's copy by Thompson
  sampling over them (:func:`copy_weights`) and 04 ranks a candidate they measured by its measured lift;
- **winning copy**: up to three copies of the policy's channel whose click-through there (posterior mean, at least
  100 impressions) beat the segment's, with their lift: 04 fine-tunes its generator on them;
- **copy style**: the style whose copy had the highest click-through in the segment, when its copy came in at least
  two styles with ``STYLE_MIN_CLICKS`` clicks each and that style is the best with posterior probability at least
  ``CHANNEL_SURE``; else the previous one (04's choice, profiling's persona style, while nothing chose one). 05
  mirrors it into the priors' ``copy_styles``, which 04 reads; ``styles_tried`` lists the styles the segment's
  campaigns showed (least recent first): 04 never challenges with one of them again
  (:func:`contentlab.generate.slots.challenger_style` picks a challenger from the proven copy-feature effects).

:func:`policy_plan` is the campaign side: every user of a segment follows its policy (channel, hour, frequency
cap, variant drawn with the Thompson shares), except an ``exploration`` share of users, drawn at random, who get a
random channel, a random waking hour, a random frequency of 1-12 messages a week and a 50/50 variant: the
evidence the next cycle needs to move a choice. Without a policy the users who do not explore get the first cycle's
plan (the copy's own channel mix, random waking hours, ``default_per_week``, 50/50); the first cycle explores too
(the loop hands 05's ``exploration``), so the second can already measure where click-through starts to fall.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from contentlab.priors import POLICY_VERSION, segment_policy, validate_policy

EXPLORATION = 0.05
MIN_EXPLORATION = 0.01
CHANNEL_SURE = 0.8  # P(best) a measured channel needs to replace the policy's channel
EXPLORE_CAPS = (1, 12)


def _rerank_weights(exp: pd.DataFrame, feats: pd.DataFrame, alpha: float) -> dict[str, dict[str, float]]:
    from contentlab.feedback.analysis import copy_logit

    if exp["clicked"].sum() < 20 or exp["content_id"].nunique() < 3:
        return {}
    with warnings.catch_warnings():  # a segment's small campaign may separate perfectly: its fit is then dropped
        warnings.simplefilter("ignore")
        res = copy_logit(exp, feats, alpha, controls=("variant", "channel"))
    out = {}
    merged = exp[["content_id"]].merge(feats, on="content_id", how="inner")
    for r in res.table.itertuples():
        name = str(r.feature)
        if name not in feats.columns or not (r.ci_low > 0 or r.ci_high < 0):
            continue
        x = merged[name].astype(float)
        binary = set(np.unique(x.dropna())) <= {0.0, 1.0}
        out[name] = {"coef": float(r.coef), "mean": 0.0 if binary else float(x.mean()),
                     "sd": 1.0 if binary else float(max(x.std(ddof=0), 1e-9))}
    return out


def _copy_stats(previous: dict, exposures: pd.DataFrame, segment: str, followed: tuple | None, learned: tuple
                ) -> dict[str, dict[str, list[int]]]:
    """Impressions and clicks per copy on the policy's channel, all from one context so copies compare fairly: the
    campaign's own impressions there (the policy arm; a first campaign's whole plan), added to the stats so far when
    the campaign followed the same (channel, hour, cap) as the next one will, else on their own (click-through
    measured at another hour, channel or frequency is not added to this one's)."""
    channel = learned[0]
    if channel is None:
        return {}
    same = followed == learned
    out = {ch: {cid: [int(n), int(k)] for cid, (n, k) in v.items()} for ch, v in previous.items()
           if ch == channel and same}
    e = exposures[(exposures["segment"].astype(str) == segment) & (exposures["channel"].astype(str) == channel)]
    if "arm" in e.columns:
        e = e[e["arm"].astype(str) == "policy"]
    if {"content_id", "clicked"} <= set(e.columns) and len(e):
        g = e.groupby(e["content_id"].astype(str))["clicked"].agg(["size", "sum"])
        for cid, r in g.iterrows():
            n, k = out.setdefault(channel, {}).get(cid, [0, 0])
            out[channel][cid] = [n + int(r["size"]), k + int(r["sum"])]
    return out


COPY_PRIOR_STRENGTH = 20.0  # pseudo-impressions of the cell's mean CTR a copy without evidence starts from


def copy_weights(copy: pd.DataFrame, policy: dict | None, *, draws: int = 4000, seed: int = 0) -> np.ndarray:
    """Each copy's share within its (segment, variant, channel) pool by Thompson sampling: P(its click-through is
    the pool's highest) under Beta posteriors from the policy's ``copy_stats``; a copy without evidence starts from
    the segment x channel's mean CTR worth ``COPY_PRIOR_STRENGTH`` impressions. Without a policy (or evidence): equal
    shares."""
    w = np.ones(len(copy))
    if policy is None or not len(copy):
        return w
    rng = np.random.default_rng(seed)
    c = copy.reset_index(drop=True)
    for (seg, _variant, ch), idx in c.groupby([c["segment"].astype(str), c["variant"].astype(str),
                                          c["channel"].astype(str)]).indices.items():
        stats = segment_policy(policy, seg)["copy_stats"].get(ch) or {}
        if not stats or len(idx) < 2:
            continue
        tot_n = sum(v[0] for v in stats.values())
        tot_k = sum(v[1] for v in stats.values())
        m = (tot_k + 1.0) / (tot_n + 2.0)
        nk = np.array([stats.get(str(cid), [0, 0]) for cid in c.loc[idx, "content_id"]], float)
        a = 1.0 + nk[:, 1] + m * COPY_PRIOR_STRENGTH
        b = 1.0 + nk[:, 0] - nk[:, 1] + (1.0 - m) * COPY_PRIOR_STRENGTH
        sample = rng.beta(a, b, size=(draws, len(idx)))
        w[idx] = np.bincount(sample.argmax(axis=1), minlength=len(idx)) / draws
    return w


WINNER_MIN_IMPRESSIONS = 100
N_WINNERS = 3


def _winners(stats: dict[str, dict[str, list[int]]], content: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The copies whose click-through (posterior mean) beat their segment x channel's, best first, with the lift."""
    if content is None or not len(content) or not stats:
        return []
    by_id = content.drop_duplicates("content_id").set_index(content.drop_duplicates("content_id")["content_id"]
                                                           .astype(str))
    out = []
    for ch, st in stats.items():
        n = sum(v[0] for v in st.values())
        k = sum(v[1] for v in st.values())
        if n == 0 or k == 0:
            continue
        base = k / n
        for cid, (ni, ki) in st.items():
            if ni < WINNER_MIN_IMPRESSIONS or cid not in by_id.index:
                continue
            lift = ((ki + 1.0) / (ni + 2.0)) / base - 1.0
            if lift > 0:
                r = by_id.loc[cid]
                out.append({"content_id": cid, "product_id": str(r.get("product_id")), "channel": ch,
                            "prompt": str(r.get("prompt") or ""), "text": str(r.get("text") or ""),
                            "lift": round(float(lift), 4)})
    return sorted(out, key=lambda w: -w["lift"])[:N_WINNERS]


STYLE_MIN_CLICKS = 20


def _style_counts(exposures: pd.DataFrame, content: pd.DataFrame | None, segment: str) -> pd.DataFrame:
    """Impressions (``size``) and clicks (``sum``) per copy style of the segment's impressions."""
    if content is None or "style" not in content.columns or not len(exposures):
        return pd.DataFrame(columns=["size", "sum"])
    style = dict(zip(content["content_id"].astype(str), content["style"].astype(str)))
    e = exposures[exposures["segment"].astype(str) == segment]
    return e.assign(style=e["content_id"].astype(str).map(style)).dropna(subset=["style"]).groupby("style")[
        "clicked"].agg(["size", "sum"])


def _best_style(exposures: pd.DataFrame, content: pd.DataFrame | None, segment: str, current: str | None,
                seed: int = 0) -> str | None:
    """The copy style the segment's next copy is written in: among the styles its impressions showed with at least
    ``STYLE_MIN_CLICKS`` clicks each, the one with the highest click-through when its posterior probability of
    being the best is at least ``CHANNEL_SURE`` (Beta posteriors, 4,000 draws); else ``current`` (a style moves only
    when the evidence is against it); ``None`` when nothing was chosen and nothing is sure."""
    g = _style_counts(exposures, content, segment)
    g = g[g["sum"] >= STYLE_MIN_CLICKS]
    if len(g) < 2:
        return current
    rng = np.random.default_rng(seed)
    draws = rng.beta(g["sum"].to_numpy(float)[:, None] + 1.0, (g["size"] - g["sum"]).to_numpy(float)[:, None] + 1.0,
                     size=(len(g), 4000))
    p_best = np.bincount(draws.argmax(0), minlength=len(g)) / draws.shape[1]
    best = int(np.argmax(p_best))
    return str(g.index[best]) if p_best[best] >= CHANNEL_SURE else current


def learn_policy(*, segments: list[str], strategy, exposures: pd.DataFrame, features: pd.DataFrame | None,
                 priors_cells: list[dict], previous: dict | None, run_id: str, exploration: float = EXPLORATION,
                 alpha: float = 0.05, content: pd.DataFrame | None = None) -> dict[str, Any]:
    """The next cycle's policy (see the module docstring). ``strategy``: 05's publishing strategy (or None),
    ``exposures``: the campaign analysed (``segment``, ``content_id``, ``variant``, ``channel``, ``clicked``),
    ``features``: the copy features per ``content_id`` (or None), ``priors_cells``: the priors' cells,
    ``previous``: the policy this campaign followed (or None)."""
    table = strategy.table.set_index("segment") if strategy is not None and len(strategy.table) else pd.DataFrame()
    caps = strategy.frequency_cap if strategy is not None else {}
    notes = []
    out: dict[str, dict[str, Any]] = {}
    for seg in sorted({str(s) for s in segments}):
        prev = segment_policy(previous, seg)
        row = table.loc[seg] if seg in table.index else None
        p: dict[str, Any] = {"channel": prev["channel"], "hour": prev["hour"], "frequency_cap": prev["frequency_cap"],
                             "copy_style": prev["copy_style"], "rerank_weights": {}, "variant_shares": {}}
        if row is not None and isinstance(row.get("best_channel"), str):
            sure = row.get("channel_source") == "response" and float(row.get("channel_p_best") or 0) >= CHANNEL_SURE
            if p["channel"] is None or (sure and row["best_channel"] != p["channel"]):
                p["channel"] = str(row["best_channel"])
        if row is not None and pd.notna(row.get("best_hour")):
            h, pm = int(row["best_hour"]), int(row.get("hour_pm") or 0) if pd.notna(row.get("hour_pm")) else 0
            d = 24 if p["hour"] is None else min(abs(h - p["hour"]), 24 - abs(h - p["hour"]))
            if d > pm:
                p["hour"] = h
        if seg in caps:
            low, high = row.get("cap_low") if row is not None else None, row.get("cap_high") if row is not None else None
            inside = (p["frequency_cap"] is not None and low is not None and high is not None and pd.notna(low)
                      and pd.notna(high) and int(low) <= p["frequency_cap"] <= int(high))
            if not inside:
                p["frequency_cap"] = int(caps[seg])
        if features is not None and len(features):
            p["rerank_weights"] = _rerank_weights(exposures[exposures["segment"].astype(str) == seg], features, alpha)
        for cell in priors_cells:
            if str(cell["segment"]) == seg:
                p["variant_shares"][str(cell["channel"])] = {k: float(v) for k, v in
                                                             cell["recommended_allocation"].items()}
        followed = (prev["channel"], prev["hour"], prev["frequency_cap"]) if previous is not None else None
        p["copy_stats"] = _copy_stats(prev["copy_stats"], exposures, seg, followed,
                                      (p["channel"], p["hour"], p["frequency_cap"]))
        p["winning_copy"] = _winners(p["copy_stats"], content)
        p["copy_style"] = _best_style(exposures, content, seg, p["copy_style"])
        shown = [str(x) for x in _style_counts(exposures, content, seg).index]
        p["styles_tried"] = [x for x in prev["styles_tried"] if x not in shown] + shown
        changed = [k for k in ("channel", "hour", "frequency_cap", "copy_style") if p[k] != prev[k]]
        notes.append(f"{seg}: " + (", ".join(f"{k.replace('_', ' ')} {prev[k] if prev[k] is not None else 'open'} → "
                                             f"{p[k]}" for k in changed) if changed else "channel, hour and cap kept")
                     + (f"; reranks by {', '.join(sorted(p['rerank_weights']))}" if p["rerank_weights"] else
                        "; no copy signal proven, no reranking"))
        out[seg] = p
    if previous is not None:
        exploration = max(MIN_EXPLORATION, float(previous.get("exploration", exploration)) / 2.0)
    policy = {"version": POLICY_VERSION, "learned_from": run_id, "exploration": float(exploration),
              "segments": out, "notes": notes}
    validate_policy(policy)
    return policy


def policy_plan(users: pd.DataFrame, policy: dict | None, *, seed: int = 0, default_per_week: float,
                exploration: float | None = None, channels: list[str] | None = None,
                variants: tuple[str, str] = ("template", "gpt2")) -> pd.DataFrame:
    """One row per user (``users``: ``user_id``, ``segment``): ``arm`` ("policy" / "explore"), ``channel``
    (``None``: the copy's own), ``hour`` (NaN: random waking hour), ``per_week``, ``variant`` and ``p_treatment``
    (the probability the user had of the second variant, for the sample-ratio check)."""
    rng = np.random.default_rng(seed)
    u = users[["user_id", "segment"]].astype(str).reset_index(drop=True)
    n = len(u)
    if exploration is not None:
        eps = float(exploration)
    else:
        eps = float(policy.get("exploration", EXPLORATION)) if policy else 0.0
    explore = rng.random(n) < eps
    chans = list(channels or [])
    channel = np.full(n, None, dtype=object)
    hour = np.full(n, np.nan)
    per_week = np.full(n, float(default_per_week))
    p_treat = np.full(n, 0.5)
    for seg, idx in u.groupby("segment").indices.items():
        sp = segment_policy(policy, seg)
        ex = idx[explore[idx]]
        ok = idx[~explore[idx]]
        if sp["channel"] is not None:
            channel[ok] = sp["channel"]
            shares = sp["variant_shares"].get(sp["channel"]) or {}
            if variants[1] in shares and sum(shares.get(v, 0.0) for v in variants) > 0:
                p_treat[ok] = shares[variants[1]] / sum(shares.get(v, 0.0) for v in variants)
        if sp["hour"] is not None:
            hour[ok] = sp["hour"]
        if sp["frequency_cap"] is not None:
            per_week[ok] = min(float(sp["frequency_cap"]), float(default_per_week))
        if len(ex):
            if chans:
                channel[ex] = np.array(chans, dtype=object)[rng.integers(0, len(chans), len(ex))]
            hour[ex] = rng.integers(7, 22, len(ex))
            per_week[ex] = rng.integers(EXPLORE_CAPS[0], EXPLORE_CAPS[1] + 1, len(ex))
    variant = np.where(rng.random(n) < p_treat, variants[1], variants[0]).astype(object)
    return u.assign(arm=np.where(explore, "explore", "policy"), channel=channel, hour=hour, per_week=per_week,
                    variant=variant, p_treatment=p_treat)
