"""A large simulated shop written straight to Parquet, a batch of users at a time (:func:`simulate_to_parquet`).

:func:`~contentlab.data.simulate.simulate` holds the whole shop in memory (about 0.6 GiB per million events, and a
users x products choice matrix). The simulation is per user once the shop's shared parts are drawn, so here the
shared parts are drawn once and the users in batches of ``chunk_users``, each batch with a random stream of its own
and its tables appended to the Parquet files before the next batch is drawn: memory is one batch's (about
``chunk_users`` x 70 events and a ``chunk_users`` x products matrix), whatever the shop's size.

Shared, drawn once from the shop's seed: the catalogue (the same products as ``simulate`` with that seed gives), the
item factors and bias, the bought-together pairs, the planted audience and the copy of every content id (one per
product, exposure channel and variant, ``C`` + its number). Per batch ``b`` (stream ``[seed, STREAM, b]``): segments,
sign-up, fraud accounts (``fraud_share`` of the batch), user factors, sessions, funnel, churn, fraud patterns, ratings
and the historical campaign's impressions and outcomes, exactly as ``simulate`` draws them for a shop of the batch's
users. Ids are numbered across batches (users ``U``, sessions ``S`` and orders ``O`` continue where the last batch
stopped), so the tables join as one shop.

What differs from ``simulate``: the draws (another stream order), so the same seed gives another shop of the same
distribution; rows are ordered by time within a batch, not across batches; "every segment present" holds per
batch. The planted truth is written as ``simulate``'s (``truth/``), with the sizes summed over the batches.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from contentlab.data.io import META_FILE, TRUTH_DIR, TableWriter, check_partitioning
from contentlab.data.simulate import (
    catalogue,
    exposures,
    response,
    sessions,
    taste,
    truth,
    users,
)
from contentlab.data.simulate.audience import EXPOSURE_CHANNELS, simulate_campaign
from contentlab.data.simulate.behaviour import draw_behaviour
from contentlab.data.simulate.draws import ids
from contentlab.data.simulate.spec import SEGMENTS
from contentlab.data.simulate.state import Settings, ShopState

__all__ = ["simulate_to_parquet", "batch_sizes", "MIN_CHUNK_USERS"]

STREAM = 0x5CA1E  # the batches' streams: default_rng([seed, STREAM, batch])
MIN_CHUNK_USERS = 20  # every batch has at least 10 users (what a shop needs)
TABLE_NAMES = ("users", "products", "events", "ratings", "exposures")


def batch_sizes(n_users: int, chunk_users: int) -> list[int]:
    """``n_users`` split into ``ceil(n_users / chunk_users)`` batches of nearly equal size (each <= chunk_users)."""
    k = max(1, math.ceil(n_users / chunk_users))
    base, extra = divmod(n_users, k)
    return [base + (i < extra) for i in range(k)]


def simulate_to_parquet(out_dir: str | Path, n_users: int = 5000, n_products: int = 800, n_days: int = 90,
                        locale: str = "en", seed: int = 42, start: str = "2026-01-05", n_factors: int = 8,
                        fraud_share: float = 0.01, *, chunk_users: int = 20_000, partition_events: str | None = None,
                        progress: bool = False, **effects: Any) -> dict[str, Any]:
    """Simulate a shop of ``n_users`` users into the dataset directory ``out_dir`` (as
    :func:`~contentlab.data.io.write_dataset` lays it out: ``<table>.parquet``, ``truth/``, ``dataset.json``),
    ``chunk_users`` users at a time. ``partition_events``: ``"day"`` or ``"month"`` writes the events table
    date-partitioned (hive layout), ``None`` as one file. The other arguments are :func:`simulate`'s (``effects``: its
    keyword-only planted-effect settings). Returns the dataset's metadata (also written to ``dataset.json``), with
    the rows per table and the batches."""
    if chunk_users < MIN_CHUNK_USERS:
        raise ValueError(f"chunk_users must be at least {MIN_CHUNK_USERS}, got {chunk_users}")
    check_partitioning(partition_events)
    name = effects.pop("name", None)
    settings = Settings(n_users=n_users, n_products=n_products, n_days=n_days, locale=locale, seed=seed, start=start,
                        n_factors=n_factors, fraud_share=fraud_share, name=name, **effects)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    # the shared parts, from the shop's own stream (its first draws are simulate()'s: the same catalogue)
    shop = ShopState.begin(settings)
    shop.catalogue = catalogue.draw_catalogue(shop)
    items = taste.draw_item_taste(shop)
    pairs = sessions.bought_together_pairs(shop)
    products = catalogue.products_table(shop)
    shop.tables["products"] = products
    prices = truth.typical_prices(shop)
    model = truth.plant_audience(shop)
    n_codes = shop.catalogue.n * len(EXPOSURE_CHANNELS) * 2
    content_ids = ids("C", n_codes, 5)
    copy = exposures.copy_table(shop, np.arange(n_codes), content_ids)
    texts = copy["text"].to_numpy(dtype=object)

    widths = {"user": max(5, len(str(n_users))), "session": max(7, len(str(n_users * 100))),
              "order": max(6, len(str(n_users * 20)))}
    writers = {t: TableWriter(out / f"{t}.parquet", partition_events if t == "events" else None)
               for t in ("users", "events", "ratings", "exposures")}
    tdir = out / TRUTH_DIR
    truth_writers = {t: TableWriter(tdir / f"{t}.parquet") for t in ("users", "user_factors")}
    seg_counts = np.zeros(len(SEGMENTS), dtype=np.int64)
    used_codes = np.zeros(n_codes, dtype=bool)
    fraud_patterns: dict[str, list[str]] = {}
    totals = {"n_sessions": 0, "n_orders": 0, "n_fraud": 0, "n_dropped_out": 0}
    first_user, last = 0, None
    sizes = batch_sizes(n_users, chunk_users)
    for b, nb in enumerate(sizes):
        last = None  # the previous batch goes before this one is drawn
        st = ShopState(settings=dataclasses.replace(settings, n_users=nb), rng=np.random.default_rng([seed, STREAM, b]),
                       start=shop.start, vocab=shop.vocab, stream=(b,))
        st.catalogue = shop.catalogue
        st.people = users.draw_people(st)
        st.people.ids = ids("U", nb, widths["user"], first_user + 1)
        draw_behaviour(st, items, pairs, first_session=totals["n_sessions"] + 1, first_order=totals["n_orders"] + 1,
                       session_width=widths["session"], order_width=widths["order"])
        st.tables["products"] = products
        draws = exposures.impression_draws(st)
        code = exposures.content_code(draws["item"], draws["channel"], draws["variant"])
        used_codes[code] = True
        impressions = exposures.impressions_table(st, draws, content_ids[code], texts[code])
        exp = simulate_campaign(impressions, {"audience": model}, seed=int(st.rng.integers(0, 2**31 - 1)),
                                start=st.start, n_days=n_days, products=products)
        st.tables["exposures"] = exp.sort_values(["timestamp", "user_id", "content_id"],
                                                 kind="stable").reset_index(drop=True)
        for t, w in writers.items():
            w.write(st.tables[t])
        truth_writers["users"].write(truth.users_truth(st))
        truth_writers["user_factors"].write(truth.user_factors_truth(st))
        seg_counts += np.bincount(st.people.segment, minlength=len(SEGMENTS))
        fraud_patterns.update(st.fraud.patterns)
        totals["n_sessions"] += st.events.n_sessions
        totals["n_orders"] += st.events.n_orders
        totals["n_fraud"] += st.people.n_fraud
        totals["n_dropped_out"] += int(st.dropout.dropped_out(st.end_sec).sum())
        first_user += nb
        if progress:
            print(f"simulate_to_parquet: batch {b + 1}/{len(sizes)}, {writers['events'].rows:,} events, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        last = st
        del st, draws, code, impressions, exp
    assert last is not None

    for w in (*writers.values(), *truth_writers.values()):
        w.close()
    products.to_parquet(out / "products.parquet", index=False)
    rows = {t: w.rows for t, w in writers.items()} | {"products": len(products)}

    # the planted truth, as simulate() writes it
    segments = truth.segment_description(last, prices)
    for k, seg in enumerate(SEGMENTS):
        segments[seg]["n_users"] = int(seg_counts[k])
    for key, frame in truth.item_truth(shop, items).items():
        frame.to_parquet(tdir / f"{key}.parquet", index=False)
    response.reference_response(model, prices).to_parquet(tdir / "response.parquet", index=False)
    response.copy_weights_table(model).to_parquet(tdir / "copy_weights.parquet", index=False)
    copy[used_codes].reset_index(drop=True).to_parquet(tdir / "historical_copy.parquet", index=False)
    (tdir / "segments.json").write_text(json.dumps(segments, indent=2, ensure_ascii=False), encoding="utf-8")
    summary = truth.truth_summary(last)
    summary["sizes"] = {"n_users": int(n_users), "n_products": int(n_products), "n_days": int(n_days),
                        "n_factors": int(n_factors), "n_events": int(rows["events"]), "n_ratings": int(rows["ratings"]),
                        "n_exposures": int(rows["exposures"]), "n_sessions": int(totals["n_sessions"]),
                        "n_orders": int(totals["n_orders"]), "n_fraud": int(totals["n_fraud"])}
    summary["dropout"]["n_dropped_out"] = int(totals["n_dropped_out"])
    summary["fraud"] = fraud_patterns
    summary["audience"] = model
    (tdir / "truth.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str), encoding="utf-8")

    meta = {"source": "contentlab.data.simulate.simulate_to_parquet", "seed": int(seed), "start": str(shop.start.date()),
            "n_days": int(n_days), "currency": "USD" if locale == "en" else "CNY",
            "name": name or f"simulated-{locale}-{n_users}u-{n_products}p-{n_days}d-s{seed}-chunked",
            "locale": locale, "tables": sorted(TABLE_NAMES), "has_truth": True, "rows": rows,
            "chunk_users": int(chunk_users), "batches": len(sizes), "seconds": round(time.perf_counter() - t0, 1)}
    if partition_events:
        meta["events_partitioning"] = partition_events
    (out / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return meta
