"""Ranking mode: train Surprise models for top-N instead of rating prediction.

A model trained only on observed ratings never sees what users *skip*: on MovieLens-100k Surprise's SVD ranked by
predicted rating lands far below a popularity baseline. Here every observed interaction is a positive and, for
each user, ``neg_ratio`` x (number of positives) unobserved items are sampled as negatives, then an ordinary
Surprise algorithm (``SVD`` by default) is fitted on that augmented trainset:

- rating scale: positives get ``pos_rating`` (``positive="binary"``) or keep their (pseudo-)rating
  (``positive="rating"``); negatives get ``neg_rating``; the Surprise reader's scale spans both;
- ``neg_ratio``: negatives per positive (per user);
- ``pop_exponent``: the negative sampler draws item ``i`` with probability proportional to
  ``(n_users(i) + 1) ** pop_exponent`` (0 = uniform; > 0 samples popular items more often as negatives, which
  stops the model from simply learning popularity);
- ``resample``: number of independent negative draws whose models' scores are averaged (1 = a single model).

Scores come from :func:`contentlab.recommend.topn.surprise_scores` (the model's own predictions, unclipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from contentlab.recommend.models import SURPRISE_ALGOS, Recommender, build_trainset
from contentlab.recommend.topn import surprise_scores

RANKING_KEYS = ("neg_ratio", "pop_exponent", "positive", "pos_rating", "neg_rating", "resample", "seed")


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    a = np.sort(a)
    keep = np.ones(a.size, dtype=bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def _member(keys: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    if sorted_ref.size == 0:
        return np.zeros(keys.size, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ref, keys), sorted_ref.size - 1)
    return sorted_ref[pos] == keys


def sample_negatives(
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    n_users: int,
    n_items: int,
    neg_ratio: float = 4.0,
    pop_exponent: float = 0.0,
    seed: int = 42,
) -> tuple[np.ndarray, np.ndarray]:
    """Unobserved (user, item) index pairs: about ``neg_ratio`` per positive of each user, never a positive,
    never twice, items drawn with probability proportional to ``(popularity + 1) ** pop_exponent``."""
    rng = np.random.default_rng(seed)
    user_idx = np.asarray(user_idx, dtype=np.int64)
    item_idx = np.asarray(item_idx, dtype=np.int64)
    pos_keys = _sorted_unique(user_idx * n_items + item_idx)
    n_pos = np.bincount(pos_keys // n_items, minlength=n_users)
    # popularity = distinct users per item
    item_users = np.bincount(pos_keys % n_items, minlength=n_items).astype(float)
    p = (item_users + 1.0) ** float(pop_exponent)
    p /= p.sum()
    need = np.maximum(np.minimum(np.round(n_pos * neg_ratio).astype(np.int64), n_items - n_pos), 0)
    remaining = need.copy()
    taken = np.zeros(0, dtype=np.int64)
    for _attempt in range(12):
        if remaining.sum() == 0:
            break
        draws = np.ceil(remaining * 1.5).astype(np.int64) + (remaining > 0) * 4
        users = np.repeat(np.arange(n_users), draws)
        keys = users * n_items + rng.choice(n_items, size=users.size, p=p)
        keys = keys[~_member(keys, pos_keys) & ~_member(keys, taken)]
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        first = np.ones(sk.size, dtype=bool)
        first[1:] = sk[1:] != sk[:-1]
        keys = keys[np.sort(order[first])]  # first occurrence of each pair, in draw order
        u_of = keys // n_items
        rank = pd.Series(u_of).groupby(u_of).cumcount().to_numpy()
        chosen = keys[rank < remaining[u_of]]
        taken = np.sort(np.concatenate([taken, chosen]))
        remaining = remaining - np.bincount(chosen // n_items, minlength=n_users)
    taken = np.sort(taken)
    return taken // n_items, taken % n_items


def augmented_training(
    train: pd.DataFrame,
    items: Sequence[str],
    neg_ratio: float = 4.0,
    pop_exponent: float = 0.0,
    positive: str = "binary",
    pos_rating: float = 1.0,
    neg_rating: float = 0.0,
    seed: int = 42,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """Positives plus sampled negatives as arrays ``(user_ids, product_ids, ratings)`` and the rating scale.

    Negatives are drawn only among catalogue items that have at least one training interaction: a product nobody
    has interacted with yet (a new launch) stays unknown to the model instead of being learnt as disliked.
    """
    catalogue = pd.Index([str(i) for i in items])
    uid = train["user_id"].astype(str).to_numpy(dtype=object)
    iid = train["product_id"].astype(str).to_numpy(dtype=object)
    in_cat = catalogue.get_indexer(iid) >= 0
    uid, iid = uid[in_cat], iid[in_cat]
    u, users = pd.factorize(uid)
    i, active = pd.factorize(iid)
    nu, ni = sample_negatives(u, i, len(users), len(active), neg_ratio, pop_exponent, seed)
    if positive == "binary":
        pos_r = np.full(len(u), float(pos_rating))
        hi = float(pos_rating)
    elif positive == "rating":
        pos_r = train["rating"].to_numpy(dtype=float)[in_cat]
        hi = float(pos_r.max()) if len(pos_r) else float(pos_rating)
    else:
        raise ValueError("positive must be 'binary' or 'rating'")
    users_o, active_o = np.asarray(users, dtype=object), np.asarray(active, dtype=object)
    return (np.concatenate([uid, users_o[nu]]), np.concatenate([iid, active_o[ni]]),
            np.concatenate([pos_r, np.full(len(nu), float(neg_rating))]), (float(neg_rating), hi))


class RankingRecommender(Recommender):
    """A Surprise algorithm trained on positives + sampled negatives, ranked by its prediction."""

    kind = "ranking"

    def __init__(self, algo: str = "SVD", name: str | None = None, neg_ratio: float = 4.0, pop_exponent: float = 0.0,
                 positive: str = "binary", pos_rating: float = 1.0, neg_rating: float = 0.0, resample: int = 1,
                 seed: int = 42, **algo_params: Any) -> None:
        super().__init__()
        if algo not in SURPRISE_ALGOS:
            raise ValueError(f"unknown Surprise algorithm {algo!r}")
        self.algo_name = algo
        self.name = name or f"{algo.lower()}_ranking"
        self.ranking = dict(neg_ratio=neg_ratio, pop_exponent=pop_exponent, positive=positive,
                            pos_rating=pos_rating, neg_rating=neg_rating, resample=int(resample), seed=seed)
        self.algo_params = dict(algo_params)
        self.params = {**self.ranking, **self.algo_params}

    def _make_algo(self, seed: int):
        params = dict(self.algo_params)
        if self.algo_name in ("SVD", "SVDpp", "NMF"):
            params.setdefault("random_state", seed)
        if self.algo_name in ("KNNBaseline", "BaselineOnly"):
            params.setdefault("verbose", False)
        if self.algo_name == "KNNBaseline":
            params.setdefault("sim_options", {"name": "pearson_baseline", "user_based": False})
        return SURPRISE_ALGOS[self.algo_name](**params)

    def _fit(self, train: pd.DataFrame) -> None:
        r = self.ranking
        self.algos = []
        for n in range(max(1, r["resample"])):
            seed = int(r["seed"]) + 1000 * n
            us, its, rs, scale = augmented_training(train, self.items, r["neg_ratio"], r["pop_exponent"],
                                                    r["positive"], r["pos_rating"], r["neg_rating"], seed)
            algo = self._make_algo(seed)
            algo.fit(build_trainset(us, its, rs, scale))
            self.algos.append(algo)
        self.algo = self.algos[0]
        self.n_train_ratings = len(rs)
        self.scale = scale

    def score(self, users: Sequence[str]) -> np.ndarray:
        users = list(users)
        s = surprise_scores(self.algos[0], users, self.items, clip=False)
        for algo in self.algos[1:]:
            s = s + surprise_scores(algo, users, self.items, clip=False)
        return s / len(self.algos)

    def predict_pairs(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """The model's estimates for the pairs, clipped to the augmented scale (see the module doc)."""
        return self._gather_pairs(users, items, clip=self.scale)
