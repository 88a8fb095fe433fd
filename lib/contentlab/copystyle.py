"""Copy styles: the selling angle copy takes for a persona, and how profiling decides it.

Shared by 02 (which writes each persona's ``copy_style`` and ``copy_style_reason`` into ``personas.json``), 04
(which writes copy in that style: the style is a control code in the model prompt) and the feedback priors (which
may override a segment's style). Stages never import each other, so the vocabulary and the decision rule live here.

Styles (:data:`STYLES`): ``value`` (price, value, deals), ``quality`` (material, craft, durability), ``novelty`` (new
season, just launched, trends), ``social_proof`` (what other shoppers think); :data:`GENERAL` when a persona has no
clear angle.

The rule (:func:`persona_style`) compares a persona's traits with all segmented users' (``reference``):

- ``value``: buys on discount at least 1.5 times as often as everyone (``discount_share``), or pays at most 0.9 times
  their price index (cheaper products within each category);
- ``quality``: pays at least 1.1 times their price index (the upper end of each category);
- ``novelty``: spends at least 1.5 times their share of attention on newly launched products (``novelty_share``);
- ``social_proof``: has been with the shop at most half as long (median tenure): newcomers lean on what other
  shoppers say.

Each satisfied condition has a strength (how far past its threshold the persona is, as a ratio); the strongest
wins, and the reason names the numbers. None satisfied: ``general``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

STYLES: tuple[str, ...] = ("value", "quality", "novelty", "social_proof")
GENERAL = "general"
ALL_STYLES: tuple[str, ...] = (*STYLES, GENERAL)

# (metric, direction, threshold ratio to the reference, style)
RULES: tuple[tuple[str, str, float, str], ...] = (
    ("discount_share", "above", 1.5, "value"),
    ("price_index", "below", 0.9, "value"),
    ("price_index", "above", 1.1, "quality"),
    ("novelty_share", "above", 1.5, "novelty"),
    ("median_tenure_days", "below", 0.5, "social_proof"),
)
_WHAT = {
    "discount_share": "buys {v} of its items on discount against {ref} for all users",
    "price_index": "pays a price index of {v} against {ref} for all users",
    "novelty_share": "gives {v} of its attention to newly launched products against {ref} for all users",
    "median_tenure_days": "has been with the shop {v} days on median against {ref} for all users",
}


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _show(metric: str, v: float) -> str:
    if metric in ("discount_share", "novelty_share"):
        return f"{v:.1%}" if abs(v) < 0.1 else f"{v:.0%}"
    if metric == "median_tenure_days":
        return f"{v:.0f}"
    return f"{v:.2f}"


def persona_style(metrics: Mapping[str, Any], reference: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``(style, reason)`` for a persona's ``metrics`` against ``reference`` (all segmented users' values of the
    same metrics; see the module docstring). A metric missing (or None / NaN) on either side is not used, except that
    without any reference price index the persona's is compared with 1.0 (the category median)."""
    reference = reference or {}
    best: tuple[float, str, str] | None = None
    for metric, direction, threshold, style in RULES:
        v = _number(metrics.get(metric))
        ref = _number(reference.get(metric))
        if metric == "price_index" and metric not in reference:
            ref = 1.0
        if v is None or ref is None or ref <= 0:
            continue
        ratio = v / ref
        if direction == "above":
            strength = ratio / threshold
        else:
            strength = threshold / ratio if ratio > 0 else math.inf
        if strength < 1.0:
            continue
        bound = "at least" if direction == "above" else "at most"
        reason = (_WHAT[metric].format(v=_show(metric, v), ref=_show(metric, ref))
                  + f" ({ratio:.2f} times theirs; {style.replace('_', ' ')} needs {bound} {threshold:g} times)")
        if best is None or strength > best[0]:
            best = (strength, style, reason)
    if best is None:
        return GENERAL, ("no trait is far enough from all users' (discount use, price index, new-product attention, "
                         "tenure) to pick a selling angle")
    return best[1], best[2]


def check_style(style: Any) -> str:
    """``style`` if it is one of :data:`ALL_STYLES`, else a ``ValueError`` naming them."""
    if style not in ALL_STYLES:
        raise ValueError(f"unknown copy style {style!r}; expected one of {', '.join(ALL_STYLES)}")
    return str(style)
