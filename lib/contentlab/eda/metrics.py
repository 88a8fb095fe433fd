"""The headline numbers of stage 01: the metrics its notebook records (the run manifest and index show them).

Definitions of orders, sessions, funnel units and shares: :mod:`contentlab.eda.queries`. In recording order:

- ``events_rows``, ``users``, ``products``: rows of the prepared (clean) tables;
- ``rows_rejected``, ``rows_repaired``: rows validation rejected / repaired over all tables; ``rows_excluded_by_adapter``:
  source rows the adapter could not map (``None`` without a validation report / adapter step);
- ``date_start``, ``date_end``, ``days``: the log's first and last day and the days between them (inclusive);
- ``active_users``, ``sessions``, ``orders``, ``units_sold``, ``gmv``, ``aov`` (GMV per order),
  ``mean_daily_active_users`` (user-days / days);
- ``view_events``, ``cart_events``, ``purchase_events``: events of each type;
- ``conversion_view_to_purchase``, ``conversion_view_to_cart``, ``conversion_cart_to_purchase``: the session funnel;
  ``purchases_per_view``: the event-count ratio; ``user_conversion_view_to_purchase``: the user funnel;
- ``purchasers``, ``repeat_purchase_rate``: purchasing users, share of them with two or more orders;
- ``top10_user_event_share``, ``gini_user_events``: concentration of events over users;
- ``top20_product_share``, ``catalogue_coverage``: concentration of purchases (events when there are none) over
  products, share of the catalogue with at least one;
- ``mean_basket_units``: units per order; ``categories``: distinct product categories;
- ``top_category``, ``top_category_gmv_share``: the category with the most GMV and its share (only with purchases
  and more than one category).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from contentlab.eda.quality import DataQuality
from contentlab.eda.queries import (
    basket_summary,
    capabilities,
    funnel,
    item_popularity,
    order_key_sql,
    ratio,
    repeat_purchase,
    session_key_sql,
    top_categories,
    user_activity,
)
from contentlab.store import EventStore


def key_metrics(store: EventStore, validation: Any = None) -> dict[str, Any]:
    """The headline numbers of the dataset (plain Python scalars; ``NaN`` where not applicable).

    Includes the metrics the run manifest must carry: ``events_rows``, ``rows_rejected``, ``users``,
    ``products`` (rows of the clean tables), ``conversion_view_to_purchase`` (session funnel),
    ``repeat_purchase_rate`` and ``gmv``; every name is listed in the module docstring. ``validation``: anything
    :meth:`~contentlab.eda.quality.DataQuality.of` takes (``None``: no validation report).
    """
    quality = DataQuality.of(validation)
    m: dict[str, Any] = {
        "events_rows": store.count("events"),
        "rows_rejected": quality.rows_rejected if quality else None,
        "rows_repaired": quality.rows_repaired if quality else None,
        "rows_excluded_by_adapter": quality.rows_excluded_by_adapter if quality else None,
        "users": store.count("users"),
        "products": store.count("products"),
    }
    caps = capabilities(store)
    if m["events_rows"]:
        ok = order_key_sql(store)
        row = store.sql(f"""
            SELECT MIN(timestamp) AS t0, MAX(timestamp) AS t1, COUNT(DISTINCT user_id) AS active_users,
                   COUNT(DISTINCT {session_key_sql()}) AS sessions,
                   COUNT(DISTINCT CASE WHEN event_type = 'purchase' THEN {ok} END) AS orders,
                   COALESCE(SUM(CASE WHEN event_type = 'purchase' THEN quantity END), 0) AS units,
                   COALESCE(SUM(CASE WHEN event_type = 'purchase' THEN price * quantity END), 0) AS gmv
            FROM events""").iloc[0]
        t0, t1 = pd.Timestamp(row["t0"]), pd.Timestamp(row["t1"])
        m.update(date_start=t0.date().isoformat(), date_end=t1.date().isoformat(),
                 days=int((t1.normalize() - t0.normalize()).days) + 1,
                 active_users=int(row["active_users"]), sessions=int(row["sessions"]),
                 orders=int(row["orders"]), units_sold=int(row["units"]), gmv=float(row["gmv"]))
        m["aov"] = ratio(m["gmv"], m["orders"])
        m["mean_daily_active_users"] = ratio(
            store.scalar("SELECT COUNT(*) FROM (SELECT DISTINCT CAST(timestamp AS DATE), user_id FROM events)"),
            m["days"])
    else:
        m.update(date_start=None, date_end=None, days=0, active_users=0, sessions=0, orders=0, units_sold=0,
                 gmv=0.0, aov=float("nan"), mean_daily_active_users=float("nan"))
    for kind in ("view", "cart", "purchase"):
        m[f"{kind}_events"] = caps.event_counts.get(kind, 0)
    f = funnel(store)
    if len(f):
        r = f.iloc[0]
        m.update(conversion_view_to_purchase=float(r["view_to_purchase"]),
                 conversion_view_to_cart=float(r["view_to_cart"]) if caps.has_carts else float("nan"),
                 conversion_cart_to_purchase=float(r["cart_to_purchase"]) if caps.has_carts else float("nan"),
                 purchases_per_view=float(r["purchases_per_view"]))
        fu = funnel(store, unit="user").iloc[0]
        m["user_conversion_view_to_purchase"] = float(fu["view_to_purchase"])
    else:
        m.update(conversion_view_to_purchase=float("nan"), conversion_view_to_cart=float("nan"),
                 conversion_cart_to_purchase=float("nan"), purchases_per_view=float("nan"),
                 user_conversion_view_to_purchase=float("nan"))
    rp = repeat_purchase(store)
    m["purchasers"] = rp["purchasers"]
    m["repeat_purchase_rate"] = rp["repeat_purchase_rate"]
    ua = user_activity(store)
    m["top10_user_event_share"] = ua.summary.get("top10_share", float("nan"))
    m["gini_user_events"] = ua.summary.get("gini", float("nan"))
    ip = item_popularity(store, "purchase" if caps.has_purchases else None)
    m["top20_product_share"] = ip.summary.get("top20_share", float("nan"))
    m["catalogue_coverage"] = ip.summary.get("coverage", float("nan"))
    bs = basket_summary(store)
    m["mean_basket_units"] = bs.get("mean_units", float("nan"))
    m["categories"] = caps.n_categories
    if caps.has_purchases and caps.has_categories:
        tc = top_categories(store, n=1)
        if len(tc):
            m["top_category"] = str(tc["category"].iloc[0])
            m["top_category_gmv_share"] = float(tc["gmv_share"].iloc[0])
    return m
