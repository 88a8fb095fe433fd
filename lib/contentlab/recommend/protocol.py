"""Evaluation protocols of the recommendation stage, by name (the 03 notebook's ``protocol`` parameter).

- ``"contentlab"`` (default): the notebook's ``split`` (``stratified_user``: per customer, a seeded shuffle and
  ``rank / count <= train_ratio`` in training; ``stratified_item``: the same per product; ``time``: the last
  ``holdout_days`` days held out), then ``cold_item_share`` of the products (newest launches first) moved
  entirely to the test side as the cold-item slice; top-``k`` lists.
- ``"recommenders"``: microsoft/recommenders' ``python_stratified_split`` exactly: ratio 0.75, seed 42 (their
  ``SEED``), one random number per rating in the order of the ratings file, ranked within each item (the preset's
  default, as their MovieLens benchmark notebook: "the splitting is stratified based on items") or, with
  ``split="stratified_user"``, each user (their splitter's own default), ``rank <= round(0.75 * count)`` in training (round half to even, as their code); no cold-item
  holdout; k = 10. The preset fixes ratio, k and the split seed: a run that sets ``train_ratio`` or ``k`` to
  something else, or ``split="time"``, is refused rather than silently changed.

Under both, every evaluated customer ranks the full catalogue minus the products of their own training
interactions (see :mod:`contentlab.recommend.evaluate`). Accounts excluded from recommendation (flagged by
profiling) are left out before a ``contentlab`` split and removed from both sides after a ``recommenders`` split,
so that every other customer's split is exactly the one recommenders draws on the same file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from contentlab import fmt
from contentlab.recommend.split import hold_out_items, split_interactions, stratified_split

PROTOCOLS = ("contentlab", "recommenders")
RECOMMENDERS_RATIO = 0.75
RECOMMENDERS_K = 10
RECOMMENDERS_SEED = 42


@dataclass(frozen=True)
class Protocol:
    name: str
    split: str
    ratio: float
    rule: str  # "ratio" | "round" (see contentlab.recommend.split)
    seed: int
    k: int
    cold_item_share: float
    holdout_days: float

    @property
    def unit(self) -> str:
        return "item" if self.split == "stratified_item" else "user"

    def definition(self) -> str:
        """What this protocol does, in one paragraph for the report."""
        who = "product" if self.unit == "item" else "customer"
        if self.name == "recommenders":
            return (f"**Protocol `recommenders`** — microsoft/recommenders' `python_stratified_split` "
                    f"(filter_by=\"{self.unit}\", ratio {self.ratio:g}, seed {self.seed}): one random number per "
                    f"rating in the order of the ratings file, ratings ranked by it within each {who}, and ranks up to "
                    f"round({self.ratio:g} × the {who}'s count) go to training (round half to even, as their code: a "
                    f"{who} with 10 ratings keeps 8, one with 6 keeps 4). No product is held out as cold. "
                    f"k = {self.k}; every product of the catalogue that the customer has not rated in training is "
                    "a candidate.")
        if self.split == "time":
            how = f"the last {self.holdout_days:g} days of interactions held out"
        else:
            how = (f"per {who}, a seeded shuffle (seed {self.seed}) and rank / count ≤ {self.ratio:g} in training "
                   f"(a {who} with 10 interactions keeps 7, every {who} keeps at least one held out)")
        cold = (f"; then {fmt.pct(self.cold_item_share, 0)} of the products (newest launches first) held out "
                "entirely as the cold-item slice" if self.cold_item_share else "; no product held out as cold")
        return (f"**Protocol `contentlab`** — split `{self.split}`: {how}{cold}. k = {self.k}; every product of the "
                "catalogue not among the customer's training interactions is a candidate.")

    def summary(self) -> str:
        """The protocol in one line (for a report's summary)."""
        who = "product" if self.unit == "item" else "customer"
        if self.name == "recommenders":
            return (f"`recommenders`: microsoft/recommenders' python_stratified_split per {who}, rank ≤ "
                    f"round({self.ratio:g} × count) in training, seed {self.seed}, no cold products, k = {self.k}")
        split = (f"last {self.holdout_days:g} days held out" if self.split == "time" else
                 f"per {who}, rank / count ≤ {self.ratio:g} in training, seed {self.seed}")
        cold = (f"{fmt.pct(self.cold_item_share, 0)} of products held out as cold" if self.cold_item_share else
                "no cold products")
        return f"`contentlab`: split {self.split} ({split}), {cold}, k = {self.k}"

    def rows(self) -> list[tuple[str, str]]:
        split = (f"time (last {self.holdout_days:g} days held out)" if self.split == "time" else
                 f"{self.split} ({fmt.pct(self.ratio, 0)} train; rule: " +
                 ("rank ≤ round(ratio × count)" if self.rule == "round" else "rank / count ≤ ratio") + ")")
        return [("protocol", self.name), ("split", split), ("split seed", str(self.seed)), ("k", str(self.k))]


DEFAULT_SPLIT = {"contentlab": "stratified_user", "recommenders": "stratified_item"}


def resolve_protocol(name: str = "contentlab", *, split: str | None = None, train_ratio: float = 0.75,
                     k: int = 10, cold_item_share: float = 0.05, holdout_days: float = 14, seed: int = 42) -> Protocol:
    """The protocol a notebook run asks for; conflicting settings under a fixed preset raise ``ValueError``.

    ``split=None`` takes the protocol's own default (``DEFAULT_SPLIT``): per customer under ``contentlab``, per
    product under ``recommenders`` (their MovieLens benchmark)."""
    if split is None:
        split = DEFAULT_SPLIT.get(name, "stratified_user")
    if name == "contentlab":
        if split not in ("stratified_user", "stratified_item", "time"):
            raise ValueError(f"unknown split {split!r} (stratified_user | stratified_item | time)")
        return Protocol("contentlab", split, float(train_ratio), "ratio", int(seed), int(k),
                        float(cold_item_share or 0.0), float(holdout_days))
    if name == "recommenders":
        problems = []
        if split not in ("stratified_user", "stratified_item"):
            problems.append(f"split={split!r} (the preset stratifies per user or per item: stratified_user | "
                            "stratified_item)")
        if float(train_ratio) != RECOMMENDERS_RATIO:
            problems.append(f"train_ratio={train_ratio!r} (the preset trains on {RECOMMENDERS_RATIO})")
        if int(k) != RECOMMENDERS_K:
            problems.append(f"k={k!r} (the preset evaluates at k={RECOMMENDERS_K})")
        if problems:
            raise ValueError("protocol 'recommenders' fixes its settings; this run sets " + "; ".join(problems) +
                             ". Use protocol='contentlab' to choose them.")
        return Protocol("recommenders", split, RECOMMENDERS_RATIO, "round", RECOMMENDERS_SEED, RECOMMENDERS_K, 0.0,
                        float(holdout_days))
    raise ValueError(f"unknown protocol {name!r} ({' | '.join(PROTOCOLS)})")


def in_source_order(interactions: pd.DataFrame, ratings: pd.DataFrame | None) -> pd.DataFrame:
    """Explicit-rating interactions in the order of the ratings table (each pair at its first row), as
    recommenders reads the file; anything else is returned unchanged (one row per pair, by user and product)."""
    if ratings is None or len(ratings) == 0 or interactions.attrs.get("source") != "explicit":
        return interactions
    key = pd.MultiIndex.from_arrays([ratings["user_id"].astype(str).to_numpy(),
                                     ratings["product_id"].astype(str).to_numpy()])
    first = pd.Series(np.arange(len(ratings)), index=key)
    first = first[~first.index.duplicated(keep="first")]
    pos = first.reindex(pd.MultiIndex.from_arrays([interactions["user_id"].to_numpy(),
                                                   interactions["product_id"].to_numpy()])).to_numpy(float)
    pos = np.where(np.isnan(pos), np.inf, pos)
    out = interactions.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)
    out.attrs = dict(interactions.attrs)
    return out


def split_for_protocol(
    interactions: pd.DataFrame,
    protocol: Protocol,
    *,
    ratings: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    exclude_users: Iterable[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """``train, test, cold_items`` under ``protocol``.

    ``interactions`` should include the excluded accounts (``exclude_users``): the ``recommenders`` split draws its
    random numbers over every rating of the file, then drops them; ``ratings`` (the source table) restores the
    file's row order for explicit ratings.
    """
    excluded = set(map(str, exclude_users))
    if protocol.name == "recommenders":
        ordered = in_source_order(interactions, ratings)
        train, test = stratified_split(ordered, ratio=protocol.ratio, filter_by=protocol.unit, seed=protocol.seed,
                                       rule="round")
        if excluded:
            train = train[~train["user_id"].isin(excluded)].reset_index(drop=True)
            test = test[~test["user_id"].isin(excluded)].reset_index(drop=True)
        return train, test, []
    data = interactions[~interactions["user_id"].isin(excluded)] if excluded else interactions
    train, test = split_interactions(data.reset_index(drop=True), protocol.split, ratio=protocol.ratio,
                                     holdout_days=protocol.holdout_days, seed=protocol.seed, rule="ratio")
    cold: list[str] = []
    if protocol.cold_item_share:
        train, test, cold = hold_out_items(train, test, protocol.cold_item_share, products, seed=protocol.seed)
    return train, test, cold
