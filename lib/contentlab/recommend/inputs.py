"""What the recommendation stage reads, through :mod:`contentlab.contract`.

The runner hands the stage ``inputs`` (``{product name: path or None}``): 01's ``clean`` tables and ``dataset``
metadata (required), 02's ``user_profiles`` and ``association_rules`` (used when present: profiled accounts that
are flagged are excluded, segments and rules feed the breakdown and the reasons). A notebook opened by hand gets
``inputs = {}``: they are resolved from ``run_dir`` (:func:`contentlab.contract.resolve_inputs`). A run directory
without 01's products is an error naming 01: like every stage, 03 never prepares data itself.

``ratings_path`` (a MovieLens ``u.data`` / ``ratings.csv`` file) bypasses the run's data: the file is read through
the MovieLens adapter and nothing of 02 is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from contentlab import contract, pipeline
from contentlab.data.adapters import load_movielens
from contentlab.data.io import Dataset
from contentlab.store import EventStore

STAGE = "03_recommend"


@dataclass
class StageData:
    dataset: Dataset
    store: EventStore | None  # SQL over the run's clean Parquet tables (None for a ratings file)
    products: pd.DataFrame
    profiles: pd.DataFrame | None = None
    rules: pd.DataFrame | None = None
    flagged: set[str] = field(default_factory=set)  # accounts flagged by profiling: excluded from recommendation

    def table(self, name: str) -> pd.DataFrame | None:
        return self.dataset.tables[name] if self.dataset.has(name) else None


def flagged_accounts(profiles: pd.DataFrame | None) -> set[str]:
    if profiles is None or "is_flagged" not in profiles.columns:
        return set()
    return set(profiles.loc[profiles["is_flagged"].fillna(False).astype(bool), "user_id"].astype(str))


def load(inputs: Mapping[str, str | None] | None, run_dir: Path, ratings_path: str = "") -> StageData:
    """Everything the stage reads (see the module docstring)."""
    if ratings_path:
        ds, _report = load_movielens(ratings_path)
        return StageData(dataset=ds, store=None, products=_products(ds))
    got = contract.Inputs.for_stage(STAGE, inputs, run_dir)
    ds = pipeline.prepared_dataset(got.read("clean"), got.read("dataset"), got.path("dataset"))
    clean = got.read("clean")
    store = EventStore(clean) if (Path(clean) / "events.parquet").exists() else None
    profiles = got.optional("user_profiles")
    return StageData(dataset=ds, store=store, products=_products(ds), profiles=profiles,
                     rules=got.optional("association_rules"), flagged=flagged_accounts(profiles))


def _products(ds: Dataset) -> pd.DataFrame:
    return ds.products if ds.has("products") else pd.DataFrame({"product_id": [], "title": []})
