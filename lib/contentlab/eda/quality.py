"""Data quality of stage 01: what validation rejected and repaired, and what the source adapter could not map.

Reads the contract's ``validation`` product (``validation.json``: :meth:`ValidationReport.to_dict` plus ``"adapter"``,
:meth:`AdapterReport.to_dict`) back into those two classes (:class:`DataQuality`) and turns them into the report's
tables. Example values of user-id columns are pseudonymised: a report never shows a raw user id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab import contract
from contentlab.data.adapters import AdapterReport
from contentlab.data.validate import ValidationReport
from contentlab.privacy import pseudonymise_one

MAX_EXAMPLES = 5

TABLE_COLUMNS = ["table", "source", "rows_in", "rows_kept", "rows_rejected", "rows_repaired", "dropped_columns"]
RULE_COLUMNS = ["table", "rule", "column", "action", "rows", "examples"]
ADAPTER_COLUMNS = ["reason", "action", "rows"]


@dataclass
class DataQuality:
    """The validation report of the prepared tables and the adapter's row accounting (``None`` without one)."""

    validation: ValidationReport
    adapter: AdapterReport | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataQuality:
        """From the contents of ``validation.json``."""
        adapter = d.get("adapter")
        return cls(ValidationReport.from_dict(d),
                   AdapterReport.from_dict(adapter) if isinstance(adapter, Mapping) else None)

    @classmethod
    def of(cls, report: DataQuality | ValidationReport | Mapping[str, Any] | None) -> DataQuality | None:
        """``report`` as a :class:`DataQuality`: one already, a :class:`ValidationReport`, or ``validation.json``'s
        contents (``None`` stays ``None``: the run has no validation report)."""
        if report is None or isinstance(report, DataQuality):
            return report
        if isinstance(report, ValidationReport):
            return cls(report)
        if isinstance(report, Mapping):
            return cls.from_dict(report)
        raise TypeError(f"not a validation report: {type(report).__name__}")

    @property
    def rows_rejected(self) -> int:
        return int(self.validation.rows_rejected)

    @property
    def rows_repaired(self) -> int:
        return int(self.validation.rows_repaired)

    @property
    def rows_excluded_by_adapter(self) -> int | None:
        return self.adapter.rows_excluded if self.adapter is not None else None


def read_validation(run_dir: str | Path) -> DataQuality | None:
    """The run's ``validation`` product (checked against the contract), or ``None`` when the run has none."""
    d = contract.product("validation").read_optional(run_dir)
    return DataQuality.from_dict(d) if d is not None else None


def validation_tables(report: Any) -> pd.DataFrame:
    """One row per table: rows in, kept, rejected, repaired (rows in = kept + rejected), dropped columns and the
    share kept. ``report``: anything :meth:`DataQuality.of` takes."""
    q = DataQuality.of(report)
    rows = [{"table": t.table, "source": Path(str(t.source or "")).name, "rows_in": int(t.rows_in),
             "rows_kept": int(t.rows_kept), "rows_rejected": int(t.rows_rejected),
             "rows_repaired": int(t.rows_repaired), "dropped_columns": ", ".join(map(str, t.dropped_columns))}
            for t in (q.validation.tables.values() if q else [])]
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if len(df):
        df["kept_share"] = df["rows_kept"] / df["rows_in"].where(df["rows_in"] > 0)
    return df


def _safe_examples(column: str, examples: Any, max_examples: int = MAX_EXAMPLES) -> str:
    """Example values as text, with any user id replaced by its pseudonym (reports never show raw ids)."""
    if examples is None or examples == "":
        return ""
    if not isinstance(examples, (list, tuple)):
        examples = [examples]
    cols = [c.strip() for c in str(column).strip("()").split(",")]
    out = []
    for ex in list(examples)[:max_examples]:
        if isinstance(ex, (list, tuple)) and len(ex) == len(cols):
            ex = tuple(pseudonymise_one(v) if c == "user_id" and v is not None else v for c, v in zip(cols, ex))
            out.append("(" + ", ".join(map(str, ex)) + ")")
        elif "user_id" in cols and ex is not None:
            out.append(pseudonymise_one(ex) if len(cols) == 1 else "(contains a user id)")
        else:
            out.append(str(ex))
    return ", ".join(out)


def validation_rules(report: Any) -> pd.DataFrame:
    """One row per (table, rule) that rejected or repaired rows: column, action, rows, examples.

    Example values of user-id columns are pseudonymised.
    """
    q = DataQuality.of(report)
    rows = [{"table": t.table, "rule": r.rule, "column": r.column or "", "action": r.action, "rows": int(r.count),
             "examples": _safe_examples(r.column or "", r.examples)}
            for t in (q.validation.tables.values() if q else []) for r in [*t.rejected, *t.repaired]]
    return pd.DataFrame(rows, columns=RULE_COLUMNS)


def adapter_summary(report: Any) -> pd.DataFrame:
    """What the source adapter could not map: one row per reason with the number of source rows excluded (not
    mapped) or flagged. Example values are not shown (they may hold customer ids)."""
    q = DataQuality.of(report)
    a = q.adapter if q else None
    if a is None:
        return pd.DataFrame(columns=ADAPTER_COLUMNS)
    rows = [{"reason": k, "action": "excluded", "rows": int(v)} for k, v in a.excluded.items()]
    rows += [{"reason": k, "action": "flagged", "rows": int(v)} for k, v in a.flagged.items()]
    return pd.DataFrame(rows, columns=ADAPTER_COLUMNS)


def rows_rejected(report: Any) -> int | None:
    """Total rows rejected over all tables (``None`` without a validation report)."""
    q = DataQuality.of(report)
    return q.rows_rejected if q is not None else None


def rows_repaired(report: Any) -> int | None:
    """Total rows repaired over all tables (``None`` without a validation report)."""
    q = DataQuality.of(report)
    return q.rows_repaired if q is not None else None
