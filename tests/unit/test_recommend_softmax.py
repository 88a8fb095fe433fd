"""The softmax factorisation: a choice model over the catalogue, seeded, tuned on a validation split."""

from __future__ import annotations

import numpy as np
import pytest

from contentlab.recommend import evaluate_model, make_context
from contentlab.recommend.metrics import hit_matrix
from contentlab.recommend.models import PopularityRecommender
from contentlab.recommend.search import softmax_search
from contentlab.recommend.softmax import SoftmaxMFRecommender
from contentlab.recommend.split import stratified_split
from test_recommend_models import planted_shop

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def shop():
    inter, products = planted_shop(n_users=300, n_items=60, seed=5)
    train, test = stratified_split(inter, seed=42)
    return train, test, products["product_id"].tolist()


def test_softmax_mf_learns_the_planted_choices_beyond_popularity(shop):
    train, test, items = shop
    ctx = make_context(train, test, items)
    soft = evaluate_model(SoftmaxMFRecommender(factors=8, l2=0.05, epochs=30), ctx).row["ndcg_at_10"]
    pop = evaluate_model(PopularityRecommender(), ctx).row["ndcg_at_10"]
    assert soft > pop + 0.05, (soft, pop)


def test_softmax_mf_is_seeded_and_ranks_unknown_products_last(shop):
    train, _test, items = shop
    items = [*items, "p_new"]  # a product nobody interacted with
    a = SoftmaxMFRecommender(factors=4, epochs=5, seed=1).fit(train, items)
    b = SoftmaxMFRecommender(factors=4, epochs=5, seed=1).fit(train, items)
    c = SoftmaxMFRecommender(factors=4, epochs=5, seed=2).fit(train, items)
    users = sorted(train["user_id"].unique())[:10]
    assert np.array_equal(a.score(users), b.score(users))
    assert not np.allclose(a.score(users), c.score(users))
    s = a.score([*users, "nobody"])
    assert (s[:-1, -1] < s[:-1, :-1].min(axis=1)).all()  # the unknown product ranks last for every customer
    assert (s[-1] == 0).all()  # a customer without training interactions gets a flat row
    with pytest.raises(ValueError, match="factors must be a positive integer"):
        SoftmaxMFRecommender(factors=0)


def test_softmax_search_picks_on_the_validation_split(shop):
    train, _test, items = shop
    split = stratified_split(train, ratio=0.8, seed=43)
    table, best, model = softmax_search(split, items, {"factors": [4, 8], "l2": [0.05, 5.0]}, seed=42)
    assert len(table) == 4 and table["ndcg_at_10"].is_monotonic_decreasing
    assert best == {k: table.iloc[0][k] for k in ("factors", "l2")}
    assert best["l2"] == 0.05  # an L2 weight of 5 shrinks every customer to popularity
    assert model.params["factors"] == best["factors"] and model.items == [str(i) for i in items]


def test_hit_matrix_marks_relevant_items_and_ignores_padding():
    top = np.array([[3, 1, -1], [0, 2, 5], [4, 4, 4]])
    hits = hit_matrix(top, [{1, 7}, set(), [4]])
    assert hits.tolist() == [[False, True, False], [False, False, False], [True, True, True]]


def test_softmax_bags_average_the_logits_of_seeded_fits(shop):
    train, _test, items = shop
    bagged = SoftmaxMFRecommender(factors=4, epochs=5, seed=3, bags=2).fit(train, items)
    one = SoftmaxMFRecommender(factors=4, epochs=5, seed=3).fit(train, items)
    two = SoftmaxMFRecommender(factors=4, epochs=5, seed=4).fit(train, items)
    users = sorted(train["user_id"].unique())[:10]
    assert np.allclose(bagged.score(users), (one.score(users) + two.score(users)) / 2)
    assert np.array_equal(bagged.item_factors, one.item_factors)  # the first bag's factors
    assert bagged.params["bags"] == 2 and "bags" not in one.params
    with pytest.raises(ValueError, match="bags must be a positive integer"):
        SoftmaxMFRecommender(bags=0)


def test_the_learning_rate_is_annealed_along_a_cosine_unless_asked_to_stay(shop, monkeypatch):
    """The default schedule anneals lr to 0 over the fit's steps (the optimiser's last lr is ~0); "constant" keeps
    it; both learn the planted choices; anything else is refused by name."""
    import torch

    train, test, items = shop
    seen_lrs: list[list[float]] = []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **kw):
        seen_lrs[-1].append(self.param_groups[0]["lr"])
        return real_step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    ctx = make_context(train, test, items)
    pop = evaluate_model(PopularityRecommender(), ctx).row["ndcg_at_10"]
    for schedule in ("cosine", "constant"):
        seen_lrs.append([])
        model = SoftmaxMFRecommender(factors=8, l2=0.05, epochs=30, lr=0.05, schedule=schedule)
        assert evaluate_model(model, ctx).row["ndcg_at_10"] > pop + 0.05
        assert model.params["schedule"] == schedule
    cosine, constant = seen_lrs
    assert len(cosine) == len(constant) == 30 * -(-300 // 512)
    assert cosine[0] == pytest.approx(0.05) and cosine[-1] < 0.001 and all(np.diff(cosine) <= 1e-12)
    assert set(constant) == {0.05}
    with pytest.raises(ValueError, match="schedule must be one of cosine, constant"):
        SoftmaxMFRecommender(schedule="linear")
