"""Markup and script never reach published copy: clean record fields on the way in, check copy on the way out.

Published copy goes to storefronts and email, where a ``<script>`` or an ``onerror=`` handler would run. Two
independent rules guard it:

- **In** (:func:`clean_text`, :func:`sanitise_products`, :func:`sanitise_frame`): every text field that copy is
  made from (titles, descriptions, attributes, review text, persona names) is decoded and stripped until it is
  stable: HTML entities are decoded (also double-encoded ones, ``&amp;lt;``), look-alikes of ``<`` / ``>``
  (fullwidth ``＜``, small forms) become plain brackets, text whose NFKC form reveals a script URL or handler
  (``ｊａｖａｓｃｒｉｐｔ:``) is NFKC-normalised, control and invisible format characters are removed (zero-width spaces,
  bidirectional overrides, terminal escape sequences), ``<script>``/``<style>`` blocks go with their content, every other tag and any stray
  ``<`` / ``>`` is removed, and so are ``javascript:`` / ``vbscript:`` / ``data:text/html`` URL schemes and
  ``on...=`` event-handler attributes. Whitespace is folded. The raw data is never modified: the functions
  return cleaned copies and a count of the changed values per column.
- **Out** (:func:`markup_problems`): every text about to be published is checked again, on its decoded and
  normalised form; anything markup-like that survived (``<`` or ``>``, an entity, a script URL, an event
  handler, a control or invisible character) makes the copy rejected with reason ``markup``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from contentlab.fmt import is_missing

MAX_PASSES = 6  # decode/strip rounds; nested tricks ("<scr<script>ipt>") need a few

_BLOCK = re.compile(r"<\s*(script|style|iframe|object|embed|template|noscript)\b[^>]*>.*?<\s*/\s*\1\s*>",
                    re.IGNORECASE | re.DOTALL)
_OPEN_BLOCK = re.compile(r"<\s*(script|style|iframe|object|embed|template|noscript)\b[^>]*>.*\Z",
                         re.IGNORECASE | re.DOTALL)  # an unclosed script block: everything after it goes
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TAG = re.compile(r"<[^<>]*>")
_ANGLE = re.compile(r"[<>]")
_SCHEME = re.compile(r"(?:java|vb|live)\s*script\s*:|data\s*:\s*[a-z]+/[a-z0-9.+-]+", re.IGNORECASE)
_HANDLER = re.compile(r"\bon[a-z]{2,}\s*=", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+;?|#x[0-9a-f]+;?|[a-z][a-z0-9]{1,31};)", re.IGNORECASE)
_MISSING = {"", "nan", "none", "null", "<na>", "nat"}


def _invisible(ch: str) -> bool:
    """Control (Cc), format (Cf: zero-width, bidi overrides), surrogate, private-use and unassigned characters."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")  # terminal escape sequences


# In ASCII the only invisible characters are the controls (Cc): the fast paths below give what the per-character
# rules give, without asking unicodedata about every character
_ASCII_SPACE_CONTROL = re.compile(r"[\t\n\r\x0b\x0c]")
_ASCII_OTHER_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_ASCII_CONTROL_BUT_NL_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _drop_invisible(text: str) -> str:
    # terminal escape sequences go whole; whitespace controls become spaces, every other invisible character goes
    text = _ANSI.sub("", text)
    if text.isascii():
        return _ASCII_OTHER_CONTROL.sub("", _ASCII_SPACE_CONTROL.sub(" ", text))
    return "".join(" " if ch in "\t\n\r\x0b\x0c\x85\u2028\u2029" else ch for ch in text if
                   ch in "\t\n\r\x0b\x0c\x85\u2028\u2029" or not _invisible(ch))


def _has_invisible(text: str) -> bool:
    """Whether ``text`` has an invisible character other than a newline or a tab."""
    if text.isascii():
        return _ASCII_CONTROL_BUT_NL_TAB.search(text) is not None
    return any(_invisible(ch) for ch in text if ch not in "\n\t")


# characters that browsers or later normalisation turn into "<" / ">" (fullwidth and small forms)
_ANGLE_MAP = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0x80, 0x10000)
              if unicodedata.normalize("NFKC", chr(cp)) in ("<", ">")}


def _decode(text: str) -> str:
    """Entities decoded, angle look-alikes made plain; NFKC only when it reveals a script URL or handler.

    (NFKC is not applied to ordinary text: it would turn Chinese fullwidth punctuation into ASCII.)
    """
    text = html.unescape(text).translate(_ANGLE_MAP)
    nf = unicodedata.normalize("NFKC", text)
    if nf != text and (_SCHEME.search(nf) or _HANDLER.search(nf)):
        return nf
    return text


def clean_text(value: Any) -> str:
    """The value as plain text with no markup (see module docstring); ``""`` for a missing value."""
    if is_missing(value):
        return ""
    text = str(value)
    for _ in range(MAX_PASSES):
        before = text
        text = _drop_invisible(_decode(text))
        text = _BLOCK.sub(" ", text)
        text = _OPEN_BLOCK.sub(" ", text)
        text = _COMMENT.sub(" ", text)
        text = _TAG.sub(" ", text)
        text = _ANGLE.sub(" ", text)
        text = _SCHEME.sub(" ", text)
        text = _HANDLER.sub(" ", text)
        text = " ".join(text.split())
        if text == before:
            break
    else:  # still changing after MAX_PASSES: drop every character that can start markup
        text = " ".join(re.sub(r"[<>&]", " ", _SCHEME.sub(" ", _HANDLER.sub(" ", text))).split())
    return "" if text.lower() in _MISSING else text


def markup_problems(text: Any) -> list[str]:
    """What makes ``text`` unpublishable as plain copy (empty list: clean). Names, never quotes, the markup."""
    if text is None:
        return []
    raw = str(text)
    found: list[str] = []
    if _has_invisible(raw):
        found.append("control or invisible character")
    if _ENTITY.search(raw):
        found.append("HTML entity")
    decoded = _drop_invisible(raw)
    for _ in range(3):  # entities inside entities
        nxt = _drop_invisible(_decode(decoded))
        if nxt == decoded:
            break
        decoded = nxt
    decoded = unicodedata.normalize("NFKC", decoded)  # for detection only
    if _TAG.search(decoded):
        found.append("tag")
    elif _ANGLE.search(decoded):
        found.append("angle bracket")
    if _SCHEME.search(decoded):
        found.append("script URL")
    if _HANDLER.search(decoded):
        found.append("event handler")
    return found


# ---- frames --------------------------------------------------------------------------------------
TEXT_FIELDS = ("title", "category", "product_type", "brand", "colour", "material", "style", "description")


def sanitise_frame(df: pd.DataFrame, columns: Iterable[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """A copy of ``df`` with ``columns`` (those present) cleaned; and the number of changed values per column."""
    out = df.copy()
    changed: dict[str, int] = {}
    for col in columns:
        if col not in out.columns:
            continue
        s = out[col]
        present = s.notna()
        cleaned = s.where(~present, s.map(clean_text, na_action="ignore"))
        before = s[present].astype(str).map(lambda v: " ".join(v.split()))
        n = int((before != cleaned[present].astype(str)).sum())
        if n:
            changed[col] = n
        out[col] = cleaned.where(cleaned.astype(str) != "", None) if col != "title" else cleaned
    return out, changed


def sanitise_products(products: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Products with clean text fields; a title that was nothing but markup becomes the product id."""
    out, changed = sanitise_frame(products, TEXT_FIELDS)
    if "title" in out.columns:
        empty = out["title"].isna() | (out["title"].astype(str).str.strip() == "")
        if empty.any():
            out.loc[empty, "title"] = out.loc[empty, "product_id"].astype(str).map(clean_text)
    return out, changed


def sanitise_personas(personas: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Personas with their text fields (name, segment, favourite categories) cleaned."""
    out = []
    for p in personas:
        q = dict(p)
        for key in ("name", "name_zh", "segment"):
            if isinstance(q.get(key), str):
                q[key] = clean_text(q[key])
        if isinstance(q.get("favourite_categories"), (list, tuple)):
            q["favourite_categories"] = [clean_text(c) for c in q["favourite_categories"] if clean_text(c)]
        out.append(q)
    return out
