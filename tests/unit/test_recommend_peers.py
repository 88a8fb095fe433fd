"""Peers (cornac, implicit) behind the stage's interface, EASE's closed form and the tuned ensemble, on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend import RecommendConfig, evaluate_model, make_context
from contentlab.recommend.ensemble import BlendRecommender, BlendTopK, simplex_grid, tune_blend
from contentlab.recommend.models import EaseRecommender, PopularityRecommender, ease_weights, interaction_matrix
from contentlab.recommend.peers import PEERS, PeerRecommender, check_peers, peer_search
from contentlab.recommend.split import stratified_split
from test_recommend_models import planted_shop

pytest.importorskip("cornac")
pytest.importorskip("implicit")


@pytest.fixture(scope="module")
def tiny():
    """A small planted shop split per user; every product has at least one training interaction."""
    inter, products = planted_shop(n_users=120, n_items=40, seed=3)
    train, test = stratified_split(inter, seed=42)
    items = products["product_id"].tolist()
    return train, test, items


def _seen_context(train, users, items, n):
    from contentlab.recommend.evaluate import EvalContext, _positions_by_user

    return EvalContext(train=train, test=train.iloc[:0], items=list(items), users=list(users),
                       seen=_positions_by_user(train, users, items), relevant=[set() for _ in users], k=n)


def _top(model, train, users, items, n=5):
    res = evaluate_model(model, _seen_context(train, users, items, n), fit=False, rating_metrics=False)
    return [[items[i] for i in row if i >= 0] for row in res.top]


# ----------------------------------------------------------------------------------------------- names
def test_unknown_peers_are_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown peer\(s\) 'cornac.LightGCN'.*cornac.EASE, cornac.BPR, "
                                         r"cornac.BiVAE, implicit.ALS, implicit.BPR"):
        check_peers(["cornac.EASE", "cornac.LightGCN"])
    with pytest.raises(ValueError, match="03_recommend parameters: .*peers may name cornac.EASE"):
        RecommendConfig(peers=["EASE"])
    with pytest.raises(ValueError, match="peers must be a list of peer names"):
        RecommendConfig(peers="cornac.EASE")
    with pytest.raises(ValueError, match="names a peer twice"):
        check_peers(["implicit.ALS", "implicit.ALS"])
    assert RecommendConfig().peers == [] and RecommendConfig(peers=list(PEERS)).peers == list(PEERS)


# --------------------------------------------------------------------------------- same top-N as the library
@pytest.mark.parametrize("peer, params", [
    ("cornac.EASE", {"lamb": 50.0}),
    ("cornac.BPR", {"k": 8, "max_iter": 20}),
    ("cornac.BiVAE", {"k": 4, "encoder_structure": [8], "n_epochs": 5, "batch_size": 64}),
])
def test_cornac_peer_ranks_as_cornac_itself(tiny, peer, params):
    """The adapter's top-N equals cornac's own ``recommend(user, k, remove_seen=True)`` on the same fitted model,
    and (for the deterministic EASE) a model fitted directly on cornac's dataset gives the same lists."""
    import cornac

    train, _test, items = tiny
    model = PeerRecommender(peer, seed=7, **params).fit(train, items)
    users = sorted(train["user_id"].unique())[:30]
    ours = _top(model, train, users, items)
    lib = model.model
    theirs = [[str(i) for i in lib.recommend(u, k=5, remove_seen=True, train_set=model.dataset)] for u in users]
    assert ours == theirs
    if peer == "cornac.EASE":
        data = list(zip(train["user_id"], train["product_id"], train["rating"].astype(float)))
        ds = cornac.data.Dataset.from_uir(data, seed=1)
        direct = cornac.models.EASE(lamb=50.0, posB=True, verbose=False).fit(ds)
        assert ours == [[str(i) for i in direct.recommend(u, k=5, remove_seen=True, train_set=ds)] for u in users]


@pytest.mark.parametrize("peer, params", [
    ("implicit.ALS", {"factors": 8, "iterations": 5}),
    ("implicit.BPR", {"factors": 8, "iterations": 20}),
])
def test_implicit_peer_ranks_as_implicit_itself(tiny, peer, params):
    """The adapter's top-N equals implicit's own ``recommend(user, user_items, N, filter_already_liked_items)``."""
    train, _test, items = tiny
    model = PeerRecommender(peer, seed=7, **params).fit(train, items)
    users = sorted(train["user_id"].unique())[:30]
    ours = _top(model, train, users, items)
    rows = model.user_index.get_indexer(users)
    ids, _scores = model.model.recommend(rows, model.user_items[rows], N=5, filter_already_liked_items=True)
    assert ours == [[items[i] for i in row] for row in ids]


def test_peer_scores_unknown_products_last_and_unknown_users_flat(tiny):
    train, _test, items = tiny
    catalogue = items + ["new-product"]
    for peer, params in (("cornac.EASE", {}), ("implicit.ALS", {"factors": 4, "iterations": 3})):
        model = PeerRecommender(peer, **params).fit(train, catalogue)
        s = model.score([train["user_id"].iloc[0], "nobody"])
        assert s.shape == (2, len(catalogue))
        assert s[0, -1] < s[0, :-1].min()  # never seen in training: ranked last
        assert np.all(s[1] == s[1, 0])  # a customer the library never saw: no preference


def test_peer_search_tunes_on_the_validation_split_only(tiny):
    train, test, items = tiny
    fit_part, val_part = stratified_split(train, ratio=0.8, seed=43)
    table, best = peer_search("cornac.EASE", fit_part, val_part, items, grid={"lamb": [10.0, 1000.0]})
    assert set(table["lamb"]) == {10.0, 1000.0} and best["lamb"] == table.iloc[0]["lamb"]
    assert table["ndcg_at_10"].is_monotonic_decreasing
    # the search never reads the test side: the same validation split gives the same table with any test set
    again, _ = peer_search("cornac.EASE", fit_part, val_part, items, grid={"lamb": [10.0, 1000.0]})
    pd.testing.assert_frame_equal(table.drop(columns=["fit_s", "seconds"]), again.drop(columns=["fit_s", "seconds"]))


# ------------------------------------------------------------------------------------------------------ EASE
def test_ease_closed_form_matches_a_direct_computation(tiny):
    train, _test, items = tiny
    users, x = interaction_matrix(train, items)
    dense = x.toarray()
    assert dense.shape == (train["user_id"].nunique(), len(items)) and set(np.unique(dense)) == {0.0, 1.0}
    lam = 30.0
    b = ease_weights(x, lam)
    assert np.allclose(np.diag(b), 0.0)
    # each column is the ridge regression of that product on every other product (Steck 2019, eq. 1-4)
    for j in (0, 7, len(items) - 1):
        others = [c for c in range(len(items)) if c != j]
        xo = dense[:, others]
        coef = np.linalg.solve(xo.T @ xo + lam * np.eye(len(others)), xo.T @ dense[:, j])
        assert np.allclose(b[others, j], coef, atol=1e-8)
    model = EaseRecommender(lam=lam).fit(train, items)
    some = list(users[:5])
    assert np.allclose(model.score(some), dense[:5] @ b)
    assert np.all(model.score(["nobody"]) == 0.0)
    with pytest.raises(ValueError, match="lam must be a positive number"):
        EaseRecommender(lam=0)


def test_ease_ranks_the_planted_taste_above_popularity(tiny):
    train, test, items = tiny
    ctx = make_context(train, test, items)
    ease = evaluate_model(EaseRecommender(lam=20.0), ctx).row["ndcg_at_10"]
    pop = evaluate_model(PopularityRecommender(), ctx).row["ndcg_at_10"]
    assert ease > pop


# -------------------------------------------------------------------------------------------------- ensemble
def test_simplex_grid():
    grid = simplex_grid(3, 0.5)
    assert grid == [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.5, 0.0, 0.5), (0.0, 1.0, 0.0), (0.0, 0.5, 0.5),
                    (0.0, 0.0, 1.0)]
    assert len(simplex_grid(2, 0.1)) == 11 and all(abs(sum(w) - 1) < 1e-12 for w in simplex_grid(3, 0.1))
    with pytest.raises(ValueError):
        simplex_grid(2, 0)


@pytest.mark.parametrize("m", [None, 2, 12, 40])
def test_the_candidates_top_k_is_the_full_catalogues_exactly(m):
    """BlendTopK (each part's m best unseen columns, a bound for the rest, the whole row where the bound does not
    settle it) equals top_k_from_scores on the full blend with seen columns at -inf, for every weighting: scores with
    many ties (small integers), rows with nearly every column seen, a row with everything seen."""
    from contentlab.recommend.topn import top_k_from_scores

    rng = np.random.default_rng(0)
    n_rows, n_cols, k = 60, 40, 10
    zs = [rng.integers(-3, 4, size=(n_rows, n_cols)).astype(float) for _ in range(3)]
    zs[2] = rng.normal(size=(n_rows, n_cols))
    seen = [rng.choice(n_cols, size=rng.integers(0, 8), replace=False) for _ in range(n_rows)]
    seen[5] = np.arange(n_cols - 4)  # 4 unseen columns: fewer than k
    seen[6] = np.arange(n_cols)  # nothing left to recommend
    top_k = BlendTopK(zs, seen, k, m=m)
    settled = []
    for combo in simplex_grid(3, 0.25):
        blend = sum(w * z for w, z in zip(combo, zs) if w > 0)
        for row, cols in enumerate(seen):
            blend[row, cols] = -np.inf
        expected = top_k_from_scores(blend, k)[0]
        assert np.array_equal(top_k(combo), expected), combo
        settled.append(top_k.settled_share)
    if m in (2, 12):
        assert min(settled) < 1.0  # the fallback ran
    if m is None or m >= 12:
        assert max(settled) > 0.5  # ... and the candidates settled most rows


def test_blend_of_one_part_ranks_as_that_part_and_tuning_picks_the_best_weights(tiny):
    train, test, items = tiny
    fit_part, val_part = stratified_split(train, ratio=0.8, seed=43)
    val_ctx = make_context(fit_part, val_part, items)
    ease = EaseRecommender(lam=20.0).fit(fit_part, items)
    pop = PopularityRecommender().fit(fit_part, items)
    only_ease = BlendRecommender({"ease": ease, "pop": pop}, {"ease": 1.0}, refit_parts=False).fit(fit_part, items)
    assert np.array_equal(evaluate_model(only_ease, val_ctx, fit=False).top, evaluate_model(ease, val_ctx, fit=False).top)
    weights, table = tune_blend({"ease": ease, "pop": pop}, val_ctx, step=0.25)
    assert len(table) == 5 and weights == {k: table.iloc[0][k] for k in ("ease", "pop")}
    blend = BlendRecommender({"ease": ease, "pop": pop}, weights, refit_parts=False).fit(fit_part, items)
    assert evaluate_model(blend, val_ctx, fit=False).row["ndcg_at_10"] == pytest.approx(table["ndcg_at_10"].max())
    with pytest.raises(ValueError, match="not in the ensemble"):
        BlendRecommender({"ease": ease}, {"svd": 1.0})
