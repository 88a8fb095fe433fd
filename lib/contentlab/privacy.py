"""Pseudonymisation of customer identifiers for anything a person reads.

Reports never show raw user ids: :func:`pseudonymise` maps them to a salted SHA-256 prefix.
The salt comes from ``CONTENTLAB_SALT`` or, failing that, a random salt created once in
``data/interim/pseudonym_salt`` (git-ignored), so pseudonyms are stable across runs of one
installation but cannot be reversed by someone holding only the reports.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from typing import Iterable

import pandas as pd

from contentlab import config

PREFIX = "u_"


def salt() -> str:
    env = os.environ.get("CONTENTLAB_SALT")
    if env:
        return env
    path = config.interim_dir() / "pseudonym_salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def pseudonymise_one(user_id: object, salt_value: str | None = None) -> str:
    s = salt() if salt_value is None else salt_value
    digest = hashlib.sha256(f"{s}:{user_id}".encode("utf-8")).hexdigest()
    return PREFIX + digest[:12]


def pseudonymise(ids: "Iterable[object] | pd.Series", salt_value: str | None = None) -> "list[str] | pd.Series":
    """Salted-hash pseudonyms; a Series keeps its index."""
    s = salt() if salt_value is None else salt_value
    if isinstance(ids, pd.Series):
        uniq = {u: pseudonymise_one(u, s) for u in ids.unique()}
        return ids.map(uniq).astype("string")
    return [pseudonymise_one(u, s) for u in ids]
