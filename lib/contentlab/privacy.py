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
from collections.abc import Iterable

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
    digest = hashlib.sha256(f"{s}:{user_id}".encode()).hexdigest()
    return PREFIX + digest[:12]


def pseudonymise(ids: Iterable[object] | pd.Series, salt_value: str | None = None) -> list[str] | pd.Series:
    """Salted-hash pseudonyms; a Series keeps its index."""
    s = salt() if salt_value is None else salt_value
    if isinstance(ids, pd.Series):
        uniq = {u: pseudonymise_one(u, s) for u in ids.unique()}
        return ids.map(uniq).astype("string")
    return [pseudonymise_one(u, s) for u in ids]


# --------------------------------------------------------------------------- small cells

MIN_CELL = 5
"""The small-cell rule every report applies: a group of fewer than ``MIN_CELL`` users is never shown on
its own (it could point at an individual)."""

MERGED_LABEL = "Other (merged small groups)"


def small_cell_note(min_cell: int = MIN_CELL, what: str = "groups") -> str:
    """One sentence a report prints under a table the rule touched."""
    return (f"Small-cell rule: {what} with fewer than {min_cell} users are not shown on their own; they are merged "
            f"into \"{MERGED_LABEL}\" or, where they cannot be merged, their figures are withheld (shown as \"<{min_cell}\").")


def merge_small_cells(
    table: pd.DataFrame,
    count_col: str,
    label_col: str,
    min_cell: int = MIN_CELL,
    merged_label: str = MERGED_LABEL,
) -> tuple[pd.DataFrame, int]:
    """Rows whose ``count_col`` is under ``min_cell`` are summed into one row labelled ``merged_label``;
    if that row still counts fewer than ``min_cell`` it is left out.

    Returns the table and the number of units (the sum of ``count_col``) left out. Numeric columns are
    summed, so pass additive quantities (counts, totals) and derive rates after merging.
    """
    small = table[count_col] < min_cell
    if not small.any():
        return table, 0
    merged = table[small].drop(columns=[label_col]).sum(numeric_only=True)
    out = table[~small]
    if merged[count_col] >= min_cell:
        row = merged.to_dict()
        row[label_col] = merged_label
        return pd.concat([out, pd.DataFrame([row])], ignore_index=True), 0
    return out.reset_index(drop=True), int(merged[count_col])


def mask_small_cells(
    table: pd.DataFrame,
    count_col: str,
    value_cols: Iterable[str] | None = None,
    min_cell: int = MIN_CELL,
) -> tuple[pd.DataFrame, int]:
    """For cross tables where rows cannot be merged (segment × channel, cohort × week): the figures of
    rows whose ``count_col`` is under ``min_cell`` are withheld (set to missing, the count shown as
    ``"<min_cell"``). Returns a display copy and the number of rows masked."""
    out = table.copy()
    small = out[count_col] < min_cell
    if not small.any():
        return out, 0
    cols = list(value_cols) if value_cols is not None else [c for c in out.columns
                                                            if c != count_col and pd.api.types.is_numeric_dtype(out[c])]
    out[count_col] = out[count_col].astype(object)
    for c in cols:
        out[c] = out[c].astype(object)
        out.loc[small, c] = None
    out.loc[small, count_col] = f"<{min_cell}"
    return out, int(small.sum())
