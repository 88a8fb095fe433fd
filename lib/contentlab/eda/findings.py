"""Findings of stage 01 in words: the Markdown the report prints (summary bullets and section paragraphs).

Every number comes from the metrics and tables passed in (no number is written into the text); data text
(categories, channels, dataset names) is escaped with :func:`contentlab.fmt.esc_md`, numbers and shares are
printed with :func:`contentlab.fmt.num` / :func:`contentlab.fmt.pct` ("n/a" when missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from contentlab.data.adapters import AdapterReport
from contentlab.eda.queries import mean_retention
from contentlab.fmt import esc_md, num, pct
from contentlab.privacy import MIN_CELL


def _plural(n: Any, word: str, plural: str | None = None) -> str:
    return f"{num(n)} {word if n == 1 else (plural or word + 's')}"


def findings_markdown(metrics: dict[str, Any], funnel_by_category: pd.DataFrame | None = None,
                      funnel_by_channel: pd.DataFrame | None = None, retention: pd.DataFrame | None = None,
                      daily: pd.DataFrame | None = None, currency: str = "",
                      segments: pd.DataFrame | None = None) -> str:
    """Key findings as Markdown bullet points, computed from the metrics and tables (no fixed text numbers)."""
    m = metrics
    cur = f"{currency} " if currency else ""
    lines = ["## Key findings", ""]
    span = f"{m.get('date_start')} to {m.get('date_end')} ({m.get('days')} days)" if m.get("date_start") else "no dates"
    lines.append(f"- **Data**: {_plural(m.get('events_rows'), 'event')} from {num(m.get('active_users'))} active "
                 f"users (of {num(m.get('users'))}) on {_plural(m.get('products'), 'product')}, {span}.")
    rej = m.get("rows_rejected")
    if rej is not None:
        rep = m.get("rows_repaired")
        extra = f", {num(rep)} repaired" if rep else ""
        excl = m.get("rows_excluded_by_adapter")
        before = f"; {_plural(excl, 'source row')} not mapped by the adapter before validation" if excl else ""
        lines.append(f"- **Data quality**: {_plural(rej, 'input row')} rejected by validation{extra}{before}.")
    lines.append(f"- **Sales**: GMV {cur}{num(m.get('gmv'))} from {num(m.get('orders'))} orders "
                 f"(average order value {cur}{num(m.get('aov'))}, {num(m.get('mean_basket_units'))} units per "
                 f"basket); {num(m.get('mean_daily_active_users'))} daily active users on average.")
    if daily is not None and len(daily) >= 7 and daily["gmv"].sum() > 0:
        dow = daily.assign(dow=daily["date"].dt.day_name()).groupby("dow")["gmv"].mean()
        lines.append(f"- **Weekly rhythm**: GMV peaks on {dow.idxmax()}s ({cur}{num(dow.max())} per day on average) "
                     f"and is lowest on {dow.idxmin()}s ({cur}{num(dow.min())}).")
    conv = m.get("conversion_view_to_purchase")
    if conv is not None and not (isinstance(conv, float) and math.isnan(conv)):
        lines.append(f"- **Funnel**: {pct(conv)} of sessions with a product view end in a purchase "
                     f"({pct(m.get('conversion_view_to_cart'))} add to cart, {pct(m.get('conversion_cart_to_purchase'))} "
                     f"of carting sessions buy); per user, {pct(m.get('user_conversion_view_to_purchase'))} of viewers "
                     "ever purchase.")
    else:
        lines.append("- **Funnel**: not measurable: the data has no product views (purchases only).")
    for label, fb in (("category", funnel_by_category), ("channel", funnel_by_channel)):
        if fb is not None and len(fb) > 1:
            fb = fb[fb["viewers"] >= max(20, 0.01 * fb["viewers"].sum())]
            if "users" in fb:
                fb = fb[fb["users"] >= MIN_CELL]  # the small-cell rule: a group this small is not named
            if len(fb) > 1:
                hi = fb.loc[fb["view_to_purchase"].idxmax()]
                lo = fb.loc[fb["view_to_purchase"].idxmin()]
                lines.append(f"- **Conversion by {label}**: highest in *{esc_md(hi['group'])}* ({pct(hi['view_to_purchase'])}), "
                             f"lowest in *{esc_md(lo['group'])}* ({pct(lo['view_to_purchase'])}).")
    lines.append(f"- **Repeat purchase**: {pct(m.get('repeat_purchase_rate'))} of {num(m.get('purchasers'))} "
                 "purchasing users ordered at least twice.")
    if retention is not None and not retention.empty:
        w1 = mean_retention(retention, 1)
        # the longest horizon that cohorts holding at least 30% of the cohort users have reached
        sizes = pd.Series(retention.attrs.get("cohort_size", {}), dtype=float)
        total = sizes.sum()
        reached = [k for k in retention.columns if k >= 1 and total and
                   sum(sizes.get(str(i), 0) for i in retention.index[retention[k].notna()]) >= 0.3 * total]
        last = max(reached) if reached else 1
        wl = mean_retention(retention, last)
        text = f"- **Retention**: {pct(w1)} of a signup cohort is active in the week after its signup week"
        if last > 1:
            text += f", {pct(wl)} {last} weeks after it"
        lines.append(text + " (cohort-size weighted over the cohorts observed that long).")
    tail = (f"- **Long tails**: the most active 10% of users generate {pct(m.get('top10_user_event_share'))} of "
            f"all events (Gini {num(m.get('gini_user_events'))})")
    if (m.get("products") or 0) >= 10:
        tail += (f"; the top 20% of products take {pct(m.get('top20_product_share'))} of purchases and "
                 f"{pct(m.get('catalogue_coverage'))} of the catalogue sold at least once")
    lines.append(tail + ".")
    if segments is not None and len(segments) and segments["lift"].notna().any():
        lifts = segments["lift"].dropna()
        lines.append(f"- **Planted segments** (simulated data): every true segment buys its planted favourite "
                     f"categories {lifts.min():.1f}–{lifts.max():.1f}× as often as other users do"
                     + ("." if (lifts > 1).all() else f" (lift below 1 for {int((lifts <= 1).sum())} segment(s))."))
    if m.get("top_category"):
        lines.append(f"- **Top category**: *{esc_md(m['top_category'])}* with {pct(m.get('top_category_gmv_share'))} of GMV.")
    return "\n".join(lines)


def dataset_markdown(name: str, meta: dict[str, Any], metrics: dict[str, Any], tables: Iterable[str]) -> str:
    """One paragraph naming the dataset, its period and sizes."""
    src = meta.get("kind") or meta.get("source") or "unknown source"
    if isinstance(src, dict):
        src = src.get("kind", "custom")
    span = (f"{metrics['date_start']} to {metrics['date_end']} ({metrics['days']} days)"
            if metrics.get("date_start") else "no events")
    return (f"**Dataset** {esc_md(name)} ({esc_md(src)}, locale {esc_md(meta.get('locale', 'en'))}): "
            f"{_plural(metrics.get('events_rows'), 'event')}, {_plural(metrics.get('users'), 'user')}, "
            f"{_plural(metrics.get('products'), 'product')}; {span}. Tables: {esc_md(', '.join(tables))}.")


def basket_markdown(summary: dict[str, float], currency: str = "") -> str:
    cur = f" {currency}" if currency else ""
    return (f"{num(summary.get('orders'))} orders; on average {num(summary.get('mean_units'))} units "
            f"(median {num(summary.get('median_units'))}) and {num(summary.get('mean_distinct_products'))} distinct "
            f"products per order; {pct(summary.get('multi_product_share'))} of orders contain two or more products. "
            f"Average order value {num(summary.get('aov'))}{cur}, median {num(summary.get('median_order_value'))}{cur}.")


def repeat_markdown(repeat: dict[str, float]) -> str:
    text = (f"**Repeat-purchase rate: {pct(repeat.get('repeat_purchase_rate'))}** — "
            f"{num(repeat.get('repeat_purchasers'))} of {num(repeat.get('purchasers'))} purchasing users ordered "
            f"at least twice ({num(repeat.get('mean_orders_per_purchaser'))} orders per purchaser on average).")
    gap = repeat.get("median_days_to_second_order")
    if gap is not None and not (isinstance(gap, float) and math.isnan(gap)):
        text += f" The median time from first to second order is {gap:.1f} days."
    return text


def adapter_markdown(adapter: AdapterReport | None) -> str | None:
    """One paragraph on the source adapter's row accounting (``None`` when there was no adapter step)."""
    if adapter is None or (not adapter.adapter and not adapter.rows_read):
        return None
    text = (f"The **{esc_md(adapter.adapter or 'source')}** adapter read {num(adapter.rows_read)} source rows "
            f"and mapped {num(adapter.rows_mapped)}; {num(adapter.rows_excluded)} rows were excluded before "
            "validation (first reason per row in the table below).")
    if adapter.notes:
        text += "\n\n" + "\n".join(f"- {esc_md(n)}" for n in adapter.notes)
    return text
