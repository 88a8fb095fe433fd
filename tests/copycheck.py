"""An outside check of published copy, written independently of the package's scorer.

It knows nothing of ``contentlab.generate``: it reads the products table and the published texts and counts the
copies that name another product's type, category, colour, material, style or brand that the copy's own product does
not hold anywhere in its record (its attribute values, title or description). Whole words in English (an "s" plural
allowed), plain substrings in Chinese. Used by the pipeline tests and ``benchmarks/bench_copy_quality.py`` to check
that the hallucination rate the report states agrees with a count made another way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

FIELDS = ("product_type", "category", "colour", "material", "style", "brand")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return " ".join(str(value).split())


def _forms(value: str) -> set[str]:
    v = value.lower()
    out = {v}
    if not _CJK.search(v) and v.endswith("s") and len(v) > 3:
        out.add(v[:-1])  # "dresses" -> "dresse" is harmless; "sneakers" -> "sneaker"
        if v.endswith("es"):
            out.add(v[:-2])
    return out


def _present(term: str, text: str) -> bool:
    if _CJK.search(term):
        return term in text
    return re.search(rf"(?<![\w-]){re.escape(term)}(?:e?s)?(?![\w-])", text) is not None


class OutsideChecker:
    """Counts other products' attribute values named in copy (see module docstring)."""

    def __init__(self, products: pd.DataFrame, fields: Iterable[str] = FIELDS):
        self.fields = [f for f in fields if f in products.columns]
        self.records = {str(r["product_id"]): r for r in products.to_dict(orient="records")}
        terms: set[str] = set()
        for f in self.fields:
            for v in products[f].map(_text):
                if len(v) >= 3:
                    terms |= _forms(v)
        self.terms = sorted(terms, key=len, reverse=True)

    def own_text(self, product_id: str) -> str:
        r = self.records[str(product_id)]
        parts = [_text(r.get(k)) for k in (*self.fields, "title", "description")]
        return " ".join(parts).lower()

    def foreign(self, text: str, product_id: str) -> list[str]:
        """Terms of other products named in ``text`` that the product's own record does not hold."""
        low = _text(text).lower()
        own = self.own_text(product_id)
        found: list[str] = []
        for term in self.terms:
            if _present(term, low) and not _present(term, own) and not any(term in f for f in found):
                found.append(term)
        return found

    def rate(self, copies: pd.DataFrame) -> float:
        """Share of ``copies`` (columns ``text``, ``product_id``) naming a foreign term."""
        if copies.empty:
            return float("nan")
        return float(sum(bool(self.foreign(t, p)) for t, p in zip(copies["text"], copies["product_id"])) / len(copies))
