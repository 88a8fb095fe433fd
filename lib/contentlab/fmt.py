"""How every report writes a value: escaping of data text and the formatting of numbers, shares and paths.

One of each, so that every report prints a missing value the same way (``NA``) and escapes data text by the
same rules:

- :func:`esc_html`: data text placed in HTML (or in Markdown that is rendered to HTML): ``& < >`` escaped.
- :func:`esc_md`: data text placed in Markdown: Markdown syntax neutralised as well, so a product called
  ``*New* [deal](javascript:…)`` shows as written and links nowhere.
- :func:`num`, :func:`pct`, :func:`money`: numbers, shares and amounts; ``None``/NaN print as ``NA``.
- :func:`display_path`: a path relative to a root when it lies below it.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["NA", "is_missing", "esc_html", "esc_md", "num", "pct", "money", "display_path"]

NA = "n/a"
"""What a report prints for a value that cannot be computed (never "nan" or "None")."""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~-])")


def is_missing(x: Any) -> bool:
    """``None``, NaN, ``pd.NA`` and ``pd.NaT`` (a container is never "missing" as a whole)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):  # arrays and other containers
        return False


def esc_html(text: Any) -> str:
    """Data text made safe for HTML and for Markdown cells rendered to HTML."""
    return html.escape(str(text), quote=False)


def esc_md(text: Any) -> str:
    """Data text made safe for Markdown: syntax characters backslash-escaped, then HTML-escaped."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(text)), quote=False)


def num(x: Any, digits: int | None = None) -> str:
    """A count or amount: thousands separators; integers without decimals; ``digits`` fixes the decimals
    (default: none at 100 or more, two below)."""
    if is_missing(x):
        return NA
    x = float(x)
    if digits is not None:
        return f"{x:,.{digits}f}"
    return f"{x:,.0f}" if abs(x) >= 100 or x.is_integer() else f"{x:,.2f}"


def pct(x: Any, digits: int = 1, sign: bool = False) -> str:
    """A share (0.123) as a percentage ("12.3%"); ``sign``: a change, with its sign ("+12.3%", "-4.0%").
    Missing and infinite values print as ``NA``."""
    if is_missing(x) or not math.isfinite(float(x)):
        return NA
    return f"{100 * float(x):{'+' if sign else ''}.{digits}f}%"


def money(x: Any, currency: str | None, digits: int = 2) -> str:
    """An amount with its currency code ("1,234.50 GBP"); without a currency just the number."""
    if is_missing(x):
        return NA
    text = f"{float(x):,.{digits}f}"
    return f"{text} {currency}" if currency else text


def display_path(path: str | Path, root: str | Path | None = None) -> str:
    """``path`` relative to ``root`` (default: the working directory) when it lies below it, else absolute."""
    path = Path(path).absolute()
    base = Path(root).absolute() if root is not None else Path.cwd().absolute()
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
