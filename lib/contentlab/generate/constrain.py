"""Faithful by construction: a decoding constraint that keeps other products' terms, numbers and prices out of copy.

:class:`TermIndex` is built once per (vocabulary, :class:`~contentlab.generate.lexicon.CatalogueLexicon`): every
surface form of every term is tokenised through the model's own vocabulary (the embedded model's
:class:`~contentlab.generate.tokenizer.CompactVocab` or a pretrained checkpoint's tokenizer) in the ways it can be
written:

- English / Latin: with a leading space (" puffer jacket": a new word, banned anywhere) and without one
  ("puffer jacket" after a bracket, a quote or at the start: banned only after a token that ends on a
  non-alphanumeric character, so the same pieces inside another word stay free), each in the case forms of the
  lexicon (as written, lower case, capitalised, title case);
- Chinese: as it is and, for a byte-level tokenizer without character units, also after each of a set of common
  preceding characters (:data:`CJK_CONTEXT`): byte-level BPE merges bytes across characters, so "的羽绒服" is not
  "的" + the tokens of "羽绒服". The embedded model's character units never merge, so it needs no context forms.

The token sequences form a prefix map (prefix -> completing token -> terms). :class:`ProductConstraint` holds what
one product may say: the terms its record holds (every other term is foreign), the digits its record values
contain and whether it may name a currency. :class:`FaithfulLogitsProcessor` (a transformers ``LogitsProcessor``)
then, at every step and for every generated row, sets to ``-inf``

- a token that would complete a foreign term: the row's generated suffix matches a prefix of a banned sequence
  (a single-token term is banned outright);
- any token holding a digit the record does not hold (the embedded model writes prices only as ``[price]``);
- a currency sign or code (as a token, inside a token, or as the byte pieces of a sign), unless allowed.

Rows follow ``num_return_sequences``: row ``j`` of a batch belongs to prompt ``j // n_ret``. Token sequences that
use no token of a compact vocabulary simply never match. Limits: a term is caught in the tokenisations listed
above; a model that spells a word in other pieces (rare: models learn the tokenizer's own segmentation) is not
stopped, and the scorer (:func:`contentlab.generate.scoring.faithfulness`) still checks every copy.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contentlab.generate.lexicon import CURRENCY_CODES, CURRENCY_SIGNS, CatalogueLexicon

CJK_CONTEXT = "的这款色是为一上配和与等新件个入穿用了在"
CURRENCY = -1  # term id of currency signs and codes in the prefix map
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ALNUM_END = re.compile(r"[^\W_]$")
_SIGN_CHARS = "".join(sorted({c for s in CURRENCY_SIGNS for c in s if not c.isalnum()}))


def _vocab_size(vocab) -> int:
    return int(getattr(vocab, "size", 0) or len(vocab.tokenizer))


def _special_ids(vocab) -> set[int]:
    """Ids a tokenizer adds on its own (a BOS token), left out of term sequences."""
    if getattr(vocab, "kind", "") == "compact":
        return {0}
    return set(getattr(vocab.tokenizer, "all_special_ids", []) or [])


_TOKEN_TEXTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def token_texts(vocab) -> list[str]:
    """The text of every model id on its own (cached per vocabulary)."""
    got = _TOKEN_TEXTS.get(vocab)
    if got is None:
        n = _vocab_size(vocab)
        if getattr(vocab, "kind", "") == "compact":
            got = [vocab.tokenizer.decode(list(vocab.expansions[i])) for i in range(n)]
        else:
            got = list(vocab.tokenizer.batch_decode([[i] for i in range(n)]))
        _TOKEN_TEXTS[vocab] = got
    return got


@dataclass
class TermIndex:
    """Token sequences of every term of a lexicon in one vocabulary (see module docstring)."""

    lexicon: CatalogueLexicon
    vocab: Any
    always: dict[tuple[int, ...], dict[int, set[int]]] = field(default_factory=dict)
    boundary: dict[tuple[int, ...], dict[int, set[int]]] = field(default_factory=dict)
    max_len: int = 1
    size: int = 0

    @classmethod
    def build(cls, lexicon: CatalogueLexicon, vocab) -> TermIndex:
        idx = cls(lexicon=lexicon, vocab=vocab, size=_vocab_size(vocab))
        special = _special_ids(vocab)
        char_units = bool(getattr(vocab, "char_units", False))

        def enc(text: str) -> tuple[int, ...]:
            return tuple(i for i in vocab.encode(text) if i not in special)

        for tid, term in enumerate(lexicon.terms):
            for form in term.forms:
                idx._add_forms(tid, form, enc, char_units)
        for sign in CURRENCY_SIGNS:
            idx._add_forms(CURRENCY, sign, enc, char_units)
        for code in CURRENCY_CODES:
            idx._add_forms(CURRENCY, code, enc, char_units)
        prefixes = [p for table in (idx.always, idx.boundary) for p in table if p]
        idx.prefix_ends = {p[-1] for p in prefixes}  # a row whose last token ends no prefix matches none
        idx.prefix_lengths = sorted({len(p) for p in prefixes})
        texts = token_texts(vocab)
        idx.boundary_end = [not _ALNUM_END.search(t) for t in texts]
        idx.digit_ids = {d: [i for i, t in enumerate(texts) if d in t] for d in "0123456789"}
        idx.currency_ids = [i for i, t in enumerate(texts) if any(c in t for c in _SIGN_CHARS) or "元" in t]
        return idx

    def _add(self, table: dict, tid: int, seq: tuple[int, ...]) -> None:
        if not seq:
            return
        table.setdefault(seq[:-1], {}).setdefault(seq[-1], set()).add(tid)
        self.max_len = max(self.max_len, len(seq))

    def _add_forms(self, tid: int, form: str, enc, char_units: bool) -> None:
        if _CJK.search(form):
            self._add(self.always, tid, enc(form))
            if not char_units:
                for c in CJK_CONTEXT:
                    self._add(self.always, tid, _after(enc, c, form, self.vocab))
            return
        self._add(self.always, tid, enc(" " + form))
        self._add(self.boundary, tid, enc(form))

    def constraint(self, product: Mapping[str, Any], allow_currency: bool = False,
                   allowed_text: Iterable[str] = ()) -> ProductConstraint:
        """What ``product`` may say: its own terms, the digits of its record values (and of ``allowed_text``,
        e.g. its shown price), a currency only with ``allow_currency``."""
        foreign = {id(t) for t in self.lexicon.foreign_terms(product)}
        own = frozenset(i for i, t in enumerate(self.lexicon.terms) if id(t) not in foreign)
        allowed = own | ({CURRENCY} if allow_currency else frozenset())
        digits = self.lexicon.foreign_digits(product, allowed_text)
        static = {i for d in digits for i in self.digit_ids[d]}
        if not allow_currency:
            static.update(self.currency_ids)
        static.update(t for t, ids in self.always.get((), {}).items() if not ids <= allowed)
        bound = {t for t, ids in self.boundary.get((), {}).items() if not ids <= allowed}
        return ProductConstraint(self, allowed, sorted(static), sorted(bound), digits)


def _after(enc, context: str, form: str, vocab) -> tuple[int, ...]:
    """Tokens of ``form`` written right after ``context``: from the first token that is not wholly ``context``'s
    (a token merged across the two characters is kept, with the context bytes it holds)."""
    ids = enc(context + form)
    for i in range(len(ids), -1, -1):
        head = vocab.decode(list(ids[:i])) if i else ""
        if context.startswith(head) and "\ufffd" not in head:
            return tuple(ids[i:])
    return tuple(ids)


@dataclass
class ProductConstraint:
    """The constraint of one product (see :meth:`TermIndex.constraint`)."""

    index: TermIndex
    allowed: frozenset[int]  # term ids (and CURRENCY) the product may name
    static: list[int]  # ids banned at every step
    static_boundary: list[int]  # ids banned after a token ending on a non-alphanumeric character
    foreign_digits: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def banned_after(self, prefix: tuple[int, ...], at_boundary: bool) -> list[int]:
        """Tokens that would complete a foreign term after ``prefix`` (the row's last tokens)."""
        key = (prefix, at_boundary)
        got = self._cache.get(key)
        if got is None:
            got = [t for t, ids in self.index.always.get(prefix, {}).items() if not ids <= self.allowed]
            if at_boundary:
                got += [t for t, ids in self.index.boundary.get(prefix, {}).items() if not ids <= self.allowed]
            self._cache[key] = got
        return got


class FaithfulLogitsProcessor:
    """Bans, per row, the tokens its product's :class:`ProductConstraint` forbids (see module docstring).

    ``rows``: the constraint of every row of the batch (None: unconstrained), in row order;
    ``prompt_len``: the padded prompt length (generated tokens start there).
    """

    def __init__(self, rows: Sequence[ProductConstraint | None], prompt_len: int, vocab_size: int):
        import torch

        self.rows = list(rows)
        self.prompt_len = int(prompt_len)
        live = [c for c in self.rows if c is not None]
        self.index = live[0].index if live else None
        self.max_len = self.index.max_len if self.index else 1
        n = len(self.rows)
        self.static = torch.zeros((n, vocab_size), dtype=torch.bool)
        self.bound = torch.zeros((n, vocab_size), dtype=torch.bool)
        for r, c in enumerate(self.rows):
            if c is not None:
                self.static[r, [i for i in c.static if i < vocab_size]] = True
                self.bound[r, [i for i in c.static_boundary if i < vocab_size]] = True
        self._boundary_end = self.index.boundary_end if self.index else []

    def __call__(self, input_ids, scores):
        import torch

        if self.index is None:
            return scores
        n_rows = scores.shape[0]
        if n_rows != len(self.rows):
            raise ValueError(f"the constraint has {len(self.rows)} rows, the batch {n_rows}")
        width = scores.shape[1]
        if self.static.shape[1] != width:  # an output layer wider (padded) or narrower than the vocabulary
            self.static, self.bound = (_fit(m, width) for m in (self.static, self.bound))
        n_gen = input_ids.shape[1] - self.prompt_len
        k_max = min(self.max_len - 1, n_gen)
        tail = input_ids[:, -(k_max + 1):].tolist()  # the last generated tokens and the one before them
        ends = self._boundary_end
        mask = self.static.clone()
        at_bound = torch.tensor([ends[row[-1]] if row[-1] < len(ends) else False for row in tail], dtype=torch.bool)
        mask |= self.bound & at_bound[:, None]
        rows_i: list[int] = []
        toks: list[int] = []
        ends_prefix = self.index.prefix_ends
        lengths = [k for k in self.index.prefix_lengths if k <= k_max]
        for r, c in enumerate(self.rows):
            if c is None:
                continue
            seq = tail[r]
            if seq[-1] not in ends_prefix:
                continue
            for k in lengths:
                prev = seq[-k - 1]
                got = c.banned_after(tuple(seq[-k:]), prev < len(ends) and ends[prev])
                if got:
                    rows_i.extend([r] * len(got))
                    toks.extend(got)
        if toks:
            keep = [j for j, t in enumerate(toks) if t < width]
            mask[[rows_i[j] for j in keep], [toks[j] for j in keep]] = True
        return scores.masked_fill(mask, -float("inf"))


def _fit(mask, width: int):
    import torch

    if mask.shape[1] >= width:
        return mask[:, :width].contiguous()
    return torch.cat([mask, torch.zeros((mask.shape[0], width - mask.shape[1]), dtype=torch.bool)], dim=1)


def build_constraints(lexicon: CatalogueLexicon, vocab, products: Sequence[Mapping[str, Any]],
                      allow_currency: bool = False, allowed_texts: Sequence[Iterable[str]] | None = None,
                      index: TermIndex | None = None) -> list[ProductConstraint]:
    """One :class:`ProductConstraint` per product (in order), sharing one :class:`TermIndex`; products with the same
    id share their constraint."""
    index = index or TermIndex.build(lexicon, vocab)
    out: list[ProductConstraint] = []
    seen: dict[str, ProductConstraint] = {}
    for k, p in enumerate(products):
        key = str(p.get("product_id", k))
        if key not in seen:
            extra = list(allowed_texts[k]) if allowed_texts is not None else []
            seen[key] = index.constraint(p, allow_currency=allow_currency, allowed_text=extra)
        out.append(seen[key])
    return out
