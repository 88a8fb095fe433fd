"""The simulated audience reads the copy: its response depends on the text and the context, never on the label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.data.simulate import PROFILES, SEGMENTS, simulate, simulate_campaign
from contentlab.data.simulate.response import copy_features, expected_ctr, expected_cvr


@pytest.fixture(scope="module")
def shop():
    return simulate(**PROFILES["tiny"], seed=7)


@pytest.fixture(scope="module")
def model(shop):
    return shop.truth["audience"]


PRODUCT = {"product_id": "P9", "title": "Northpeak hooded longline down jacket in black",
           "description": "Northpeak built this hooded longline down jacket for winter commutes. Crafted from goose "
                          "down, it packs into its own pocket.",
           "colour": "black", "material": "goose down", "brand": "Northpeak", "category": "Down Jackets"}
FAITHFUL = ("Northpeak built this hooded longline down jacket for winter commutes. Crafted from goose down, it packs "
            "into its own pocket.")


def test_the_label_never_enters(shop, model):
    copy = shop.truth["historical_copy"]
    # the same text is the same text whatever it is called: campaign with every label swapped, same seed
    rng = np.random.default_rng(1)
    n = 20_000
    users = shop.truth["users"]
    c = copy.iloc[rng.integers(0, len(copy), n)].reset_index(drop=True)
    pick = rng.integers(0, len(users), n)
    a = pd.DataFrame({"timestamp": pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.integers(0, 14 * 86400, n), "s"),
                      "user_id": users["user_id"].to_numpy()[pick], "content_id": c["content_id"],
                      "product_id": c["product_id"], "variant": c["variant"], "channel": c["channel"],
                      "segment": users["segment"].to_numpy()[pick], "text": c["text"]})
    swapped = a.assign(variant=np.where(a["variant"] == "gpt2", "template", "gpt2"))
    one = simulate_campaign(a, shop.truth, seed=3, products=shop.products, with_expected=True)
    two = simulate_campaign(swapped, shop.truth, seed=3, products=shop.products, with_expected=True)
    np.testing.assert_array_equal(one["expected_ctr"], two["expected_ctr"])
    np.testing.assert_array_equal(one["clicked"], two["clicked"])
    assert one["clicked"].mean() == two["clicked"].mean() and (one["variant"] != two["variant"]).all()
    # and a single impression: the oracle has no label argument at all
    for seg in SEGMENTS:
        assert expected_ctr(FAITHFUL, PRODUCT, seg, {"channel": "email"}, model) == \
            expected_ctr(str(FAITHFUL), dict(PRODUCT), seg, {"channel": "email"}, model)


def test_shuffled_words_lose_against_the_faithful_copy(model):
    words = FAITHFUL.split(" ")
    rng = np.random.default_rng(0)
    for seg in SEGMENTS:
        base = expected_ctr(FAITHFUL, PRODUCT, seg, {"channel": "email"}, model)
        for _ in range(25):
            shuffled = " ".join(rng.permutation(words))
            if shuffled == FAITHFUL:
                continue
            assert expected_ctr(shuffled, PRODUCT, seg, {"channel": "email"}, model) < base, shuffled


def test_a_wrong_attribute_loses(model, shop):
    f = copy_features(FAITHFUL, PRODUCT, "trend_seeker", model)
    assert f["wrong_attribute"] == 0 and f["truncated"] == 0 and f["broken"] == 0
    wrong_colour = FAITHFUL.replace("hooded longline", "navy hooded longline")  # the jacket is black
    wrong_material = FAITHFUL.replace("goose down", "white duck down")
    wrong_brand = FAITHFUL.replace("Northpeak", "Frostline")
    for text in (wrong_colour, wrong_material, wrong_brand):
        assert copy_features(text, PRODUCT, "trend_seeker", model)["wrong_attribute"] >= 1, text
        for seg in SEGMENTS:
            assert expected_ctr(text, PRODUCT, seg, {"channel": "email"}, model) < \
                expected_ctr(FAITHFUL, PRODUCT, seg, {"channel": "email"}, model)
            assert expected_cvr(text, PRODUCT, seg, {"channel": "email"}, model) < \
                expected_cvr(FAITHFUL, PRODUCT, seg, {"channel": "email"}, model)
    # judged against the real products table too: a product's own colour is fine, another product's is not
    p = shop.products.iloc[0].to_dict()
    others = sorted(set(shop.products["colour"]) - {p["colour"]} - set(str(p["title"]).lower().split()))
    own = f"{p['title']}. Shown in {p['colour']}."
    other = f"{p['title']}. Shown in {others[0]}."
    assert copy_features(own, p, "new_visitor", model)["wrong_attribute"] == 0
    assert copy_features(other, p, "new_visitor", model)["wrong_attribute"] == 1


def test_truncated_and_repeated_copy_lose(model):
    truncated = FAITHFUL.rsplit(" ", 3)[0]  # "... it packs into"
    repeated = "Northpeak built this Northpeak built this " + FAITHFUL[len("Northpeak built this "):]
    f = copy_features(truncated, PRODUCT, "bargain_hunter", model)
    assert f["truncated"] == 1
    assert copy_features(repeated, PRODUCT, "bargain_hunter", model)["repetition"] > 0
    for seg in SEGMENTS:
        base = expected_ctr(FAITHFUL, PRODUCT, seg, {"channel": "email"}, model)
        assert expected_ctr(truncated, PRODUCT, seg, {"channel": "email"}, model) < base
        assert expected_ctr(repeated, PRODUCT, seg, {"channel": "email"}, model) < base


def test_headlines_and_plurals_are_not_mistakes(model):
    """A headline that closes on its price is finished; the product's own category in the singular is no wrong type;
    a sentence without its full stop, or ending on a function word, is cut off."""
    assert copy_features("Northpeak down jacket in black, $67.99", PRODUCT, "loyal_premium", model)["truncated"] == 0
    assert copy_features("Northpeak built this warm jacket for winter", PRODUCT, "loyal_premium", model)["truncated"] == 1
    assert copy_features("Northpeak built this warm jacket for.", PRODUCT, "loyal_premium", model)["truncated"] == 1
    assert copy_features("A warm down jacket.", PRODUCT, "loyal_premium", model)["wrong_attribute"] == 0
    assert copy_features("A warm t-shirt.", PRODUCT, "loyal_premium", model)["wrong_attribute"] == 1
    # saying the material twice is normal, a third time is repetition
    twice = "Crafted from goose down. The goose down keeps you warm."
    thrice = twice + " Goose down, goose down."
    assert copy_features(twice, PRODUCT, "loyal_premium", model)["repetition"] < \
        copy_features(thrice, PRODUCT, "loyal_premium", model)["repetition"]


def test_the_segments_preferred_attribute_wins(model):
    for seg in SEGMENTS:
        pref = model["segments"][seg]["preferred_attributes"][0]
        product = {**PRODUCT, "title": f"Northpeak down jacket in {pref}", "colour": pref, "material": pref}
        plain = "Northpeak built this warm down jacket for winter commutes. It packs into its own pocket."
        named = f"Northpeak built this warm {pref} down jacket for winter commutes. It packs into its own pocket."
        assert copy_features(named, product, seg, model)["preferred"] == 1
        assert copy_features(named, product, seg, model)["wrong_attribute"] == 0
        assert expected_ctr(named, product, seg, {"channel": "email"}, model) > \
            expected_ctr(plain, product, seg, {"channel": "email"}, model)


def test_price_words_follow_price_sensitivity(model):
    plain = "Northpeak built this hooded longline down jacket for winter commutes."
    priced = "Northpeak built this hooded longline down jacket for winter commutes. Now on sale at $59.99."
    lift = {s: expected_ctr(priced, PRODUCT, s, {"channel": "email"}, model)
            / expected_ctr(plain, PRODUCT, s, {"channel": "email"}, model) for s in SEGMENTS}
    assert lift["bargain_hunter"] > 1 > lift["loyal_premium"]


def test_an_oracle_finds_the_planted_best_hour_channel_and_fatigue_point(model, shop):
    text = FAITHFUL
    for seg in SEGMENTS:
        planted = model["segments"][seg]
        hours = [expected_ctr(text, PRODUCT, seg, {"channel": planted["best_channel"], "hour": h}, model)
                 for h in range(24)]
        assert int(np.argmax(hours)) == planted["best_hour"] == shop.truth["best_hour"][seg]
        chans = {ch: expected_ctr(text, PRODUCT, seg, {"channel": ch, "hour": planted["best_hour"]}, model)
                 for ch in model["channels"]}
        assert max(chans, key=chans.get) == planted["best_channel"] == shop.truth["best_channel"][seg]
        # messages per week: expected clicks a user gives in a week peak at the fatigue point
        clicks = [n * expected_ctr(text, PRODUCT, seg, {"channel": planted["best_channel"], "weekly": n}, model)
                  for n in range(1, 15)]
        assert int(np.argmax(clicks)) + 1 == planted["fatigue_point"] == shop.truth["fatigue_point"][seg]
        # and CTR itself is flat up to the fatigue point, falling beyond it
        ctr = [expected_ctr(text, PRODUCT, seg, {"weekly": n}, model) for n in range(1, 15)]
        k = planted["fatigue_point"]
        assert len(set(np.round(ctr[:k], 12))) == 1 and all(np.diff(ctr[k - 1:]) < 0)


def test_unknown_segment_or_channel_is_refused(model):
    with pytest.raises(ValueError, match="unknown segment"):
        expected_ctr(FAITHFUL, PRODUCT, "martians", {}, model)
    with pytest.raises(ValueError, match="channel"):
        expected_ctr(FAITHFUL, PRODUCT, "new_visitor", {"channel": "billboard"}, model)
