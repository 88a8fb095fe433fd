"""The demo campaign: published copy x profiled users -> impressions -> outcomes from the planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.feedback import campaign


def _content():
    rows = []
    for seg in ("Smart Shoppers", "Premium Loyalists", "One Sided"):
        for i in range(3):
            for ch in ("email", "push", "product_page"):
                for var in ("template", "gpt2"):
                    if seg == "One Sided" and var == "gpt2":
                        continue
                    text = f"{seg} copy {i} on {ch}" + (" - save 20% today" if var == "gpt2" and i == 0 else "")
                    rows.append({"content_id": f"{seg[:2]}{i}{ch[:2]}{var}", "content_type": "copy", "segment": seg,
                                 "user_id": None, "product_id": f"P{i}", "channel": ch, "variant": var, "text": text,
                                 "published": True, "rejected": False, "quality": 0.5, "variant_share": 0.5})
    rows.append({"content_id": "REJ", "content_type": "copy", "segment": "Smart Shoppers", "user_id": None,
                 "product_id": "P9", "channel": "email", "variant": "gpt2", "text": "banned claim", "published": False,
                 "rejected": True, "quality": 0.1, "variant_share": 0.5})
    rows.append({"content_id": "GUIDE", "content_type": "guide", "segment": "Smart Shoppers", "user_id": None,
                 "product_id": "P1", "channel": "email", "variant": "gpt2", "text": "guide", "published": True,
                 "rejected": False, "quality": 0.9, "variant_share": 0.5})
    return pd.DataFrame(rows)


def _profiles(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    seg = rng.choice(["Smart Shoppers", "Premium Loyalists", "One Sided"], n, p=[0.5, 0.4, 0.1])
    return pd.DataFrame({"user_id": [f"U{i:05d}" for i in range(n)], "segment": seg, "cluster": 0,
                         "is_flagged": rng.random(n) < 0.02})


def test_assignments_use_published_copy_and_keep_the_split():
    prof = _profiles()
    plan = campaign.build_assignments(_content(), prof, seed=1, impressions_per_user=6)
    a = plan.assignments
    assert not a["content_id"].isin(["REJ", "GUIDE"]).any()
    assert set(a["segment"]) == {"Smart Shoppers", "Premium Loyalists"}  # one-sided segment left out
    one_sided = (prof["segment"] == "One Sided") & ~prof["is_flagged"]  # flagged accounts are counted as flagged
    assert plan.excluded["their copy exists in one variant only"] == int(one_sided.sum())
    assert plan.excluded["flagged by risk checks"] == int(prof["is_flagged"].sum())
    assert not a["user_id"].isin(prof.loc[prof["is_flagged"], "user_id"]).any()
    # every user sees one variant only, copy of their own segment and variant
    assert (a.groupby("user_id")["variant"].nunique() == 1).all()
    content = _content().set_index("content_id")
    assert (content.loc[a["content_id"], "segment"].to_numpy() == a["segment"].to_numpy()).all()
    assert (content.loc[a["content_id"], "variant"].to_numpy() == a["variant"].to_numpy()).all()
    users = a.drop_duplicates("user_id")
    share = (users["variant"] == "gpt2").mean()
    assert abs(share - 0.5) < 3 * np.sqrt(0.25 / len(users))
    assert abs(a.groupby("user_id").size().mean() - 6) < 0.3
    assert a.loc[a["content_id"].str.contains("0").values & (a["variant"] == "gpt2").values, "mentions_price"].all()
    assert not a.loc[a["variant"] == "template", "mentions_price"].any()
    # deterministic for a seed
    again = campaign.build_assignments(_content(), prof, seed=1, impressions_per_user=6).assignments
    pd.testing.assert_frame_equal(a, again)


def test_channels_without_response_are_not_shown():
    plan = campaign.build_assignments(_content(), _profiles(500), seed=0, channels={"email", "push"})
    assert set(plan.assignments["channel"]) == {"email", "push"}
    assert any("product_page" in n for n in plan.notes)


def test_simulated_outcomes_follow_the_users_true_segment():
    prof = _profiles(4000, seed=2)
    truth_users = pd.DataFrame({"user_id": prof["user_id"],
                                "segment": np.where(prof["segment"] == "Premium Loyalists", "loyal", "bargain")})
    resp = []
    for seg, ctr in (("loyal", 0.02), ("bargain", 0.10)):
        for ch in ("email", "push", "product_page"):
            for var, lift in (("template", 1.0), ("gpt2", 1.0)):
                resp.append((seg, ch, var, ctr * lift, 0.1, 40.0))
    truth = {"response": pd.DataFrame(resp, columns=["segment", "channel", "variant", "ctr", "cvr", "aov"]),
             "users": truth_users, "copy_effects": {}}
    plan = campaign.build_assignments(_content(), prof, seed=3, impressions_per_user=10)
    exp = campaign.simulate_exposures(plan, truth, seed=4, start="2026-05-01", n_days=7)
    assert len(exp) == len(plan.assignments)
    assert (exp["true_segment"] == np.where(exp["segment"] == "Premium Loyalists", "loyal", "bargain")).all()
    ctr = exp.groupby("true_segment")["clicked"].mean()
    assert ctr["loyal"] == pytest.approx(0.02, abs=0.006) and ctr["bargain"] == pytest.approx(0.10, abs=0.01)
    assert exp["timestamp"].min() >= pd.Timestamp("2026-05-01") and exp["timestamp"].max() < pd.Timestamp("2026-05-08")
    assert (exp.loc[~exp["converted"], "revenue"] == 0).all()


def test_feedback_uses_only_the_simulators_audience_model():
    """The feedback stage reaches the simulator through its audience model only (simulate_campaign and the planted
    response), never its other parts."""
    import ast
    from pathlib import Path

    import contentlab.feedback

    used = {}
    for f in Path(contentlab.feedback.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for n in names:
                if n.startswith("contentlab.data.simulate"):
                    used.setdefault(n, set()).add(f.name)
    assert set(used) == {"contentlab.data.simulate.audience"}, used
    assert {"campaign.py", "coverage.py"} <= used["contentlab.data.simulate.audience"]
