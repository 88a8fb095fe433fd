"""On a Spark engine, the customers 03's single-machine models take.

Spark MLlib ALS trains on the cluster, so it takes every customer. The other models (Surprise, EASE, the softmax
factorisation, content, hybrid, ensemble, two-tower) train in one Python process; above the engine's
``single_node_users`` customers (:data:`contentlab.engine.DEFAULT_SINGLE_NODE_USERS` unless the profile says
otherwise) they train and are scored on a seeded sample of that many customers instead.

The split is made on every customer first, so a sampled customer's training and held-out pairs are exactly the
ones it has in the whole split: ALS, trained on all training pairs and scored on every evaluated customer, is also
scored on the sampled ones, and that is its row in the model table (the same customers, the same held-out pairs as
every other model). On DuckDB, and on Spark below the limit, nothing is sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from contentlab.engine import is_spark


@dataclass(frozen=True)
class UserSample:
    """The sampled customers (sorted) out of ``of`` training customers, at the engine's ``limit``."""

    users: tuple[str, ...]
    of: int
    limit: int

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``'s rows of the sampled customers (its ``attrs`` kept)."""
        out = frame[frame["user_id"].astype(str).isin(set(self.users))].reset_index(drop=True)
        out.attrs = dict(frame.attrs)
        return out

    def describe(self) -> str:
        return (f"a seeded sample of {len(self.users):,} of {self.of:,} training customers "
                f"(engine.single_node_users = {self.limit:,})")


def single_node_sample(train: pd.DataFrame, engine: Mapping[str, Any] | None, seed: int = 42) -> UserSample | None:
    """The customers the single-machine models take on ``engine`` (see the module docstring): ``None`` when they
    take every customer (DuckDB, no limit, or no more training customers than the limit)."""
    if not is_spark(engine):
        return None
    limit = engine.get("single_node_users")
    users = np.sort(train["user_id"].astype(str).unique())
    if limit is None or len(users) <= limit:
        return None
    pick = np.random.default_rng(seed).choice(len(users), size=int(limit), replace=False)
    return UserSample(users=tuple(sorted(users[pick].tolist())), of=len(users), limit=int(limit))
