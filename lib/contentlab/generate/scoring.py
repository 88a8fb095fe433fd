"""Quality scores for copy: faithfulness, diversity and novelty, fluency, reference overlap.

Faithfulness (:class:`AttributeLexicon`, :func:`faithfulness`)
    The catalogue defines the vocabulary of each attribute type (``category``, ``product_type``,
    ``colour``, ``material``, ``brand``, ``style``). A copy *covers* a product attribute when it names the
    product's value (coverage counts category, colour, material and brand); it *hallucinates* when it names

    - a value that the product record does not support (e.g. "navy" for a white jacket, another brand,
      another category, another product's type "puffer jacket" for a fitted sheet, another fit):
      ``colour=navy``, ``type=puffer jacket``, ``style=slim-fit``. A value is supported when it is contained
      in one of the product's own values (title and description included; "pink" for "blush pink", "down
      jacket" for the category "Down Jackets") or contains the product's value of that type ("organic cotton"
      for "cotton");
    - a number (digits) that no record value holds, the real price aside: ``number=30`` (a list number
      "1." at the start of a line is layout, not a claim);
    - a price that is not the real one, or in another currency than the data's, or any price at all when the
      data has no real prices (``prices``, a :class:`~contentlab.generate.prices.PriceFormat`):
      ``price=$1.65 (data currency GBP)``;
    - the title of *another* product of the catalogue ("Air, The (1996)" in copy for "Contact (1997)"; titles
      of two or more words, matched word by word, also as "The Air (1996)"), unless the product's own title or
      description contains it: ``title=air, the (1996)``;
    - (reported apart, in ``nonwords``, and not counted as a hallucination: garbled text is malformed copy, not a
      false claim about the product) a non-word (``nonword=partyiralage``): a word of Latin letters (three or more for a pretrained model) that
      is neither in the
      catalogue (every product's text fields), nor in the reference copy (training copy, templates), nor -- for
      a pretrained model, which knows words the catalogue does not use -- a word of GPT-2's vocabulary (a single
      word-initial BPE token: some 24,000 common words and word starts), also after removing a plural / verb /
      adverb ending. A model trained only on the catalogue's copy is held to the catalogue's words. Garbled generations ("OF PARTYIRALAGE") fail this; real
      words do not. Chinese characters are not checked (Chinese copy has no word boundaries to garble).

    Colour / material / style words that other products' titles or descriptions use as ordinary words, not as
    one of their own values ("cream" in "night cream" without a product type naming it, "clear" in "deep, clear
    bass"), and single words of the template text (``generic_texts``) are ambiguous and left out of the check
    (:class:`~contentlab.generate.lexicon.CatalogueLexicon`, the lexicon the decoding constraint uses).
    Matching is longest-first without overlaps, case-insensitive, whole words with an optional plural
    "s"/"es" for English and substrings for Chinese.
Diversity and novelty
    distinct-1/2 (unique n-grams / all n-grams), self-BLEU of each copy against the other copies of
    its group (sacrebleu), and the longest n-gram the copy shares with the training copy
    (:class:`NGramIndex`; long verbatim overlaps are flagged as regurgitation).
Fluency
    Perplexity under the model (:func:`contentlab.generate.decode.copy_perplexity`) and channel
    length compliance (:meth:`PromptTemplates.length_ok`).
Reference overlap
    Sentence BLEU (sacrebleu) and ROUGE-L F1 (rouge-score) against the product description.

Chinese copy is tokenised by character for every overlap metric.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from contentlab.generate.prices import PriceFormat
from contentlab.generate.prompts import record_text

ATTRIBUTE_TYPES = ("category", "colour", "material", "brand")  # the key attributes coverage counts
CHECKED_TYPES = ("category", "product_type", "colour", "material", "brand", "style")  # checked for faithfulness
_DIGITS = re.compile(r"\d")
_NUMBER = re.compile(r"(?<![A-Za-z\d.,])\d+(?:[.,]\d+)*")  # after a Chinese character too: "洗了20次"
_LIST_NUMBER = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ZH_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u9fff\uf900-\ufaff]+")
_CODES = r"USD|GBP|EUR|CNY|RMB|JPY|CHF|AUD|CAD|NZD|HKD|SGD|SEK|NOK|DKK|PLN|CZK|INR|KRW|BRL|MXN|ZAR"
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
_PRICE_PATTERNS = (  # (pattern, group of the sign, group of the amount)
    (re.compile(rf"(US\$|[$€£¥￥₹₩]|\b(?:{_CODES})\b)\s?{_AMOUNT}", re.IGNORECASE), 1, 2),
    (re.compile(rf"{_AMOUNT}\s?(元|块|\b(?:dollars?|pounds?|euros?|{_CODES})\b)", re.IGNORECASE), 2, 1),
)


def is_zh(locale: str) -> bool:
    return str(locale).lower().startswith("zh")


def tokens(text: str, locale: str = "en") -> list[str]:
    """Words (lower-cased) for English; characters (letters/digits only) for Chinese."""
    text = text or ""
    if is_zh(locale):
        return _ZH_TOKEN.findall(text.lower())
    return _WORD.findall(text.lower())


def _norm(value: Any) -> str:
    """Lower-cased, whitespace-folded text of a record value ("" for missing)."""
    return record_text(value).lower()


# ---- faithfulness --------------------------------------------------------------------------------
_PAIR_STOP = frozenset({"the", "and", "with", "for", "from", "set", "pack", "of", "in", "on", "to", "by", "a", "an",
                        "its", "your", "this", "that", "new"})


def _word_pairs(text: str) -> set[tuple[str, str]]:
    """Consecutive pairs of Latin-letter words of three or more letters (stop words break a run)."""
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]*|\S", str(text or ""))]
    return {(a, b) for a, b in zip(words, words[1:])
            if len(a) >= 3 and len(b) >= 3 and a.isalpha() and b.isalpha() and a not in _PAIR_STOP
            and b not in _PAIR_STOP}
class AttributeLexicon:
    """Attribute values of the catalogue, by type, and a matcher for mentions in copy."""

    def __init__(self, products: pd.DataFrame, locale: str = "en", types: Sequence[str] = CHECKED_TYPES,
                 prices: PriceFormat | None = None, reference_texts: Iterable[str] = (), check_words: bool = True,
                 open_vocabulary: bool = True, generic_texts: Iterable[str] = ()):
        """``prices``: the data's price policy (None: amounts are compared, currencies not);
        ``reference_texts``: copy whose words are real words (training copy, templates); ``check_words``:
        flag non-words (see module docstring); ``open_vocabulary``: GPT-2's whole words count as words too
        (for a pretrained model; a model trained only on the catalogue's copy knows no other words, so for it
        any word outside the catalogue and the reference copy is garbled); ``generic_texts``: the template text,
        whose single words are never taken for a colour, material or style."""
        from contentlab.generate.lexicon import CatalogueLexicon

        self.locale = locale
        self.prices = prices
        self.check_words = check_words
        self.open_vocabulary = open_vocabulary
        self.types = [t for t in types if t in products.columns]
        self.coverage_types = [t for t in self.types if t in ATTRIBUTE_TYPES]
        values: list[tuple[str, str]] = []
        for t in self.types:
            for v in sorted({_norm(x) for x in products[t].dropna().unique()} - {""}):
                values.append((t, v))
        # longest first, so "dark blue" wins over "blue"
        ordered = sorted(values, key=lambda tv: -len(tv[1]))
        self._patterns = [(t, v, self._pattern(v, t)) for t, v in ordered]
        # a colour, material or style word that names something else in the catalogue ("cream" in "night cream",
        # "clear" in "clear bass") or is a word of the templates is ambiguous: it is not evidence of a hallucination
        self.catalogue = CatalogueLexicon(products, locale, generic_texts=generic_texts)
        self.ambiguous: set[tuple[str, str]] = set(self.catalogue.generic)
        self._patterns = [(t, v, p) for t, v, p in self._patterns if (t, v) not in self.ambiguous]
        self.values = [tv for tv in values if tv not in self.ambiguous]
        # words of the catalogue and the reference copy; titles of the products, by their first word
        text_cols = [c for c in ("title", "category", "product_type", "brand", "colour", "material", "style",
                                 "description") if c in products.columns]
        self.vocabulary: set[str] = set()
        self._vocab_stems: set[str] = set()
        self._stem_cache_size = -1
        for c in text_cols:
            for v in products[c].dropna().astype(str).unique():
                self.vocabulary.update(w.lower() for w in _LATIN_WORD.findall(v))
        self.vocabulary.update(c.lower() for c in _CODES.split("|"))  # currency codes are words
        self.add_reference(reference_texts)
        self.titles: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        self.title_of: dict[str, str] = {}
        self.numbered_titles: list[str] = sorted({t for t in (_norm(x) for x in products["title"].dropna().unique())
                                                  if _DIGITS.search(t)}) if "title" in products.columns else []
        if "title" in products.columns and "product_id" in products.columns:
            counts = products["title"].astype(str).map(_norm).value_counts()
            for pid, title in zip(products["product_id"].astype(str), products["title"].astype(str)):
                norm = _norm(title)
                self.title_of[pid] = norm
                if counts.get(norm, 0) != 1:
                    continue  # a title shared by several products names none of them
                for form in _title_forms(title):
                    toks = tuple(tokens(form, locale))
                    if len(toks) >= 2 and sum(len(t) for t in toks) >= 5:
                        self.titles[toks[0]].append((toks, norm))

        # a catalogue whose titles are all it says of a product (Online Retail's stock descriptions, movie titles):
        # the title is the product type, so two title words of another product in a row ("ALARM CLOCK", "CAKE
        # CASES") that the product's own title and description do not hold name another product
        has_types = "product_type" in products.columns and products["product_type"].notna().any()
        self.title_pairs: set[tuple[str, str]] = set()
        if not has_types and not is_zh(locale) and "title" in products.columns:
            for title in products["title"].dropna().astype(str):
                self.title_pairs.update(_word_pairs(title))

    def other_title_words(self, text: str, product: Mapping[str, Any]) -> list[str]:
        """Pairs of consecutive title words of other products named in ``text`` that the product's own title and
        description do not hold (title-only catalogues, see the constructor)."""
        if not self.title_pairs:
            return []
        own = _word_pairs(" ".join(record_text(product.get(k)) for k in ("title", "description")))
        return sorted({" ".join(p) for p in _word_pairs(text) if p in self.title_pairs and p not in own})

    def add_reference(self, texts: Iterable[str]) -> None:
        """Words of ``texts`` (training copy, templates, persona names) count as real words."""
        for t in texts:
            self.vocabulary.update(w.lower() for w in _LATIN_WORD.findall(str(t or "")))

    def is_word(self, word: str) -> bool:
        w = word.lower()
        if w in self.vocabulary or w in ("a", "i"):
            return True
        if len(w) < 3:  # stray letters ("relaxed-fit p leggings") count only against a closed vocabulary
            return self.open_vocabulary
        known = gpt2_words() if self.open_vocabulary else frozenset()
        if w in known:
            return True
        stems = _stems(w)
        if any(st in self.vocabulary or st in known for st in stems):
            return True
        # "handbag" when the catalogue says "handbags": compare stems both ways
        if self._stem_cache_size != len(self.vocabulary):
            self._vocab_stems = {st for v in self.vocabulary for st in _stems(v)}
            self._stem_cache_size = len(self.vocabulary)
        return w in self._vocab_stems or any(st in self._vocab_stems for st in stems)

    def nonwords(self, text: str) -> list[str]:
        """Latin-letter words of ``text`` that are not words (see module docstring)."""
        if not self.check_words:
            return []
        return sorted({w.lower() for w in _LATIN_WORD.findall(text or "") if not self.is_word(w)})

    def other_titles(self, text: str, product: Mapping[str, Any]) -> list[str]:
        """Titles of other products named in ``text`` (not supported by the product's own title/description)."""
        if not self.titles:
            return []
        own = self.title_of.get(str(product.get("product_id")), _norm(product.get("title")))
        context = " " + " ".join(tokens(" ".join(record_text(product.get(k)) for k in ("title", "description")),
                                        self.locale)) + " "
        toks = tokens(text, self.locale)
        found: list[str] = []
        for i, tok in enumerate(toks):
            for form, title in self.titles.get(tok, ()):
                if title == own or title in found or tuple(toks[i:i + len(form)]) != form:
                    continue
                if " " + " ".join(form) + " " in context:
                    continue
                found.append(title)
        return found

    def _pattern(self, value: str, kind: str) -> re.Pattern:
        if is_zh(self.locale) and _CJK.search(value):
            return re.compile(re.escape(value), re.IGNORECASE)  # "T恤" in copy, "t恤" as the lexicon holds it
        stem, plural = value, ""
        if kind in ("category", "product_type"):  # "Down Jackets" also matches "down jacket"; "dress" "dresses"
            if re.search(r"(ss|sh|ch|x)es$", value):
                stem = value[:-2]
            elif value.endswith("s") and not value.endswith("ss"):
                stem = value[:-1]
            plural = r"(?:s|es)?"
        body = re.escape(stem).replace(r"\ ", r"[\s-]+")
        return re.compile(rf"(?<![\w-]){body}{plural}(?![\w-])", re.IGNORECASE)

    def mentions(self, text: str) -> list[tuple[str, str, int, int]]:
        """(type, value, start, end) of every attribute value named in ``text``.

        Within a type, longer values win and matches do not overlap ("organic cotton" hides "cotton");
        values of different types may share words ("goose down" material, "down jacket" category).
        """
        taken: dict[str, list[tuple[int, int]]] = defaultdict(list)
        found = []
        for t, v, pat in self._patterns:
            for m in pat.finditer(text or ""):
                if any(m.start() < e and s < m.end() for s, e in taken[t]):
                    continue
                taken[t].append((m.start(), m.end()))
                found.append((t, v, m.start(), m.end()))
        return sorted(found, key=lambda x: x[2])


def price_signs(text: str) -> list[tuple[float, str]]:
    """(amount, currency sign or word as written) of every price named in ``text``."""
    out: list[tuple[float, str]] = []
    spans: list[tuple[int, int]] = []
    for pat, g_sign, g_amount in _PRICE_PATTERNS:
        for m in pat.finditer(text or ""):
            if any(m.start() < e and s < m.end() for s, e in spans):
                continue
            spans.append((m.start(), m.end()))
            try:
                out.append((float(m.group(g_amount).replace(",", "")), m.group(g_sign)))
            except ValueError:
                continue
    return out


def price_mentions(text: str) -> list[float]:
    return [amount for amount, _ in price_signs(text)]


# ---- non-words and other products' titles --------------------------------------------------------
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_SUFFIXES = ("'s", "s", "es", "ed", "d", "ing", "ly", "er", "est", "ness", "ers")
_ARTICLE_TITLE = re.compile(r"^(?P<name>.+), (?P<article>the|a|an|les|la|le|il|das|der|die|el|l')\s*(?P<rest>\(.*)?$",
                            re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def gpt2_words() -> frozenset[str]:
    """Lower-cased words (3+ letters) that GPT-2's BPE vocabulary holds as one word-initial token."""
    import json

    from contentlab.generate.tokenizer import tokenizer_files

    enc = json.loads(tokenizer_files()[0].read_text(encoding="utf-8"))
    return frozenset(k[1:].lower() for k in enc if k.startswith("\u0120") and len(k) >= 4 and k[1:].isascii()
                     and k[1:].isalpha())


def _stems(word: str) -> list[str]:
    """``word`` without a plural / verb / adverb ending ("cushioned" -> "cushion", "cushione")."""
    out = []
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            stem = word[: -len(suf)]
            if suf not in ("s", "es", "'s") and stem.endswith("s") and not stem.endswith("ss"):
                continue  # "sportser": a plural takes no further ending
            out.append(stem)
            out.append(stem + "e")
            if len(stem) > 3 and stem[-1] == stem[-2]:
                out.append(stem[:-1])
            if stem.endswith("i"):
                out.append(stem[:-1] + "y")
    return out


def _title_forms(title: str) -> list[str]:
    """A title and, for "Air, The (1996)", its reading order "The Air (1996)"."""
    forms = [title]
    m = _ARTICLE_TITLE.match(title)
    if m:
        forms.append(f"{m.group('article')} {m.group('name')} {m.group('rest') or ''}".strip())
    return forms


@dataclass
class Faithfulness:
    coverage: float  # share of the product's key attribute values the copy names (NaN: none known)
    covered: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # "colour=navy", "type=puffer jacket", "price=19.99", "number=30", ...
    n_prices: int = 0
    nonwords: list[str] = field(default_factory=list)  # "nonword=partyiralage": garbled text, not a false claim

    @property
    def hallucinated(self) -> bool:
        """The copy names something the product's record does not hold. A non-word is not a claim about the
        product: it makes the copy malformed (rejected as such), not unfaithful."""
        return bool(self.wrong)


def _supported(value: str, own: str, record: Sequence[str], locale: str) -> bool:
    """``value`` is the product's own (contained in its value of that type, or containing it), or is contained in
    one of its record values (title, description, other fields, the category's singular)."""
    from contentlab.generate.lexicon import held

    if own and (value == own or value in own or own in value):
        return True
    return held(value, record)


def _price_errors(found: Sequence[tuple[float, str]], real: Any, policy: PriceFormat | None) -> list[str]:
    out: list[str] = []
    try:
        real_value = float(real)
    except (TypeError, ValueError):
        real_value = float("nan")
    for amount, sign in found:
        shown = f"{sign}{amount:g}" if not sign[:1].isalpha() else f"{amount:g} {sign}"
        if policy is not None and not policy.show:
            out.append(f"price={shown} (the data has no prices to show)")
        elif policy is not None and policy.currency not in policy.codes_of(sign):
            out.append(f"price={shown} (data currency {policy.currency})")
        elif math.isnan(real_value) or abs(amount - real_value) > 0.005:
            out.append(f"price={amount:g}")
    return out


def _number_value(text: str) -> float | None:
    """1,299.00 -> 1299.0 (thousands separators), 12,5 -> 12.5 (decimal comma); None when it is no number."""
    thousands = re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text)
    try:
        return float(text.replace(",", "") if thousands else text.replace(",", "."))
    except ValueError:
        return None


def number_errors(text: str, record: Sequence[str], price: Any = None) -> list[str]:
    """Numbers (digits) in ``text`` that no ``record`` value holds and that are not the real ``price``; amounts of
    price mentions are checked as prices, list numbers ("1. ") at a line start are layout."""
    body = _LIST_NUMBER.sub(" ", text or "")
    spans = [m.span() for pat, _, _ in _PRICE_PATTERNS for m in pat.finditer(body)]
    held = {n for r in record for n in _NUMBER.findall(r)}
    held_values = {v for v in (_number_value(n) for n in held) if v is not None}
    real = _number_value(str(price)) if price is not None else None
    if real is not None:
        held_values.add(round(real, 2))
    out: list[str] = []
    for m in _NUMBER.finditer(body):
        if any(a <= m.start() < b for a, b in spans):
            continue
        n = m.group(0)
        v = _number_value(n)
        if n in held or (v is not None and round(v, 2) in held_values):
            continue
        out.append(f"number={n}")
    return out


def faithfulness(text: str, product: Mapping[str, Any], lexicon: AttributeLexicon) -> Faithfulness:
    """Coverage and hallucinations of ``text`` for ``product`` (see module docstring)."""
    from contentlab.generate.lexicon import label

    record = lexicon.catalogue.record_values(product)
    mentioned = lexicon.mentions(text)
    wrong: list[str] = []
    hit: set[str] = set()
    for t, v, _, _ in mentioned:
        own = _norm(product.get(t))
        if own and (v == own or v in own or own in v):
            hit.add(t)
        elif not _supported(v, own, record, lexicon.locale):
            wrong.append(f"{label(t)}={v}")
    keys = [t for t in lexicon.coverage_types if _norm(product.get(t))]
    # a product value that the lexicon never lists as a whole (rare) is still covered if named verbatim
    low = (text or "").lower()
    for t in keys:
        if t not in hit and _norm(product.get(t)) and _norm(product.get(t)) in low:
            hit.add(t)
    prices = price_signs(text)
    wrong.extend(_price_errors(prices, product.get("price"), lexicon.prices))
    others = lexicon.other_titles(text, product)
    wrong.extend(f"title={t}" for t in others)
    if not others:
        wrong.extend(f"title_words={t}" for t in lexicon.other_title_words(text, product))
    # a year inside a title the copy names is the title check's business ("Heat (1995)"), not a number of its own
    named = [t for t in lexicon.numbered_titles if t in low]
    wrong.extend(number_errors(text, [*record, *named, *others], product.get("price")))
    garbled = sorted({f"nonword={w}" for w in lexicon.nonwords(text)})
    coverage = len(hit & set(keys)) / len(keys) if keys else float("nan")
    return Faithfulness(coverage=coverage, covered=sorted(hit & set(keys)), wrong=sorted(set(wrong)), n_prices=len(prices),
                        nonwords=garbled)


# ---- diversity -----------------------------------------------------------------------------------
def ngrams(toks: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def distinct_n(texts: Iterable[str], n: int, locale: str = "en") -> float:
    """Unique n-grams / all n-grams over ``texts`` (NaN when there are none)."""
    total, uniq = 0, set()
    for t in texts:
        g = ngrams(tokens(t, locale), n)
        total += len(g)
        uniq.update(g)
    return len(uniq) / total if total else float("nan")


def _bleu_args(locale: str) -> dict:
    return {"tokenize": "none"} if is_zh(locale) else {"tokenize": "13a"}


def _bleu_text(text: str, locale: str) -> str:
    return " ".join(tokens(text, locale)) if is_zh(locale) else (text or "")


def self_bleu(texts: Sequence[str], locale: str = "en") -> float:
    """Mean sentence BLEU (0-1) of each copy against all the others (NaN for fewer than 2)."""
    from sacrebleu.metrics import BLEU

    texts = [t for t in texts if t and t.strip()]
    if len(texts) < 2:
        return float("nan")
    bleu = BLEU(effective_order=True, **_bleu_args(locale))
    prepared = [_bleu_text(t, locale) for t in texts]
    scores = []
    for i, hyp in enumerate(prepared):
        refs = prepared[:i] + prepared[i + 1:]
        scores.append(bleu.sentence_score(hyp, refs).score / 100.0)
    return float(sum(scores) / len(scores))


class NGramIndex:
    """Longest common token run between a copy and any training copy."""

    def __init__(self, texts: Iterable[str], locale: str = "en", key: int = 3):
        self.locale, self.key = locale, key
        self.docs = [tokens(t, locale) for t in texts]
        self.index: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
        self.small: set[tuple[str, ...]] = set()
        for d, toks in enumerate(self.docs):
            for n in range(1, key):
                self.small.update(ngrams(toks, n))
            for i in range(len(toks) - key + 1):
                self.index[tuple(toks[i:i + key])].append((d, i))

    def longest_overlap(self, text: str, max_hits: int = 400) -> int:
        toks = tokens(text, self.locale)
        best = 0
        for n in range(self.key - 1, 0, -1):
            if any(g in self.small for g in ngrams(toks, n)):
                best = n
                break
        for i in range(len(toks) - self.key + 1):
            hits = self.index.get(tuple(toks[i:i + self.key]))
            if not hits:
                continue
            for d, p in hits[:max_hits]:
                doc = self.docs[d]
                k = self.key
                while i + k < len(toks) and p + k < len(doc) and toks[i + k] == doc[p + k]:
                    k += 1
                best = max(best, k)
            if best >= len(toks) - i:
                break
        return best

    def regurgitated(self, text: str, threshold: int | None = None) -> bool:
        """True when the copy repeats a long run of training copy verbatim.

        Default threshold: 12 tokens (words; 24 characters for Chinese), or 80% of a shorter copy.
        """
        n = len(tokens(text, self.locale))
        if n == 0:
            return False
        limit = threshold or (24 if is_zh(self.locale) else 12)
        limit = max(5, min(limit, int(math.ceil(0.8 * n))))
        return self.longest_overlap(text) >= limit


# ---- reference overlap ---------------------------------------------------------------------------
class _CharTokenizer:
    def tokenize(self, text):
        return tokens(text, "zh")


class _WordTokenizer:
    def tokenize(self, text):
        return tokens(text, "en")


def reference_scores(text: str, reference: str, locale: str = "en") -> tuple[float, float]:
    """(BLEU 0-1, ROUGE-L F1) of ``text`` against ``reference`` (NaN when there is no reference)."""
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import BLEU

    if not reference or not str(reference).strip() or not text:
        return float("nan"), float("nan")
    bleu = BLEU(effective_order=True, **_bleu_args(locale))
    b = bleu.sentence_score(_bleu_text(text, locale), [_bleu_text(reference, locale)]).score / 100.0
    tok = _CharTokenizer() if is_zh(locale) else _WordTokenizer()
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=tok)
    r = scorer.score(reference, text)["rougeL"].fmeasure
    return float(b), float(r)


# ---- combined ------------------------------------------------------------------------------------
QUALITY_WEIGHTS = {"coverage": 1.0, "length_ok": 0.3, "log_perplexity": -0.1, "regurgitated": -0.2}


def quality_score(coverage: float, length_ok: bool, perplexity: float, regurgitated: bool) -> float:
    """Ranks a slot's accepted candidates: coverage first, then channel fit, fluency and novelty."""
    w = QUALITY_WEIGHTS
    cov = 0.0 if coverage is None or math.isnan(coverage) else coverage
    lp = math.log(perplexity) if perplexity and not math.isnan(perplexity) and perplexity > 0 else 0.0
    return w["coverage"] * cov + w["length_ok"] * float(bool(length_ok)) + w["log_perplexity"] * lp + w["regurgitated"] * float(bool(regurgitated))
