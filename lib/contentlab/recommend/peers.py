"""Peer implementations (``cornac``, ``implicit``) behind the stage's model interface, so that they are fitted on
exactly the same split and evaluated by exactly the same metric code as the product's own models.

:class:`PeerRecommender` maps the training interactions (``user_id, product_id, rating``) into the library's own
objects (a ``cornac.data.Dataset`` built with ``Dataset.from_uir``; a users x items CSR matrix for ``implicit``),
fits the library's model, and maps its scores back to a ``(users, catalogue)`` score matrix: the library's own
``score`` for cornac models, the dot product of user and item factors for implicit (what its ``recommend`` ranks
by). Products the library never saw in training rank last for every customer; a customer it never saw gets a
constant row. :func:`peer_search` tunes each peer's standard hyperparameters on a validation split carved from the
training interactions (never the test set), scored by the same NDCG@k.

The peers, by name (the 03 notebook's ``peers`` parameter):

| name | model | input |
| --- | --- | --- |
| ``cornac.EASE`` | Steck's EASE^R, closed form (``lamb``), negative weights removed (cornac's ``posB``) | ratings |
| ``cornac.BPR`` | Bayesian personalised ranking, SGD with item biases | interactions |
| ``cornac.BiVAE`` | bilateral variational autoencoder (Poisson likelihood, as microsoft/recommenders runs it) | ratings |
| ``implicit.ALS`` | Hu-Koren-Volinsky weighted ALS, confidence ``1 + alpha`` on observed pairs | binary |
| ``implicit.BPR`` | Bayesian personalised ranking (implicit's CPU implementation) | binary |

By default cornac takes the rating values (as microsoft/recommenders' cornac benchmark code feeds it; BPR reads only
which pairs are observed) and implicit a binary matrix (its ALS turns it into confidence with ``alpha``); the
parameter ``values`` (``"rating"`` | ``"binary"``) sets it, and the searches try both where it matters.
Both libraries are optional (``pip install contentlab[peers]``); asking for a peer whose library is missing fails
naming the package to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from contentlab.recommend.models import Recommender

PEERS: tuple[str, ...] = ("cornac.EASE", "cornac.BPR", "cornac.BiVAE", "implicit.ALS", "implicit.BPR")
"""Every peer the stage and the MovieLens benchmark can run, by the name the ``peers`` parameter takes."""

PEER_DEFAULTS: dict[str, dict[str, Any]] = {
    "cornac.EASE": {"lamb": 500.0, "posB": True, "values": "rating"},
    # microsoft/recommenders' MovieLens benchmark settings
    "cornac.BPR": {"k": 200, "max_iter": 100, "learning_rate": 0.01, "lambda_reg": 0.001, "values": "rating"},
    "cornac.BiVAE": {"k": 100, "encoder_structure": [200], "act_fn": "tanh", "likelihood": "pois", "n_epochs": 500,
                     "batch_size": 1024, "learning_rate": 0.001, "values": "rating"},
    "implicit.ALS": {"factors": 64, "regularization": 0.05, "alpha": 10.0, "iterations": 15, "values": "binary"},
    "implicit.BPR": {"factors": 100, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100,
                     "values": "binary"},
}
"""Fixed settings of each peer (the search grid overrides the keys it varies). ``values``: what the library's
matrix holds for an observed pair, the (pseudo-)rating or 1."""

PEER_GRIDS: dict[str, dict[str, list[Any]]] = {
    "cornac.EASE": {"lamb": [100.0, 250.0, 500.0, 1000.0], "values": ["rating", "binary"]},
    "cornac.BPR": {"k": [50, 100, 200], "max_iter": [100, 200], "lambda_reg": [0.001, 0.01]},
    "cornac.BiVAE": {"k": [50, 100]},
    "implicit.ALS": {"factors": [32, 64, 128], "alpha": [1.0, 10.0, 40.0], "regularization": [0.01, 0.1]},
    "implicit.BPR": {"factors": [64, 128], "learning_rate": [0.01, 0.05], "regularization": [0.001, 0.01]},
}
"""Each peer's hyperparameter search (dict of lists, every combination), as its authors' examples tune it: EASE's
L2 weight and whether its matrix holds ratings or 1s (both are common); the number of factors and the
regularisation of the factor models; ALS's confidence weight. BiVAE (500 epochs, minutes per fit on two cores)
searches its number of factors only, on the ratings as microsoft/recommenders feeds it."""

PACKAGES = {"cornac": "cornac", "implicit": "implicit"}


def check_peers(peers: Any) -> list[str]:
    """``peers`` as a list of peer names; anything else (not a list, an unknown name, a name twice) raises
    ``ValueError`` naming the allowed ones."""
    if isinstance(peers, str) or not isinstance(peers, (list, tuple)):
        raise ValueError(f"peers must be a list of peer names, any of {', '.join(PEERS)} (got {peers!r})")
    peers = list(peers)
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(map(repr, unknown))}: peers may name {', '.join(PEERS)}")
    if len(set(peers)) != len(peers):
        raise ValueError(f"peers names a peer twice ({peers})")
    return peers


def missing_packages(peers: Iterable[str]) -> list[str]:
    """The packages ``peers`` need that are not installed."""
    pkgs = sorted({PACKAGES[p.split(".")[0]] for p in peers})
    return [p for p in pkgs if importlib.util.find_spec(p) is None]


def library(peer: str):
    """The peer's library module, imported on first use; a missing one raises ``ImportError`` naming it."""
    pkg = PACKAGES[peer.split(".")[0]]
    try:
        return importlib.import_module(pkg)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"peer {peer!r} needs the package {pkg!r}: pip install {pkg} "
                          "(or contentlab[peers])") from exc


def _threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


class PeerRecommender(Recommender):
    """A cornac or implicit model fitted on the stage's training interactions (see the module docstring)."""

    kind = "peer"

    def __init__(self, peer: str, seed: int = 42, **params: Any) -> None:
        super().__init__()
        check_peers([peer])
        self.peer = peer
        self.name = peer
        self.seed = int(seed)
        self.params = {**PEER_DEFAULTS[peer], **params}

    # ------------------------------------------------------------------------------------------------ fit
    def _codes(self, train: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
        uid = train["user_id"].astype(str).to_numpy(dtype=object)
        cols = pd.Index(self.items).get_indexer(train["product_id"].astype(str))
        ok = cols >= 0
        u, users = pd.factorize(uid[ok])
        return u, cols[ok], train["rating"].to_numpy(float)[ok], pd.Index(users)

    def _fit(self, train: pd.DataFrame) -> None:
        u, cols, r, users = self._codes(train)
        if self.params.get("values", "rating") == "binary":
            r = np.ones_like(r)
        elif self.params.get("values", "rating") != "rating":
            raise ValueError(f"{self.peer}: values must be 'rating' or 'binary' (got {self.params['values']!r})")
        self.user_index = users
        if self.peer.startswith("cornac."):
            self._fit_cornac(users.to_numpy()[u], np.asarray(self.items, dtype=object)[cols], r)
        else:
            self._fit_implicit(u, cols, r, len(users))

    def _fit_cornac(self, uids: np.ndarray, iids: np.ndarray, ratings: np.ndarray) -> None:
        cornac = library(self.peer)
        from cornac.data import Dataset

        self.dataset = Dataset.from_uir(list(zip(uids.tolist(), iids.tolist(), ratings.tolist())), seed=self.seed)
        p = dict(self.params)
        if self.peer == "cornac.EASE":
            model = cornac.models.EASE(lamb=p["lamb"], posB=p["posB"], verbose=False, seed=self.seed)
        elif self.peer == "cornac.BPR":
            model = cornac.models.BPR(k=p["k"], max_iter=p["max_iter"], learning_rate=p["learning_rate"],
                                      lambda_reg=p["lambda_reg"], verbose=False, seed=self.seed)
        else:
            model = cornac.models.BiVAECF(k=p["k"], encoder_structure=list(p["encoder_structure"]),
                                          act_fn=p["act_fn"], likelihood=p["likelihood"], n_epochs=p["n_epochs"],
                                          batch_size=p["batch_size"], learning_rate=p["learning_rate"],
                                          verbose=False, seed=self.seed, use_gpu=False)
        if self.peer == "cornac.BiVAE":
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(_threads())
            try:
                model.fit(self.dataset)
            finally:
                torch.set_num_threads(before)
        else:
            model.fit(self.dataset)
        self.model = model
        # the library's user and item indices, in our order
        uid_map, iid_map = self.dataset.uid_map, self.dataset.iid_map
        self._lib_user = pd.Series(uid_map)  # raw user id -> library index
        lib_items = np.empty(len(iid_map), dtype=object)
        for raw, idx in iid_map.items():
            lib_items[idx] = raw
        self._item_cols = pd.Index(self.items).get_indexer(lib_items)  # library item index -> catalogue column

    def _fit_implicit(self, u: np.ndarray, cols: np.ndarray, r: np.ndarray, n_users: int) -> None:
        library(self.peer)
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        matrix = sparse.csr_matrix((r.astype(np.float32), (u, cols)), shape=(n_users, len(self.items)))
        self.user_items = matrix
        p = dict(self.params)
        with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, not BLAS's
            if self.peer == "implicit.ALS":
                model = AlternatingLeastSquares(factors=p["factors"], regularization=p["regularization"],
                                                alpha=p["alpha"], iterations=p["iterations"],
                                                num_threads=_threads(), random_state=self.seed)
            else:
                model = BayesianPersonalizedRanking(factors=p["factors"], learning_rate=p["learning_rate"],
                                                    regularization=p["regularization"], iterations=p["iterations"],
                                                    num_threads=_threads(), random_state=self.seed)
            model.fit(matrix, show_progress=False)
        self.model = model
        self._item_known = np.asarray(matrix.sum(axis=0)).ravel() > 0

    # ---------------------------------------------------------------------------------------------- score
    def score(self, users: Sequence[str]) -> np.ndarray:
        users = [str(x) for x in users]
        out = np.zeros((len(users), len(self.items)))
        if self.peer.startswith("cornac."):
            known_cols = self._item_cols
            for row, user in enumerate(users):
                idx = self._lib_user.get(user)
                if idx is None:
                    continue
                s = np.asarray(self.model.score(int(idx)), dtype=float).ravel()
                out[row, :] = s.min() - 1.0 if s.size else 0.0  # products the library never saw rank last
                out[row, known_cols] = s
            return out
        rows = self.user_index.get_indexer(users)
        ok = rows >= 0
        if ok.any():
            uf = np.asarray(self.model.user_factors)[rows[ok]]
            s = (uf @ np.asarray(self.model.item_factors).T).astype(float)
            lowest = s[:, self._item_known].min(axis=1, keepdims=True) - 1.0 if self._item_known.any() else 0.0
            out[ok] = np.where(self._item_known[None, :], s, lowest)
        return out

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "kind": self.kind, "params": self.params}


# ------------------------------------------------------------------------------------------------ search
def peer_candidates(peer: str, grid: Mapping[str, Sequence[Any]] | None = None) -> list[dict[str, Any]]:
    grid = PEER_GRIDS[peer] if grid is None else grid
    keys = sorted(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(list(grid[k]) for k in keys))]


def peer_search(peer: str, val_fit: pd.DataFrame, val_eval: pd.DataFrame, items: Sequence[str], k: int = 10,
                grid: Mapping[str, Sequence[Any]] | None = None, seed: int = 42,
                fixed: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every candidate of ``peer``'s grid fitted on ``val_fit`` (the training part of a validation split carved
    from the training interactions) and scored by NDCG@k on ``val_eval`` with the stage's own evaluation; returns
    the table (best first) and the best parameters (``fixed`` settings included)."""
    from contentlab.recommend.evaluate import evaluate_model, make_context

    ctx = make_context(val_fit, val_eval, items, k=k)
    metric = f"ndcg_at_{k}"
    cands = peer_candidates(peer, grid)
    rows = []
    for cand in cands:
        params = {**(fixed or {}), **cand}
        t0 = time.perf_counter()
        res = evaluate_model(PeerRecommender(peer, seed=seed, **params), ctx, rating_metrics=False)
        rows.append({**cand, metric: res.row[metric], "fit_s": res.row["fit_s"],
                     "seconds": time.perf_counter() - t0})
    scores = np.array([r[metric] for r in rows])
    best = {**(fixed or {}), **cands[int(np.argmax(scores))]}  # ties: the first candidate of the grid
    table = pd.DataFrame(rows).sort_values(metric, ascending=False, kind="mergesort").reset_index(drop=True)
    return table, best


def tuned_peers(peers: Iterable[str], val_split: tuple[pd.DataFrame, pd.DataFrame], items: Sequence[str],
                k: int = 10, seed: int = 42,
                grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
                fixed: Mapping[str, Mapping[str, Any]] | None = None,
                ) -> tuple[dict[str, PeerRecommender], dict[str, pd.DataFrame]]:
    """Each of ``peers`` tuned by :func:`peer_search` on ``val_split``; returns unfitted models with the chosen
    parameters (to fit on the full training interactions) and each search's table."""
    models, tables = {}, {}
    for peer in check_peers(list(peers)):
        grid = (grids or {}).get(peer)
        table, best = peer_search(peer, val_split[0], val_split[1], items, k=k, grid=grid, seed=seed,
                                  fixed=(fixed or {}).get(peer))
        models[peer] = PeerRecommender(peer, seed=seed, **best)
        tables[peer] = table
    return models, tables
