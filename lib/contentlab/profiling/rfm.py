"""RFM scoring and the standard named RFM segments.

Scores are quintiles (1-5) of each measure over the customers who bought at least once:

* ``R`` (recency, days since the last purchase): **reversed**, the most recent fifth scores 5;
* ``F`` (frequency, number of orders) and ``M`` (monetary, revenue): the highest fifth scores 5.

Ties are broken by rank: each measure is ranked with ``rank(method="first")`` (customers sorted by
id first, so the result is deterministic) and the ranks are cut into five equal-count bins with
``pd.qcut``. Without the ranking, heavy ties (most customers have one order) would make ``qcut``
fail or produce uneven bins.

Named segments come from the (R, F) score pair, using the widely used RFM grid (the R/F score map
found in many RFM tutorials and open-source segmentation notebooks):

====================  =========  =========
segment               R score    F score
====================  =========  =========
Champions             5          4-5
Loyal Customers       3-4        4-5
Potential Loyalists   4-5        2-3
New Customers         5          1
Promising             4          1
Need Attention        3          3
About to Sleep        3          1-2
At Risk               1-2        3-4
Can't Lose            1-2        5
Hibernating           1-2        1-2
====================  =========  =========

Every one of the 25 (R, F) cells maps to exactly one segment (:data:`RFM_GRID`). Customers without
a purchase have no RFM scores and the segment :data:`NO_PURCHASE`; accounts excluded by the caller
(the stage excludes risk-flagged accounts, whose fake orders would shift every quintile) have no
scores either and the caller's label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["RFM_SEGMENTS", "RFM_GRID", "NO_PURCHASE", "rfm_segment_of", "quintile_scores", "rfm_scores", "rfm_grid_table"]

RFM_SEGMENTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "Champions": ((5,), (4, 5)),
    "Loyal Customers": ((3, 4), (4, 5)),
    "Potential Loyalists": ((4, 5), (2, 3)),
    "New Customers": ((5,), (1,)),
    "Promising": ((4,), (1,)),
    "Need Attention": ((3,), (3,)),
    "About to Sleep": ((3,), (1, 2)),
    "At Risk": ((1, 2), (3, 4)),
    "Can't Lose": ((1, 2), (5,)),
    "Hibernating": ((1, 2), (1, 2)),
}
"""segment -> (R scores, F scores)."""

NO_PURCHASE = "No Purchase"


def _build_grid() -> dict[tuple[int, int], str]:
    grid: dict[tuple[int, int], str] = {}
    for name, (rs, fs) in RFM_SEGMENTS.items():
        for r in rs:
            for f in fs:
                if (r, f) in grid:
                    raise AssertionError(f"RFM cell {(r, f)} mapped twice")
                grid[(r, f)] = name
    if len(grid) != 25:
        raise AssertionError("RFM grid must cover all 25 (R, F) cells")
    return grid


RFM_GRID: dict[tuple[int, int], str] = _build_grid()


def rfm_segment_of(r: int, f: int) -> str:
    """Named segment of one (R, F) score pair."""
    return RFM_GRID[(int(r), int(f))]


def quintile_scores(values: pd.Series, reverse: bool = False, n: int = 5) -> pd.Series:
    """Scores 1..n from equal-count bins of ``values`` ranked with ties broken by order of appearance.

    ``reverse=True`` gives the highest score to the smallest values (recency).
    """
    values = pd.Series(values).astype(float)
    if values.empty:
        return pd.Series([], index=values.index, dtype="Int64")
    ranks = values.rank(method="first")
    k = min(n, len(values))
    labels = list(range(k, 0, -1)) if reverse else list(range(1, k + 1))
    if k < n:  # fewer customers than bins: spread the available scores over 1..n
        labels = [int(round(1 + (lab - 1) * (n - 1) / max(k - 1, 1))) for lab in labels]
    scores = pd.qcut(ranks, q=k, labels=labels)
    return pd.Series(np.asarray(scores, dtype=int), index=values.index, dtype="Int64")


def rfm_scores(
    df: pd.DataFrame,
    recency_col: str = "recency_days",
    frequency_col: str = "frequency",
    monetary_col: str = "monetary",
    id_col: str = "user_id",
    exclude: pd.Series | np.ndarray | None = None,
    excluded_label: str = "Excluded",
) -> pd.DataFrame:
    """``R``, ``F``, ``M``, ``RFM`` (e.g. "545") and ``rfm_segment`` for every row of ``df``.

    Rows with ``frequency == 0`` (or missing) are non-buyers: nullable scores and segment
    :data:`NO_PURCHASE`. Rows where ``exclude`` is True (e.g. flagged accounts) take no part in the
    quintiles and get ``excluded_label``. The returned frame has ``df``'s index.
    """
    out = pd.DataFrame(index=df.index)
    freq = pd.to_numeric(df[frequency_col], errors="coerce").fillna(0)
    excl = pd.Series(False, index=df.index) if exclude is None else pd.Series(exclude, index=df.index).astype(bool)
    buyers = df[(freq > 0) & ~excl]
    if id_col in buyers.columns:
        buyers = buyers.sort_values(id_col, kind="mergesort")
    R = quintile_scores(buyers[recency_col], reverse=True)
    F = quintile_scores(buyers[frequency_col])
    M = quintile_scores(buyers[monetary_col])
    out["R"] = R.reindex(df.index).astype("Int64")
    out["F"] = F.reindex(df.index).astype("Int64")
    out["M"] = M.reindex(df.index).astype("Int64")
    has = out["R"].notna()
    code = pd.Series(pd.NA, index=df.index, dtype="string")
    code[has] = out.loc[has, "R"].astype(str) + out.loc[has, "F"].astype(str) + out.loc[has, "M"].astype(str)
    out["RFM"] = code
    seg = pd.Series(NO_PURCHASE, index=df.index, dtype="string")
    seg[excl.to_numpy()] = excluded_label
    if has.any():
        seg[has] = [RFM_GRID[(int(r), int(f))] for r, f in zip(out.loc[has, "R"], out.loc[has, "F"])]
    out["rfm_segment"] = seg
    return out


def rfm_grid_table(profiles: pd.DataFrame, value_col: str | None = None) -> pd.DataFrame:
    """5x5 table over (R rows 5..1, F columns 1..5): user counts, or the sum of ``value_col``."""
    buyers = profiles[profiles["R"].notna()]
    idx = pd.Index(range(5, 0, -1), name="R")
    cols = pd.Index(range(1, 6), name="F")
    if buyers.empty:
        return pd.DataFrame(0.0, index=idx, columns=cols)
    r = buyers["R"].astype(int)
    f = buyers["F"].astype(int)
    if value_col is None:
        tab = pd.crosstab(r, f)
    else:
        tab = pd.crosstab(r, f, values=buyers[value_col].astype(float), aggfunc="sum")
    return tab.reindex(index=idx, columns=cols).fillna(0)
