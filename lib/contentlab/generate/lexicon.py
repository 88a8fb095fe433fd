"""The catalogue lexicon: every attribute value of the catalogue, and which of them are *foreign* to a product.

:class:`CatalogueLexicon` collects the values of ``category`` (English: singular and plural), ``product_type``,
``brand``, ``colour``, ``material`` and ``style`` from the products table, in either locale (Chinese values as
they are; English ones also lower-cased, capitalised and in title case). For one product,
:meth:`CatalogueLexicon.foreign_terms` lists the terms of *other* products that this product's record does not
hold: a term contained in one of the product's own values (title and description included, "pink" when its
colour is "blush pink", "down jacket" when its category is "Down Jackets"), or several English words each of
which is ("denim jeans" for stretch denim jeans), is its own, not foreign.
:meth:`CatalogueLexicon.foreign_digits` lists the digits its record values do not contain, :data:`CURRENCY_SIGNS`
and :data:`CURRENCY_CODES` the ways a price names its currency.

Colour, material and style values that other products' titles or descriptions use as ordinary words, not as
that attribute ("clear" in "deep, clear bass", "cream" in "night cream" of a catalogue without product types)
are *generic* and left out, as are single words of the template text (``generic_texts``). Brands, categories
and product types are never generic.

:mod:`contentlab.generate.constrain` turns the foreign terms into a decoding constraint; the scorer
(:mod:`contentlab.generate.scoring`) applies the same notion of "own" when it checks copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from contentlab.generate.prompts import PLURALIA_TANTUM, record_text

FIELDS = ("category", "product_type", "brand", "colour", "material", "style")
FIELD_LABEL = {"product_type": "type"}  # how a field is named in findings ("type=puffer jacket")
GENERIC_FIELDS = ("colour", "material", "style")  # fields whose values may also be ordinary words
RECORD_FIELDS = ("title", *FIELDS, "description")
CURRENCY_SIGNS = ("US$", "$", "£", "€", "¥", "￥", "₹", "₩", "元")
CURRENCY_CODES = ("USD", "GBP", "EUR", "CNY", "RMB", "JPY", "CHF", "AUD", "CAD", "NZD", "HKD", "SGD", "INR", "KRW")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DIGIT = re.compile(r"\d")


def is_zh(locale: str) -> bool:
    return str(locale).lower().startswith("zh")


def label(field: str) -> str:
    """The field's name in findings: ``type`` for ``product_type``, else the column name."""
    return FIELD_LABEL.get(field, field)


def plural(noun: str) -> str:
    """English plural of a (last) noun: dress -> dresses, jacket -> jackets; jeans stays."""
    last = noun.split(" ")[-1].lower()
    if not noun or last in PLURALIA_TANTUM or _CJK.search(noun):
        return noun
    if re.search(r"(s|sh|ch|x|z)$", last):
        return noun + "es"
    if re.search(r"[^aeiou]y$", last):
        return noun[:-1] + "ies"
    return noun + "s"


def singular(noun: str) -> str:
    """English singular of a plural noun: Dresses -> Dress, T-Shirts -> T-Shirt; jeans stays."""
    last = noun.split(" ")[-1].lower()
    if not noun or last in PLURALIA_TANTUM or _CJK.search(noun):
        return noun
    if re.search(r"(ss|sh|ch|x)es$", last):
        return noun[:-2]
    if re.search(r"[^aeiou]ies$", last):
        return noun[:-3] + "y"
    if last.endswith("s") and not last.endswith("ss"):
        return noun[:-1]
    return noun


def case_forms(value: str) -> list[str]:
    """The value as written, lower case, first letter capitalised and in title case (distinct, in that order)."""
    if _CJK.search(value):
        return [value]
    low = value.lower()
    return list(dict.fromkeys([value, low, low[:1].upper() + low[1:], value.title()]))


def contains(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` (both lower case) as a whole word (optionally with a plural ending);
    a plain substring for Chinese."""
    if not needle or not haystack:
        return False
    if _CJK.search(needle):
        return needle in haystack
    return re.search(rf"(?<![\w-]){re.escape(needle)}(?:s|es)?(?![\w-])", haystack) is not None


def _form_pattern(forms: Sequence[str]) -> re.Pattern:
    """Any of ``forms`` (lower-cased) as a whole word with an optional plural ending (Chinese: anywhere)."""
    low = sorted({f.lower() for f in forms}, key=len, reverse=True)
    cjk = [re.escape(f) for f in low if _CJK.search(f)]
    latin = [re.escape(f) for f in low if not _CJK.search(f)]
    parts = cjk + ([rf"(?<![\w-])(?:{'|'.join(latin)})(?:s|es)?(?![\w-])"] if latin else [])
    return re.compile("|".join(parts) if parts else r"(?!x)x")


def held(value: str, record: Sequence[str]) -> bool:
    """``value`` (lower case) is the product's: contained in one of its ``record`` values (lower case), or -- for
    several English words -- every word is ("denim jeans" for stretch denim jeans: its own words, not another
    product's type)."""
    if any(contains(r, value) for r in record):
        return True
    words = value.split()
    if len(words) < 2 or _CJK.search(value):
        return False
    return all(any(contains(r, w) for r in record) for w in words)


@dataclass(frozen=True)
class Term:
    """One attribute value of the catalogue and its surface forms."""

    field: str  # column: category, product_type, brand, colour, material, style
    value: str  # lower-cased value (the key)
    forms: tuple[str, ...]  # surface forms as they may be written

    @property
    def label(self) -> str:
        return f"{label(self.field)}={self.value}"


class CatalogueLexicon:
    """Attribute terms of a catalogue (see module docstring)."""

    def __init__(self, products: pd.DataFrame, locale: str = "en", generic_texts: Iterable[str] = ()):
        self.locale = locale
        generic_words = {w.lower() for t in generic_texts for w in re.findall(r"[^\W\d_]+", str(t or ""))}
        seen: dict[tuple[str, str], set[str]] = {}
        fields = [f for f in FIELDS if f in products.columns]
        for f in fields:
            for raw in products[f].dropna().unique():
                v = record_text(raw)
                if not v:
                    continue
                forms = seen.setdefault((f, v.lower()), set())
                bases = [v]
                if f in ("category", "product_type") and not _CJK.search(v):
                    bases += [singular(v), plural(singular(v))]
                for b in bases:
                    forms.update(case_forms(b))
        texts = self._record_texts(products)
        own_text = self._own_texts(products, fields)
        self.generic: set[tuple[str, str]] = set()
        for (f, v) in list(seen):
            if f in GENERIC_FIELDS and (v in generic_words or self._used_as_word(v, texts, own_text)):
                self.generic.add((f, v))
        self.terms: list[Term] = [Term(f, v, tuple(sorted(forms, key=lambda s: (-len(s), s))))
                                  for (f, v), forms in sorted(seen.items()) if (f, v) not in self.generic]
        self._patterns = [_form_pattern(t.forms) for t in self.terms]

    @staticmethod
    def _record_texts(products: pd.DataFrame) -> pd.Series:
        cols = [c for c in ("title", "description") if c in products.columns]
        if not cols:
            return pd.Series([""] * len(products), index=products.index)
        return products[cols].astype(object).apply(lambda r: " ".join(record_text(x) for x in r).lower(), axis=1)

    @staticmethod
    def _own_texts(products: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
        if not fields:
            return pd.Series([""] * len(products), index=products.index)
        return products[list(fields)].astype(object).apply(
            lambda r: "\n".join(record_text(x) for x in r).lower(), axis=1)

    @staticmethod
    def _used_as_word(value: str, texts: pd.Series, own_text: pd.Series) -> bool:
        """True when a title or description names ``value`` where none of that product's own values holds it."""
        if _CJK.search(value):
            hits = texts.str.contains(value, regex=False)
            own = own_text[hits].str.contains(value, regex=False)
        else:
            pattern = rf"(?<![\w-]){re.escape(value)}(?:s|es)?(?![\w-])"
            hits = texts.str.contains(pattern, regex=True)
            own = own_text[hits].str.contains(pattern, regex=True)
        return bool(len(own)) and not bool(own.all())

    # ---- one product ---------------------------------------------------------------------------------
    def record_values(self, product: Mapping[str, Any]) -> list[str]:
        """The product's own values, lower case: every record text field, and the category's singular."""
        out = [record_text(product.get(k)).lower() for k in RECORD_FIELDS]
        cat = record_text(product.get("category"))
        if cat and not _CJK.search(cat):
            out.append(singular(cat).lower())
        return [o for o in out if o]

    def own(self, term: Term, values: Sequence[str]) -> bool:
        """True when the product's ``values`` (lower case) hold ``term`` (see :func:`held`)."""
        return _form_pattern(term.forms).search("\n".join(values)) is not None or held(term.value, values)

    def foreign_terms(self, product: Mapping[str, Any]) -> list[Term]:
        """Terms of other products that this product's record does not hold (see module docstring)."""
        values = self.record_values(product)
        joined = "\n".join(values)
        return [t for t, pat in zip(self.terms, self._patterns)
                if pat.search(joined) is None and not (" " in t.value and held(t.value, values))]

    def foreign_digits(self, product: Mapping[str, Any], extra: Iterable[str] = ()) -> str:
        """Digits that no record value of the product (nor ``extra``, e.g. its shown price) contains."""
        held = {d for v in [*self.record_values(product), *extra] for d in _DIGIT.findall(str(v))}
        return "".join(d for d in "0123456789" if d not in held)
