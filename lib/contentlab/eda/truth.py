"""Planted-truth checks of stage 01 (simulated data only): does the log carry the structure the simulator planted?"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contentlab import serial
from contentlab.eda.queries import has_events, ratio
from contentlab.store import EventStore

SEGMENT_COLUMNS = ["segment", "users", "purchasers", "units", "favourite_categories", "favourite_share",
                   "others_share", "lift", "price_index"]


def segment_check(store: EventStore, truth_dir: str | Path | None) -> pd.DataFrame:
    """Simulated data only: does each planted segment show its planted behaviour in the log?

    Per true segment (``truth/users.parquet`` + ``truth/segments.json``): users, purchasing users, units
    bought, ``favourite_share`` (share of the segment's units in its planted favourite categories),
    ``others_share`` (share of all other users' units in the same categories), ``lift`` (their ratio) and
    ``price_index`` (mean unit price paid relative to the category's median list price; < 1 = buys cheaper).
    Empty when there is no truth or no category.
    """
    cols = SEGMENT_COLUMNS
    if not truth_dir:
        return pd.DataFrame(columns=cols)
    tdir = Path(truth_dir)
    if not (tdir / "users.parquet").exists() or not (tdir / "segments.json").exists():
        return pd.DataFrame(columns=cols)
    if not (has_events(store) and store.has_column("products", "category")):
        return pd.DataFrame(columns=cols)
    segments = serial.read_json(tdir / "segments.json")
    store.register("truth_users", tdir / "users.parquet")
    agg = store.sql("""
        WITH med AS (SELECT category, median(price) AS med FROM products GROUP BY 1)
        SELECT CAST(t.segment AS VARCHAR) AS segment, CAST(p.category AS VARCHAR) AS category,
               SUM(e.quantity) AS units, SUM(e.quantity * e.price / med.med) AS price_units,
               COUNT(DISTINCT e.user_id) AS purchasers
        FROM events e JOIN products p ON e.product_id = p.product_id
             JOIN truth_users t ON e.user_id = t.user_id
             JOIN med ON p.category = med.category
        WHERE e.event_type = 'purchase'
        GROUP BY 1, 2""")
    sizes = store.sql("SELECT CAST(segment AS VARCHAR) AS segment, COUNT(*) AS users, "
                      "COUNT(DISTINCT e.user_id) AS purchasers FROM truth_users t LEFT JOIN "
                      "(SELECT DISTINCT user_id FROM events WHERE event_type = 'purchase') e ON t.user_id = e.user_id "
                      "GROUP BY 1").set_index("segment")
    rows = []
    for seg, spec in segments.items():
        favs = [str(c) for c in (spec.get("favourite_categories") or [])] if isinstance(spec, dict) else []
        own = agg[agg["segment"] == seg]
        other = agg[agg["segment"] != seg]
        units = float(own["units"].sum())
        fav_share = ratio(own.loc[own["category"].isin(favs), "units"].sum(), units)
        others = ratio(other.loc[other["category"].isin(favs), "units"].sum(), other["units"].sum())
        rows.append({
            "segment": seg,
            "users": int(sizes["users"].get(seg, 0)),
            "purchasers": int(sizes["purchasers"].get(seg, 0)),
            "units": int(units),
            "favourite_categories": ", ".join(favs),
            "favourite_share": fav_share,
            "others_share": others,
            "lift": ratio(fav_share, others) if favs else float("nan"),
            "price_index": ratio(own["price_units"].sum(), units),
        })
    return pd.DataFrame(rows, columns=cols)
