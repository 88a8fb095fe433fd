"""Prompt templates as data: persona facts + product attributes + channel constraints -> copy.

The templates live in ``contentlab/resources/prompts/<locale>.yaml`` (one place to edit, shown in
the report). They define the channels and their length limits (push <= 60 characters, email
subject <= 80, product-page blurb 40-120 words; Chinese copy is measured in characters), the
one-line prompt the language model sees, the training targets cut from the catalogue's own copy,
the rule-based baseline templates, persona hooks and the shopping-guide layout.

Rendering rule (:meth:`PromptTemplates.render`): a piece of template text is used only when *every*
placeholder in it has a value in the record. A template is a string (split into sentences) or a list of
sentences; a sentence is a string or a list of alternatives, the first whose placeholders all have values
wins, and a sentence with none is left out. So a missing brand, colour or price never leaves an empty slot
("by , $1.65", "made of and is", "()"): the sentence that needs it is dropped or replaced by one that needs
only the fields the record has. Prices come from the catalogue's :class:`~contentlab.generate.prices.PriceFormat`
(none when the data has no real prices or no currency). :func:`copy_problems` names what is broken in a text.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from contentlab import config
from contentlab.fmt import is_missing
from contentlab.generate.prices import NO_PRICES, PriceFormat
from contentlab.generate.style import GENERAL, check_style, sentence_style

PROMPTS_DIR = config.RESOURCES_DIR / "prompts"
PRODUCT_FIELDS = ("title", "category", "product_type", "brand", "colour", "material", "style")
PLURALIA_TANTUM = {"jeans", "trousers", "shorts", "leggings", "tights", "pants", "headphones", "earbuds",
                   "sunglasses", "glasses", "pyjamas", "sportswear", "bedding", "skincare"}
CHANNELS = ("push", "email", "product_page")  # the exposure log's channel names

_SENT_EN = re.compile(r"(?<=[.!?])\s+")
_SENT_ZH = re.compile(r"(?<=[。！？!?])")
_COMPLETE = re.compile(r"[.!?。！？][\"'”’)）]*\s*$")


_MISSING_TEXT = {"nan", "none", "null", "<na>", "nat", "n/a"}


def record_text(value: Any) -> str:
    """Whitespace-folded text of a record value ("" for None / NaN / NA and their text forms)."""
    if is_missing(value):
        return ""
    text = " ".join(str(value).split())
    return "" if text.lower() in _MISSING_TEXT else text


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;，；]", value) if v.strip()]
    try:
        return [str(v) for v in list(value) if record_text(v)]
    except TypeError:
        return [str(value)]


class TemplateFields(dict):
    """Values for a template's placeholders: a placeholder without a value renders as ""."""

    def __missing__(self, key: str) -> str:
        return ""


def _placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _usable(piece: str, fields: Mapping[str, str]) -> bool:
    """True when every placeholder of ``piece`` has a non-empty value."""
    return all(record_text(fields.get(n)) for n in _placeholders(piece))


# ---- broken copy ---------------------------------------------------------------------------------
_DANGLING_WORDS = "the|a|an|by|of|from|and|or|with|for|at"
_DANGLING = rf"(?:{_DANGLING_WORDS})"
_PROBLEMS_EN = (
    (re.compile(r"[(\[{（]\s*[)\]}）]"), "empty brackets"),
    (re.compile(r"\s[,.;:!?](?=\s|$)"), "space before punctuation"),
    (re.compile(r"[^\S\n]{2,}"), "double space"),
    (re.compile(r"[,;:]\s*[,.;:!?]|(?<!\.)\.\s*[,;:]|(?<!\.)\.\.(?!\.)|[!?]\s*\."), "repeated punctuation"),
    (re.compile(r"\b(?:of|by|in|from|with|for|at)\s+(?:and|or|is|are|of|by|with)\b|\b(?:and|or)\s+(?:and|or)\b",
                re.IGNORECASE), "empty slot between words"),
    (re.compile(rf"\b{_DANGLING}\s*[,;:!?]|\b{_DANGLING}\.(?=\s|$)", re.IGNORECASE), "dangling word before punctuation"),
    (re.compile(r"^[,.;:!?]"), "starts with punctuation"),
    (re.compile(rf"\b(?:{_DANGLING_WORDS}|to|in|on|is|are|its|your|this|these|that)\s*[,;:\-\u2013\u2014]?\s*$",
                re.IGNORECASE), "cut sentence"),
    (re.compile(r"\b([^\W\d_]{2,})\s+\1\b", re.IGNORECASE), "repeated word"),
    (re.compile(r"(?:\ba|(?:^|[.!?:]\s+)A)\s+(?:[AaIi]|[Ee](?!u|we)|[Oo](?!ne|nce))[a-z]"
                r"|(?:\ban|(?:^|[.!?:]\s+)An)\s+[BCDFGJKLMNPQRSTVWXYZbcdfgjklmnpqrstvwxyz][a-z]"),
     "a / an before the wrong sound"),
)
_PROBLEMS_ZH = (
    (re.compile(r"[(\[{（]\s*[)\]}）]"), "empty brackets"),
    (re.compile(r"[，,；;：:]\s*[，,。；;：:！!？?]"), "repeated punctuation"),
    (re.compile(r"^[，,。；;：:]"), "starts with punctuation"),
    (re.compile(r"[，,、；;：:]\s*$"), "cut sentence"),
)


def copy_problems(text: str, locale: str = "en", values: Iterable[Any] = ()) -> list[str]:
    """What is broken in ``text`` (empty list: nothing): empty brackets, a space before punctuation, double spaces,
    repeated punctuation, an empty slot between two words ("made of and is"), a preposition / conjunction /
    article left dangling before punctuation ("by, $1.65") or at the end (a cut sentence: "a t-shirt for"), a
    word repeated ("keeps its its place"), "a" / "an" before the wrong sound ("a oversized bag", "an down jacket").
    Lines are checked one by one, indentation aside.

    ``values``: the record's own field values (a title such as "Dr. Strangelove or: How I Learned ..."); what
    they contain verbatim is theirs, not a broken slot, and is not counted.
    """
    pats = _PROBLEMS_ZH if str(locale).startswith("zh") else _PROBLEMS_EN
    text = str(text or "")
    for k, v in enumerate(sorted({record_text(v) for v in values} - {""}, key=len, reverse=True)):
        if len(v) >= 2:  # a distinct stand-in per value: two adjacent values are not a repeated word
            text = text.replace(v, "Xx" + "".join(chr(ord("a") + int(d)) for d in str(k)))
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        for pat, name in pats:
            if name not in found and pat.search(line):
                found.append(name)
    return found


SLOT_NAMES = ("brand", "colour", "material", "style", "category", "type", "price")
_SLOT = re.compile(r"\[(" + "|".join(SLOT_NAMES) + r")\]")
_ARTICLE_SLOT = re.compile(r"\b(an|a|An|A)\s+\[(" + "|".join(SLOT_NAMES) + r")\]")
_VOWEL_SOUND = re.compile(r"^(?:[aiAI]|[eE](?!u|we)|[oO](?!ne|nce)|[uU](?!ni|s[eu]|ti|r[aeiou]))")


def _agree(article: str, word: str) -> str:
    """``article`` ("a", "an", "A", "An") made to agree with the sound ``word`` starts with."""
    if not word or not word[:1].isalpha():
        return article
    an = bool(_VOWEL_SOUND.match(word))
    out = "an" if an else "a"
    return out.capitalize() if article[:1].isupper() else out


@dataclass
class PromptTemplates:
    """Templates of one locale (see module docstring); build with :func:`load_templates`."""

    spec: dict[str, Any]
    path: Path | None = None
    prices: PriceFormat = NO_PRICES

    @property
    def locale(self) -> str:
        return self.spec.get("locale", "en")

    @property
    def version(self) -> int:
        return int(self.spec.get("version", 1))

    @property
    def currency(self) -> str | None:
        """The catalogue's currency code (None: prices are not shown)."""
        return self.prices.currency

    @property
    def channels(self) -> dict[str, dict[str, Any]]:
        return self.spec["channels"]

    @property
    def length_unit(self) -> str:
        return self.spec.get("length_unit", "words")

    @property
    def separator(self) -> str:
        return "｜" if "｜" in self.spec["model_prompt"] else " | "

    # ---- text helpers -------------------------------------------------------------------------
    def format_price(self, price: Any) -> str:
        """The price as copy shows it (``£1.65``), ``""`` when the catalogue's prices are not shown."""
        return self.prices.format(price)

    def text_length(self, text: str) -> int:
        """Length in the locale's unit: words (en) or non-space characters (zh)."""
        if self.length_unit == "chars":
            return len(re.sub(r"\s+", "", text))
        return len(text.split())

    def sentences(self, text: str) -> list[str]:
        pattern = _SENT_ZH if self.locale == "zh" else _SENT_EN
        return [s.strip() for s in pattern.split(record_text(text)) if s.strip()]

    def crop_length(self, text: str, max_len: int, whole_sentences: bool = False) -> str:
        """Keep whole sentences up to ``max_len`` length units (at least the first sentence, cut, unless
        ``whole_sentences``: then "" when not even the first sentence fits)."""
        out: list[str] = []
        for s in self.sentences(text):
            candidate = ("" if self.locale == "zh" else " ").join(out + [s])
            if self.text_length(candidate) > max_len:
                break
            out.append(s)
        if not out:
            first = self.sentences(text)[:1]
            if not first or whole_sentences:
                return ""
            if self.length_unit == "chars":
                return first[0][:max_len]
            return " ".join(first[0].split()[:max_len])
        return ("" if self.locale == "zh" else " ").join(out)

    # ---- channel constraints ------------------------------------------------------------------
    def length_ok(self, text: str, channel: str) -> bool:
        ch = self.channels[channel]
        if "max_chars" in ch and len(text) > int(ch["max_chars"]):
            return False
        n = self.text_length(text)
        if "min_words" in ch and n < int(ch["min_words"]):
            return False
        if "max_words" in ch and n > int(ch["max_words"]):
            return False
        return bool(text.strip())

    def hard_limit_ok(self, text: str, channel: str) -> bool:
        """Hard channel limits (characters for push/email); soft word ranges are not checked here."""
        ch = self.channels[channel]
        return "max_chars" not in ch or len(text) <= int(ch["max_chars"])

    def constraint_text(self, channel: str) -> str:
        ch = self.channels[channel]
        unit = "characters" if self.length_unit == "chars" else "words"
        if "max_chars" in ch:
            return f"at most {ch['max_chars']} characters (hard limit)"
        return f"{ch.get('min_words', 0)}-{ch.get('max_words', '')} {unit}"

    # ---- fields -------------------------------------------------------------------------------
    def persona_text(self, persona: Mapping[str, Any] | None) -> str:
        if not persona or str(persona.get("persona_id")) == "ALL":
            return self.spec.get("persona_fallback", "all shoppers")
        sep = "、" if self.locale == "zh" else ", "
        fields = TemplateFields(
            name=self.persona_name(persona),
            price_band=self.price_band(persona.get("price_band")),
            favourite_categories=sep.join(_as_list(persona.get("favourite_categories"))[:3]),
        )
        return self._fill_segments(self.spec["persona"], fields, sep="；" if self.locale == "zh" else "; ")

    def persona_name(self, persona: Mapping[str, Any] | None) -> str:
        if not persona or str(persona.get("persona_id")) == "ALL":
            return self.spec.get("persona_fallback", "all shoppers")
        name = persona.get("name_zh") if self.locale == "zh" and persona.get("name_zh") else persona.get("name")
        return record_text(name or persona.get("segment") or persona.get("persona_id")).replace("_", " ")

    def price_band(self, band: Any) -> str:
        band = record_text(band)
        if band in ("", "unknown"):
            return ""
        return str(self.spec.get("price_bands", {}).get(band, band))

    def new_tokens(self, channel: str) -> tuple[int, int]:
        """(min_new_tokens, max_new_tokens) for generating copy for ``channel``."""
        ch = self.channels[channel]
        return int(ch.get("min_new_tokens", 0)), int(ch.get("max_new_tokens", 64))

    def product_fields(self, product: Mapping[str, Any]) -> TemplateFields:
        f = TemplateFields({k: record_text(product.get(k)) for k in PRODUCT_FIELDS})
        f["description"] = record_text(product.get("description"))
        f["price"] = self.format_price(product.get("price"))
        f["currency"] = self.prices.currency or ""
        sents = self.sentences(f["description"])
        f["first_sentence"] = sents[0] if sents else ""
        f["category_lc"] = f["category"].lower() if self.locale != "zh" else f["category"]
        f["category_one"] = self.category_singular(f["category"]) if f["category"] else ""
        f["category_title"] = f["category"][:1].upper() + f["category"][1:]
        f["colour_title"] = f["colour"][:1].upper() + f["colour"][1:]
        # the thing itself, for template sentences: the product type, else the category in the singular
        thing = f["product_type"] or f["category_one"]
        f["thing"] = thing.lower() if self.locale != "zh" and thing[1:2].islower() else thing
        f["thing_verb"] = "are" if self.locale != "zh" and thing.lower().split(" ")[-1:] and \
            thing.lower().split(" ")[-1] in PLURALIA_TANTUM else "is"
        return f

    def _fill_segments(self, template: str, fields: Mapping[str, str], sep: str) -> str:
        """Format a ``sep``-separated template, dropping segments with a placeholder that has no value."""
        parts = [seg.format_map(fields) for seg in template.split(sep) if _usable(seg, fields)]
        return sep.join(parts).strip()

    # ---- the rendering rule ------------------------------------------------------------------
    def _template_sentences(self, template: str | Sequence[Any]) -> list[Any]:
        if isinstance(template, str):
            pattern = _SENT_ZH if self.locale == "zh" else _SENT_EN
            return [p for p in pattern.split(template.strip()) if p.strip()]
        return list(template)

    def render_sentence(self, sentence: str | Sequence[str], fields: Mapping[str, str]) -> str:
        """The first alternative whose placeholders all have values, formatted ("" when none has)."""
        options = [sentence] if isinstance(sentence, str) else list(sentence)
        for opt in options:
            if _usable(opt, fields):
                return self._tidy(opt.format_map(fields))
        return ""

    def render(self, template: str | Sequence[Any], fields: Mapping[str, str]) -> str:
        """A template rendered by the rule in the module docstring ("" when no sentence has its fields)."""
        parts = [self.render_sentence(sent, fields) for sent in self._template_sentences(template)]
        return self._tidy(("" if self.locale == "zh" else " ").join(p for p in parts if p))

    def _tidy(self, text: str) -> str:
        text = re.sub(r"[^\S\n]+", " ", text)
        if self.locale != "zh":
            text = re.sub(r" +([,.:;!?])", r"\1", text)
        return "\n".join(line.strip() for line in text.split("\n")).strip()

    # ---- prompts, targets, baseline -----------------------------------------------------------
    def model_prompt(self, persona: Mapping[str, Any] | None, product: Mapping[str, Any], channel: str,
                     style: str | None = None) -> str:
        """The prompt the model writes from. ``style``: the copy style control code (one of
        :data:`contentlab.generate.style.ALL_STYLES`); None takes the persona's ``copy_style``, else ``general``."""
        fields = self.product_fields(product)
        fields["copy_style"] = self.copy_style(style, persona)
        fields["persona"] = self.persona_text(persona)
        fields["channel_label"] = self.channels[channel]["label"]
        return self._fill_segments(self.spec["model_prompt"], fields, self.separator)

    @staticmethod
    def copy_style(style: str | None, persona: Mapping[str, Any] | None = None) -> str:
        """The style code a prompt carries: ``style``, else the persona's ``copy_style``, else ``general``."""
        chosen = style if record_text(style) else record_text((persona or {}).get("copy_style"))
        return check_style(chosen or GENERAL)

    def complete_sentence(self, sentence: str) -> bool:
        """Whether ``sentence`` ends at a sentence boundary (. ! ? or 。！？, closing quotes aside)."""
        return bool(_COMPLETE.search(sentence.strip()))

    def tagged_sentences(self, text: str, product: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
        """The complete sentences of ``text`` with their aspect (:func:`~contentlab.generate.style.sentence_style`)."""
        return _tagged_sentences(self.locale, record_text(text), record_text(product.get("material")),
                                 record_text(product.get("price")))

    def training_target(self, product: Mapping[str, Any], channel: str, style: str | None = None) -> str:
        """The model's training target for ``product`` on ``channel`` in copy ``style`` (default ``general``): the
        catalogue's own copy, whole sentences only. "" when nothing fits: that pair is left out of training rather
        than cut mid-phrase, so the model never learns to stop half-way.

        Target kinds (the YAML's ``targets``): ``style_sentence`` (push, email): one complete description sentence
        of the style's aspect (:func:`~contentlab.generate.style.sentence_style`) within the channel's character
        limit, the first for a push and the longest for an email subject; ``style_blurb`` (product page): the
        style's sentences first, then the general ones, in description order and within the word range (for
        ``general``: the description as written); ``first_sentence``, ``title``, ``description`` as named."""
        f = self.product_fields(product)
        style = check_style(style or GENERAL)
        kind = self.spec.get("targets", {}).get(channel, "description")
        ch = self.channels[channel]
        desc = f["description"] or f["title"]
        sents = self.sentences(desc)
        sep = "" if self.locale == "zh" else " "
        if kind in ("style_sentence", "style_blurb"):
            tagged = self.tagged_sentences(desc, product)
        if kind == "style_sentence":
            fits = [s for s, t in tagged if t == style and ("max_chars" not in ch or len(s) <= int(ch["max_chars"]))]
            if not fits:
                return ""
            return fits[0] if channel == "push" else max(fits, key=len)
        if kind == "style_blurb":
            sents = [s for s, _ in tagged]
            if style != GENERAL:
                own = [s for s, t in tagged if t == style]
                if not own:
                    return ""
                sents = own + [s for s, t in tagged if t == GENERAL]
            text = self.crop_length(sep.join(sents), int(ch.get("max_words", 10**6)), whole_sentences=True)
            return text if text and self.text_length(text) >= int(ch.get("min_words", 0)) else ""
        if kind == "first_sentence":
            text = sents[0] if sents else desc
        elif kind == "title":
            text = f["title"]
        else:
            text = desc
            if "max_words" in ch:
                text = self.crop_length(text, int(ch["max_words"]), whole_sentences=True)
        if "max_chars" in ch and len(text) > int(ch["max_chars"]):
            return ""  # cutting it would teach the model to stop mid-phrase
        return text

    # ---- delexicalisation ----------------------------------------------------------------------
    def _slot_forms(self, product: Mapping[str, Any]) -> dict[str, list[str]]:
        """Surface forms of the product's attribute values, per placeholder field (``type``: the product type)."""
        f = self.product_fields(product)
        forms: dict[str, list[str]] = {}
        if f["product_type"]:
            forms["type"] = [f["product_type"]]
        for name in ("brand", "colour", "material", "style"):
            if f[name]:
                forms[name] = [f[name]]
        if f["category"]:
            cat = f["category"]
            forms["category"] = [cat] if self.locale == "zh" else list(dict.fromkeys([cat, self.category_singular(cat)]))
        if f["price"]:
            price = float(product["price"])
            forms["price"] = list(dict.fromkeys([f"{price:.2f}", f"{price:g}", f"{price:.0f}" if price == int(price) else f"{price:.2f}"]))
        return forms

    def category_singular(self, category: str) -> str:
        c = record_text(category).lower()
        if self.locale == "zh":
            return record_text(category)
        if c.split(" ")[-1] in PLURALIA_TANTUM:
            return c
        if re.search(r"(ss|sh|ch|x)es$", c):
            return c[:-2]
        if c.endswith("s") and not c.endswith("ss"):
            return c[:-1]
        return c

    def delexicalise(self, text: str, product: Mapping[str, Any]) -> str:
        """Replace the product's own attribute values in ``text`` with placeholders like ``[colour]``.

        The embedded model is trained on delexicalised copy, so it learns *where* a colour or a price
        goes; :meth:`relexicalise` fills in the product's real values after generation. A price is replaced
        together with any currency sign or code written around it, so the model never learns a currency.
        """
        spans: list[tuple[int, int, str]] = []
        pairs = [(name, form) for name, fs in self._slot_forms(product).items() for form in fs if form]
        # longest first; a type that is also the category's name ("jeans", "羽绒服") becomes [type]
        for name, form in sorted(pairs, key=lambda x: (-len(x[1]), x[0] != "type")):
            body = re.escape(form)
            if name == "price":
                pattern = re.compile(rf"(?:(?:US\$|[$£€¥￥₹₩])\s?|\b[A-Z]{{3}}\s)?(?<![\d.,]){body}(?![\d])(?:\.\d+)?"
                                     rf"(?:\s?[A-Z]{{3}}\b|\s?(?:元|块))?")
            elif self.locale == "zh" or not form[:1].isalnum():
                pattern = re.compile(body)
            else:
                pattern = re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])" if name in ("category", "type")
                                     else rf"(?<![\w-]){body}(?![\w-])", re.IGNORECASE)
            for m in pattern.finditer(text):
                if not any(m.start() < e and a < m.end() for a, e, _ in spans):
                    spans.append((m.start(), m.end(), name))
        for a, e, name in sorted(spans, reverse=True):
            text = text[:a] + f"[{name}]" + text[e:]
        return text

    def slot_values(self, product: Mapping[str, Any]) -> dict[str, str]:
        """What each placeholder becomes for ``product`` ("" when the record has no value). ``type`` falls back to
        the category's singular when the record has no product type: a faithful, if plainer, noun."""
        f = self.product_fields(product)
        zh = self.locale == "zh"
        category = self.category_singular(f["category"]) if f["category"] else ""
        return {"brand": f["brand"], "colour": f["colour"] if zh else f["colour"].lower(),
                "material": f["material"] if zh else f["material"].lower(),
                "style": f["style"] if zh else f["style"].lower(),
                "category": category, "type": f["product_type"] or category, "price": f["price"]}

    def relexicalise(self, text: str, product: Mapping[str, Any]) -> str:
        """Fill placeholders with the product's values (category in its singular form for English).

        The rendering rule applies: a sentence with a placeholder the product has no value for (a price in a
        catalogue without real prices, a brand the record lacks) is left out. An English "a" / "an" written
        before a placeholder is made to agree with the value that fills it ("a [type]" -> "an everyday t-shirt").
        """
        fill = self.slot_values(product)
        kept = [s for s in self.sentences(text) if all(fill.get(m.group(1)) for m in _SLOT.finditer(s))]
        out = ("" if self.locale == "zh" else " ").join(kept)
        if self.locale != "zh":
            out = _ARTICLE_SLOT.sub(lambda m: _agree(m.group(1), fill.get(m.group(2), "")) + m.group(0)[len(m.group(1)):],
                                    out)
        out = _SLOT.sub(lambda m: fill.get(m.group(1), ""), out)
        out = " ".join(out.split())
        if self.locale != "zh":
            out = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), out)
        return out

    def hook(self, persona: Mapping[str, Any] | None) -> str:
        hooks = self.spec.get("hooks", {})
        band = record_text((persona or {}).get("price_band")).lower()
        return hooks.get(band, hooks.get("default", ""))

    def baseline(self, persona: Mapping[str, Any] | None, product: Mapping[str, Any], channel: str) -> str:
        """Rule-based copy from the product's attributes: the first template that renders and fits the channel.

        Templates are tried in order; a template renders only the sentences whose fields the product has
        (see :meth:`render`), and a rendering with a broken sentence (:func:`copy_problems`: "goose down down
        jacket", "a oversized") gives way to the next template. When none fits the channel's length rule the shortest rendering is returned (and
        rejected for length by the scorer) rather than a cut sentence.
        """
        f = self.product_fields(product)
        f["hook"] = self.hook(persona)
        ch = self.channels[channel]
        rendered: list[str] = []
        broken: list[str] = []
        # the record's own free text is exempt from the checks; attribute values are not, so two values that
        # overlap ("goose down" + "down jacket") show up as the repeated word they make
        values = [product.get(k) for k in ("title", "description")]
        for tpl in self.spec["baseline"][channel]:
            fields = f
            if "max_words" in ch and f["description"] and "{description}" in str(tpl):
                # fit the description so the whole blurb stays inside the word range
                skeleton = self.render(tpl, TemplateFields({**f, "description": "x"}))
                budget = int(ch["max_words"]) - self.text_length(skeleton) + 1
                cropped = self.crop_length(f["description"], max(budget, 0), whole_sentences=True)
                fields = TemplateFields({**f, "description": cropped})
            text = self.render(tpl, fields)
            if not text:
                continue
            if copy_problems(text, self.locale, values):  # "goose down down jacket": try the next template
                broken.append(text)
                continue
            if self.length_ok(text, channel):
                return text
            rendered.append(text)
        rendered = rendered or broken
        if not rendered:
            return ""
        return min(rendered, key=len) if "max_chars" in ch else max(rendered, key=self.text_length)

    def guide_spec(self) -> dict[str, Any]:
        return self.spec["guide"]

    def table(self) -> pd.DataFrame:
        """The templates as a table for the report."""
        def show(tpl: Any) -> str:
            if isinstance(tpl, str):
                return tpl
            return " ".join(t if isinstance(t, str) else " | ".join(t) for t in tpl)

        rows = [{"part": "model prompt", "channel": "all", "template": self.spec["model_prompt"], "constraint": ""}]
        for name, ch in self.channels.items():
            rows.append({"part": "channel", "channel": name, "template": ch["label"], "constraint": self.constraint_text(name)})
            rows.append({"part": "training target", "channel": name, "template": self.spec.get("targets", {}).get(name, ""),
                         "constraint": ""})
            for tpl in self.spec["baseline"][name]:
                rows.append({"part": "baseline", "channel": name, "template": show(tpl),
                             "constraint": self.constraint_text(name)})
        rows.append({"part": "persona", "channel": "all", "template": self.spec["persona"], "constraint": ""})
        return pd.DataFrame(rows)


@functools.lru_cache(maxsize=4096)
def _tagged_sentences(locale: str, text: str, material: str, price: str) -> tuple[tuple[str, str], ...]:
    pattern = _SENT_ZH if locale == "zh" else _SENT_EN
    sents = [s.strip() for s in pattern.split(text) if s.strip()]
    product = {"material": material, "price": price}
    return tuple((s, sentence_style(s, product, locale)) for s in sents if _COMPLETE.search(s))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_templates(locale: str = "en", path: str | Path | None = None,
                   prices: PriceFormat | None = None) -> PromptTemplates:
    """Templates for ``locale`` (``en``/``zh``), or from an explicit YAML ``path``.

    ``prices``: the catalogue's price policy (:func:`contentlab.generate.prices.price_format`); without it no
    copy names a price.
    """
    p = Path(path) if path else PROMPTS_DIR / f"{'zh' if str(locale).startswith('zh') else 'en'}.yaml"
    if not p.is_file():
        raise FileNotFoundError(f"prompt templates not found: {p}")
    spec = _load(str(p))
    for key in ("channels", "model_prompt", "baseline", "persona"):
        if key not in spec:
            raise ValueError(f"prompt templates {p} lack the {key!r} section")
    return PromptTemplates(spec=dict(spec), path=p, prices=prices or NO_PRICES)
