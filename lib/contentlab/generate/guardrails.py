"""Compliance checks before publishing: banned claims, PII, profanity.

The lists are versioned data files in ``contentlab/resources/guardrails/`` (see its ``manifest.yaml``):
absolute / superlative claims in English ("best", "No.1", "#1", "guaranteed", "100%", ...) and Chinese
(Advertising Law Art. 9 practice: 最/最佳/最好, 第一, 唯一/独家/首家, 顶级/极品/国家级/世界级, 全网最低, ...),
an allow-list of legitimate uses that contain a banned term ("100% cotton", "best before", 第一次, ...),
PII patterns (emails, phone numbers, user ids) and profanity. A phone number is recognised by its shape, not by
a digit count alone (:func:`phone_numbers`): release years, prices, sizes and product codes are not phone numbers. English terms match whole words,
case-insensitively; Chinese terms match as substrings; a line starting with ``re:`` is a regular
expression. Chinese copy is checked against both lists (Latin claims such as "No.1" occur in it too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from contentlab import config

GUARDRAILS_DIR = config.RESOURCES_DIR / "guardrails"
REASONS = ("banned_claim", "pii_email", "pii_phone", "pii_user_id", "profanity")


@dataclass(frozen=True)
class Violation:
    reason: str  # one of REASONS
    term: str  # the matched text
    rule: str  # the list entry that matched
    start: int = 0
    end: int = 0


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _compile(entry: str, whole_words: bool) -> re.Pattern:
    if entry.startswith("re:"):
        return re.compile(entry[3:], re.IGNORECASE)
    body = re.escape(entry).replace(r"\ ", r"\s+")
    if whole_words:
        left = r"(?<![\w-])" if entry[:1].isalnum() else ""
        right = r"(?![\w-])" if entry[-1:].isalnum() else ""
        body = f"{left}{body}{right}"
    return re.compile(body, re.IGNORECASE)


# ---- phone numbers -------------------------------------------------------------------------------
_GROUP = r"(?:\(\s?\d+\s?\)|\d+)"
_PHONE_RUN = re.compile(rf"(?<![A-Za-z0-9_.,/$¥€£₹₩+-])(?:(?:\+|00)\s?)?{_GROUP}(?:(?:\s?[-.]\s?|\s|(?<=\))|(?=\())\s?{_GROUP})*"
                        rf"(?![A-Za-z0-9_%])")
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
_CURRENCY_BEFORE = re.compile(r"(?:[$¥€£₹₩]|US\$|RMB|CNY|USD|GBP|EUR)\s?$", re.IGNORECASE)


def _word_list_pattern(words: Iterable[str], before: bool) -> re.Pattern | None:
    words = [str(w) for w in words if str(w).strip()]
    if not words:
        return None
    alts = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))
    if before:  # the cue or label ends right before the number (optional ":", "#", "no.")
        return re.compile(rf"(?:^|[^\w])(?:{alts})\s*(?:no\.?|number|#)?\s*[:#.]?\s*$", re.IGNORECASE)
    return re.compile(rf"^\s?(?:{alts})(?![^\W\d_])", re.IGNORECASE)


def phone_numbers(text: str, rules: Mapping | None = None) -> list[tuple[int, int, str]]:
    """(start, end, text) of every phone number in ``text`` by the shape rules of ``pii_patterns.yaml``."""
    rules = dict(rules or {})
    lo, hi = int(rules.get("min_digits", 9)), int(rules.get("max_digits", 15))
    mobiles = [re.compile(rf"{p}") for p in rules.get("mobile_patterns", [])]
    cue = _word_list_pattern(rules.get("cue_words", []), before=True)
    label = _word_list_pattern(rules.get("code_labels", []), before=True)
    unit = _word_list_pattern(rules.get("unit_words", []), before=False)
    out: list[tuple[int, int, str]] = []
    for m in _PHONE_RUN.finditer(text or ""):
        run = m.group(0).rstrip(" .-")
        a, b = m.start(), m.start() + len(run)
        groups = re.findall(r"\d+", run)
        digits = "".join(groups)
        if not lo <= len(digits) <= hi:
            continue
        before, after = text[max(0, a - 30):a], text[b:b + 12]
        if all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups):
            continue  # release years, year ranges
        if unit is not None and unit.search(after):
            continue  # a size or a quantity
        if _CURRENCY_BEFORE.search(before):
            continue  # a price
        if label is not None and label.search(before):
            continue  # a product code
        cued = cue is not None and cue.search(before) is not None
        paren = run.count("(")
        body = run.lstrip("+").lstrip()
        international = run.startswith("+") or (run.startswith("00") and len(digits) >= 11)
        trunk = body.lstrip("(").startswith("0") and not body.lstrip("(").startswith("000") and 10 <= len(digits) <= 12
        nanp = paren <= 1 and len(groups) >= 3 and [len(g) for g in groups[-3:]] == [3, 3, 4] \
            and groups[-3][0] in "23456789" and (len(groups) == 3 or (len(groups) == 4 and groups[0] == "1")) \
            and not re.fullmatch(r"\d+", run)
        mobile = any(p.fullmatch(digits) for p in mobiles) and (len(groups) == 1 or [len(g) for g in groups] == [3, 4, 4])
        if paren > 1 and not international:
            continue  # "(1995) (2001)": a phone number brackets at most its area code
        if international or trunk or nanp or mobile or cued:
            out.append((a, b, run.strip()))
    return out


@dataclass
class Guardrails:
    version: str
    banned: dict[str, list[tuple[str, re.Pattern]]]
    allow: dict[str, list[tuple[str, re.Pattern]]]
    profanity: dict[str, list[tuple[str, re.Pattern]]]
    pii: dict
    sources: list[str] = field(default_factory=list)

    def _locales(self, locale: str) -> list[str]:
        return ["zh", "en"] if str(locale).startswith("zh") else ["en"]

    @staticmethod
    def _spans(text: str, rules: Iterable[tuple[str, re.Pattern]]) -> list[tuple[int, int, str, str]]:
        out = []
        for entry, pattern in rules:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    out.append((m.start(), m.end(), m.group(0), entry))
        return out

    def check(self, text: str, locale: str = "en", user_ids: Iterable[str] | None = None) -> list[Violation]:
        """Every violation in ``text`` (empty list: clean)."""
        text = text or ""
        found: list[Violation] = []
        locales = self._locales(locale)
        allowed = [s for loc in locales for s in self._spans(text, self.allow.get(loc, []))]

        def exempt(a: int, b: int) -> bool:
            return any(s <= a and b <= e for s, e, _, _ in allowed)

        seen: set[tuple[int, int]] = set()
        for loc in locales:
            for s, e, term, rule in sorted(self._spans(text, self.banned.get(loc, [])), key=lambda x: (x[0], -x[1])):
                if exempt(s, e) or any(s0 <= s and e <= e0 for s0, e0 in seen):
                    continue
                seen.add((s, e))
                found.append(Violation("banned_claim", term, rule, s, e))
            for s, e, term, rule in self._spans(text, self.profanity.get(loc, [])):
                found.append(Violation("profanity", term, rule, s, e))
        found.extend(self._pii(text, user_ids))
        # one violation per span: drop matches inside a longer match of the same reason
        found = [v for v in found if not any(
            w is not v and w.reason == v.reason and w.start <= v.start and v.end <= w.end and (w.end - w.start) > (v.end - v.start)
            for w in found)]
        found.sort(key=lambda v: (v.start, v.reason))
        return found

    def _pii(self, text: str, user_ids: Iterable[str] | None) -> list[Violation]:
        out: list[Violation] = []
        email = self.pii.get("email", {}).get("pattern")
        if email:
            for m in re.finditer(email, text):
                out.append(Violation("pii_email", m.group(0), "email", m.start(), m.end()))
        for a, b, term in phone_numbers(text, self.pii.get("phone", {})):
            out.append(Violation("pii_phone", term, "phone", a, b))
        uid = self.pii.get("user_id", {})
        for pat in uid.get("patterns", []):
            for m in re.finditer(pat, text, re.IGNORECASE):
                out.append(Violation("pii_user_id", m.group(0), "user_id pattern", m.start(), m.end()))
        if user_ids is not None:
            min_len = int(uid.get("min_id_length", 5))
            ids = user_ids if isinstance(user_ids, (set, frozenset)) else {str(u) for u in user_ids}
            for m in re.finditer(r"[A-Za-z0-9_-]+", text):
                tok = m.group(0)
                if len(tok) >= min_len and tok in ids:
                    out.append(Violation("pii_user_id", tok, "known user id", m.start(), m.end()))
        return out

    def reasons(self, text: str, locale: str = "en", user_ids: Iterable[str] | None = None) -> list[str]:
        return sorted({v.reason for v in self.check(text, locale, user_ids)})

    def describe(self) -> dict[str, int]:
        """Number of entries per list, for the report."""
        out = {}
        for name, lists in (("banned_claims", self.banned), ("allow", self.allow), ("profanity", self.profanity)):
            for loc, rules in lists.items():
                out[f"{name}_{loc}"] = len(rules)
        return out


def load_guardrails(path: str | Path | None = None, extra_dir: str | Path | None = None) -> Guardrails:
    """The lists in ``path`` (default: the packaged ones), extended by the same files in ``extra_dir``."""
    root = Path(path) if path else GUARDRAILS_DIR
    manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
    files = manifest["files"]
    dirs = [root] + ([Path(extra_dir)] if extra_dir else [])
    lists: dict[str, dict[str, list[tuple[str, re.Pattern]]]] = {"banned_claims": {}, "allow": {}, "profanity": {}}
    for kind in lists:
        for loc, fname in files[kind].items():
            entries: list[str] = []
            for d in dirs:
                entries.extend(e for e in _read_list(d / fname) if e not in entries)
            whole = loc == "en"
            lists[kind][loc] = [(e, _compile(e, whole)) for e in entries]
    pii = yaml.safe_load((root / files["pii"]).read_text(encoding="utf-8"))
    version = str(manifest.get("version", "0"))
    if extra_dir:
        version += "+extra"
    return Guardrails(version=version, banned=lists["banned_claims"], allow=lists["allow"], profanity=lists["profanity"],
                      pii=pii, sources=[str(d) for d in dirs])
