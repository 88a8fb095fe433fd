"""Fast full-catalogue top-N from fitted Surprise models, with numpy.

Surprise scores one (user, item) pair per Python call; ranking a whole catalogue that way (its documented
recipe: ``trainset.build_anti_testset()`` + ``algo.test`` + ``get_top_n``) costs a Python call per pair.
Here the scores of a chunk of users against every item come from the model's own parameters in one matrix
product, e.g. for :class:`surprise.SVD`

    est(u, i) = global_mean + bu[u] + bi[i] + qi[i] . pu[u]

with unknown users/items handled exactly as Surprise does (an unknown user contributes no bias and no factor
term; unbiased models fall back to the global mean). Scores are those of ``algo.predict(u, i, clip=False).est``;
``clip=True`` applies Surprise's clipping to the rating scale. Seen items are excluded and the top k are taken
with ``argpartition``, chunked over users so memory stays bounded for large catalogues.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from surprise import NMF, SVD, BaselineOnly, KNNBaseline, SVDpp


def _inner_ids(mapping: Mapping, raw: Sequence) -> np.ndarray:
    return np.fromiter((mapping.get(r, -1) for r in raw), dtype=np.int64, count=len(raw))


def inner_user_ids(algo, raw_users: Sequence) -> np.ndarray:
    """Surprise inner ids of raw user ids; ``-1`` for users unknown to the trainset."""
    return _inner_ids(algo.trainset._raw2inner_id_users, raw_users)


def inner_item_ids(algo, raw_items: Sequence) -> np.ndarray:
    return _inner_ids(algo.trainset._raw2inner_id_items, raw_items)


def _baseline_part(algo, bu: np.ndarray, bi: np.ndarray, uin: np.ndarray, iin: np.ndarray) -> np.ndarray:
    ku, ki = uin >= 0, iin >= 0
    est = np.full((len(uin), len(iin)), float(algo.trainset.global_mean))
    est += np.where(ku, bu[np.maximum(uin, 0)], 0.0)[:, None]
    est += np.where(ki, bi[np.maximum(iin, 0)], 0.0)[None, :]
    return est


def _factor_scores(algo, uin: np.ndarray, iin: np.ndarray, pu: np.ndarray, qi: np.ndarray, biased: bool,
                   bu=None, bi=None) -> np.ndarray:
    ku, ki = uin >= 0, iin >= 0
    pu_rows = np.asarray(pu)[np.maximum(uin, 0)]
    qi_rows = np.asarray(qi)[np.maximum(iin, 0)]
    if not ku.all():
        pu_rows[~ku] = 0.0  # unknown user: no factor term
    if not ki.all():
        qi_rows[~ki] = 0.0  # unknown item: no factor term
    if biased:
        # one matrix product: [pu, mu + bu, 1] . [qi, 1, bi] = mu + bu + bi + qi.pu
        ub = float(algo.trainset.global_mean) + np.where(ku, np.asarray(bu)[np.maximum(uin, 0)], 0.0)
        ib = np.where(ki, np.asarray(bi)[np.maximum(iin, 0)], 0.0)
        left = np.hstack([pu_rows, ub[:, None], np.ones((len(uin), 1))])
        right = np.hstack([qi_rows, np.ones((len(iin), 1)), ib[:, None]])
        return left @ right.T
    est = pu_rows @ qi_rows.T
    # unbiased: prediction impossible unless both are known -> Surprise's default prediction (global mean)
    if not (ku.all() and ki.all()):
        est[~(ku[:, None] & ki[None, :])] = float(algo.default_prediction())
    return est


def _svdpp_user_vectors(algo, uin: np.ndarray) -> np.ndarray:
    pu, yj = np.asarray(algo.pu), np.asarray(algo.yj)
    out = np.zeros((len(uin), pu.shape[1]))
    for row, u in enumerate(uin):
        if u < 0:
            continue
        items = [j for (j, _) in algo.trainset.ur[u]]
        out[row] = pu[u] + yj[items].sum(axis=0) / np.sqrt(len(items))
    return out


def _knn_baseline_scores(algo, uin: np.ndarray, iin: np.ndarray) -> np.ndarray:
    bu, bi = np.asarray(algo.bu), np.asarray(algo.bi)
    est = _baseline_part(algo, bu, bi, uin, iin)
    sim = np.asarray(algo.sim)
    mu = float(algo.trainset.global_mean)
    k, min_k = int(algo.k), int(algo.min_k)
    ki = iin >= 0
    iin_known = iin[ki]
    cols = np.flatnonzero(ki)

    def weighted(s: np.ndarray, dev: np.ndarray) -> np.ndarray:
        # s, dev: (n_targets, n_neighbours); keep the k most similar, then Surprise's weighted mean
        if s.shape[1] > k:
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
            s = np.take_along_axis(s, part, axis=1)
            dev = np.take_along_axis(dev, part, axis=1)
        pos = s > 0
        sum_sim = np.where(pos, s, 0.0).sum(axis=1)
        sum_r = np.where(pos, s * dev, 0.0).sum(axis=1)
        sum_r[pos.sum(axis=1) < min_k] = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sum_sim != 0, sum_r / sum_sim, 0.0)

    if not algo.sim_options.get("user_based", True):
        # item-based: neighbours of item i are the items the user rated. Users with at most k rated items keep
        # every neighbour, so their sums are plain matrix products; heavier users take the k most similar.
        if not len(cols):
            return est
        sim_t = sim[iin_known]  # (targets, inner items)
        pos_t = np.where(sim_t > 0, sim_t, 0.0)
        n_rated = np.array([len(algo.trainset.ur[u]) if u >= 0 else 0 for u in uin])
        light = np.flatnonzero((uin >= 0) & (n_rated <= k))
        if len(light):
            a = np.zeros((len(light), sim.shape[0]))
            d = np.zeros_like(a)
            for n, row in enumerate(light):
                u = uin[row]
                ur = algo.trainset.ur[u]
                j = np.fromiter((x for x, _ in ur), dtype=np.int64, count=len(ur))
                r = np.fromiter((x for _, x in ur), dtype=float, count=len(ur))
                a[n, j] = 1.0
                d[n, j] = r - (mu + bi[j] + bu[u])
            sum_sim = a @ pos_t.T
            sum_r = d @ pos_t.T
            cnt = a @ (sim_t > 0).T.astype(float)
            sum_r[cnt < min_k] = 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                est[np.ix_(light, cols)] += np.where(sum_sim != 0, sum_r / sum_sim, 0.0)
        for row, u in enumerate(uin):
            if u < 0 or n_rated[row] <= k:
                continue
            ur = algo.trainset.ur[u]
            j = np.fromiter((x for x, _ in ur), dtype=np.int64, count=len(ur))
            r = np.fromiter((x for _, x in ur), dtype=float, count=len(ur))
            dev = r - (mu + bi[j] + bu[u])
            s = sim[np.ix_(iin_known, j)]
            est[row, cols] += weighted(s, np.broadcast_to(dev, s.shape).copy())
    else:
        # user-based: neighbours of user u are the users who rated item i
        rows = np.flatnonzero(uin >= 0)
        uin_known = uin[rows]
        for col, i in zip(cols, iin_known):
            ir = algo.trainset.ir[i]
            v = np.fromiter((x for x, _ in ir), dtype=np.int64, count=len(ir))
            r = np.fromiter((x for _, x in ir), dtype=float, count=len(ir))
            dev = r - (mu + bu[v] + bi[i])
            s = sim[np.ix_(uin_known, v)]
            est[rows, col] += weighted(s, np.broadcast_to(dev, s.shape).copy())
    return est


def surprise_scores(algo, raw_users: Sequence, raw_items: Sequence, clip: bool = False) -> np.ndarray:
    """``(len(raw_users), len(raw_items))`` matrix equal to ``algo.predict(u, i, clip=clip).est``."""
    uin, iin = inner_user_ids(algo, raw_users), inner_item_ids(algo, raw_items)
    if isinstance(algo, SVDpp):
        est = _baseline_part(algo, np.asarray(algo.bu), np.asarray(algo.bi), uin, iin)
        both = (uin >= 0)[:, None] & (iin >= 0)[None, :]
        vec = _svdpp_user_vectors(algo, uin)
        est += np.where(both, vec @ np.asarray(algo.qi)[np.maximum(iin, 0)].T, 0.0)
    elif isinstance(algo, (SVD, NMF)):
        est = _factor_scores(algo, uin, iin, algo.pu, algo.qi, bool(algo.biased),
                             getattr(algo, "bu", None), getattr(algo, "bi", None))
    elif isinstance(algo, BaselineOnly):
        est = _baseline_part(algo, np.asarray(algo.bu), np.asarray(algo.bi), uin, iin)
    elif isinstance(algo, KNNBaseline):
        est = _knn_baseline_scores(algo, uin, iin)
    else:  # any other Surprise algorithm: its own predict, pair by pair
        est = np.array([[algo.predict(u, i, clip=False).est for i in raw_items] for u in raw_users], dtype=float)
    if clip:
        lo, hi = algo.trainset.rating_scale
        est = np.clip(est, lo, hi)
    return est


def top_k_from_scores(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and scores of the k best entries per row, best first (``-inf`` entries are never taken:
    they come back as position ``-1``). Ties are broken by the lower column position."""
    n_users, n_items = scores.shape
    kk = min(k, n_items)
    if kk < n_items:
        part = np.argpartition(scores, n_items - kk, axis=1)[:, n_items - kk:]
    else:
        part = np.tile(np.arange(n_items), (n_users, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    if kk < n_items:
        # argpartition picks an arbitrary subset of items tied at the cut; such rows are redone with a stable sort
        # so that ties always go to the lower position
        cut = part_scores.min(axis=1)
        at_cut_all = (scores == cut[:, None]).sum(axis=1)
        at_cut_part = (part_scores == cut[:, None]).sum(axis=1)
        for row in np.flatnonzero((at_cut_all > at_cut_part) & np.isfinite(cut)):
            part[row] = np.argsort(-scores[row], kind="stable")[:kk]
            part_scores[row] = scores[row, part[row]]
    order = np.lexsort((part, -part_scores), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    val = np.take_along_axis(part_scores, order, axis=1)
    idx = np.where(np.isneginf(val), -1, idx)
    if kk < k:
        idx = np.hstack([idx, np.full((n_users, k - kk), -1)])
        val = np.hstack([val, np.full((n_users, k - kk), -np.inf)])
    return idx, val


def seen_positions(train_pairs: Iterable[tuple[object, object]], users: Sequence, items: Sequence) -> list[np.ndarray]:
    """For each of ``users``, the positions in ``items`` of the items it interacted with in training."""
    upos = {u: n for n, u in enumerate(users)}
    ipos = {i: n for n, i in enumerate(items)}
    out: list[list[int]] = [[] for _ in users]
    for u, i in train_pairs:
        a, b = upos.get(u), ipos.get(i)
        if a is not None and b is not None:
            out[a].append(b)
    return [np.asarray(x, dtype=np.int64) for x in out]


def top_k(
    score_fn: Callable[[Sequence], np.ndarray],
    users: Sequence,
    k: int,
    seen: Sequence[np.ndarray] | tuple[np.ndarray, np.ndarray] | None = None,
    chunk_size: int = 1024,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item positions and scores for ``users``: ``score_fn(chunk_of_users) -> (n, n_items)``.

    ``seen[u]`` positions are excluded (a list of arrays, or CSR-style ``(indptr, indices)``); ``candidates`` (boolean over items) restricts the catalogue.
    """
    users = list(users)
    indptr = indices = None
    if seen is not None:
        if isinstance(seen, tuple):  # (indptr, indices), CSR-style
            indptr, indices = seen
        else:
            lens = np.fromiter((len(x) for x in seen), dtype=np.int64, count=len(seen))
            indptr = np.concatenate([[0], np.cumsum(lens)])
            indices = np.concatenate([np.asarray(x, dtype=np.int64) for x in seen]) if len(seen) else np.zeros(0, int)
    idx_parts, val_parts = [], []
    for start in range(0, len(users), chunk_size):
        chunk = users[start:start + chunk_size]
        s = np.array(score_fn(chunk), dtype=float, copy=True)
        if candidates is not None:
            s[:, ~candidates] = -np.inf
        if indptr is not None:
            a, b = indptr[start], indptr[start + len(chunk)]
            rows = np.repeat(np.arange(len(chunk)), np.diff(indptr[start:start + len(chunk) + 1]))
            s[rows, indices[a:b]] = -np.inf
        idx, val = top_k_from_scores(s, k)
        idx_parts.append(idx)
        val_parts.append(val)
    if not idx_parts:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
    return np.vstack(idx_parts), np.vstack(val_parts)


def surprise_top_k(algo, users: Sequence, items: Sequence, k: int = 10, exclude_seen: bool = True,
                   chunk_size: int = 1024, clip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fast top-k over ``items`` for ``users`` from a fitted Surprise model, excluding its training items."""
    items = list(items)
    seen = None
    if exclude_seen:
        ts = algo.trainset
        ipos = {i: n for n, i in enumerate(items)}
        inner_to_pos = np.fromiter((ipos.get(ts.to_raw_iid(j), -1) for j in range(ts.n_items)), dtype=np.int64,
                                   count=ts.n_items)
        uin = inner_user_ids(algo, users)
        lens = np.fromiter((len(ts.ur[u]) if u >= 0 else 0 for u in uin), dtype=np.int64, count=len(uin))
        inner = np.fromiter((j for u in uin if u >= 0 for j, _ in ts.ur[u]), dtype=np.int64, count=int(lens.sum()))
        pos = inner_to_pos[inner]
        keep = pos >= 0
        rows = np.repeat(np.arange(len(uin)), lens)[keep]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(uin)))])
        seen = (indptr, pos[keep])
    return top_k(lambda chunk: surprise_scores(algo, chunk, items, clip=clip), users, k, seen, chunk_size)


def surprise_recipe_top_n(algo, trainset, n: int = 10) -> dict:
    """Surprise's documented top-N recipe (FAQ "How to get the top-N recommendations for each user"):
    predict every pair of the anti-testset, then keep each user's n best. Returns ``{uid: [(iid, est), ...]}``."""
    predictions = algo.test(trainset.build_anti_testset())
    top_n: dict = defaultdict(list)
    for uid, iid, _true_r, est, _ in predictions:
        top_n[uid].append((iid, est))
    for uid, user_ratings in top_n.items():
        user_ratings.sort(key=lambda x: x[1], reverse=True)
        top_n[uid] = user_ratings[:n]
    return top_n
