"""Tables and text of the profiling report (02): segment and RFM tables with the small-cell rule,
persona cards, readable rules, top customers (pseudonymised) and the computed findings.

Small-cell rule: a segment with fewer than ``min_cell`` (5) users is never shown on its own. Such
segments are merged into one row "Other (merged small segments)"; if that row still has fewer than
``min_cell`` users it is suppressed (left out, and the table says how many users it omits).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from contentlab.privacy import merge_small_cells, pseudonymise
from contentlab.profiling.rfm import RFM_SEGMENTS
from contentlab.profiling.segments import FLAGGED_SEGMENT, INACTIVE_SEGMENT

__all__ = ["MERGED_LABEL", "SMALL_CELL_RULE", "segment_table", "rfm_segment_table", "rfm_mapping_table",
           "esc", "data_source", "informative_columns", "grouped_reasons", "persona_card", "readable_rules", "top_customers", "findings_markdown", "risk_reason_table"]

MERGED_LABEL = "Other (merged small segments)"
SMALL_CELL_RULE = ("Segments with fewer than {n} users are not shown on their own: they are merged into one row "
                   "\"Other (merged small segments)\", which is suppressed if it still has fewer than {n} users.")


def _merge_small(agg: pd.DataFrame, label: str, min_cell: int) -> tuple[pd.DataFrame, int]:
    """Merge rows with users < min_cell (sums); returns the table and the number of users suppressed."""
    return merge_small_cells(agg, "users", label, min_cell, MERGED_LABEL)


def segment_table(profiles: pd.DataFrame, min_cell: int = 5, include_excluded: bool = True) -> tuple[pd.DataFrame, int]:
    """Per segment: users, share of users, revenue share, orders per user, total and mean CLV, mean P(alive)
    (each left out when the data cannot give it: no purchases, no CLV, or drop-out the model could not see).

    Returns the table and the number of users suppressed by the small-cell rule.
    """
    p = profiles.copy()
    p["_clv"] = p["clv"].fillna(0.0) if "clv" in p else 0.0
    p["_alive"] = p["p_alive"] if "p_alive" in p else np.nan
    g = p.groupby("segment", observed=True, dropna=False)
    agg = pd.DataFrame({
        "users": g.size(),
        "buyers": g["frequency"].apply(lambda s: int((s > 0).sum())),
        "orders": g["frequency"].sum(),
        "revenue": g["monetary"].sum(),
        "clv_total": g["_clv"].sum(),
        "_alive_sum": g["_alive"].sum(min_count=1),
        "_alive_n": g["_alive"].count(),
    }).reset_index()
    agg["segment"] = agg["segment"].astype(str)
    special = agg["segment"].isin([FLAGGED_SEGMENT, INACTIVE_SEGMENT])
    main, suppressed = _merge_small(agg[~special].sort_values("revenue", ascending=False), "segment", min_cell)
    parts = [main]
    if include_excluded:
        sp, sup2 = _merge_small(agg[special], "segment", min_cell)
        parts.append(sp)
        suppressed += sup2
    out = pd.concat(parts, ignore_index=True)
    total_users = len(profiles)
    total_rev = float(profiles["monetary"].sum())
    out["share_of_users"] = out["users"] / total_users
    out["revenue_share"] = out["revenue"] / total_rev if total_rev else np.nan
    out["orders_per_user"] = out["orders"] / out["users"]
    out["clv_mean"] = out["clv_total"] / out["buyers"].replace(0, np.nan)
    out["p_alive_mean"] = out["_alive_sum"] / out["_alive_n"].replace(0, np.nan)
    # columns the data cannot fill are left out rather than shown empty: no purchases at all (a ratings-only
    # dataset) -> no revenue or orders; no CLV fitted -> no CLV; no drop-out seen -> no P(alive)
    has_orders = bool((profiles["frequency"] > 0).any())
    has_clv = "clv" in profiles and bool(profiles["clv"].notna().any())
    cols = (["segment", "users", "share_of_users"]
            + (["revenue", "revenue_share", "orders_per_user"] if has_orders else [])
            + (["clv_total", "clv_mean"] if has_clv else [])
            + (["p_alive_mean"] if out["p_alive_mean"].notna().any() else []))
    out = out[cols]
    out["users"] = out["users"].astype("int64")
    return out, suppressed


def rfm_segment_table(profiles: pd.DataFrame, min_cell: int = 5) -> tuple[pd.DataFrame, int]:
    """Per named RFM segment: customers, share, revenue share, mean R/F/M scores, mean CLV."""
    p = profiles[profiles["R"].notna()].copy()
    p["_clv"] = p["clv"].fillna(0.0) if "clv" in p else 0.0
    for c in ("R", "F", "M"):
        p[c] = p[c].astype(float)
    g = p.groupby("rfm_segment", observed=True)
    agg = pd.DataFrame({
        "users": g.size(), "revenue": g["monetary"].sum(), "clv_total": g["_clv"].sum(),
        "_R": g["R"].sum(), "_F": g["F"].sum(), "_M": g["M"].sum(),
    }).reset_index()
    agg["rfm_segment"] = agg["rfm_segment"].astype(str)
    order = {name: i for i, name in enumerate(RFM_SEGMENTS)}
    agg = agg.sort_values("rfm_segment", key=lambda s: s.map(order))
    out, suppressed = _merge_small(agg.rename(columns={"rfm_segment": "segment"}), "segment", min_cell)
    total_users = len(p)
    total_rev = float(p["monetary"].sum())
    out["share_of_customers"] = out["users"] / total_users
    out["revenue_share"] = out["revenue"] / total_rev if total_rev else np.nan
    for c in ("R", "F", "M"):
        out[f"mean_{c}"] = out[f"_{c}"] / out["users"]
    out["clv_mean"] = out["clv_total"] / out["users"]
    out = out.rename(columns={"segment": "rfm_segment", "users": "customers"})
    out["customers"] = out["customers"].astype("int64")
    return out[["rfm_segment", "customers", "share_of_customers", "revenue_share", "mean_R", "mean_F", "mean_M",
                "clv_mean"]], suppressed


def rfm_mapping_table() -> pd.DataFrame:
    """The R/F grid as documented in :mod:`contentlab.profiling.rfm`."""
    def span(v):
        return str(v[0]) if len(v) == 1 else f"{min(v)}–{max(v)}"
    return pd.DataFrame([{"segment": name, "R score": span(rs), "F score": span(fs)} for name, (rs, fs) in RFM_SEGMENTS.items()])


def esc(x) -> str:
    """Data text made safe for Markdown cells rendered to HTML."""
    return html.escape(str(x), quote=False)


def data_source(meta: dict | None) -> str:
    """Which input the figures come from, for the report: the input file names recorded by stage 01
    (e.g. "CDNOW_sample.txt"), or the simulated shop's name."""
    meta = meta or {}
    if meta.get("kind") == "demo":
        return f"the simulated shop {meta.get('name', '')}".rstrip()
    files = [str(f).replace("\\", "/").rsplit("/", 1)[-1] for f in (meta.get("inputs") or {})]
    files = [f for f in files if f and f != "dataset.json"]
    if not files:
        return f"dataset {meta.get('name', 'unnamed')}"
    return ("file " if len(files) == 1 else "files ") + ", ".join(sorted(set(files)))


def _pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def persona_card(persona: dict, currency: str = "") -> str:
    """Markdown card of one persona record (data text HTML-escaped)."""
    lines = [f"### {esc(persona['persona_id'])} · {esc(persona['name'])}"
             + (f" ({esc(persona['name_zh'])})" if persona.get("name_zh") else "")]
    rev = persona.get("revenue_share")
    facts = [f"**{persona['size']:,} {'customers' if rev is not None else 'users'}** "
             f"({_pct(persona['share_of_users'])} of segmented users"
             + (f", {_pct(rev)} of their revenue)" if rev is not None else ")")]
    if persona.get("price_band") and persona["price_band"] != "unknown":
        facts.append(f"price band **{esc(persona['price_band'])}**")
    if persona.get("preferred_channel"):
        facts.append(f"prefers **{esc(persona['preferred_channel'])}**")
    if persona.get("favourite_categories"):
        facts.append("favourite categories: " + ", ".join(esc(c) for c in persona["favourite_categories"]))
    m = persona.get("metrics", {})
    if m.get("clv_mean") is not None:
        facts.append(f"mean CLV {m['clv_mean']:,.2f}{(' ' + esc(currency)) if currency else ''}")
    lines.append(" · ".join(facts))
    lines.append("")
    lines += [f"- {esc(t)}" for t in persona.get("traits", [])]
    lines.append("")
    lines.append(f"> {esc(persona.get('text_en', ''))}")
    if persona.get("text_zh"):
        lines.append(">")
        lines.append(f"> {esc(persona['text_zh'])}")
    return "\n".join(lines)


def readable_rules(rules: pd.DataFrame, products: pd.DataFrame | None, n: int = 10, segment: str | None = "all") -> pd.DataFrame:
    """Top rules by lift with product titles: "if bought" -> "also bought"."""
    r = rules if segment is None else rules[rules["segment"] == segment]
    r = r.sort_values(["lift", "confidence"], ascending=False).head(n)
    titles = {}
    if products is not None and "title" in products:
        titles = dict(zip(products["product_id"].astype(str), products["title"].astype(str)))

    def name(ids):
        return " + ".join(titles.get(str(i), str(i)) for i in ids)

    return pd.DataFrame({
        "segment": r["segment"].astype(str),
        "if_bought": r["antecedents"].map(name),
        "also_bought": r["consequents"].map(name),
        "baskets": r["count"].astype("int64"),
        "support": r["support"], "confidence": r["confidence"], "lift": r["lift"],
    }).reset_index(drop=True)


def top_customers(profiles: pd.DataFrame, n: int = 10, horizon_days: int = 90) -> pd.DataFrame:
    """Highest-CLV customers with pseudonymised ids."""
    p = profiles[profiles["clv"].notna()].sort_values("clv", ascending=False).head(n)
    exp_col = f"expected_purchases_{horizon_days}d"
    out = pd.DataFrame({
        "customer": list(pseudonymise(p["user_id"].astype(str))),
        "segment": p["segment"].astype(str).to_numpy(),
        "rfm_segment": p["rfm_segment"].astype(str).to_numpy(),
        "orders": p["frequency"].astype("int64").to_numpy(),
        "revenue": p["monetary"].to_numpy(),
        "p_alive": p["p_alive"].to_numpy() if "p_alive" in p else np.nan,
        f"expected_orders_{horizon_days}d": p[exp_col].to_numpy() if exp_col in p else np.nan,
        "clv": p["clv"].to_numpy(),
    })
    # no P(alive) when the model could not see drop-out: the column would only say "unknown"
    return out if out["p_alive"].notna().any() else out.drop(columns="p_alive")


def informative_columns(table: pd.DataFrame, keep: tuple[str, ...] = ("segment", "size")) -> pd.DataFrame:
    """``table`` without the columns that are empty or the same in every row (e.g. nominal prices, or orders on a
    ratings-only dataset): they describe no segment."""
    cols = [c for c in table.columns if c in keep or table[c].nunique(dropna=True) > 1]
    return table[cols]


def grouped_reasons(reasons: dict[str, str]) -> str:
    """``{item: reason}`` as Markdown, one phrase per distinct reason: "*a*, *b*: reason; *c*: other"."""
    by: dict[str, list[str]] = {}
    for item, why in reasons.items():
        by.setdefault(why, []).append(item)
    return "; ".join(", ".join(f"*{esc(i)}*" for i in items) + f": {esc(why)}" for why, items in by.items())


def risk_reason_table(risk_table: pd.DataFrame) -> pd.DataFrame:
    """How often each signal fired among flagged accounts."""
    f = risk_table[risk_table["is_flagged"]]
    counts: dict[str, int] = {}
    for reasons in f["reasons"]:
        for r in [x for x in str(reasons).split("; ") if x]:
            counts[r] = counts.get(r, 0) + 1
    return pd.DataFrame(sorted(counts.items(), key=lambda kv: -kv[1]), columns=["signal", "flagged_accounts"])


def findings_markdown(result, personas: list[dict], rules: pd.DataFrame, seg_table: pd.DataFrame, *,
                      ari: float | None = None, precision: float | None = None, recall: float | None = None,
                      rules_note: str | None = None, currency: str = "", min_cell: int = 5, source: str = "") -> str:
    """The report's summary: computed findings, one bullet each."""
    prof = result.profiles
    cur = f" {currency}" if currency else ""
    n_users = len(prof)
    n_buyers = int((prof["frequency"] > 0).sum())
    lines = ["## Summary", ""]
    lines.append(f"- **{n_users:,} users profiled**, {n_buyers:,} of them with at least one purchase; "
                 f"{int(prof['is_flagged'].sum()):,} accounts flagged as risky and excluded from segmentation.")
    cl = result.clustering
    if cl is not None:
        main = seg_table[~seg_table["segment"].isin([FLAGGED_SEGMENT, INACTIVE_SEGMENT])]
        has_rev = "revenue_share" in main
        top = main.sort_values("revenue_share", ascending=False).iloc[0] if len(main) and has_rev else None
        txt = (f"- **{cl.k} behavioural segments** (K-means, k chosen by silhouette = {cl.silhouette:.2f}): "
               + ", ".join(f"{esc(r.segment)} ({r.users:,})" for r in main.itertuples()) + ".")
        lines.append(txt)
        if top is not None:
            value = (f" and {_pct(top['clv_total'] / max(main['clv_total'].sum(), 1e-12))} of the segments' expected value"
                     if "clv_total" in main else "")
            lines.append(f"- The most valuable segment is **{esc(top['segment'])}**: {_pct(top['share_of_users'])} of users "
                         f"bring {_pct(top['revenue_share'])} of revenue{value}.")
    if ari is not None and not (isinstance(ari, float) and math.isnan(ari)):
        lines.append(f"- Against the simulator's planted segments the clustering reaches an **adjusted Rand index of {ari:.2f}** "
                     f"(1 = identical partitions, 0 = chance).")
    buyers = prof[prof["R"].notna()]
    if len(buyers):
        rev = buyers["monetary"].sum()
        best = buyers["rfm_segment"].isin(["Champions", "Loyal Customers"])
        risk = buyers["rfm_segment"].isin(["At Risk", "Can't Lose"])
        lines.append(f"- RFM: Champions and Loyal Customers are {_pct(best.mean())} of customers and bring "
                     f"{_pct(buyers.loc[best, 'monetary'].sum() / rev if rev else float('nan'))} of revenue; "
                     f"{int(risk.sum()):,} customers are At Risk or Can't Lose (bought often, not recently).")
    v = result.clv
    if v.bgnbd is not None:
        p = v.bgnbd.params
        clv_total = float(prof["clv"].sum(skipna=True))
        c = prof["clv"].dropna().sort_values(ascending=False)
        top10 = c.head(max(1, int(math.ceil(0.1 * len(c))))).sum() / c.sum() if c.sum() else float("nan")
        lines.append(f"- Expected customer value over the next {v.horizon_days} days: **{clv_total:,.0f}{cur}** in total "
                     f"(BG/NBD r={p['r']:.4g}, α={p['alpha']:.4g}, a={p['a']:.4g}, b={p['b']:.4g}, fitted on the whole "
                     f"log {v.log_start:%Y-%m-%d} to {v.log_end:%Y-%m-%d}{' of ' + esc(source) if source else ''}); the "
                     f"top 10% of customers hold {_pct(top10)} of it.")
        if v.calibration is not None:
            act = float(v.calibration["frequency_holdout"].sum())
            pred = float(v.calibration["predicted_holdout"].sum())
            window = (f"calibration {v.log_start:%Y-%m-%d} to {v.calibration_end:%Y-%m-%d}, holdout "
                      f"{v.holdout_start:%Y-%m-%d} to {v.log_end:%Y-%m-%d}")
            cp = v.calibration_bgnbd.params
            lines.append(f"- Holdout check ({window}): BG/NBD fitted on the calibration period (r={cp['r']:.3g}, "
                         f"α={cp['alpha']:.3g}, a={cp['a']:.3g}, b={cp['b']:.3g}) predicted {pred:,.0f} repeat purchase "
                         f"days in the holdout, {act:,.0f} happened ({(pred - act) / act:+.0%})." if act else
                         f"- Holdout check ({window}): no purchases in the holdout period.")
    for note in v.notes:
        lines.append(f"- CLV note: {esc(note)}.")
    if rules_note:
        lines.append(f"- Association rules skipped: {esc(rules_note)}.")
    else:
        n_all = int((rules["segment"] == "all").sum())
        lines.append(f"- **{len(rules):,} association rules** ({n_all:,} over all baskets, the rest within segments)"
                     + (f"; strongest: lift {rules[rules['segment'] == 'all']['lift'].max():.1f}." if n_all else "."))
    if precision is not None and recall is not None:
        lines.append(f"- Risk flags against the planted fake accounts: precision **{_pct(precision)}**, recall **{_pct(recall)}**.")
    for part, reason in result.features.skipped.items():
        lines.append(f"- Skipped {esc(part)}: {esc(reason)}.")
    lines.append(f"- {SMALL_CELL_RULE.format(n=min_cell)}")
    return "\n".join(lines)
