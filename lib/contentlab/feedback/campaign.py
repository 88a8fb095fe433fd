"""The demo's A/B campaign: the copy 04 published, shown to the profiled users, outcomes from the planted truth.

:func:`build_assignments` turns the ``content`` 04 published and 02's ``user_profiles`` into impressions:

1. the audience is every profiled user with a segment that has published copy in **both** variants (flagged
   accounts are left out unless asked; segments served by one variant only are excluded and reported, because
   serving them would break the planned split);
2. each user is assigned to a variant with the planned probabilities (user-level randomisation, seeded);
3. each user receives ``1 + Poisson(impressions_per_user - 1)`` impressions, each a copy drawn from the rows
   published for the user (or the user's segment) in the assigned variant; the copy's channel and product are
   kept with its text (the simulator's audience reads it), and ``mentions_price`` is derived from the text.

:func:`simulate_exposures` then asks the simulator's audience model
(:func:`contentlab.data.simulate.audience.simulate_campaign`, its one interface to this stage) for clicks,
conversions and revenue from the planted audience (the text and context of every impression, each user's *true*
segment), with each impression's planted probabilities (``expected_ctr``, ``expected_cvr``), so the analysis has a
known right answer. The content is read defensively: ``content_id`` and ``variant`` are required;
``segment`` and/or ``user_id``, ``product_id``, ``channel`` and ``text`` are used when present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from contentlab.data.simulate.audience import EXPOSURE_CHANNEL_MIX, policy_impressions, simulate_campaign
from contentlab.feedback.analysis import PRICE_PATTERN
from contentlab.feedback.policy import copy_weights, policy_plan

DEFAULT_CHANNEL_MIX = dict(EXPOSURE_CHANNEL_MIX)  # copy without a channel: the planted campaign's mix


@dataclass
class CampaignPlan:
    assignments: pd.DataFrame
    audience: int
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> users
    notes: list[str] = field(default_factory=list)
    split: dict[str, float] | None = None  # the expected variant shares when they are not the planned split
    policy: dict | None = None  # the publishing policy the campaign followed (None: the first cycle's plan)


def published_copy(content: pd.DataFrame, notes: list[str] | None = None) -> pd.DataFrame:
    """The rows a customer can be shown: copy (not guides) that was published (not rejected, not a losing
    candidate). Columns that are absent are not used as filters."""
    c = content
    n0 = len(c)
    if "content_type" in c.columns:
        c = c[c["content_type"].isna() | (c["content_type"].astype(str) == "copy")]
    if "published" in c.columns:
        c = c[c["published"].fillna(False).astype(bool)]
    elif "rejected" in c.columns:
        c = c[~c["rejected"].fillna(False).astype(bool)]
    if notes is not None and len(c) < n0:
        notes.append(f"{len(c):,} of {n0:,} content rows are published copy (guides, rejected and losing "
                     "candidates are not shown)")
    return c


def _normalise_content(content: pd.DataFrame, notes: list[str] | None = None) -> pd.DataFrame:
    need = ["content_id", "variant"]
    missing = [c for c in need if c not in content.columns]
    if missing:
        raise ValueError(f"the content lacks {missing}; cannot build the campaign")
    c = published_copy(content, notes).copy()
    for col in ("content_id", "variant", "segment", "user_id", "product_id", "channel"):
        if col in c.columns:
            c[col] = c[col].astype(str)
    if "text" not in c.columns:
        c["text"] = ""
    c["text"] = c["text"].fillna("").astype(str)
    if "product_id" not in c.columns:
        c["product_id"] = "unknown"
    return c


def build_assignments(content: pd.DataFrame, profiles: pd.DataFrame, *, seed: int = 0,
                      impressions_per_user: float = 10.0, split: dict[str, float] | None = None,
                      channel_mix: dict[str, float] | None = None, include_flagged: bool = False,
                      max_users: int | None = None, channels: set[str] | None = None) -> CampaignPlan:
    """Impressions for the campaign (one row each): user_id, content_id, product_id, variant, channel,
    segment (the user's profile segment), mentions_price, text. ``channels``: the channels the response model
    knows (copy for other channels is not shown)."""
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    excluded: dict[str, int] = {}
    content = _normalise_content(content, notes)
    if channels is not None and "channel" in content.columns:
        other = ~content["channel"].isin(set(channels))
        if other.any():
            notes.append(f"{int(other.sum())} published rows on channels without a planted response "
                         f"({', '.join(sorted(content.loc[other, 'channel'].unique()))}) are not shown")
            content = content[~other]
    if "variant_share" in content.columns and (content["variant_share"].astype(float).round(6) != 0.5).any():
        notes.append("the generation stage suggested an uneven variant mix (from earlier feedback); the test "
                     "still randomises users with the planned split so its comparison stays unbiased")
    split = split or {"template": 0.5, "gpt2": 0.5}
    variants = list(split)
    probs = np.array([split[v] for v in variants], dtype=float)
    probs = probs / probs.sum()

    prof = profiles.copy()
    prof["user_id"] = prof["user_id"].astype(str)
    prof["segment"] = prof["segment"].astype(str) if "segment" in prof else "all"
    if "is_flagged" in prof and not include_flagged:
        flagged = prof["is_flagged"].fillna(False).astype(bool)
        if flagged.any():
            excluded["flagged by risk checks"] = int(flagged.sum())
        prof = prof[~flagged]

    per_user = "user_id" in content.columns and content["user_id"].isin(prof["user_id"]).any()
    key = "user_id" if per_user else "segment"
    if key == "segment" and "segment" not in content.columns:
        content["segment"] = "all"
        prof["segment"] = "all"
        notes.append("content has neither user_id nor segment: every user can receive every copy")
    content = content[content["variant"].isin(variants)]
    both = content.groupby(key)["variant"].nunique()
    servable = set(both[both == len(variants)].index)
    one_sided = set(both.index) - servable
    if one_sided:
        n = int(prof[key].isin(one_sided).sum())
        if n:
            excluded["their copy exists in one variant only"] = n
            notes.append(f"{len(one_sided)} {key} value(s) have copy in only one variant and are not in the test")
    no_copy = ~prof[key].isin(set(both.index))
    if no_copy.any():
        excluded["no published copy for their segment"] = int(no_copy.sum())
    prof = prof[prof[key].isin(servable)]
    if max_users is not None and len(prof) > max_users:
        prof = prof.sample(max_users, random_state=int(rng.integers(0, 2**31 - 1)))
    prof = prof.sort_values("user_id").reset_index(drop=True)
    if prof.empty:
        return CampaignPlan(pd.DataFrame(columns=["user_id", "content_id", "product_id", "variant", "channel",
                                                  "segment", "mentions_price", "text"]), 0, excluded, notes)

    # numpy object arrays throughout: indexing Arrow-backed strings row by row is slow at campaign scale
    user_var = np.array(variants, dtype=object)[rng.choice(len(variants), size=len(prof), p=probs)]
    k = 1 + rng.poisson(max(impressions_per_user - 1.0, 0.0), size=len(prof))
    rep = np.repeat(np.arange(len(prof)), k)
    u_id = prof["user_id"].to_numpy(dtype=object)
    u_seg = prof["segment"].to_numpy(dtype=object)
    u_key = prof[key].to_numpy(dtype=object)

    content = content.reset_index(drop=True)
    content["mentions_price"] = content["text"].map(lambda s: bool(PRICE_PATTERN.search(s))).astype(bool)
    cgroups = {kv: np.asarray(idx) for kv, idx in content.groupby([key, "variant"]).indices.items()}
    # the (key, variant) group of every user, then of every impression
    ugroup = pd.Series(list(zip(u_key, user_var)))
    codes, uniques = pd.factorize(ugroup)
    imp_codes = codes[rep]
    picked = np.empty(len(rep), dtype=np.int64)
    order = np.argsort(imp_codes, kind="stable")
    bounds = np.searchsorted(imp_codes[order], np.arange(len(uniques) + 1))
    for g, kv in enumerate(uniques):
        idx = order[bounds[g]:bounds[g + 1]]
        pool = cgroups[tuple(kv)]
        picked[idx] = pool[rng.integers(0, len(pool), len(idx))]
    col = {c: content[c].to_numpy(dtype=object) for c in ("content_id", "product_id")}
    out = pd.DataFrame({
        "user_id": u_id[rep], "content_id": col["content_id"][picked], "product_id": col["product_id"][picked],
        "variant": user_var[rep], "segment": u_seg[rep],
    })
    if "channel" in content.columns:
        out["channel"] = content["channel"].to_numpy(dtype=object)[picked]
    else:
        mix = channel_mix or DEFAULT_CHANNEL_MIX
        names = list(mix)
        p = np.array([mix[c] for c in names], float)
        out["channel"] = np.array(names, dtype=object)[rng.choice(len(names), size=len(out), p=p / p.sum())]
        notes.append("content has no channel column: channels drawn from " + ", ".join(f"{c} {v:.0%}" for c, v in mix.items()))
    out["mentions_price"] = content["mentions_price"].to_numpy(dtype=bool)[picked]
    out["text"] = content["text"].to_numpy(dtype=object)[picked]
    for c in ("user_id", "content_id", "product_id", "variant", "segment", "channel"):
        out[c] = out[c].astype(str)
    return CampaignPlan(out, int(len(prof)), excluded, notes)


def policy_campaign(content: pd.DataFrame, profiles: pd.DataFrame, policy: dict | None, *, seed: int = 0,
                    start, n_days: int = 14, default_per_week: float, include_flagged: bool = False,
                    channels: set[str] | None = None, exploration: float | None = None,
                    variants: tuple[str, str] = ("template", "gpt2")) -> CampaignPlan:
    """The campaign of a cycle that follows a publishing policy (:func:`contentlab.feedback.policy.policy_plan`):
    impressions at the policy's channel and hour, as often as its frequency cap allows, with the policy's variant
    shares; an exploration share of users gets random choices. Same audience rules as :func:`build_assignments`;
    the assignments carry their ``timestamp`` and each user's ``arm``."""
    notes: list[str] = []
    excluded: dict[str, int] = {}
    c = _normalise_content(content, notes)
    if channels is not None and "channel" in c.columns:
        c = c[c["channel"].isin(set(channels))]
    if "channel" not in c.columns or "segment" not in c.columns:
        raise ValueError("a campaign under a policy needs copy with a channel and a segment")
    c = c[c["variant"].isin(variants)]
    prof = profiles.copy()
    prof["user_id"] = prof["user_id"].astype(str)
    prof["segment"] = prof["segment"].astype(str)
    if "is_flagged" in prof and not include_flagged:
        flagged = prof["is_flagged"].fillna(False).astype(bool)
        if flagged.any():
            excluded["flagged by risk checks"] = int(flagged.sum())
        prof = prof[~flagged]
    both = c.groupby("segment")["variant"].nunique()
    servable = set(both[both == len(variants)].index)
    left = ~prof["segment"].isin(servable)
    if left.any():
        excluded["no published copy in every variant for their segment"] = int(left.sum())
    prof = prof[~left].sort_values("user_id").reset_index(drop=True)
    plan = policy_plan(prof, policy, seed=seed, default_per_week=default_per_week, exploration=exploration,
                       channels=sorted(c["channel"].unique()), variants=variants)
    c = c.reset_index(drop=True)
    c["weight"] = copy_weights(c, policy, seed=seed + 2)
    a = policy_impressions(plan.drop(columns=["p_treatment"]), c, start=start, n_days=n_days, seed=seed + 1)
    a["mentions_price"] = a["text"].map(lambda t: bool(PRICE_PATTERN.search(t))).astype(bool)
    shown = plan[plan["user_id"].isin(set(a["user_id"]))]
    p_t = float(shown["p_treatment"].mean()) if len(shown) else 0.5  # per user: the SRM check counts users
    eps = float((policy or {}).get("exploration", 0.0) if exploration is None else exploration)
    if policy is not None:
        notes.append(f"campaign under the policy learned from run {policy.get('learned_from', '?')}: each segment's "
                     f"channel, send hour and frequency cap, variant shares and each copy's share by Thompson "
                     "sampling; "
                     f"{eps:.0%} of users explore (random channel, hour, 1-12 messages a week, 50/50 variant)")
    else:
        notes.append(f"first cycle's plan (no policy yet): the copy's own channels, random waking hours, "
                     f"{default_per_week:.1f} impressions a week, 50/50 variants; {eps:.0%} of users explore "
                     "(random channel, hour, 1-12 messages a week)")
    split = {variants[0]: 1.0 - p_t, variants[1]: p_t}
    return CampaignPlan(a, int(plan["user_id"].nunique()), excluded, notes, split=split, policy=policy)


def simulate_exposures(plan: CampaignPlan, truth: dict, *, seed: int = 0, start=None, n_days: int = 14,
                       products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Outcomes for the planned impressions from the planted response (``simulate_campaign``; ``products``: the
    products table the copy is judged against).

    Returns the exposures table plus ``expected_ctr`` / ``expected_cvr`` (each impression's planted probabilities)
    and ``true_segment`` (from ``truth["users"]``; ``None`` when unknown).
    """
    kwargs = {"seed": seed, "n_days": n_days, "products": products, "with_expected": True}
    if start is not None:
        kwargs["start"] = start
    exp = simulate_campaign(plan.assignments, truth, **kwargs)
    return attach_true_segment(exp, truth)


def attach_true_segment(exposures: pd.DataFrame, truth: dict | None) -> pd.DataFrame:
    """Add ``true_segment`` (planted segment of each user) when the truth knows it."""
    exp = exposures.copy()
    if truth and truth.get("users") is not None:
        tu = truth["users"]
        lookup = pd.Series(tu["segment"].astype(str).to_numpy(), index=tu["user_id"].astype(str).to_numpy())
        exp["true_segment"] = exp["user_id"].astype(str).map(lookup)
    return exp
