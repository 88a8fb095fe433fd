"""Personas: one data-derived record per segment, structured first and prose second.

A persona record (``personas.json`` is a list of them) has:

``persona_id``, ``segment``, ``cluster``, ``name`` (and ``name_zh`` for zh catalogues), ``size``,
``share_of_users``, ``revenue_share``, ``metrics`` (the numbers: orders per user, average order
value, price index, median recency/tenure, conversion, cart abandonment, share of purchases on discount, share of
attention on newly launched products, mean CLV, mean P(alive) — None
when the lifetime model cannot see drop-out in the data, so P(alive) is no finding),
``traits`` (the most distinctive facts, each a sentence with its numbers, strongest first),
``favourite_categories`` (top 3 by mean share of events), ``price_band`` (the segment's mean price index
— prices relative to the category median — against all segmented users': ``budget`` below 0.9 times
theirs, ``premium`` above 1.1 times, else ``mid-range``; ``unknown`` when prices do not vary, e.g. the
nominal prices of a ratings-only dataset, so two segments are never both "premium" for paying what
everyone pays), ``preferred_channel`` (most common among members), ``copy_style`` and ``copy_style_reason`` (the selling angle
copy for the segment takes, decided from its discount use, price index, attention to new products and tenure
against all users': :func:`contentlab.copystyle.persona_style`), ``text_en`` and, when the dataset's
locale is ``zh``, ``text_zh``. Traits only use features that vary between users, worded for who the
users are (customers, or raters on a ratings-only dataset).

These records condition copy generation later, so every fact is computed from the profiles; no
wording depends on anything but the numbers. Segments below ``min_size`` users get no persona
(no small-cell disclosure).
"""

from __future__ import annotations

import math

import pandas as pd

from contentlab import fmt
from contentlab.copystyle import persona_style
from contentlab.profiling.features import CAT_PREFIX
from contentlab.profiling.segments import TRAIT_NAMES_ZH

__all__ = ["price_band", "build_personas", "PRICE_BANDS", "zh_name"]

PRICE_BANDS = {"budget": (None, 0.9), "mid-range": (0.9, 1.1), "premium": (1.1, None)}
PRICE_BANDS_ZH = {"budget": "平价", "mid-range": "中档", "premium": "高端"}
CHANNEL_ZH = {"web": "网页", "app": "App", "email": "邮件", "push": "推送", "social": "社交媒体", "ads": "广告",
              "organic": "自然流量", "search": "搜索", "mini_program": "小程序", "wechat": "微信", "store": "门店"}


def zh_name(segment: str) -> str:
    """Chinese segment name (numbered fallback names keep their number; "<category> Fans" -> "<category>爱好者")."""
    if segment in TRAIT_NAMES_ZH:
        return TRAIT_NAMES_ZH[segment]
    if segment.endswith(" Fans"):
        return f"{segment[:-len(' Fans')]}爱好者"
    base, _, num = segment.rpartition(" ")
    if base in TRAIT_NAMES_ZH and num.isdigit():
        return f"{TRAIT_NAMES_ZH[base]} {num}"
    return segment


def price_band(price_index: float, reference: float = 1.0) -> str:
    """Band of a segment's mean price index against ``reference`` (all segmented users' mean)."""
    if price_index is None or reference is None or any(isinstance(v, float) and math.isnan(v) for v in (price_index, reference)):
        return "unknown"
    if not reference > 0:
        return "unknown"
    ratio = price_index / reference
    if ratio < 0.9:
        return "budget"
    if ratio > 1.1:
        return "premium"
    return "mid-range"


# feature -> (english template for the segment vs overall, chinese template); {v} segment value, {o} overall
_TRAIT_TEXT = {
    "frequency": ("places {v:.1f} orders per customer (all customers: {o:.1f})", "人均下单 {v:.1f} 次（全体 {o:.1f} 次）"),
    "aov": ("spends {v:.2f} per order (all customers: {o:.2f})", "客单价 {v:.2f}（全体 {o:.2f}）"),
    "price_index": ("pays {p} the category median price (index {v:.2f}; all customers: {o:.2f})", ""),
    "recency_days": ("last bought {v:.0f} days ago on median (all customers: {o:.0f})", "最近一次购买中位数为 {v:.0f} 天前（全体 {o:.0f} 天）"),
    "tenure_days": ("has been with the shop {v:.0f} days on median (all customers: {o:.0f})", "注册中位时长 {v:.0f} 天（全体 {o:.0f} 天）"),
    "view_to_purchase": ("buys {v_pct} of the products it views (all customers: {o_pct})", "浏览到购买转化率 {v_pct}（全体 {o_pct}）"),
    "cart_abandonment": ("abandons {v_pct} of carts (all customers: {o_pct})", "加购未付款比例 {v_pct}（全体 {o_pct}）"),
    "novelty_share": ("spends {v_pct} of its attention on products launched in the last two weeks (all customers: {o_pct})",
                      "{v_pct} 的浏览集中在近两周上新商品（全体 {o_pct}）"),
    "discount_share": ("buys {v_pct} of items on discount (all customers: {o_pct})", "{v_pct} 的购买使用折扣（全体 {o_pct}）"),
    "n_events": ("generates {v:.0f} events per customer (all customers: {o:.0f})", "人均行为 {v:.0f} 次（全体 {o:.0f} 次）"),
}
_MEDIAN_FEATURES = {"recency_days", "tenure_days"}


_RATER_TEXT = {  # ratings-only datasets: the activity is rating
    "n_events": "rates {v:.0f} items per person (all raters: {o:.0f})",
    "tenure_days": "has been rating for {v:.0f} days on median (all raters: {o:.0f})",
}


def _trait(feature: str, v: float, o: float, lang: str, population: str = "visitors") -> str:
    en, zh = _TRAIT_TEXT[feature]
    if population == "raters":
        en = _RATER_TEXT.get(feature, en.replace("all customers", "all raters"))
    if feature == "price_index":
        diff = v - 1.0
        if lang == "en":
            p = f"{abs(diff) * 100:.0f}% {'below' if diff < 0 else 'above'}" if abs(diff) >= 0.005 else "about"
            return en.format(p=p, v=v, o=o)
        pz = f"比品类中位价{'低' if diff < 0 else '高'} {abs(diff) * 100:.0f}%" if abs(diff) >= 0.005 else "约等于品类中位价"
        return f"支付价格{pz}（指数 {v:.2f}，全体 {o:.2f}）"
    tmpl = en if lang == "en" else zh
    return tmpl.format(v=v, o=o, v_pct=fmt.pct(v, 0), o_pct=fmt.pct(o, 0))


def build_personas(
    profiles: pd.DataFrame,
    locale: str = "en",
    min_size: int = 5,
    n_traits: int = 4,
    segment_col: str = "segment",
    cluster_col: str = "cluster",
    population: str | None = None,
) -> list[dict]:
    """Persona records for every clustered segment (``cluster >= 0``) with at least ``min_size`` users;
    ``population`` (visitors, customers, raters) is inferred from the profiles when None."""
    from contentlab.profiling.segments import population_of

    p = profiles[profiles[cluster_col] >= 0]
    if p.empty:
        return []
    population = population or population_of(p)
    cat_cols = [c for c in p.columns if c.startswith(CAT_PREFIX)]
    total_users = len(p)
    total_rev = float(p["monetary"].sum())
    # only facts that differ between users can describe a segment (no "0.0 orders" on a ratings-only dataset)
    feats = [f for f in _TRAIT_TEXT if f in p.columns and p[f].notna().any() and float(p[f].std(ddof=0)) > 0]
    overall = {f: float(p[f].median() if f in _MEDIAN_FEATURES else p[f].mean()) for f in feats}
    sds = {f: float(p[f].std(ddof=0)) for f in feats}
    pi_all = p["price_index"].astype(float) if "price_index" in p else pd.Series(dtype=float)
    # price bands need prices that vary; otherwise (e.g. nominal prices) every band would be made up
    pi_ref = float(pi_all.mean()) if pi_all.notna().any() and float(pi_all.std(ddof=0)) > 1e-9 else float("nan")
    style_ref = {"price_index": pi_ref,
                 "discount_share": _mean(p, "discount_share"), "novelty_share": _mean(p, "novelty_share"),
                 "median_tenure_days": float(p["tenure_days"].median()) if "tenure_days" in p else None}
    personas = []
    for cluster, g in sorted(p.groupby(cluster_col), key=lambda kv: -len(kv[1])):
        if len(g) < min_size:
            continue
        seg = str(g[segment_col].iloc[0])
        values = {f: float(g[f].median() if f in _MEDIAN_FEATURES else g[f].mean()) for f in feats}
        # distinctiveness of each fact = |segment - overall| / sd
        dist = {f: abs(values[f] - overall[f]) / sds[f] if sds[f] > 0 and not math.isnan(values[f]) else 0.0 for f in feats}
        top = [f for f in sorted(feats, key=lambda f: -dist[f]) if dist[f] > 0][:n_traits]
        traits = [_trait(f, values[f], overall[f], "en", population) for f in top]
        favourite = []
        if cat_cols:
            shares = g[cat_cols].mean().sort_values(ascending=False)
            favourite = [c[len(CAT_PREFIX):] for c in shares.index[:3] if shares[c] > 0]
            traits.append(
                "favourite categories: " + ", ".join(f"{c[len(CAT_PREFIX):]} ({fmt.pct(shares[c], 0)} of events)" for c in shares.index[:3])
            )
        pi = float(g["price_index"].mean()) if "price_index" in g else float("nan")
        band = price_band(pi, pi_ref)
        channel = None
        if "preferred_channel" in g.columns and g["preferred_channel"].notna().any():
            vc = g["preferred_channel"].value_counts()
            channel = str(vc.index[0])
            traits.append(f"prefers the {channel} channel ({fmt.pct(vc.iloc[0] / vc.sum(), 0)} of members)")
        rev_share = float(g["monetary"].sum()) / total_rev if total_rev else float("nan")
        metrics = {
            "orders_per_user": values.get("frequency"),
            "aov": float(g["aov"].mean()) if "aov" in g else None,
            "price_index": pi,
            "median_recency_days": values.get("recency_days"),
            "median_tenure_days": values.get("tenure_days"),
            "view_to_purchase": values.get("view_to_purchase"),
            "cart_abandonment": values.get("cart_abandonment"),
            "revenue": float(g["monetary"].sum()),
            "clv_mean": float(g["clv"].mean()) if "clv" in g and g["clv"].notna().any() else None,
            "p_alive_mean": float(g["p_alive"].mean()) if "p_alive" in g and g["p_alive"].notna().any() else None,
            "discount_share": _mean(g, "discount_share"),
            "novelty_share": _mean(g, "novelty_share"),
        }
        metrics = {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4))
                   for k, v in metrics.items()}
        rec = {
            "persona_id": f"P{int(cluster) + 1:02d}",
            "segment": seg,
            "cluster": int(cluster),
            "name": seg,
            "size": int(len(g)),
            "share_of_users": round(len(g) / total_users, 4),
            "revenue_share": None if math.isnan(rev_share) else round(rev_share, 4),
            "metrics": metrics,
            "traits": traits,
            "favourite_categories": favourite,
            "price_band": band,
            "preferred_channel": channel,
        }
        rec["copy_style"], rec["copy_style_reason"] = persona_style(metrics, style_ref)
        rec["text_en"] = _prose_en(rec, [_trait(f, values[f], overall[f], "en", population) for f in top],
                                   "raters" if population == "raters" else "customers")
        if locale == "zh":
            rec["name_zh"] = zh_name(seg)
            rec["text_zh"] = _prose_zh(rec, [_trait(f, values[f], overall[f], "zh") for f in top])
        personas.append(rec)
    return personas


def _mean(frame: pd.DataFrame, column: str) -> float | None:
    """Mean of a column that exists and varies between users (None otherwise: no trait to speak of)."""
    if column not in frame or not frame[column].notna().any():
        return None
    return float(frame[column].mean())


def _prose_en(rec: dict, facts: list[str], noun: str = "customers") -> str:
    head = (f"{rec['name']}: {rec['size']:,} {noun} ({fmt.pct(rec['share_of_users'], 0)} of segmented users"
            + (f", {fmt.pct(rec['revenue_share'], 0)} of revenue)" if rec["revenue_share"] is not None else ")"))
    parts = [head + "."]
    if facts:
        parts.append("This group " + "; ".join(facts) + ".")
    extra = []
    if rec["favourite_categories"]:
        extra.append("favours " + ", ".join(rec["favourite_categories"]))
    if rec["price_band"] != "unknown":
        extra.append(f"shops in the {rec['price_band']} price band")
    if rec["preferred_channel"]:
        extra.append(f"is best reached via {rec['preferred_channel']}")
    if extra:
        parts.append("It " + ", ".join(extra[:-1]) + (" and " if len(extra) > 1 else "") + extra[-1] + ".")
    return " ".join(parts)


def _prose_zh(rec: dict, facts: list[str]) -> str:
    name = rec.get("name_zh", rec["name"])
    head = f"{name}：共 {rec['size']:,} 位顾客，占已分群用户的 {fmt.pct(rec['share_of_users'], 0)}"
    if rec["revenue_share"] is not None:
        head += f"，贡献 {fmt.pct(rec['revenue_share'], 0)} 的收入"
    parts = [head + "。"]
    if facts:
        parts.append("该群体" + "；".join(facts) + "。")
    extra = []
    if rec["favourite_categories"]:
        extra.append("偏爱" + "、".join(rec["favourite_categories"]))
    if rec["price_band"] != "unknown":
        extra.append(f"价格带为{PRICE_BANDS_ZH[rec['price_band']]}")
    if rec["preferred_channel"]:
        ch = rec["preferred_channel"]
        extra.append(f"最常通过{CHANNEL_ZH.get(ch, ch)}触达")
    if extra:
        parts.append("，".join(extra) + "。")
    return "".join(parts)
