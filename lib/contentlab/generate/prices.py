"""Prices in copy: shown only when they are real, and always in the data's own currency.

The dataset's metadata says what its prices are (``contentlab.pipeline.prepare_data`` keeps the adapters'
facts): ``currency`` (ISO 4217 code: the UCI Online Retail shop sells in GBP, CDNOW in USD, the built-in demo
in USD or CNY by locale) and ``nominal_price`` (MovieLens has no prices: its products carry a placeholder
1.0). :func:`price_format` turns those facts into a :class:`PriceFormat`:

- real prices with a currency: shown as ``£1.65`` (symbol before the amount for GBP, USD, EUR, CNY, JPY and a
  few more) or ``1.65 CHF`` (any other code);
- nominal prices, or no currency at all: **no price in any copy** (templates drop the sentence that needs one,
  the model prompt leaves the price out, guides and content cards show none, and the faithfulness scorer
  counts any price a copy names as a hallucination). ``reason`` says why, for the report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "CNY": "¥", "JPY": "¥", "INR": "₹", "KRW": "₩"}
# zero-decimal currencies are shown without cents
ZERO_DECIMALS = {"JPY", "KRW"}
# every currency sign the scorer recognises in copy, and the codes it stands for
SIGN_CODES = {"$": {"USD"}, "US$": {"USD"}, "£": {"GBP"}, "€": {"EUR"}, "¥": {"CNY", "JPY"}, "￥": {"CNY", "JPY"},
              "₹": {"INR"}, "₩": {"KRW"}, "元": {"CNY"}, "块": {"CNY"}, "RMB": {"CNY"}, "dollar": {"USD"},
              "dollars": {"USD"}, "pound": {"GBP"}, "pounds": {"GBP"}, "euro": {"EUR"}, "euros": {"EUR"}}


@dataclass(frozen=True)
class PriceFormat:
    """How (and whether) prices appear in copy. ``currency`` None: prices are never shown."""

    currency: str | None
    reason: str = ""

    @property
    def show(self) -> bool:
        return self.currency is not None

    @property
    def symbol(self) -> str | None:
        return SYMBOLS.get(self.currency) if self.currency else None

    def format(self, price: Any) -> str:
        """``£1.65`` / ``1.65 CHF``; ``""`` when prices are not shown or the value is missing."""
        if not self.show or price is None:
            return ""
        try:
            value = float(price)
        except (TypeError, ValueError):
            return ""
        if math.isnan(value) or value <= 0:
            return ""
        amount = f"{value:.0f}" if self.currency in ZERO_DECIMALS else f"{value:.2f}"
        sym = self.symbol
        return f"{sym}{amount}" if sym else f"{amount} {self.currency}"

    def codes_of(self, sign: str) -> set[str]:
        """ISO codes a currency sign or word found in copy can stand for (the code itself for ``GBP``...)."""
        s = sign.strip()
        if re.fullmatch(r"[A-Za-z]{3}", s) and s.upper() not in ("RMB",):
            return {s.upper()}
        return SIGN_CODES.get(s, SIGN_CODES.get(s.lower(), set()))

    def describe(self) -> str:
        if self.show:
            return f"prices shown in {self.currency}" + (f" ({self.symbol})" if self.symbol else "")
        return f"no prices in copy: {self.reason}"


def price_format(meta: Mapping[str, Any] | None) -> PriceFormat:
    """The price policy of a dataset from its metadata (see module docstring)."""
    meta = meta or {}
    src = meta.get("source_meta") if isinstance(meta.get("source_meta"), Mapping) else {}
    nominal = bool(meta.get("nominal_price", src.get("nominal_price", False)))
    currency = meta.get("currency", src.get("currency"))
    if nominal:
        return PriceFormat(None, "the data has no prices (its products carry a nominal placeholder price)")
    if not currency or not str(currency).strip():
        return PriceFormat(None, "the data does not say which currency its prices are in")
    code = str(currency).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        return PriceFormat(None, f"the data's currency {str(currency)[:20]!r} is not an ISO 4217 code")
    return PriceFormat(code)


NO_PRICES = PriceFormat(None, "no currency was given")
