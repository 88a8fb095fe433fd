"""The loop's yardsticks: the cycle's own campaign against three reference policies on the same users and days.

Every cycle's campaign (05's ``ab_exposures``: the impressions the cycle's policy sent, with their clicks,
conversions and revenue, drawn from the planted audience) is set beside three policies simulated on **the same
users** (the campaign's audience) over **the same days** (the campaign's window), read by the same planted audience
(:func:`contentlab.data.simulate.audience.simulate_campaign`, which computes each impression's planted probabilities
with :func:`contentlab.data.simulate.response.expected_rates`):

- **oracle**: the planted optimum. Each user gets their *true* segment's planted best channel, at its best hour,
  ``fatigue_point`` messages a week (as many as the audience takes without tiring), and the candidate copy, among
  every accepted candidate 04 wrote for the user's profile segment, with the highest planted click-through for
  that true segment on that channel at that hour;
- **template**: the static policy, the first cycle's plan repeated: the copy's own channel mix, random waking hours,
  the first cycle's impressions per week, and the published template copy;
- **random**: every choice uniform over the options the policy chooses among: channel, hour (0-23), frequency
  (the caps the policy explores, :data:`contentlab.feedback.policy.EXPLORE_CAPS`: 1-12 a week) and copy (any
  candidate 04 wrote for the segment, accepted or not, of either variant).

For each arm: impressions, click-through (clicks / impressions), conversion rate (conversions / clicks), revenue
per impression, and the planted expected click-through (mean of the impressions' planted probabilities), each
with a 95% percentile interval from a bootstrap over users (impressions of one user are not independent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.simulate import response as R
from contentlab.data.simulate.audience import WAKING_HOURS, policy_impressions, simulate_campaign
from contentlab.feedback.policy import EXPLORE_CAPS

ARMS = ("loop", "oracle", "template", "random")
N_BOOT = 400


@dataclass
class Window:
    """The campaign a cycle measured: its users (profile segment, true segment), start and length."""

    users: pd.DataFrame  # user_id, segment, true_segment
    start: pd.Timestamp
    n_days: int
    per_week: float  # the first cycle's impressions per user per week (the template's frequency)


def candidate_pool(content: pd.DataFrame, accepted_only: bool) -> pd.DataFrame:
    """The copy 04 wrote (not guides): every candidate, or only the accepted ones; ``content_id``, ``product_id``,
    ``variant``, ``channel``, ``segment``, ``text``."""
    c = content
    if "content_type" in c:
        c = c[c["content_type"].isna() | (c["content_type"].astype(str) == "copy")]
    if accepted_only and "rejected" in c:
        c = c[~c["rejected"].fillna(False).astype(bool)]
    c = c[c["text"].fillna("").astype(str).str.strip() != ""]
    cols = ["content_id", "product_id", "variant", "channel", "segment", "text"]
    return c[cols].astype(str).drop_duplicates("content_id").reset_index(drop=True)


def published_template(content: pd.DataFrame) -> pd.DataFrame:
    c = candidate_pool(content, accepted_only=True)
    pub = content.set_index(content["content_id"].astype(str))["published"] if "published" in content else None
    if pub is not None:
        c = c[c["content_id"].map(pub).fillna(False).astype(bool)]
    return c[c["variant"] == "template"].reset_index(drop=True)


def _oracle_copy(cands: pd.DataFrame, users: pd.DataFrame, truth: dict, products: pd.DataFrame | None
                 ) -> pd.DataFrame:
    """Per (profile segment, true segment): the accepted candidate on the true segment's best channel with the
    highest planted click-through at its best hour (any channel's copy when none was written for it)."""
    model = truth["audience"]
    pairs = users[["segment", "true_segment"]].drop_duplicates()
    rows = []
    names = list(model["segments"])
    for seg, true in pairs.itertuples(index=False):
        if true not in model["segments"]:
            continue
        best_ch = str(truth["best_channel"][true])
        pool = cands[cands["segment"] == seg]
        on = pool[pool["channel"] == best_ch]
        pool = on if len(on) else pool
        if pool.empty:
            continue
        hour = int(truth["best_hour"][true])
        ts = pd.Timestamp("2026-01-05") + pd.Timedelta(hours=hour)  # a Monday
        probe = pool.assign(channel=best_ch, user_id=[f"probe{i}" for i in range(len(pool))], timestamp=ts)
        ctr, _ = R.expected_rates(probe, np.full(len(probe), names.index(true)), model, products)
        rows.append(pool.iloc[[int(np.argmax(ctr))]].assign(pool=f"{seg}|{true}", channel=best_ch))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def reference_impressions(arm: str, window: Window, content: pd.DataFrame, truth: dict[str, Any],
                          products: pd.DataFrame | None, seed: int) -> pd.DataFrame:
    """The impressions reference policy ``arm`` (oracle, template, random) sends to the window's users."""
    rng = np.random.default_rng(seed)
    u = window.users.reset_index(drop=True)
    n = len(u)
    model = truth["audience"]
    if arm == "oracle":
        segs = model["segments"]
        ok = u["true_segment"].isin(list(segs))
        u = u[ok].reset_index(drop=True)
        plan = u.assign(
            channel=[str(truth["best_channel"][t]) for t in u["true_segment"]],
            hour=[float(truth["best_hour"][t]) for t in u["true_segment"]],
            per_week=[float(max(1, int(truth["fatigue_point"][t]))) for t in u["true_segment"]],
            variant="oracle", pool=u["segment"] + "|" + u["true_segment"])
        copy = _oracle_copy(candidate_pool(content, accepted_only=True), u, truth, products)
        copy = copy.assign(variant="oracle")
        return policy_impressions(plan, copy, start=window.start, n_days=window.n_days, seed=seed, key="pool")
    if arm == "template":
        plan = u.assign(channel=None, hour=np.nan, per_week=window.per_week, variant="template")
        return policy_impressions(plan, published_template(content), start=window.start, n_days=window.n_days,
                                  seed=seed)
    if arm == "random":
        cands = candidate_pool(content, accepted_only=False).assign(variant="random")
        chans = sorted(cands["channel"].unique())
        plan = u.assign(channel=np.array(chans, dtype=object)[rng.integers(0, len(chans), n)],
                        hour=rng.integers(0, 24, n).astype(float),
                        per_week=rng.integers(EXPLORE_CAPS[0], EXPLORE_CAPS[1] + 1, n).astype(float),
                        variant="random")
        return policy_impressions(plan, cands, start=window.start, n_days=window.n_days, seed=seed)
    raise ValueError(f"unknown reference arm {arm!r} (known: oracle, template, random)")


def simulate_reference(arm: str, window: Window, content: pd.DataFrame, truth: dict[str, Any],
                       products: pd.DataFrame | None, seed: int) -> pd.DataFrame:
    """Outcomes of a reference policy's impressions from the planted audience (with ``expected_ctr``)."""
    imp = reference_impressions(arm, window, content, truth, products, seed)
    if imp.empty:
        raise ValueError(f"the {arm} policy has no copy to show the campaign's users")
    return simulate_campaign(imp, truth, seed=seed + 7, products=products, with_expected=True)


def measure(exposures: pd.DataFrame, seed: int = 0, n_boot: int = N_BOOT) -> dict[str, float]:
    """Impressions, CTR, CVR, revenue per impression and planted expected CTR, with 95% user-bootstrap intervals."""
    e = exposures
    per_user = e.groupby(e["user_id"].astype(str)).agg(n=("clicked", "size"), k=("clicked", "sum"),
                                                        c=("converted", "sum"), r=("revenue", "sum"),
                                                        x=("expected_ctr", "sum"))
    m = per_user.to_numpy(float)  # columns n, k, c, r, x
    tot = m.sum(0)
    rng = np.random.default_rng(seed)
    w = rng.multinomial(len(m), np.full(len(m), 1.0 / len(m)), size=n_boot).astype(float)
    boot = w @ m
    with np.errstate(invalid="ignore", divide="ignore"):
        b = {"ctr": boot[:, 1] / boot[:, 0], "cvr": boot[:, 2] / boot[:, 1], "rpi": boot[:, 3] / boot[:, 0],
             "expected_ctr": boot[:, 4] / boot[:, 0]}
    point = {"ctr": tot[1] / tot[0], "cvr": tot[2] / tot[1] if tot[1] else float("nan"), "rpi": tot[3] / tot[0],
             "expected_ctr": tot[4] / tot[0]}
    out: dict[str, float] = {"impressions": int(tot[0]), "users": int(len(m)), "clicks": int(tot[1]),
                             "conversions": int(tot[2]), "revenue": float(tot[3])}
    for k, v in point.items():
        vals = b[k][np.isfinite(b[k])]
        out[k] = float(v)
        out[f"{k}_low"] = float(np.quantile(vals, 0.025)) if len(vals) else float("nan")
        out[f"{k}_high"] = float(np.quantile(vals, 0.975)) if len(vals) else float("nan")
    return out


def published_copy_quality(content: pd.DataFrame, window: Window, truth: dict[str, Any],
                           products: pd.DataFrame | None) -> dict[str, Any]:
    """The published copy of each variant read by the planted audience in one fixed context (the slot's segment's
    majority true segment, on the slot's channel, at its best hour, on a Monday, no fatigue): the mean planted CTR
    per variant and the published GPT-2 ``content_id`` per slot (to compare cycles on the same slots)."""
    model = truth["audience"]
    names = list(model["segments"])
    major = window.users.groupby("segment")["true_segment"].agg(lambda s: s.value_counts().index[0]).to_dict()
    c = candidate_pool(content, accepted_only=True)
    if "published" in content:
        pub = set(content.loc[content["published"].fillna(False).astype(bool), "content_id"].astype(str))
        c = c[c["content_id"].isin(pub)]
    c = c[c["segment"].map(major).isin(names)].reset_index(drop=True)
    out: dict[str, Any] = {"published_expected_ctr": {}, "gpt2_by_slot": {}}
    if c.empty:
        return out
    true = c["segment"].map(major)
    ts = pd.Timestamp("2026-01-05") + pd.to_timedelta([int(truth["best_hour"][t]) for t in true], unit="h")
    probe = c.assign(user_id=[f"probe{i}" for i in range(len(c))], timestamp=ts)
    ctr, _ = R.expected_rates(probe, np.array([names.index(t) for t in true]), model, products)
    c["expected_ctr"] = ctr
    out["published_expected_ctr"] = {str(v): float(g["expected_ctr"].mean()) for v, g in c.groupby("variant")}
    out["finetune"] = finetune_comparison(content, major, truth, products)
    if "slot_id" in content:
        slot = dict(zip(content["content_id"].astype(str), content["slot_id"].astype(str)))
        g = c[c["variant"] == "gpt2"]
        out["gpt2_by_slot"] = {slot.get(cid, cid): cid for cid in g["content_id"]}
    return out


def finetune_comparison(content: pd.DataFrame, major: dict[str, str], truth: dict[str, Any],
                        products: pd.DataFrame | None) -> dict[str, Any] | None:
    """Before/after fine-tuning on the same slots: the GPT-2 candidates of the base model and of the model
    fine-tuned on the winning copy (``model`` ending in ``+winners``), each with its share accepted, mean quality
    score (04's own) and mean planted CTR (the slot's segment's majority true segment, its channel, best hour, no
    fatigue). ``None`` when the cycle did not fine-tune."""
    c = content[(content.get("content_type", "copy") == "copy") & (content["variant"] == "gpt2")].copy()
    if "model" not in c or not c["model"].astype(str).str.endswith("+winners").any():
        return None
    model = truth["audience"]
    names = list(model["segments"])
    c = c[c["segment"].map(major).isin(names) & (c["text"].fillna("").astype(str).str.strip() != "")]
    c = c.reset_index(drop=True)
    true = c["segment"].map(major)
    ts = pd.Timestamp("2026-01-05") + pd.to_timedelta([int(truth["best_hour"][t]) for t in true], unit="h")
    probe = c.assign(user_id=[f"probe{i}" for i in range(len(c))], timestamp=ts, text=c["text"].astype(str),
                     product_id=c["product_id"].astype(str), channel=c["channel"].astype(str))
    ctr, _ = R.expected_rates(probe, np.array([names.index(t) for t in true]), model, products)
    c["expected_ctr"] = ctr
    c["which"] = np.where(c["model"].astype(str).str.endswith("+winners"), "after", "before")
    out = {"slots": int(c["slot_id"].nunique())}
    for which, g in c.groupby("which"):
        out[which] = {"candidates": int(len(g)), "accepted": float((~g["rejected"].astype(bool)).mean()),
                      "quality": float(g["quality"].astype(float).mean()),
                      "expected_ctr": float(g["expected_ctr"].mean()),
                      "accepted_expected_ctr": float(g.loc[~g["rejected"].astype(bool), "expected_ctr"].mean())
                      if (~g["rejected"].astype(bool)).any() else float("nan")}
    return out


def window_of(exposures: pd.DataFrame, truth: dict[str, Any], n_days: int, per_week: float) -> Window:
    """The campaign's users (profile and true segment) and days, from the cycle's exposures."""
    e = exposures
    users = e.drop_duplicates("user_id")[["user_id", "segment"]].astype(str)
    tu = truth.get("users")
    lookup = dict(zip(tu["user_id"].astype(str), tu["segment"].astype(str))) if tu is not None else {}
    users = users.assign(true_segment=users["user_id"].map(lookup).fillna("")).sort_values("user_id")
    start = pd.Timestamp(pd.to_datetime(e["timestamp"]).min()).normalize()
    return Window(users.reset_index(drop=True), start, int(n_days), float(per_week))


__all__ = ["ARMS", "Window", "WAKING_HOURS", "candidate_pool", "measure", "published_copy_quality", "published_template",
           "reference_impressions", "simulate_reference", "window_of"]
