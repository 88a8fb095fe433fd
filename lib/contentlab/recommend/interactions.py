"""User-item interactions for the recommenders: one row per (user, product).

Sources:

- ``"explicit"``: the ``ratings`` table (1-5); a pair rated more than once keeps its latest rating.
- ``"graded"`` (implicit): the strongest event of the pair sets a graded pseudo-rating, by default
  view=1, cart=3, purchase=5 (``weights``).
- ``"weighted"`` (implicit): every event adds its weight (``weights``, e.g. view=1, cart=3, purchase=5);
  the total is mapped to a 1-5 pseudo-rating with ``1 + 4 * log1p(w) / log1p(max w)``.
- ``"auto"``: explicit ratings when the dataset has a non-empty ``ratings`` table and no events, else graded.

The pair's ``timestamp`` is its *first* interaction, so a time-based split never holds out an item the user had
already met in the training period. The aggregation is SQL (DuckDB): over the run's Parquet tables through
:class:`contentlab.store.EventStore` when one is given, else over an in-memory events frame.
"""

from __future__ import annotations

from typing import Mapping

import duckdb
import numpy as np
import pandas as pd

from contentlab.store import EventStore

DEFAULT_WEIGHTS: dict[str, float] = {"view": 1.0, "cart": 3.0, "purchase": 5.0}
COLUMNS = ["user_id", "product_id", "rating", "timestamp", "n_events"]


def _weights_sql(weights: Mapping[str, float]) -> str:
    parts = " ".join(f"WHEN '{str(k).replace(chr(39), '')}' THEN {float(v)!r}" for k, v in weights.items())
    return f"CASE event_type {parts} ELSE 0.0 END"


def _events_query(mode: str, weights: Mapping[str, float]) -> str:
    w = _weights_sql(weights)
    if mode == "graded":
        agg = f"MAX({w})"
    elif mode == "weighted":
        agg = f"SUM({w} * 1.0)"
    else:
        raise ValueError(f"unknown implicit mode {mode!r} (graded | weighted)")
    return f"""
        SELECT CAST(user_id AS VARCHAR) AS user_id, CAST(product_id AS VARCHAR) AS product_id,
               {agg} AS rating, MIN(timestamp) AS timestamp, COUNT(*) AS n_events
        FROM events
        GROUP BY 1, 2
        HAVING {agg} > 0
        ORDER BY 1, 2
    """


def _ratings_query() -> str:
    return """
        SELECT user_id, product_id, rating, timestamp, n_events FROM (
            SELECT CAST(user_id AS VARCHAR) AS user_id, CAST(product_id AS VARCHAR) AS product_id,
                   CAST(rating AS DOUBLE) AS rating, MIN(timestamp) OVER w AS timestamp,
                   COUNT(*) OVER w AS n_events,
                   ROW_NUMBER() OVER (PARTITION BY user_id, product_id ORDER BY timestamp DESC) AS rn
            FROM ratings
            WINDOW w AS (PARTITION BY user_id, product_id)
        ) WHERE rn = 1 ORDER BY 1, 2
    """


def _run(query: str, store: EventStore | None, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    if store is not None:
        return store.sql(query)
    con = duckdb.connect(database=":memory:")
    try:
        for name, df in frames.items():
            con.register(name, df)
        return con.execute(query).df()
    finally:
        con.close()


def resolve_source(source: str, has_events: bool, has_ratings: bool) -> str:
    if source == "auto":
        return "explicit" if has_ratings and not has_events else "graded"
    if source == "explicit" and not has_ratings:
        raise ValueError("interaction source 'explicit' needs a non-empty ratings table")
    if source in ("graded", "weighted") and not has_events:
        raise ValueError(f"interaction source {source!r} needs an events table")
    if source not in ("explicit", "graded", "weighted"):
        raise ValueError(f"unknown interaction source {source!r} (auto | explicit | graded | weighted)")
    return source


def build_interactions(
    events: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    *,
    source: str = "auto",
    weights: Mapping[str, float] | None = None,
    store: EventStore | None = None,
    exclude_users: "set[str] | None" = None,
) -> pd.DataFrame:
    """Interactions ``user_id, product_id, rating, timestamp, n_events`` (sorted by user, product).

    ``store`` (optional) runs the SQL over the run's Parquet tables instead of the in-memory frames.
    ``exclude_users`` (e.g. accounts flagged by profiling) are dropped.
    """
    has_events = (store.has("events") if store is not None else events is not None and len(events) > 0)
    has_ratings = (store.has("ratings") and store.scalar("SELECT COUNT(*) FROM ratings") > 0) if store is not None \
        else ratings is not None and len(ratings) > 0
    mode = resolve_source(source, has_events, has_ratings)
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if mode == "explicit":
        out = _run(_ratings_query(), store, {"ratings": ratings} if store is None else {})
    else:
        frames = {} if store is not None else {"events": events[["user_id", "product_id", "event_type", "timestamp"]]}
        out = _run(_events_query(mode, weights), store, frames)
        if mode == "weighted" and len(out):
            top = float(out["rating"].max())
            out["rating"] = 1.0 + 4.0 * np.log1p(out["rating"]) / np.log1p(top) if top > 0 else 1.0
    out["user_id"] = out["user_id"].astype(str)
    out["product_id"] = out["product_id"].astype(str)
    out["rating"] = out["rating"].astype(float)
    out["n_events"] = out["n_events"].astype(int)
    out["timestamp"] = pd.to_datetime(out["timestamp"])
    if exclude_users:
        out = out[~out["user_id"].isin(set(map(str, exclude_users)))]
    out = out[COLUMNS].reset_index(drop=True)
    out.attrs["source"] = mode
    out.attrs["weights"] = weights if mode != "explicit" else None
    return out


def describe_source(interactions: pd.DataFrame) -> str:
    """One sentence for the report: how interactions were built."""
    mode = interactions.attrs.get("source", "?")
    if mode == "explicit":
        return "Explicit 1-5 ratings (latest rating per user and product)."
    w = interactions.attrs.get("weights") or {}
    ws = ", ".join(f"{k}={v:g}" for k, v in w.items())
    if mode == "graded":
        return f"Implicit feedback from events, graded pseudo-rating = weight of the strongest event ({ws})."
    return f"Implicit feedback from events, summed event weights ({ws}) mapped to 1-5 on a log scale."
