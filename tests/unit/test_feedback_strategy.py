"""The publishing strategy recovers the simulator's planted best send hour, best channel and fatigue point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.data.simulate import PROFILES, simulate
from contentlab.feedback import strategy


@pytest.fixture(scope="module")
def demo():
    return simulate(**PROFILES["demo"], seed=42)


def _planted(ds) -> dict:
    return {s: {k: ds.truth[k][s] for k in ("best_hour", "best_channel", "fatigue_point")} for s in ds.truth["best_hour"]}


def test_recovers_the_planted_hour_channel_and_fatigue_point_on_the_demo(demo):
    seg = demo.truth["users"].set_index("user_id")["segment"]
    plan = strategy.publishing_strategy(demo.events, seg, demo.exposures, seed=0)
    rec = plan.recovery(_planted(demo), {s: s for s in _planted(demo)})
    assert rec["segments_checked"] == 5
    assert rec["hours_recovered"] >= 4 and rec["channels_recovered"] >= 4 and rec["caps_recovered"] >= 4, rec
    t = plan.table.set_index("segment")
    assert t["hour_agreement"].between(0, 1).all() and t["channel_p_best"].between(0, 1).all()
    assert (t["cap_low"] <= t["frequency_cap"]).all() and (t["frequency_cap"] <= t["cap_high"]).all()
    assert (t["channel_source"] == "response").all()  # the log has enough clicks in every cell
    for mix in t["channel_mix"]:
        assert abs(sum(mix.values()) - 1) < 0.01
    # without an exposure log: hour and channel from activity patterns alone, no cap
    act = strategy.publishing_strategy(demo.events, seg, None, seed=0)
    rec = act.recovery(_planted(demo), {s: s for s in _planted(demo)})
    assert rec["hours_recovered"] >= 4 and rec["channels_recovered"] >= 4 and rec["caps_recovered"] == 0
    assert (act.table["channel_source"] == "activity").all() and any("no exposure log" in n for n in act.notes)


def test_labels_that_carry_no_behaviour_give_uncertain_answers(demo):
    """Random segment labels: every group looks like the average customer, so the bootstrap does not agree on an
    hour and the planted values are not recovered beyond chance."""
    users = demo.truth["users"]["user_id"]
    rng = np.random.default_rng(1)
    seg = pd.Series(rng.choice(["a", "b", "c"], len(users)), index=users.to_numpy())
    plan = strategy.publishing_strategy(demo.events, seg, None, seed=0, n_boot=100)
    assert len(plan.table) == 3
    assert plan.table["channel_p_best"].min() < 0.95 or plan.table["hour_agreement"].min() < 0.95


def test_weekly_messages_and_bad_input():
    exp = pd.DataFrame({"user_id": ["u"] * 4 + ["v"], "channel": ["email", "push", "product_page", "email", "email"],
                        "timestamp": pd.to_datetime(["2026-01-01", "2026-01-03", "2026-01-04", "2026-01-09",
                                                     "2026-01-02"])})
    # u: 1st message; 2nd within a week; a product page (not a message) sees 2; 01-09 sees itself and 01-03
    assert list(strategy.weekly_messages(exp)) == [1, 2, 2, 2, 1]
    with pytest.raises(ValueError, match="events lack"):
        strategy.publishing_strategy(pd.DataFrame({"user_id": ["u"]}), pd.Series({"u": "a"}))
