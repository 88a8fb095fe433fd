"""Tables and text of the profiling report (02): segment and RFM tables with the small-cell rule,
persona cards, readable rules, top customers (pseudonymised), the prose that states what was computed, and the
summary.

Data text (dataset, segment and product names, notes) is escaped with :func:`contentlab.fmt.esc_md`; shares are
printed with :func:`contentlab.fmt.pct`, so a value that cannot be computed shows as :data:`contentlab.fmt.NA`.
The text functions take the stage's :class:`~contentlab.profiling.result.ProfilingResult` (``res``).

Small-cell rule: a segment with fewer than ``min_cell`` (5) users is never shown on its own. Such
segments are merged into one row "Other (merged small segments)"; if that row still has fewer than
``min_cell`` users it is suppressed (left out, and the table says how many users it omits).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from contentlab.data.io import META_FILE
from contentlab.fmt import NA, esc_md, is_missing, num, pct
from contentlab.privacy import merge_small_cells, pseudonymise
from contentlab.profiling.clv import NO_DROPOUT_LR
from contentlab.profiling.rfm import RFM_SEGMENTS
from contentlab.profiling.segments import FLAGGED_SEGMENT, INACTIVE_SEGMENT

if TYPE_CHECKING:
    from contentlab.profiling.core import CLVResult
    from contentlab.profiling.result import ProfilingResult

__all__ = [
    "MERGED_LABEL", "SMALL_CELL_RULE", "segment_table", "rfm_segment_table", "rfm_mapping_table", "data_source",
    "informative_columns", "grouped_reasons", "persona_card", "readable_rules", "top_customers", "risk_reason_table",
    "clv_parameter_table", "calibration_parameter_table", "dataset_intro", "segment_caption", "segment_note",
    "clustering_note", "ari_note", "rfm_notes", "category_skipped", "clv_intro", "clv_parameters_caption",
    "clv_notes", "holdout_intro", "calibration_caption", "holdout_notes", "rules_skipped", "rules_caption",
    "copurchase_note", "risk_notes", "risk_truth_note", "findings_markdown",
]

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
    p["_alive"] = p.get("p_alive", np.nan)
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


def data_source(meta: dict | None) -> str:
    """Which input the figures come from, for the report: the input file names recorded by stage 01
    (e.g. "CDNOW_sample.txt"), or the simulated shop's name."""
    meta = meta or {}
    if meta.get("kind") == "demo":
        return f"the simulated shop {meta.get('name', '')}".rstrip()
    files = [str(f).replace("\\", "/").rsplit("/", 1)[-1] for f in (meta.get("inputs") or {})]
    files = [f for f in files if f and f != META_FILE]  # a simulated shop's own metadata file is no input
    if not files:
        return f"dataset {meta.get('name', 'unnamed')}"
    return ("file " if len(files) == 1 else "files ") + ", ".join(sorted(set(files)))


def persona_card(persona: dict, currency: str = "") -> str:
    """Markdown card of one persona record (data text escaped for Markdown)."""
    lines = [f"### {esc_md(persona['persona_id'])} · {esc_md(persona['name'])}"
             + (f" ({esc_md(persona['name_zh'])})" if persona.get("name_zh") else "")]
    rev = persona.get("revenue_share")
    facts = [f"**{persona['size']:,} {'customers' if rev is not None else 'users'}** "
             f"({pct(persona['share_of_users'], 0)} of segmented users"
             + (f", {pct(rev, 0)} of their revenue)" if rev is not None else ")")]
    if persona.get("price_band") and persona["price_band"] != "unknown":
        facts.append(f"price band **{esc_md(persona['price_band'])}**")
    if persona.get("preferred_channel"):
        facts.append(f"prefers **{esc_md(persona['preferred_channel'])}**")
    if persona.get("favourite_categories"):
        facts.append("favourite categories: " + ", ".join(esc_md(c) for c in persona["favourite_categories"]))
    m = persona.get("metrics", {})
    if m.get("clv_mean") is not None:
        facts.append(f"mean CLV {m['clv_mean']:,.2f}{(' ' + esc_md(currency)) if currency else ''}")
    lines.append(" · ".join(facts))
    lines.append("")
    lines += [f"- {esc_md(t)}" for t in persona.get("traits", [])]
    if persona.get("copy_style"):
        lines.append(f"- copy style **{esc_md(str(persona['copy_style']).replace('_', ' '))}**: "
                     f"{esc_md(persona.get('copy_style_reason') or '')}")
    lines.append("")
    lines.append(f"> {esc_md(persona.get('text_en', ''))}")
    if persona.get("text_zh"):
        lines.append(">")
        lines.append(f"> {esc_md(persona['text_zh'])}")
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
    return "; ".join(", ".join(f"*{esc_md(i)}*" for i in items) + f": {esc_md(why)}" for why, items in by.items())


def risk_reason_table(risk_table: pd.DataFrame) -> pd.DataFrame:
    """How often each signal fired among flagged accounts."""
    f = risk_table[risk_table["is_flagged"]]
    counts: dict[str, int] = {}
    for reasons in f["reasons"]:
        for r in [x for x in str(reasons).split("; ") if x]:
            counts[r] = counts.get(r, 0) + 1
    return pd.DataFrame(sorted(counts.items(), key=lambda kv: -kv[1]), columns=["signal", "flagged_accounts"])


def clv_parameter_table(clv: CLVResult) -> pd.DataFrame:
    """The whole-log fits' parameters and what they mean (model, parameter, value): BG/NBD's r, α, a, b, the mean
    purchase rate while active and drop-out probability after a purchase, the likelihood-ratio statistic of drop-out;
    Gamma-Gamma's p, q, γ and the population mean spend. Empty without a fit."""
    rows: list[dict] = []
    bg, gg = clv.bgnbd, clv.gg
    if bg is not None:
        rows += [{"model": "BG/NBD", "parameter": k, "value": val} for k, val in bg.params.items()]
        rows += [{"model": "BG/NBD", "parameter": "mean purchase rate while active, r/α (per week)",
                  "value": bg.purchase_rate},
                 {"model": "BG/NBD", "parameter": "mean drop-out probability after a purchase, a/(a+b)",
                  "value": bg.dropout_probability},
                 {"model": "BG/NBD",
                  "parameter": f"drop-out seen: likelihood ratio vs no drop-out (≥ {NO_DROPOUT_LR:.2f})",
                  "value": bg.lr_dropout}]
    if gg is not None:
        rows += [{"model": "Gamma-Gamma", "parameter": {"v": "γ (v)"}.get(k, k), "value": val}
                 for k, val in gg.params.items()]
        rows += [{"model": "Gamma-Gamma", "parameter": "population mean spend per purchase day, pγ/(q−1)",
                  "value": gg.population_mean_spend}]
    return pd.DataFrame(rows, columns=["model", "parameter", "value"])


def calibration_parameter_table(clv: CLVResult) -> pd.DataFrame:
    """The calibration-period BG/NBD fit: its parameters and log-likelihood (empty without a holdout check)."""
    cb = clv.calibration_bgnbd
    if cb is None or clv.calibration is None:
        return pd.DataFrame(columns=["parameter", "value"])
    rows = [{"parameter": k, "value": val} for k, val in cb.params.items()]
    rows.append({"parameter": "log-likelihood", "value": cb.log_likelihood})
    return pd.DataFrame(rows)


def _day(ts) -> str:
    return NA if is_missing(ts) else f"{ts:%Y-%m-%d}"


# ------------------------------------------------------------------------------------------- report text
def dataset_intro(res: ProfilingResult) -> str:
    """What was profiled: the dataset, users, activity rows up to the reference time, and skipped feature groups."""
    fs = res.features
    ref = NA if is_missing(fs.reference_time) else f"{fs.reference_time:%Y-%m-%d %H:%M}"
    skipped = ("the parts that need data this dataset lacks are skipped: "
               + "; ".join(f"*{esc_md(k)}*: {esc_md(v)}" for k, v in fs.skipped.items()) + "."
               if fs.skipped else "every feature group is available.")
    return (f"Dataset **{esc_md(res.dataset_name)}** (locale `{res.locale}`): {len(res.profiles):,} users and "
            f"{res.n_activity:,} {fs.activity} up to {ref}. Features are computed in SQL over the run's clean tables "
            f"({len(fs.frame.columns) - 1} columns per user); " + skipped)


def segment_caption(res: ProfilingResult) -> str:
    t = res.segment_table
    return ("Segments: size" + (", revenue share" if "revenue" in t else "")
            + (f" and customer lifetime value over {res.config.clv_horizon_days} days" if "clv_total" in t else "")
            + (f" ({esc_md(res.currency)})" if res.currency and "revenue" in t else ""))


def segment_note(res: ProfilingResult) -> str:
    note = SMALL_CELL_RULE.format(n=res.config.min_cell)
    if res.segment_suppressed:
        note += f" Suppressed here: {res.segment_suppressed} users."
    return note + (" *Flagged (excluded)* are the risky accounts (see Risk flags); *No activity* are registered users "
                   "without any event.")


def clustering_note(res: ProfilingResult) -> str:
    cl = res.clustering
    if cl is None:
        return "Too few active users to cluster."
    blocks = "; ".join(f"{esc_md(b)}: {len(c)}" for b, c in cl.blocks.items())
    return (f"Chosen **k = {cl.k}** (silhouette {cl.silhouette:.3f}, computed on a fixed sample of at most "
            f"{res.config.silhouette_sample:,} users). Columns per block — {blocks}.")


def ari_note(res: ProfilingResult) -> str:
    return ("**Truth check.** The simulator planted a segment for every user. Adjusted Rand index between the "
            f"planted and the found segments: **{num(res.segment_ari, 3)}** (1 = identical partitions, 0 = chance). "
            "The heatmap shows, for each planted segment, where its users ended up (row percentages).")


def rfm_notes(res: ProfilingResult) -> list[str]:
    n = res.config.min_cell
    if not res.has_rfm:
        return ["RFM is skipped: no user has a purchase in this dataset, so there is no recency, frequency or "
                "monetary value to score."]
    out = [f"Grid cells with fewer than {n} customers show `<{n}` and no revenue."]
    if res.rfm_suppressed:
        out.insert(0, f"{res.rfm_suppressed} customers in RFM segments below {n} customers are suppressed.")
    return out


def category_skipped(res: ProfilingResult) -> str:
    return f"Category affinity is skipped: {esc_md(res.features.skipped.get('category affinity', ''))}."


def clv_intro(res: ProfilingResult) -> list[str]:
    """Why CLV is skipped, and/or where the fitted parameters, the CLV and the ``bgnbd_*`` metrics come from."""
    v = res.clv
    out = []
    if v.bgnbd is None:
        out.append("Customer lifetime value is skipped: " + "; ".join(esc_md(n) for n in v.notes) + ".")
    if v.bgnbd is not None or v.gg is not None:
        alive = " and P(alive)" if v.bgnbd is not None and v.bgnbd.dropout_identified else ""
        out.append(f"**Data.** These parameters, the CLV{alive} below and the recorded `bgnbd_*` metrics come from "
                   f"{esc_md(res.source)}, the whole log {_day(v.log_start)} to {_day(v.log_end)} "
                   f"({num(v.log_weeks, 1)} weeks), {v.bgnbd.n_customers if v.bgnbd else 0:,} customers (flagged "
                   f"accounts excluded).")
    return out


def clv_parameters_caption(res: ProfilingResult) -> str:
    bg = res.clv.bgnbd
    return f"Fitted parameters, whole log ({bg.n_customers if bg else 0:,} customers)"


def clv_notes(res: ProfilingResult) -> list[str]:
    """How well the fits are determined: starts that reached the best likelihood, the fit's notes, and the
    Gamma-Gamma independence assumption checked on the data."""
    v = res.clv
    out = []
    fits = [(name, m) for name, m in (("BG/NBD", v.bgnbd), ("Gamma-Gamma", v.gg)) if m is not None]
    if fits:
        out.append("Each model is fitted from a small fixed set of starting points and the best fit is polished: "
                   + "; ".join(f"{name}: {m.n_starts_at_best} of {m.n_starts} starts reached the best likelihood on "
                               "their own" for name, m in fits) + ".")
    out += [f"Note: {esc_md(n)}." for n in (v.notes if v.bgnbd is not None else [])]
    if v.gg is not None and len(v.summary):
        out.append("Gamma-Gamma assumes spend per purchase is independent of purchase frequency; here their "
                   f"correlation among repeat customers is {num(res.spend_frequency_correlation, 2)}.")
    return out


def holdout_intro(res: ProfilingResult) -> str:
    v = res.clv
    return (f"**Holdout check.** BG/NBD is fitted again on the calibration period only — {esc_md(res.source)}, "
            f"{_day(v.log_start)} to {_day(v.calibration_end)} ({num(v.calibration_weeks, 1)} weeks), the "
            f"{v.calibration_bgnbd.n_customers:,} customers whose first purchase falls in it — and its forecast is "
            f"compared with the holdout period {_day(v.holdout_start)} to {_day(v.log_end)} ({v.holdout_days} days).")


def calibration_caption(res: ProfilingResult) -> str:
    v = res.clv
    return (f"BG/NBD fitted on the calibration period ({_day(v.log_start)} to {_day(v.calibration_end)}, "
            f"{v.calibration_bgnbd.n_customers:,} customers)")


def holdout_notes(res: ProfilingResult) -> list[str]:
    """After a holdout check: whether its fit sees drop-out, and predicted against actual purchases; without one
    (but with a whole-log fit) why there is none."""
    v = res.clv
    if v.calibration is not None:
        cb = v.calibration_bgnbd
        out = [] if cb.dropout_identified else [
            f"The calibration fit does not see drop-out clearly (likelihood-ratio statistic {cb.lr_dropout:.2f}, below "
            f"{NO_DROPOUT_LR:.2f}): its forecast assumes customers (almost) never drop out."]
        return out + [f"The calibration fit predicts **{num(v.holdout_predicted, 0)}** repeat purchase days in the "
                      f"holdout for these customers; **{num(v.holdout_actual, 0)}** happened."]
    if v.bgnbd is None:  # without any fit, the section above already said why
        return []
    why = [n for n in v.notes if n.startswith(("no holdout", "calibration/holdout"))] or [
        "no holdout check: " + "; ".join(v.notes)]
    return ["; ".join(esc_md(n[0].upper() + n[1:]) for n in why) + "."]


def rules_skipped(res: ProfilingResult) -> str:
    return f"Association rules are skipped: {esc_md(res.rules_note)}."


def rules_caption(res: ProfilingResult) -> str:
    c = res.config
    return (f"Top rules over all baskets by lift (min support {c.rule_min_support:.1%}, min confidence "
            f"{c.rule_min_confidence:.0%}, at least {c.rule_min_count} baskets)")


def copurchase_note(res: ProfilingResult) -> str:
    found, planted = res.copurchase
    return f"Truth check: {found} of the {planted} planted co-purchase pairs are among the rules over all baskets."


def risk_notes(res: ProfilingResult) -> list[str]:
    risk = res.risk
    n_flagged = int(risk.table["is_flagged"].sum())
    out = [f"**{n_flagged} accounts flagged** of {len(risk.table):,} (signal threshold z > {risk.z_threshold}, minimum "
           f"score {risk.min_score}, method `{risk.method}`). Habit signals (orders per active day, purchases without "
           "a view, repeated order amounts, night-time share) flag an account only together with another signal: a "
           "genuine heavy buyer can reach any level on one of them."]
    if risk.disabled:
        out.append("Signals not used on this data: " + grouped_reasons(risk.disabled) + ".")
    return out


def risk_truth_note(res: ProfilingResult) -> str:
    return (f"Against the {res.planted_fraud_accounts} planted fake accounts: precision "
            f"**{num(res.risk_precision, 2)}**, recall **{num(res.risk_recall, 2)}**.")


def findings_markdown(res: ProfilingResult) -> str:
    """The report's summary: computed findings, one bullet each."""
    prof = res.profiles
    cur = f" {esc_md(res.currency)}" if res.currency else ""
    n_users = len(prof)
    n_buyers = int((prof["frequency"] > 0).sum())
    lines = ["## Summary", ""]
    lines.append(f"- **{n_users:,} users profiled**, {n_buyers:,} of them with at least one purchase; "
                 f"{int(prof['is_flagged'].sum()):,} accounts flagged as risky and excluded from segmentation.")
    cl = res.clustering
    if cl is not None:
        seg_table = res.segment_table
        main = seg_table[~seg_table["segment"].isin([FLAGGED_SEGMENT, INACTIVE_SEGMENT])]
        has_rev = "revenue_share" in main
        top = main.sort_values("revenue_share", ascending=False).iloc[0] if len(main) and has_rev else None
        lines.append(f"- **{cl.k} behavioural segments** (K-means, k chosen by silhouette = {cl.silhouette:.2f}): "
                     + ", ".join(f"{esc_md(r.segment)} ({r.users:,})" for r in main.itertuples()) + ".")
        if top is not None:
            value = (f" and {pct(top['clv_total'] / max(main['clv_total'].sum(), 1e-12), 0)} of the segments' "
                     "expected value" if "clv_total" in main else "")
            lines.append(f"- The most valuable segment is **{esc_md(top['segment'])}**: "
                         f"{pct(top['share_of_users'], 0)} of users bring {pct(top['revenue_share'], 0)} of "
                         f"revenue{value}.")
    if res.segment_ari is not None and not is_missing(res.segment_ari):
        lines.append(f"- Against the simulator's planted segments the clustering reaches an **adjusted Rand index of "
                     f"{res.segment_ari:.2f}** (1 = identical partitions, 0 = chance).")
    buyers = prof[prof["R"].notna()]
    if len(buyers):
        rev = buyers["monetary"].sum()
        best = buyers["rfm_segment"].isin(["Champions", "Loyal Customers"])
        risk = buyers["rfm_segment"].isin(["At Risk", "Can't Lose"])
        lines.append(f"- RFM: Champions and Loyal Customers are {pct(best.mean(), 0)} of customers and bring "
                     f"{pct(buyers.loc[best, 'monetary'].sum() / rev if rev else float('nan'), 0)} of revenue; "
                     f"{int(risk.sum()):,} customers are At Risk or Can't Lose (bought often, not recently).")
    v = res.clv
    if v.bgnbd is not None:
        p = v.bgnbd.params
        clv_total = float(prof["clv"].sum(skipna=True))
        c = prof["clv"].dropna().sort_values(ascending=False)
        top10 = c.head(max(1, int(math.ceil(0.1 * len(c))))).sum() / c.sum() if c.sum() else float("nan")
        source = f" of {esc_md(res.source)}" if res.source else ""
        lines.append(f"- Expected customer value over the next {v.horizon_days} days: **{clv_total:,.0f}{cur}** in total "
                     f"(BG/NBD r={p['r']:.4g}, α={p['alpha']:.4g}, a={p['a']:.4g}, b={p['b']:.4g}, fitted on the whole "
                     f"log {_day(v.log_start)} to {_day(v.log_end)}{source}); the top 10% of customers hold "
                     f"{pct(top10, 0)} of it.")
        if v.calibration is not None:
            act, pred = v.holdout_actual, v.holdout_predicted
            window = (f"calibration {_day(v.log_start)} to {_day(v.calibration_end)}, holdout "
                      f"{_day(v.holdout_start)} to {_day(v.log_end)}")
            cp = v.calibration_bgnbd.params
            lines.append(f"- Holdout check ({window}): BG/NBD fitted on the calibration period (r={cp['r']:.3g}, "
                         f"α={cp['alpha']:.3g}, a={cp['a']:.3g}, b={cp['b']:.3g}) predicted {pred:,.0f} repeat purchase "
                         f"days in the holdout, {act:,.0f} happened ({(pred - act) / act:+.0%})." if act else
                         f"- Holdout check ({window}): no purchases in the holdout period.")
    for note in v.notes:
        lines.append(f"- CLV note: {esc_md(note)}.")
    rules = res.rules
    if res.rules_note:
        lines.append(f"- Association rules skipped: {esc_md(res.rules_note)}.")
    else:
        n_all = int((rules["segment"] == "all").sum())
        lines.append(f"- **{len(rules):,} association rules** ({n_all:,} over all baskets, the rest within segments)"
                     + (f"; strongest: lift {rules[rules['segment'] == 'all']['lift'].max():.1f}." if n_all else "."))
    if res.risk_precision is not None and res.risk_recall is not None:
        lines.append(f"- Risk flags against the planted fake accounts: precision **{pct(res.risk_precision, 0)}**, "
                     f"recall **{pct(res.risk_recall, 0)}**.")
    for part, reason in res.features.skipped.items():
        lines.append(f"- Skipped {esc_md(part)}: {esc_md(reason)}.")
    lines.append(f"- {SMALL_CELL_RULE.format(n=res.config.min_cell)}")
    return "\n".join(lines)
