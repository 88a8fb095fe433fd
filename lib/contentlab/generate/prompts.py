"""Prompt templates as data: persona facts + product attributes + channel constraints -> copy.

The templates live in ``contentlab/resources/prompts/<locale>.yaml`` (one place to edit, shown in
the report). They define the channels and their length limits (push <= 60 characters, email
subject <= 80, product-page blurb 40-120 words; Chinese copy is measured in characters), the
one-line prompt the language model sees, the training targets cut from the catalogue's own copy,
the rule-based baseline templates, persona hooks and the shopping-guide layout.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from contentlab import config

PROMPTS_DIR = config.RESOURCES_DIR / "prompts"
PRODUCT_FIELDS = ("title", "category", "brand", "colour", "material", "style")
PLURALIA_TANTUM = {"jeans", "trousers", "shorts", "leggings", "tights", "pants", "headphones", "earbuds",
                   "sunglasses", "glasses", "pyjamas", "sportswear", "bedding", "skincare"}
CHANNELS = ("push", "email", "product_page")  # the exposure log's channel names

_SENT_EN = re.compile(r"(?<=[.!?])\s+")
_SENT_ZH = re.compile(r"(?<=[。！？!?])")
_CLAUSE_EN = re.compile(r"\s*[,;:\u2013\u2014]\s+|\s+-\s+")
_CLAUSE_ZH = re.compile(r"[，；：,;]")


def _clean(value: Any) -> str:
    """Whitespace-folded text of a record value ("" for None / NaN / NA)."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return " ".join(str(value).split())


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;，；]", value) if v.strip()]
    try:
        return [str(v) for v in list(value) if _clean(v)]
    except TypeError:
        return [str(value)]


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


@dataclass
class PromptTemplates:
    """Templates of one locale (see module docstring); build with :func:`load_templates`."""

    spec: dict[str, Any]
    path: Path | None = None

    @property
    def locale(self) -> str:
        return self.spec.get("locale", "en")

    @property
    def version(self) -> int:
        return int(self.spec.get("version", 1))

    @property
    def currency(self) -> str:
        return self.spec.get("currency", "$")

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
        return f"{self.currency}{float(price):.2f}"

    def text_length(self, text: str) -> int:
        """Length in the locale's unit: words (en) or non-space characters (zh)."""
        if self.length_unit == "chars":
            return len(re.sub(r"\s+", "", text))
        return len(text.split())

    def sentences(self, text: str) -> list[str]:
        pattern = _SENT_ZH if self.locale == "zh" else _SENT_EN
        return [s.strip() for s in pattern.split(_clean(text)) if s.strip()]

    def crop_chars(self, text: str, max_chars: int) -> str:
        """Cut to at most ``max_chars`` characters, at a word boundary for en."""
        text = _clean(text)
        if len(text) <= max_chars:
            return text
        cut = text[:max_chars]
        if self.locale != "zh" and " " in cut:
            cut = cut[: cut.rfind(" ")]
        return cut.rstrip(" ,;:-\u2013\u2014，；：")

    def crop_length(self, text: str, max_len: int) -> str:
        """Keep whole sentences up to ``max_len`` length units (at least the first sentence, cut)."""
        out: list[str] = []
        for s in self.sentences(text):
            candidate = ("" if self.locale == "zh" else " ").join(out + [s])
            if self.text_length(candidate) > max_len:
                break
            out.append(s)
        if not out:
            first = self.sentences(text)[:1]
            if not first:
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
        fields = _Fields(
            name=self.persona_name(persona),
            price_band=self.price_band(persona.get("price_band")),
            favourite_categories=sep.join(_as_list(persona.get("favourite_categories"))[:3]),
        )
        return self._fill_segments(self.spec["persona"], fields, sep="；" if self.locale == "zh" else "; ")

    def persona_name(self, persona: Mapping[str, Any] | None) -> str:
        if not persona or str(persona.get("persona_id")) == "ALL":
            return self.spec.get("persona_fallback", "all shoppers")
        name = persona.get("name_zh") if self.locale == "zh" and persona.get("name_zh") else persona.get("name")
        return _clean(name or persona.get("segment") or persona.get("persona_id")).replace("_", " ")

    def price_band(self, band: Any) -> str:
        band = _clean(band)
        if band in ("", "unknown"):
            return ""
        return str(self.spec.get("price_bands", {}).get(band, band))

    def new_tokens(self, channel: str) -> tuple[int, int]:
        """(min_new_tokens, max_new_tokens) for generating copy for ``channel``."""
        ch = self.channels[channel]
        return int(ch.get("min_new_tokens", 0)), int(ch.get("max_new_tokens", 64))

    def product_fields(self, product: Mapping[str, Any]) -> _Fields:
        f = _Fields({k: _clean(product.get(k)) for k in PRODUCT_FIELDS})
        f["description"] = _clean(product.get("description"))
        f["price"] = self.format_price(product["price"]) if _clean(product.get("price")) else ""
        sents = self.sentences(f["description"])
        f["first_sentence"] = sents[0] if sents else ""
        f["category_lc"] = f["category"].lower() if self.locale != "zh" else f["category"]
        f["category_one"] = self.category_singular(f["category"]) if f["category"] else ""
        f["category_title"] = f["category"][:1].upper() + f["category"][1:]
        f["colour_title"] = f["colour"][:1].upper() + f["colour"][1:]
        return f

    def _fill_segments(self, template: str, fields: Mapping[str, str], sep: str) -> str:
        """Format a ``sep``-separated template, dropping segments whose fields are all empty."""
        parts = []
        for seg in template.split(sep):
            names = _placeholders(seg)
            if names and not any(fields.get(n) for n in names):
                continue
            parts.append(seg.format_map(fields))
        return sep.join(parts).strip()

    # ---- prompts, targets, baseline -----------------------------------------------------------
    def model_prompt(self, persona: Mapping[str, Any] | None, product: Mapping[str, Any], channel: str) -> str:
        fields = self.product_fields(product)
        fields["persona"] = self.persona_text(persona)
        fields["channel_label"] = self.channels[channel]["label"]
        return self._fill_segments(self.spec["model_prompt"], fields, self.separator)

    def training_target(self, product: Mapping[str, Any], channel: str) -> str:
        """The catalogue's own copy cut to the channel: the model's training target."""
        f = self.product_fields(product)
        kind = self.spec.get("targets", {}).get(channel, "description")
        ch = self.channels[channel]
        desc = f["description"] or f["title"]
        if kind == "first_clause":
            first = self.sentences(desc)[0] if self.sentences(desc) else desc
            pattern = _CLAUSE_ZH if self.locale == "zh" else _CLAUSE_EN
            text = pattern.split(first)[0].rstrip("。.!?！？")
        elif kind == "first_sentence":
            text = self.sentences(desc)[0] if self.sentences(desc) else desc
        elif kind == "title":
            text = f["title"]
        else:
            text = desc
            if "max_words" in ch:
                text = self.crop_length(text, int(ch["max_words"]))
        if "max_chars" in ch:
            text = self.crop_chars(text, int(ch["max_chars"]))
        return text

    # ---- delexicalisation ----------------------------------------------------------------------
    def _slot_forms(self, product: Mapping[str, Any]) -> dict[str, list[str]]:
        """Surface forms of the product's attribute values, per placeholder field."""
        f = self.product_fields(product)
        forms: dict[str, list[str]] = {}
        for name in ("brand", "colour", "material", "style"):
            if f[name]:
                forms[name] = [f[name]]
        if f["category"]:
            cat = f["category"]
            forms["category"] = [cat] if self.locale == "zh" else list(dict.fromkeys([cat, self.category_singular(cat)]))
        if f["price"]:
            price = float(product["price"])
            forms["price"] = [f["price"], f"{price:.2f}", f"{price:g}"]
        return forms

    def category_singular(self, category: str) -> str:
        c = _clean(category).lower()
        if self.locale == "zh":
            return _clean(category)
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
        goes; :meth:`relexicalise` fills in the product's real values after generation.
        """
        spans: list[tuple[int, int, str]] = []
        pairs = [(name, form) for name, fs in self._slot_forms(product).items() for form in fs if form]
        for name, form in sorted(pairs, key=lambda x: -len(x[1])):
            body = re.escape(form)
            if self.locale == "zh" or not form[:1].isalnum():
                pattern = re.compile(body)
            else:
                pattern = re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])" if name == "category"
                                     else rf"(?<![\w-]){body}(?![\w-])", re.IGNORECASE)
            for m in pattern.finditer(text):
                if not any(m.start() < e and a < m.end() for a, e, _ in spans):
                    spans.append((m.start(), m.end(), name))
        for a, e, name in sorted(spans, reverse=True):
            text = text[:a] + f"[{name}]" + text[e:]
        return text

    def relexicalise(self, text: str, product: Mapping[str, Any]) -> str:
        """Fill placeholders with the product's values (category in its singular form for English)."""
        f = self.product_fields(product)
        fill = {"brand": f["brand"], "colour": f["colour"].lower() if self.locale != "zh" else f["colour"],
                "material": f["material"].lower() if self.locale != "zh" else f["material"],
                "style": f["style"].lower() if self.locale != "zh" else f["style"],
                "category": self.category_singular(f["category"]) if f["category"] else "", "price": f["price"]}
        out = re.sub(r"\[(brand|colour|material|style|category|price)\]", lambda m: fill.get(m.group(1), ""), text)
        out = " ".join(out.split())
        if self.locale != "zh":
            out = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), out)
        return out

    def hook(self, persona: Mapping[str, Any] | None) -> str:
        hooks = self.spec.get("hooks", {})
        band = _clean((persona or {}).get("price_band")).lower()
        return hooks.get(band, hooks.get("default", ""))

    def baseline(self, persona: Mapping[str, Any] | None, product: Mapping[str, Any], channel: str) -> str:
        """Rule-based copy from the product's attributes: the first template that fits the channel."""
        f = self.product_fields(product)
        f["hook"] = self.hook(persona)
        ch = self.channels[channel]
        templates = self.spec["baseline"][channel]
        text = ""
        for tpl in templates:
            if "max_words" in ch and "{description}" in tpl:
                # fit the description so the whole blurb stays inside the word range
                skeleton = self._render(tpl, _Fields({**f, "description": ""}))
                budget = int(ch["max_words"]) - self.text_length(skeleton)
                f = _Fields({**f, "description": self.crop_length(f["description"], max(budget, 0))})
            text = self._render(tpl, f)
            if self.hard_limit_ok(text, channel):
                return text
        return self.crop_chars(text, int(ch["max_chars"])) if "max_chars" in ch else text

    def _render(self, template: str, fields: Mapping[str, str]) -> str:
        text = template.format_map(fields)
        text = re.sub(r"\s+", " ", text)
        text = re.sub(r"\s+([,.:;!?])", r"\1", text)
        text = re.sub(r"\b(the|a|this|by|of|in|from)\s+(?=[,.])", "", text)  # empty attribute left a dangling word
        return text.strip()

    def guide_spec(self) -> dict[str, Any]:
        return self.spec["guide"]

    def table(self) -> pd.DataFrame:
        """The templates as a table for the report."""
        rows = [{"part": "model prompt", "channel": "all", "template": self.spec["model_prompt"], "constraint": ""}]
        for name, ch in self.channels.items():
            rows.append({"part": "channel", "channel": name, "template": ch["label"], "constraint": self.constraint_text(name)})
            rows.append({"part": "training target", "channel": name, "template": self.spec.get("targets", {}).get(name, ""),
                         "constraint": ""})
            for tpl in self.spec["baseline"][name]:
                rows.append({"part": "baseline", "channel": name, "template": tpl, "constraint": self.constraint_text(name)})
        rows.append({"part": "persona", "channel": "all", "template": self.spec["persona"], "constraint": ""})
        return pd.DataFrame(rows)


@functools.lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_templates(locale: str = "en", path: str | Path | None = None) -> PromptTemplates:
    """Templates for ``locale`` (``en``/``zh``), or from an explicit YAML ``path``."""
    p = Path(path) if path else PROMPTS_DIR / f"{'zh' if str(locale).startswith('zh') else 'en'}.yaml"
    if not p.is_file():
        raise FileNotFoundError(f"prompt templates not found: {p}")
    spec = _load(str(p))
    for key in ("channels", "model_prompt", "baseline", "persona"):
        if key not in spec:
            raise ValueError(f"prompt templates {p} lack the {key!r} section")
    return PromptTemplates(spec=dict(spec), path=p)
