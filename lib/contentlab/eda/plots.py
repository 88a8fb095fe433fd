"""Every figure of the 01 report, one function each (shared style and helpers from :mod:`contentlab.plotting`).

Each function takes the tables :func:`contentlab.eda.run_eda` computed and returns a matplotlib ``Figure`` with
a title, axis labels and units, or ``None`` when there is nothing to draw (the notebook then says why).
Tables of people are passed here only after the small-cell rule (:meth:`contentlab.eda.EdaResult.shown`).
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from contentlab import plotting
from contentlab.eda.queries import LongTail, funnel_stages


def daily_volumes(daily: pd.DataFrame, currency: str) -> Figure:
    """Daily active users, sessions, orders and GMV, one panel each."""
    return plotting.time_series_panel(
        daily, "date",
        [("active_users", "Daily active users", "users"), ("sessions", "Sessions", "sessions per day"),
         ("orders", "Orders", "orders per day"), ("gmv", "GMV", f"{currency} per day")],
        title="Daily volumes")


def session_funnel(funnel: pd.DataFrame) -> Figure | None:
    """The overall session funnel (view → cart → purchase) as bars; ``None`` without a funnel."""
    if funnel.empty:
        return None
    return plotting.funnel_bars(funnel_stages(funnel.iloc[0]), title="Session funnel: view → cart → purchase",
                                unit_label="sessions")


def conversion_by(groups: pd.DataFrame, *, xlabel: str, title: str) -> Figure | None:
    """View → cart and view → purchase shares per group (category, channel); ``None`` when no group is shown."""
    if groups is None or groups.empty:
        return None
    return plotting.share_bars(groups, "group", ["view_to_cart", "view_to_purchase"],
                               labels=["view → cart", "view → purchase"], xlabel=xlabel,
                               ylabel="share of viewing sessions", title=title)


def retention_heatmap(shown: pd.DataFrame) -> Figure | None:
    """The retention matrix as the report shows it (:func:`contentlab.eda.retention_display`); colours scaled to
    weeks 1 and later when there are any."""
    if shown.empty:
        return None
    return plotting.heatmap_pct(shown, title="Weekly retention by signup cohort", xlabel="weeks since signup week",
                                ylabel="signup week (cohort size)", cbar_label="share of cohort active",
                                scale_from_col=1 if shown.shape[1] > 1 else 0)


def long_tails(activity: LongTail, popularity: LongTail, sold: LongTail | None = None) -> Figure:
    """Left: events per user and per product by rank (log–log). Right: Lorenz curves of users' events, products'
    events and (when there are purchases) products' purchases."""
    fig, axes = plotting.subplots(1, 2, figsize=(12, 4.8))
    plotting.rank_frequency({"events per user": activity.counts, "events per product": popularity.counts},
                            title="Rank–frequency (log–log)", xlabel="rank (1 = most active)", ylabel="events",
                            ax=axes[0])
    curves = [(activity, "users (events)"), (popularity, "products (events)")]
    if sold is not None:
        curves.append((sold, "products (purchases)"))
    for tail, label in curves:
        plotting.lorenz(*tail.lorenz(), title="Concentration of activity", entity="users / products",
                        measure="events", label=label, ax=axes[1])
    return fig


def price_boxes(prices: pd.DataFrame, currency: str) -> Figure:
    """List prices per category (boxes: quartiles; whiskers: 5th–95th percentile; diamond: mean)."""
    return plotting.box_from_stats(prices, title="List price by category", ylabel="list price", unit=currency,
                                   label="category", xlabel="product category")


def basket_sizes(baskets: pd.DataFrame) -> Figure | None:
    """Orders by units per order (8 and more in one bar); ``None`` without purchases."""
    if baskets.empty:
        return None
    return plotting.count_bars(baskets, "units", "orders", title="Basket size", xlabel="units per order",
                               ylabel="orders", clip=8)


def orders_per_user(per_user: pd.DataFrame) -> Figure | None:
    """Purchasing users by number of orders (10 and more in one bar); ``None`` without purchases."""
    if per_user.empty:
        return None
    return plotting.count_bars(per_user, "orders", "users", title="Orders per purchasing user",
                               xlabel="orders in the period", ylabel="purchasing users", clip=10)


def category_gmv(categories: pd.DataFrame, currency: str) -> Figure | None:
    """GMV per category with its share; ``None`` unless there are at least two categories to compare."""
    if len(categories) <= 1:
        return None
    return plotting.hbar(categories, "category", "gmv", title="GMV by category", xlabel="GMV", unit=currency,
                         ylabel="product category", share="gmv_share")
