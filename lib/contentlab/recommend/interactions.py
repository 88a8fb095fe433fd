"""User-item interactions for the recommenders: one row per (user, product).

Sources:

- ``"explicit"``: the ``ratings`` table (1-5); a pair rated more than once keeps its latest rating.
- ``"graded"`` (implicit): the strongest event of the pair sets a graded pseudo-rating, by default
  view=1, cart=3, purchase=5 (``weights``).
- ``"weighted"`` (implicit): every event adds its weight (``weights``, e.g. view=1, cart=3, purchase=5);
  the total is mapped to a 1-5 pseudo-rating with ``1 + 4 * log1p(w) / log1p(max w)``.
- ``"auto"``: the first source that has data, in this order: graded events (implicit feedback usually covers every
  customer who browsed or bought, ratings only the few who rated), then explicit ratings. So events win when both
  have data; a ratings-only dataset (MovieLens: its events table is empty) gets its ratings; events that yield no
  pair (none of their event types has a positive weight) fall through to the ratings. With neither, the result is
  empty and :func:`not_applicable_reason` says what is missing.

The pair's ``timestamp`` is its *first* interaction, so a time-based split never holds out an item the user had
already met in the training period. The aggregation is SQL (DuckDB): over the run's Parquet tables through
:class:`contentlab.store.EventStore` when one is given, else over an in-memory events frame.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def resolve_source(source: str, n_events: int, n_ratings: int) -> str:
    """The source a request resolves to, given the row counts of the two tables (``"none"``: auto found no data).

    ``auto`` prefers events and falls back to ratings (see the module docstring); :func:`build_interactions` also
    falls back when events exist but yield no pair. An explicit request for a source without rows is an error.
    """
    if source == "auto":
        if n_events > 0:
            return "graded"
        return "explicit" if n_ratings > 0 else "none"
    if source not in ("explicit", "graded", "weighted"):
        raise ValueError(f"unknown interaction source {source!r} (auto | explicit | graded | weighted)")
    if source == "explicit" and n_ratings <= 0:
        raise ValueError("interaction source 'explicit' needs a non-empty ratings table (the ratings table has "
                         f"{n_ratings:,} rows; the events table has {n_events:,})")
    if source in ("graded", "weighted") and n_events <= 0:
        raise ValueError(f"interaction source {source!r} needs a non-empty events table (the events table has "
                         f"{n_events:,} rows; the ratings table has {n_ratings:,}: use 'explicit' or 'auto')")
    return source


def _finish(out: pd.DataFrame, mode: str, weights: Mapping[str, float], exclude_users) -> pd.DataFrame:
    out["user_id"] = out["user_id"].astype(str)
    out["product_id"] = out["product_id"].astype(str)
    out["rating"] = out["rating"].astype(float)
    out["n_events"] = out["n_events"].astype(int)
    out["timestamp"] = pd.to_datetime(out["timestamp"])
    out = out[COLUMNS].reset_index(drop=True)
    out.attrs["source"] = mode
    out.attrs["weights"] = weights if mode in ("graded", "weighted") else None
    out.attrs["excluded_pairs"] = 0
    return drop_users(out, exclude_users)


def drop_users(interactions: pd.DataFrame, users: set[str] | None) -> pd.DataFrame:
    """``interactions`` without the pairs of ``users`` (its ``attrs`` kept; ``excluded_pairs`` counts the drop)."""
    attrs = dict(interactions.attrs)
    if not users:
        out = interactions
    else:
        out = interactions[~interactions["user_id"].isin(set(map(str, users)))].reset_index(drop=True)
    attrs["excluded_pairs"] = int(attrs.get("excluded_pairs", 0)) + len(interactions) - len(out)
    out.attrs = attrs
    return out


def build_interactions(
    events: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    *,
    source: str = "auto",
    weights: Mapping[str, float] | None = None,
    store: EventStore | None = None,
    exclude_users: set[str] | None = None,
) -> pd.DataFrame:
    """Interactions ``user_id, product_id, rating, timestamp, n_events`` (sorted by user, product).

    ``store`` (optional) runs the SQL over the run's Parquet tables instead of the in-memory frames.
    ``exclude_users`` (e.g. accounts flagged by profiling) are dropped.

    ``attrs`` say how the table was built: ``source`` (``explicit`` | ``graded`` | ``weighted`` | ``none``),
    ``weights``, ``requested`` (the ``source`` argument), ``n_events`` / ``n_ratings`` (rows of the two tables),
    ``source_note`` (why ``auto`` chose what it chose) and ``excluded_pairs`` (pairs of ``exclude_users`` dropped).
    """
    if store is not None:
        n_events, n_ratings = store.count("events"), store.count("ratings")
    else:
        n_events = 0 if events is None else len(events)
        n_ratings = 0 if ratings is None else len(ratings)
    mode = resolve_source(source, n_events, n_ratings)
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    note = ""
    out = None
    if mode in ("graded", "weighted"):
        frames = {} if store is not None else {"events": events[["user_id", "product_id", "event_type", "timestamp"]]}
        out = _run(_events_query(mode, weights), store, frames)
        if mode == "weighted" and len(out):
            top = float(out["rating"].max())
            out["rating"] = 1.0 + 4.0 * np.log1p(out["rating"]) / np.log1p(top) if top > 0 else 1.0
        if source == "auto":
            if len(out) == 0 and n_ratings > 0:
                note = (f"the events table has {n_events:,} rows but none of their event types has a positive weight "
                        f"({_weights_text(weights)}), so the ratings table ({n_ratings:,} rows) is used")
                mode, out = "explicit", None
            else:
                note = (f"events first: the events table has {n_events:,} rows" +
                        (f" (the ratings table's {n_ratings:,} rows are not used)" if n_ratings else ""))
    elif source == "auto":
        note = (f"the events table has 0 rows, so the ratings table ({n_ratings:,} rows) is used" if mode == "explicit"
                else "neither table has data: the events table and the ratings table have 0 rows")
    if mode == "explicit":
        out = _run(_ratings_query(), store, {"ratings": ratings} if store is None else {})
    elif mode == "none":
        out = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                            zip(COLUMNS, ["str", "str", "float", "datetime64[ns]", "int64"])})
    out = _finish(out, mode, weights, exclude_users)
    out.attrs.update(requested=source, n_events=int(n_events), n_ratings=int(n_ratings), source_note=note)
    return out


def _weights_text(weights: Mapping[str, float] | None) -> str:
    return ", ".join(f"{k}={float(v):g}" for k, v in (weights or {}).items())


def not_applicable_reason(interactions: pd.DataFrame, catalogue: list[str] | pd.Index) -> str | None:
    """Why the recommendation stage cannot run on these interactions, naming what is actually missing (``None``
    when it can): no interactions at all (and why: empty tables, zero-weight events, every pair excluded), a
    catalogue of fewer than two products, or customers who already have every product."""
    a = interactions.attrs
    n_items = len(catalogue)
    if len(interactions) == 0:
        mode, n_ev, n_ra = a.get("source"), int(a.get("n_events", 0)), int(a.get("n_ratings", 0))
        if a.get("excluded_pairs"):
            why = (f"all {a['excluded_pairs']:,} customer-product pairs belong to accounts flagged by profiling "
                   "(excluded from recommendation)")
        elif mode == "none":
            why = "the events table and the ratings table both have 0 rows"
        elif mode in ("graded", "weighted"):
            why = (f"the events table has {n_ev:,} rows but none of their event types has a positive weight "
                   f"({_weights_text(a.get('weights'))})" + (f"; the ratings table has {n_ra:,} rows" if n_ra else
                                                             "; the ratings table has 0 rows"))
        else:
            why = f"the ratings table has {n_ra:,} rows"
        return f"there are no customer-product interactions to learn from: {why}"
    if n_items < 2:
        return (f"the catalogue has {n_items:,} product: there is nothing to rank (a dataset that records orders "
                "without individual products, such as CDNOW's 'CD', has a single product)")
    per_user = interactions.groupby("user_id")["product_id"].nunique()
    if int(per_user.min()) >= n_items:
        return (f"every one of the {len(per_user):,} customers has already interacted with all {n_items:,} products "
                "of the catalogue: no product is left to recommend")
    return None


def describe_source(interactions: pd.DataFrame, with_reason: bool = True) -> str:
    """One sentence for the report: how interactions were built (and, with ``with_reason``, why ``auto`` chose
    that source)."""
    mode = interactions.attrs.get("source", "?")
    note = interactions.attrs.get("source_note") or ""
    auto = interactions.attrs.get("requested") == "auto" and note and with_reason
    why = f" Chosen automatically: {note}." if auto else ""
    if mode == "explicit":
        return "Explicit 1-5 ratings (latest rating per user and product)." + why
    if mode == "none":
        return "None: the data has neither events nor ratings." + why
    ws = _weights_text(interactions.attrs.get("weights"))
    if mode == "graded":
        return f"Implicit feedback from events, graded pseudo-rating = weight of the strongest event ({ws})." + why
    return f"Implicit feedback from events, summed event weights ({ws}) mapped to 1-5 on a log scale." + why
