"""Planted truth: how far each model recovers the latent structure the demo simulator planted.

The simulator drives choices partly by latent user and product factors (``truth["user_factors"]``,
``truth["item_factors"]``). For a sample of evaluated customers, :func:`planted_spearman` ranks the catalogue by
the planted affinity u·v and by each model's scores, and averages the per-customer Spearman correlation (the
Pearson correlation of the two rank vectors). A model whose scores are constant for a customer (no order at all)
counts as 0 for that customer. Real data has no planted truth: the function returns ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from contentlab.recommend.models import Recommender

COLUMN = "spearman_with_planted_uv"


def _row_z(ranks: np.ndarray) -> np.ndarray:
    sd = ranks.std(axis=1, keepdims=True)
    return np.where(sd > 0, (ranks - ranks.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1), 0.0)


def planted_spearman(models: Mapping[str, Recommender], users: Sequence[str], items: Sequence[str],
                     truth: Mapping[str, Any] | None, max_users: int = 500) -> pd.DataFrame | None:
    """Mean per-customer Spearman correlation between each model's scores over the catalogue and the planted
    affinity, for the first ``max_users`` of ``users`` that have planted factors; ``None`` without planted factors.

    Returns ``model, spearman_with_planted_uv`` best first; ``attrs["customers"]`` is the number of customers."""
    truth = truth or {}
    if "user_factors" not in truth or "item_factors" not in truth:
        return None
    uf = truth["user_factors"].assign(user_id=lambda d: d["user_id"].astype(str)).set_index("user_id")
    vf = truth["item_factors"].assign(product_id=lambda d: d["product_id"].astype(str)).set_index("product_id")
    t_users = [u for u in users if u in uf.index][:max_users]
    t_pos = [n for n, p in enumerate(items) if p in vf.index]
    t_items = [items[n] for n in t_pos]
    planted = _row_z(rankdata(uf.loc[t_users].to_numpy() @ vf.loc[t_items].to_numpy().T, axis=1))
    rows = []
    for name, model in models.items():
        learnt = _row_z(rankdata(np.asarray(model.score(t_users))[:, t_pos], axis=1))
        rows.append({"model": name, COLUMN: float((learnt * planted).mean(axis=1).mean())})
    out = pd.DataFrame(rows, columns=["model", COLUMN]).sort_values(COLUMN, ascending=False)
    out.attrs["customers"] = len(t_users)
    return out
