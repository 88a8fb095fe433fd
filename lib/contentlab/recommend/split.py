"""Seeded train/test splits of an interaction table.

:func:`stratified_split` follows microsoft/recommenders' ``python_stratified_split``: one random number per row
(``numpy.random.seed(seed)`` then ``numpy.random.rand(n_rows)``, in the table's row order), rows sorted by user
(``filter_by="user"``) or item (``filter_by="item"``, as their MovieLens benchmark notebook does) and that number,
ranked 1..count within the group. Two rules decide which ranks go to training:

- ``rule="round"`` (recommenders): ``rank <= round(ratio * count)``. Their code applies Python's ``round`` to a
  pandas Series, which is numpy's round-half-to-even (as Python's own ``round`` on a number): with ratio 0.75 a
  group of 2 keeps both rows in training (1.5 -> 2), 6 keeps 4 (4.5 -> 4), 10 keeps 8 (7.5 -> 8), 14 keeps 10
  (10.5 -> 10), 5 keeps 4 (3.75 -> 4).
- ``rule="ratio"`` (ContentLab's default protocol): ``rank / count <= ratio``, i.e. ``rank <= floor(ratio * count)``:
  2 -> 1, 5 -> 3, 6 -> 4, 10 -> 7, 14 -> 10. Every group keeps at least one held-out row (a group of one row goes
  to the test side).

Groups with fewer than ``min_rating`` rows are dropped first. :func:`time_split` holds out the last
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
    rule: str = "ratio",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows (see the module docstring for ``rule``); the row order of ``data`` matters, as in
    recommenders: the n-th row gets the n-th random number."""
    if rule not in ("ratio", "round"):
        raise ValueError(f"unknown stratified-split rule {rule!r} (ratio | round)")
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
    rank = grp.cumcount() + 1
    count = grp[col].transform("count")
    if rule == "round":
        in_train = rank <= np.round(ratio * count)  # numpy rounds half to even, as recommenders' round(Series)
    else:
        in_train = rank / count <= ratio
    train = df[in_train].drop(columns="_random")
    test = df[~in_train].drop(columns="_random")
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
    rule: str = "ratio",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``method``: ``stratified_user`` | ``stratified_item`` | ``time``; ``rule`` for the stratified ones."""
    if method == "stratified_user":
        return stratified_split(data, ratio=ratio, filter_by="user", seed=seed, rule=rule)
    if method == "stratified_item":
        return stratified_split(data, ratio=ratio, filter_by="item", seed=seed, rule=rule)
    if method == "time":
        return time_split(data, holdout_days=holdout_days)
    raise ValueError(f"unknown split {method!r} (stratified_user | stratified_item | time)")
