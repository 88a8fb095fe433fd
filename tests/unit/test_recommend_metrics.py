"""contentlab.recommend.metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from contentlab.recommend import metrics as M


def log2(x):
    return math.log2(x)


# user 0: list [3, 1, 7, 2, 9], relevant {1, 2, 5} -> hits at ranks 2 and 4
# user 1: list [4, 0, 6, 8, 5], relevant {4}       -> hit at rank 1
# user 2: list [0, 1, 2, 3, 4], relevant {9}       -> no hit
TOP = np.array([[3, 1, 7, 2, 9], [4, 0, 6, 8, 5], [0, 1, 2, 3, 4]])
REL = [{1, 2, 5}, {4}, {9}]


def test_hit_matrix_and_padding():
    hits = M.hit_matrix(TOP, REL)
    assert hits.tolist() == [[False, True, False, True, False], [True, False, False, False, False], [False] * 5]
    padded = np.array([[1, -1, -1]])
    assert M.hit_matrix(padded, [{1, 2}]).tolist() == [[True, False, False]]


def test_precision_recall_hit_rate_hand_computed():
    pu = M.per_user_ranking(TOP, REL, k=5)
    assert pu["precision"].tolist() == pytest.approx([2 / 5, 1 / 5, 0.0])
    assert pu["recall"].tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    assert pu["hit_rate"].tolist() == [1.0, 1.0, 0.0]
    assert pu["n_relevant"].tolist() == [3, 1, 1]


def test_ndcg_hand_computed():
    pu = M.per_user_ranking(TOP, REL, k=5)
    dcg0 = 1 / log2(3) + 1 / log2(5)
    idcg0 = 1 / log2(2) + 1 / log2(3) + 1 / log2(4)  # min(k=5, 3 relevant) = 3 ideal hits
    assert pu["ndcg"][0] == pytest.approx(dcg0 / idcg0)
    assert pu["ndcg"][1] == pytest.approx(1.0)
    assert pu["ndcg"][2] == 0.0
    # ideal DCG over min(k, n_relevant): 12 relevant items, k=2, hits at both ranks -> 1.0
    assert M.per_user_ranking(np.array([[0, 1]]), [set(range(12))], k=2)["ndcg"][0] == pytest.approx(1.0)


def test_map_at_k_recommenders_definition():
    pu = M.per_user_ranking(TOP, REL, k=5)
    # AP@k = sum over hits of (hits so far / rank) / min(n_relevant, k)
    assert pu["map"][0] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert pu["map"][1] == pytest.approx(1.0)
    assert pu["map"][2] == 0.0
    # min(n_relevant, k): 20 relevant, k=3, hits at ranks 1 and 3 -> (1 + 2/3) / 3
    assert M.per_user_ranking(np.array([[0, 50, 1]]), [set(range(20))], k=3)["map"][0] == pytest.approx((1 + 2 / 3) / 3)


def test_cut_at_k():
    pu = M.per_user_ranking(TOP, REL, k=2)
    assert pu["precision"].tolist() == pytest.approx([1 / 2, 1 / 2, 0.0])
    assert pu["ndcg"][0] == pytest.approx((1 / log2(3)) / (1 / log2(2) + 1 / log2(3)))


def test_summarize_means_and_names():
    out = M.summarize(TOP, REL, k=5, n_items=10)
    assert out["precision_at_5"] == pytest.approx((0.4 + 0.2 + 0) / 3)
    assert out["hit_rate_at_5"] == pytest.approx(2 / 3)
    assert out["coverage"] == pytest.approx(10 / 10)
    assert out["n_eval_users"] == 3


def test_coverage_novelty_diversity():
    top = np.array([[0, 1], [0, 2]])
    assert M.catalogue_coverage(top, 8) == pytest.approx(3 / 8)
    counts = np.array([4.0, 2.0, 1.0, 0.0])  # of 8 training users
    # self-information: item0 -log2(4/8)=1, item1 -log2(2/8)=2, item2 -log2(1/8)=3
    assert M.novelty(top, counts, 8) == pytest.approx((1 + 2 + 1 + 3) / 4)
    assert M.novelty(np.array([[3]]), counts, 8) == pytest.approx(3.0)  # unseen item counts as one user
    cats = ["a", "a", "b", "c"]
    # list [0,1]: same category -> 0; list [0,2]: different -> 1
    assert M.intra_list_diversity(top, cats) == pytest.approx(0.5)
    assert M.intra_list_diversity(np.array([[0, 2, 3]]), cats) == pytest.approx(1.0)
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), cats) == pytest.approx(2 / 3)


def test_rmse_mae():
    assert M.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)


def _recommenders_reference(top: np.ndarray, rel: list[set[int]], k: int) -> dict[str, float]:
    """microsoft/recommenders' python_evaluation formulas written out with pandas merges, as they compute them."""
    true = pd.DataFrame([(u, i) for u, r in enumerate(rel) for i in r], columns=["u", "i"])
    pred = pd.DataFrame([(u, int(i), r + 1) for u, row in enumerate(top) for r, i in enumerate(row[:k])],
                        columns=["u", "i", "rank"])
    hit = pred.merge(true, on=["u", "i"])
    n_users = len(set(true["u"]) & set(pred["u"]))
    hit_count = hit.groupby("u").size().rename("hit").to_frame().join(true.groupby("u").size().rename("actual"))
    precision = (hit_count["hit"] / k).sum() / n_users
    recall = (hit_count["hit"] / hit_count["actual"]).sum() / n_users
    hit = hit.sort_values(["u", "rank"])
    hit["rr"] = (hit.groupby("u").cumcount() + 1) / hit["rank"]
    rr = hit.groupby("u")["rr"].sum().to_frame().join(hit_count)
    map_k = (rr["rr"] / rr["actual"].clip(upper=k)).sum() / n_users
    hit["dcg"] = 1 / np.log(1 + hit["rank"])
    dcg = hit.groupby("u")["dcg"].sum().reindex(range(len(rel)), fill_value=0.0)
    idcg = pd.Series([sum(1 / np.log(1 + j) for j in range(1, min(k, len(r)) + 1)) for r in rel])
    ndcg = (dcg / idcg).mean()
    return {"precision": precision, "recall": recall, "map": map_k, "ndcg": ndcg}


def test_matches_recommenders_formulas_on_random_lists():
    rng = np.random.default_rng(3)
    n_users, n_items, k = 60, 40, 10
    top = np.array([rng.permutation(n_items)[:k] for _ in range(n_users)])
    rel = [set(rng.choice(n_items, size=rng.integers(1, 15), replace=False).tolist()) for _ in range(n_users)]
    ref = _recommenders_reference(top, rel, k)
    out = M.summarize(top, rel, k)
    for m in ("precision", "recall", "map", "ndcg"):
        assert out[f"{m}_at_{k}"] == pytest.approx(ref[m], rel=1e-12), m
