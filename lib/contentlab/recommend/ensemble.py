"""Ensembles of fitted models: per customer, each part's scores are standardised over the catalogue (z-scores, as
the hybrid does) and summed with weights; :func:`tune_blend` picks the weights on a validation split.

The weights run over a simplex grid (every combination of multiples of ``step`` that sums to 1, each part's weight
in [0, 1]), each scored by the stage's own evaluation (:func:`contentlab.recommend.evaluate.evaluate_model`) on the
validation split; the parts' score matrices are computed once and reused for every candidate. Ties go to the
candidate listed first (weights of the first parts largest).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from contentlab.recommend.content import zscore_rows
from contentlab.recommend.models import Recommender


class BlendRecommender(Recommender):
    """``sum_p weight_p * z(part_p scores)``, z-scored per customer over the catalogue."""

    kind = "ensemble"

    def __init__(self, parts: Mapping[str, Recommender], weights: Mapping[str, float], name: str = "ensemble",
                 refit_parts: bool = True) -> None:
        super().__init__()
        if not parts:
            raise ValueError("an ensemble needs at least one part")
        unknown = set(weights) - set(parts)
        if unknown:
            raise ValueError(f"weights for parts that are not in the ensemble: {sorted(unknown)}")
        self.parts = dict(parts)
        self.weights = {p: float(weights.get(p, 0.0)) for p in self.parts}
        self.name = name
        self.refit_parts = refit_parts
        self.params = {"weights": dict(self.weights),
                       "parts": {p: dict(m.params) for p, m in self.parts.items()}}

    def _fit(self, train: pd.DataFrame) -> None:
        if self.refit_parts:
            for name, part in self.parts.items():
                if self.weights[name] > 0:
                    part.fit(train, self.items)

    def score(self, users: Sequence[str]) -> np.ndarray:
        users = list(users)
        out = np.zeros((len(users), len(self.items)))
        for name, part in self.parts.items():
            w = self.weights[name]
            if w > 0:
                out += w * zscore_rows(part.score(users))
        return out


def simplex_grid(n_parts: int, step: float = 0.1) -> list[tuple[float, ...]]:
    """Every weight vector of ``n_parts`` non-negative multiples of ``step`` summing to 1, first parts' weights
    largest first."""
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1] (got {step!r})")
    n = int(round(1.0 / step))
    out = [tuple(c / n for c in combo) for combo in itertools.product(range(n, -1, -1), repeat=n_parts)
           if sum(combo) == n]
    return out


def tune_blend(parts: Mapping[str, Recommender], val_ctx: Any, step: float = 0.1,
               metric: str | None = None) -> tuple[dict[str, float], pd.DataFrame]:
    """The weights of ``parts`` (already fitted on the validation split's training part) that score best on
    ``val_ctx`` (an :class:`~contentlab.recommend.evaluate.EvalContext` of the validation split); returns them
    and the table of every candidate (one column per part, and the metric)."""
    from contentlab.recommend.metrics import per_user_ranking
    from contentlab.recommend.topn import top_k_from_scores

    k = val_ctx.k
    metric = metric or f"ndcg_at_{k}"
    column = metric.rsplit("_at_", 1)[0]
    names = list(parts)
    users = list(val_ctx.users)
    cache = {name: zscore_rows(part.score(users)) for name, part in parts.items()}
    seen_rows = np.repeat(np.arange(len(users)), [len(s) for s in val_ctx.seen])
    seen_cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in val_ctx.seen]) if users else np.zeros(0, int)
    rows = []
    for combo in simplex_grid(len(names), step):
        weights = dict(zip(names, combo))
        # the stage's evaluation, on the cached scores: training products excluded, full-catalogue top-k
        blend = sum(w * cache[n] for n, w in weights.items() if w > 0)
        blend[seen_rows, seen_cols] = -np.inf
        top = top_k_from_scores(blend, k)[0]
        rows.append({**weights, metric: float(per_user_ranking(top, val_ctx.relevant, k)[column].mean())})
    table = pd.DataFrame(rows)
    best = table.iloc[int(np.argmax(table[metric].to_numpy()))]
    return {n: float(best[n]) for n in names}, table.sort_values(metric, ascending=False,
                                                                 kind="mergesort").reset_index(drop=True)
