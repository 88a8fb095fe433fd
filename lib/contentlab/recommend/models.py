"""Recommenders behind one small interface, so every model is fitted, scored and evaluated the same way.

``model.fit(train, items)`` learns from an interaction table (``user_id, product_id, rating``) for a catalogue
``items`` (product ids, the columns of every score matrix); ``model.score(users)`` returns a
``(len(users), len(items))`` matrix, higher = better; ``model.predict_pairs(users, items)`` returns rating
predictions for RMSE/MAE (``None`` when the model does not predict ratings).

- :class:`SurpriseRecommender`: any Surprise algorithm (``SVD``, ``SVDpp``, ``NMF``, ``KNNBaseline``,
  ``BaselineOnly``, ...) trained on the observed ratings and ranked by predicted rating, scored with
  :func:`contentlab.recommend.topn.surprise_scores` (equal to Surprise's own predictions).
- :class:`PopularityRecommender`: number of distinct training users per item.
- :class:`RandomRecommender`: seeded uniform scores.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from surprise import NMF, SVD, BaselineOnly, KNNBaseline, SVDpp, Trainset

from contentlab.recommend.topn import surprise_scores

SURPRISE_ALGOS = {"SVD": SVD, "SVDpp": SVDpp, "NMF": NMF, "KNNBaseline": KNNBaseline, "BaselineOnly": BaselineOnly}


def build_trainset(user_ids: Sequence, item_ids: Sequence, ratings: Sequence[float],
                   rating_scale: tuple[float, float]) -> Trainset:
    """A Surprise ``Trainset`` equal to ``Dataset.load_from_df(...).build_full_trainset()`` (same inner ids, same
    rating lists in the same order), built with vectorised grouping instead of a Python loop over rows."""
    u_codes, u_uniq = pd.factorize(np.asarray(user_ids, dtype=object))
    i_codes, i_uniq = pd.factorize(np.asarray(item_ids, dtype=object))
    r = np.asarray(ratings, dtype=float)

    def grouped(keys: np.ndarray, other: np.ndarray, n: int) -> defaultdict:
        order = np.argsort(keys, kind="stable")
        bounds = np.searchsorted(keys[order], np.arange(n + 1))
        o_list, r_list = other[order].tolist(), r[order].tolist()
        out: defaultdict = defaultdict(list)
        for g in range(n):
            a, b = bounds[g], bounds[g + 1]
            out[g] = list(zip(o_list[a:b], r_list[a:b]))
        return out

    ur = grouped(u_codes, i_codes, len(u_uniq))
    ir = grouped(i_codes, u_codes, len(i_uniq))
    return Trainset(ur, ir, len(u_uniq), len(i_uniq), len(r), tuple(rating_scale),
                    {raw: n for n, raw in enumerate(u_uniq.tolist())}, {raw: n for n, raw in enumerate(i_uniq.tolist())})


def to_surprise(train: pd.DataFrame, rating_scale: tuple[float, float] | None = None) -> Trainset:
    """A Surprise full trainset from ``user_id, product_id, rating``."""
    if rating_scale is None:
        rating_scale = (float(train["rating"].min()), float(train["rating"].max()))
        if rating_scale[0] == rating_scale[1]:
            rating_scale = (rating_scale[0] - 1.0, rating_scale[1])
    return build_trainset(train["user_id"].astype(str).to_numpy(dtype=object),
                          train["product_id"].astype(str).to_numpy(dtype=object),
                          train["rating"].to_numpy(dtype=float), rating_scale)


class Recommender:
    name: str = "recommender"
    kind: str = "baseline"

    def __init__(self) -> None:
        self.items: list[str] = []
        self.fit_seconds: float = float("nan")
        self.params: dict[str, Any] = {}

    def fit(self, train: pd.DataFrame, items: Sequence[str]) -> Recommender:
        self.items = [str(i) for i in items]
        self.item_pos = {i: n for n, i in enumerate(self.items)}
        t0 = time.perf_counter()
        self._fit(train)
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _fit(self, train: pd.DataFrame) -> None:
        raise NotImplementedError

    def score(self, users: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def predict_pairs(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray | None:
        """Rating predictions for (user, item) pairs; ``None`` when the model does not predict ratings."""
        return None

    def _gather_pairs(self, users: Sequence[str], items: Sequence[str], clip: tuple[float, float] | None = None,
                      chunk_size: int = 512) -> np.ndarray:
        """``score`` of each (user, catalogue item) pair, computed per chunk of distinct users."""
        users = pd.Series([str(u) for u in users])
        cols = pd.Index(self.items).get_indexer([str(i) for i in items])
        if (cols < 0).any():
            raise KeyError("predict_pairs: items outside the fitted catalogue")
        uniq = pd.Index(users.unique())
        rows = uniq.get_indexer(users)
        out = np.empty(len(users))
        for start in range(0, len(uniq), chunk_size):
            s = self.score(list(uniq[start:start + chunk_size]))
            sel = np.flatnonzero((rows >= start) & (rows < start + chunk_size))
            out[sel] = s[rows[sel] - start, cols[sel]]
        if clip is not None:
            out = np.clip(out, clip[0], clip[1])
        return out

    def rating_clip(self) -> tuple[float, float] | None:
        """Rating scale the model's scores are predictions on (for RMSE/MAE), ``None`` if it ranks only."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "kind": self.kind, "params": self.params}


class PopularityRecommender(Recommender):
    """Most popular items first: distinct training users per item."""

    name = "popularity"

    def _fit(self, train: pd.DataFrame) -> None:
        counts = train.groupby("product_id")["user_id"].nunique()
        self.counts = counts.reindex(self.items).fillna(0).to_numpy(dtype=float)

    def score(self, users: Sequence[str]) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(users), len(self.items)))


class RandomRecommender(Recommender):
    """Uniform random scores (seeded): the floor every model must clear."""

    name = "random"

    def __init__(self, seed: int = 42) -> None:
        super().__init__()
        self.seed = seed
        self.params = {"seed": seed}

    def _fit(self, train: pd.DataFrame) -> None:
        self._rng = np.random.default_rng(self.seed)

    def score(self, users: Sequence[str]) -> np.ndarray:
        return self._rng.random((len(users), len(self.items)))


class SurpriseRecommender(Recommender):
    """A Surprise algorithm trained on observed ratings, items ranked by predicted rating."""

    kind = "rating"

    def __init__(self, algo: str = "SVD", name: str | None = None, rating_scale: tuple[float, float] | None = None,
                 **params: Any) -> None:
        super().__init__()
        if algo not in SURPRISE_ALGOS:
            raise ValueError(f"unknown Surprise algorithm {algo!r}: {sorted(SURPRISE_ALGOS)}")
        self.algo_name = algo
        self.name = name or f"{algo.lower()}_rating"
        self.rating_scale = rating_scale
        self.params = dict(params)

    def make_algo(self):
        params = dict(self.params)
        if self.algo_name in ("SVD", "SVDpp", "NMF"):
            params.setdefault("random_state", 42)
        if self.algo_name == "KNNBaseline":
            params.setdefault("sim_options", {"name": "pearson_baseline", "user_based": False})
            params.setdefault("verbose", False)
        if self.algo_name == "BaselineOnly":
            params.setdefault("verbose", False)
        return SURPRISE_ALGOS[self.algo_name](**params)

    def _fit(self, train: pd.DataFrame) -> None:
        self.trainset = to_surprise(train, self.rating_scale)
        self.algo = self.make_algo()
        self.algo.fit(self.trainset)

    def score(self, users: Sequence[str]) -> np.ndarray:
        return surprise_scores(self.algo, list(users), self.items, clip=False)

    def rating_clip(self) -> tuple[float, float]:
        return tuple(self.trainset.rating_scale)

    def predict_pairs(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """Surprise's clipped predictions ``algo.predict(u, i).est``."""
        return self._gather_pairs(users, items, clip=self.trainset.rating_scale)


def rating_skip_reason(train: pd.DataFrame) -> str | None:
    """Why rating-mode models cannot learn from ``train`` (``None`` when they can): they learn from differences
    between ratings, so with one rating level (e.g. purchase-only data, every interaction graded "purchase") they
    have nothing to learn. The ranking mode learns from sampled negatives instead."""
    if train["rating"].nunique() > 1:
        return None
    level = f"{train['rating'].iloc[0]:g}" if len(train) else "none"
    return (f"every training interaction has the same rating ({level}): rating-mode models have nothing to learn "
            "(the ranking mode learns from sampled negatives instead)")


def interaction_matrix(train: pd.DataFrame, items: Sequence[str], values: str = "binary"
                       ) -> tuple[pd.Index, sparse.csr_matrix]:
    """The training users (in order of first appearance) and their sparse ``users x items`` matrix: 1 per observed
    pair (``values="binary"``) or its (pseudo-)rating (``values="rating"``; a pair listed twice keeps its last
    value); products outside ``items`` are ignored."""
    if values not in ("binary", "rating"):
        raise ValueError(f"values must be 'binary' or 'rating' (got {values!r})")
    cols = pd.Index([str(i) for i in items]).get_indexer(train["product_id"].astype(str))
    ok = cols >= 0
    u, users = pd.factorize(train["user_id"].astype(str).to_numpy(dtype=object)[ok])
    r = np.ones(len(u)) if values == "binary" else train["rating"].to_numpy(float)[ok]
    key = pd.Series(np.arange(len(u))).groupby([u, cols[ok]]).last().to_numpy()  # one entry per pair
    x = sparse.csr_matrix((r[key], (u[key], cols[ok][key])), shape=(len(users), len(items)))
    return pd.Index(users), x


def ease_weights(x: sparse.spmatrix | np.ndarray, lam: float) -> np.ndarray:
    """EASE's closed form (Steck 2019): ``P = (XᵀX + λI)⁻¹``, ``B = I - P · diag(1 / diag(P))``, i.e.
    ``B_ij = -P_ij / P_jj`` off the diagonal and 0 on it."""
    g = x.T @ x
    g = g.toarray() if sparse.issparse(g) else np.array(g, dtype=float)
    g[np.diag_indices_from(g)] += float(lam)
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b


class EaseRecommender(Recommender):
    """EASE (Steck, "Embarrassingly shallow autoencoders for sparse data", WWW 2019): an item-item weight matrix
    ``B`` with a zero diagonal, fitted in closed form by ridge regression of the interaction matrix on itself;
    a customer's scores are their row of the interaction matrix times ``B``. ``lam`` is the L2 weight (tuned on a
    validation split by the stage); ``values`` whether the matrix holds 1s or ratings. Customers without training
    interactions score 0 everywhere. The catalogue-square matrix makes it a model for catalogues of up to some
    tens of thousands of products."""

    name = "ease"
    kind = "ranking"

    def __init__(self, lam: float = 500.0, values: str = "binary", name: str | None = None) -> None:
        super().__init__()
        if not (isinstance(lam, (int, float)) and lam > 0):
            raise ValueError(f"EASE's lam must be a positive number (got {lam!r})")
        self.lam = float(lam)
        self.values = values
        if name:
            self.name = name
        self.params = {"lam": self.lam, "values": values}

    def _fit(self, train: pd.DataFrame) -> None:
        self.user_index, self.x = interaction_matrix(train, self.items, self.values)
        self.b = ease_weights(self.x, self.lam)

    def score(self, users: Sequence[str]) -> np.ndarray:
        rows = self.user_index.get_indexer([str(u) for u in users])
        out = np.zeros((len(rows), len(self.items)))
        known = rows >= 0
        if known.any():
            out[known] = self.x[rows[known]] @ self.b
        return out
