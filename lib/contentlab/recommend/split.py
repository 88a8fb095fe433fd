"""Seeded train/test splits of an interaction table.

:func:`stratified_split` reproduces microsoft/recommenders' ``python_stratified_split``: within each user
(``filter_by="user"``) or item (``filter_by="item"``, as their MovieLens benchmark does) the rows are shuffled
with ``numpy.random.RandomState(seed).rand``, ranked, and the first ``ratio`` share (by rank / group size) goes to
training. Groups with fewer than ``min_rating`` rows are dropped first. :func:`time_split` holds out the last
``holdout_days`` days. :func:`hold_out_items` moves every interaction of some items (by default the most recently
launched) to the test side, creating the cold-start slice that content-based models are measured on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def stratified_split(
    data: pd.DataFrame,
    ratio: float = 0.75,
    filter_by: str = "user",
    seed: int = 42,
    min_rating: int = 1,
    col_user: str = "user_id",
    col_item: str = "product_id",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if filter_by not in ("user", "item"):
        raise ValueError("filter_by should be either 'user' or 'item'")
    if not 0 < ratio < 1:
        raise ValueError("ratio must be in (0, 1)")
    col = col_user if filter_by == "user" else col_item
    df = data.copy()
    if min_rating > 1:
        counts = df.groupby(col)[col].transform("count")
        df = df[counts >= min_rating]
    rnd = np.random.RandomState(seed).rand(len(df))
    df = df.assign(_random=rnd).sort_values([col, "_random"], kind="mergesort")
    grp = df.groupby(col, sort=False)
    rank = (grp.cumcount() + 1) / grp[col].transform("count")
    train = df[rank <= ratio].drop(columns="_random")
    test = df[rank > ratio].drop(columns="_random")
    return train.reset_index(drop=True), test.reset_index(drop=True)


def time_split(data: pd.DataFrame, holdout_days: float = 7, col_time: str = "timestamp") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on interactions that started before ``max(timestamp) - holdout_days``, test on the rest."""
    ts = pd.to_datetime(data[col_time])
    cutoff = ts.max() - pd.Timedelta(days=float(holdout_days))
    train = data[ts <= cutoff].reset_index(drop=True)
    test = data[ts > cutoff].reset_index(drop=True)
    return train, test


def hold_out_items(
    train: pd.DataFrame,
    test: pd.DataFrame,
    frac: float,
    products: pd.DataFrame | None = None,
    seed: int = 42,
    col_item: str = "product_id",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Move every training interaction of ``frac`` of the interacted items to ``test`` (cold items).

    Picks the most recently launched items when ``products`` has ``launch_date``, else a seeded random sample.
    Returns ``train, test, cold_items``.
    """
    items = pd.Index(pd.concat([train[col_item], test[col_item]]).unique())
    n = int(round(frac * len(items)))
    if n <= 0:
        return train, test, []
    if products is not None and "launch_date" in products.columns and products["launch_date"].notna().any():
        launch = products.set_index(products["product_id"].astype(str))["launch_date"]
        order = pd.Series(pd.to_datetime(launch.reindex(items)).values, index=items)
        rng = np.random.RandomState(seed)
        jitter = pd.Series(rng.rand(len(items)), index=items)
        frame = pd.DataFrame({"launch": order, "jitter": jitter}).sort_values(["launch", "jitter"], ascending=False,
                                                                             na_position="last")
        cold = list(frame.index[:n])
    else:
        cold = list(np.random.RandomState(seed).choice(np.asarray(items), size=n, replace=False))
    moved = train[col_item].isin(cold)
    new_test = pd.concat([test, train[moved]], ignore_index=True)
    return train[~moved].reset_index(drop=True), new_test, [str(c) for c in cold]


def split_interactions(
    data: pd.DataFrame,
    method: str = "stratified_user",
    ratio: float = 0.75,
    holdout_days: float = 7,
    seed: int = 42,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``method``: ``stratified_user`` | ``stratified_item`` | ``time``."""
    if method == "stratified_user":
        return stratified_split(data, ratio=ratio, filter_by="user", seed=seed)
    if method == "stratified_item":
        return stratified_split(data, ratio=ratio, filter_by="item", seed=seed)
    if method == "time":
        return time_split(data, holdout_days=holdout_days)
    raise ValueError(f"unknown split {method!r} (stratified_user | stratified_item | time)")
