"""A deep user model for customers with little history, and the cold-user slice it is measured on.

:class:`TwoTowerRecommender` is the product design's user-profile network: a user tower
``f_user(x) = W₂ σ(W₁x + b₁)`` reads a customer's behaviour features ``x`` and an item tower
``g_item(z) = W₄ σ(W₃z + b₃)`` reads a product's collaborative factors and attributes ``z``; the score is
``f_user(x) · g_item(z) + b_i`` (``R̂ = QᵀP``), trained with PyTorch on the same training interactions as every other
model by maximum likelihood of a softmax over the catalogue (the customer picks among all products), seeded,
on the CPU. A customer is represented only by their features, never by an id of their own, so a customer with one
or two interactions gets as good a vector as their features allow.

User features (:func:`user_features`): the profiling stage's segment (one-hot), channel shares and activity
(sessions, active days, events per session; log-scaled), and, computed from the *training* interactions only so
that held-out interactions never leak in, the customer's category shares and price index (mean price of their
products over each product's category median). Item features (:func:`item_features`): the product's factors from
the softmax factorisation (or zeros without it), category (one-hot), log price over its category median.

The cold-user slice (:func:`cold_user_slice`): evaluated customers with at most ``max_train`` (3) training
interactions; :func:`cold_user_table` scores the two-tower model, popularity, the segment's favourites
(:class:`SegmentPopularityRecommender`) and the collaborative models on it with the stage's own evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from contentlab.recommend.evaluate import EvalContext, evaluate_model
from contentlab.recommend.models import Recommender

ACTIVITY = ("n_sessions", "active_days", "events_per_session")


def _category_and_price(products: pd.DataFrame, items: Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    prod = products.assign(product_id=products["product_id"].astype(str)).drop_duplicates("product_id")
    prod = prod.set_index("product_id").reindex(list(items))
    cats = prod["category"].astype(str).fillna("unknown") if "category" in prod.columns else pd.Series(
        "unknown", index=prod.index)
    codes, names = pd.factorize(cats)
    if "price" in prod.columns:
        price = pd.to_numeric(prod["price"], errors="coerce")
        med = price.groupby(codes).transform("median")
        rel = np.log((price / med).to_numpy(float))
        rel = np.where(np.isfinite(rel), rel, 0.0)
    else:
        rel = np.zeros(len(prod))
    return codes, list(names), rel


def item_features(items: Sequence[str], products: pd.DataFrame, factors: np.ndarray | None = None) -> np.ndarray:
    """The item tower's input: the product's collaborative factors (when given), its category (one-hot) and log
    price over its category median; standardised columns."""
    codes, names, rel_price = _category_and_price(products, items)
    onehot = np.eye(len(names))[codes]
    cols = ([np.asarray(factors, dtype=float)] if factors is not None else []) + [onehot, rel_price[:, None]]
    z = np.hstack(cols)
    sd = z.std(axis=0)
    return np.where(sd > 0, (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)


def _mean_rows(m):
    return m / m.sum(dim=1, keepdim=True).clamp(min=1.0)


def profile_features(users: Sequence[str], profiles: pd.DataFrame | None) -> np.ndarray:
    """What the profiling stage says of each customer beyond the products they chose: segment (one-hot), channel
    shares and activity (log-scaled); standardised columns (a zero-width array without profiles)."""
    users = [str(u) for u in users]
    cols = []
    if profiles is not None and len(profiles):
        prof = profiles.assign(user_id=profiles["user_id"].astype(str)).drop_duplicates("user_id")
        prof = prof.set_index("user_id").reindex(users)
        if "segment" in prof.columns:
            seg = prof["segment"].astype(str).where(prof["segment"].notna(), "unprofiled")
            cols.append(pd.get_dummies(seg).to_numpy(float))
        channel = [c for c in prof.columns if c.startswith("ch_share__")]
        if channel:
            cols.append(prof[channel].fillna(0.0).to_numpy(float))
        activity = [c for c in ACTIVITY if c in prof.columns]
        if activity:
            cols.append(np.log1p(prof[activity].astype(float).fillna(0.0).clip(lower=0).to_numpy()))
    if not cols:
        return np.zeros((len(users), 0))
    x = np.hstack(cols)
    sd = x.std(axis=0)
    return np.where(sd > 0, (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)


class TwoTowerRecommender(Recommender):
    """User tower over behaviour features, item tower over item factors and attributes (see the module docstring).
    ``item_factors``: ``(len(items), k)`` factors in catalogue order (e.g. the softmax factorisation's), or
    ``None``."""

    name = "two_tower"
    kind = "ranking"

    def __init__(self, products: pd.DataFrame, profiles: pd.DataFrame | None, item_factors: np.ndarray | None = None,
                 hidden: int = 64, dim: int = 32, epochs: int = 30, lr: float = 0.01, weight_decay: float = 1e-4,
                 batch_size: int = 256, history: int = 3, seed: int = 42) -> None:
        super().__init__()
        self.products, self.profiles, self.item_factors_in = products, profiles, item_factors
        self.params = {"hidden": int(hidden), "dim": int(dim), "epochs": int(epochs), "lr": float(lr),
                       "weight_decay": float(weight_decay), "batch_size": int(batch_size), "history": int(history), "seed": int(seed)}

    def _fit(self, train: pd.DataFrame) -> None:
        import torch

        p = self.params
        users = sorted(train["user_id"].astype(str).unique())
        self.user_index = pd.Index(users)
        x = profile_features(users, self.profiles)
        z = item_features(self.items, self.products, self.item_factors_in)
        u = self.user_index.get_indexer(train["user_id"].astype(str))
        i = pd.Index(self.items).get_indexer(train["product_id"].astype(str))
        ok = (u >= 0) & (i >= 0)
        target = np.zeros((len(users), len(self.items)), dtype=np.float32)
        target[u[ok], i[ok]] = 1.0
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(p["seed"])
            gen = torch.Generator().manual_seed(p["seed"])
            n_in = x.shape[1] + z.shape[1]
            self.user_tower = torch.nn.Sequential(torch.nn.Linear(n_in, p["hidden"]), torch.nn.Sigmoid(),
                                                  torch.nn.Linear(p["hidden"], p["dim"]))
            self.item_tower = torch.nn.Sequential(torch.nn.Linear(z.shape[1], p["hidden"]), torch.nn.Sigmoid(),
                                                  torch.nn.Linear(p["hidden"], p["dim"]))
            self.bias = torch.nn.Parameter(torch.zeros(len(self.items)))
            params = [*self.user_tower.parameters(), *self.item_tower.parameters(), self.bias]
            opt = torch.optim.Adam(params, lr=p["lr"], weight_decay=p["weight_decay"])
            xt, zt, yt = (torch.tensor(x, dtype=torch.float32), torch.tensor(z, dtype=torch.float32),
                          torch.from_numpy(target))
            h = p["history"]
            for _epoch in range(p["epochs"]):
                order = torch.randperm(len(users), generator=gen)
                for start in range(0, len(users), p["batch_size"]):
                    b = order[start:start + p["batch_size"]]
                    y = yt[b]
                    # a new customer's view of each trained customer: a random 1..history of their products is
                    # what the tower sees, the rest is what it must rank
                    noise = torch.rand(y.shape, generator=gen) * y
                    vals, idx = noise.topk(min(h, y.shape[1]), dim=1)
                    r = torch.randint(1, h + 1, (len(b), 1), generator=gen)
                    keep = ((torch.arange(idx.shape[1])[None, :] < r) & (vals > 0)).float()
                    seen = torch.zeros_like(y).scatter(1, idx, keep)
                    rest = y - seen
                    has_rest = rest.sum(dim=1) > 0
                    if not has_rest.any():
                        continue
                    user_in = torch.cat([xt[b], _mean_rows(seen) @ zt], dim=1)
                    logits = self.user_tower(user_in) @ self.item_tower(zt).T + self.bias
                    logits = logits.masked_fill(seen > 0, -1e9)  # a product already seen is not a choice
                    nll = -(torch.log_softmax(logits, dim=1) * rest).sum(dim=1) / rest.sum(dim=1).clamp(min=1.0)
                    loss = nll[has_rest].mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                self.user_vectors = self.user_tower(torch.cat([xt, _mean_rows(yt) @ zt], dim=1)).numpy().astype(float)
                self.item_vectors = self.item_tower(zt).numpy().astype(float)
                self.item_bias = self.bias.numpy().astype(float)
        finally:
            torch.set_num_threads(before)

    def score(self, users: Sequence[str]) -> np.ndarray:
        rows = self.user_index.get_indexer([str(u) for u in users])
        out = np.zeros((len(rows), len(self.items)))
        known = rows >= 0
        if known.any():
            out[known] = self.user_vectors[rows[known]] @ self.item_vectors.T + self.item_bias[None, :]
        return out


class SegmentPopularityRecommender(Recommender):
    """The segment's favourites: distinct training customers per product within the customer's profiling segment
    (customers without a segment: the whole shop's popularity)."""

    name = "segment_popularity"

    def __init__(self, profiles: pd.DataFrame | None) -> None:
        super().__init__()
        self.profiles = profiles

    def _fit(self, train: pd.DataFrame) -> None:
        seg = pd.Series(dtype=object)
        if self.profiles is not None and "segment" in self.profiles.columns:
            seg = self.profiles.assign(user_id=self.profiles["user_id"].astype(str)).drop_duplicates(
                "user_id").set_index("user_id")["segment"].astype(str)
        self.segment_of = seg
        t = train.assign(user_id=train["user_id"].astype(str), product_id=train["product_id"].astype(str))
        t["segment"] = t["user_id"].map(seg).fillna("")
        counts = t.groupby(["segment", "product_id"])["user_id"].nunique().unstack(fill_value=0)
        self.by_segment = counts.reindex(columns=self.items, fill_value=0).astype(float)
        self.overall = t.groupby("product_id")["user_id"].nunique().reindex(self.items).fillna(0).to_numpy(float)

    def score(self, users: Sequence[str]) -> np.ndarray:
        out = np.empty((len(users), len(self.items)))
        for row, user in enumerate(users):
            seg = self.segment_of.get(str(user), "")
            if seg in self.by_segment.index:
                # the shop's popularity breaks ties within the segment
                out[row] = self.by_segment.loc[seg].to_numpy() + self.overall / (self.overall.max() + 1.0)
            else:
                out[row] = self.overall
        return out


def cold_user_slice(ctx: EvalContext, max_train: int = 3) -> EvalContext:
    """The evaluation context restricted to evaluated customers with at most ``max_train`` training
    interactions (no cold-item slice)."""
    keep = [n for n, seen in enumerate(ctx.seen) if len(seen) <= max_train]
    return EvalContext(train=ctx.train, test=ctx.test, items=ctx.items, users=[ctx.users[n] for n in keep],
                       seen=[ctx.seen[n] for n in keep], relevant=[ctx.relevant[n] for n in keep], k=ctx.k,
                       item_user_counts=ctx.item_user_counts, n_train_users=ctx.n_train_users,
                       item_category=ctx.item_category, cold_items=[], seed=ctx.seed)


def cold_user_table(models: Mapping[str, Recommender], ctx: EvalContext, max_train: int = 3) -> pd.DataFrame:
    """Every fitted model of ``models`` scored on the cold-user slice (``attrs["users"]``: the slice's size);
    one row per model, best NDCG@k first."""
    cold = cold_user_slice(ctx, max_train)
    k = ctx.k
    rows = []
    if cold.users:
        for name, model in models.items():
            r = evaluate_model(model, cold, fit=False, rating_metrics=False).row
            rows.append({"model": name, f"ndcg_at_{k}": r[f"ndcg_at_{k}"], f"precision_at_{k}": r[f"precision_at_{k}"],
                         f"recall_at_{k}": r[f"recall_at_{k}"], f"hit_rate_at_{k}": r[f"hit_rate_at_{k}"]})
    table = pd.DataFrame(rows, columns=["model", f"ndcg_at_{k}", f"precision_at_{k}", f"recall_at_{k}",
                                        f"hit_rate_at_{k}"])
    table = table.sort_values(f"ndcg_at_{k}", ascending=False, kind="mergesort").reset_index(drop=True)
    table.attrs["users"] = len(cold.users)
    table.attrs["max_train"] = max_train
    return table
