"""One validation layer for every canonical table on load.

``validate_table(df, spec, source)`` checks one table against its :class:`~contentlab.data.schema.TableSpec`;
``validate_tables(tables, sources)`` checks a whole dataset, including foreign keys (events, ratings and
exposures must point at known users and products).

What happens to bad input:

- **fatal** (raises :class:`DataValidationError`): empty file or table, missing required column, a column in
  which *every* row breaks one rule (unusable column: the mapping or the file is wrong), timestamps that mix
  time-zone-aware and naive values, a table left with no rows.
- **rejected** (row removed, counted by rule with example values): values that cannot be coerced to the
  column's kind, nulls in required columns, numbers outside their bounds (``price > 0``,
  ``1 <= rating <= 5``, ...), categorical values outside the allowed set (``event_type``), behaviour times
  outside :func:`time_range` (before 1990-01-01 or after the run + 1 day: ``timestamp between 1990-01-01 and
  run date + 1 day``) or cut off from the bulk of the column by a long empty gap (:func:`_isolated`),
  duplicate keys (later duplicates dropped, the first kept), rows pointing at users or products that were
  rejected themselves (``product rejected (price > 0)``: the rule that rejected the product) or that are
  unknown (policy: reject; unknown users are never invented).
- **repaired** (row kept, counted): whitespace around ids and categorical values, case of categorical values
  (``" Purchase"`` -> ``"purchase"``), integral float ids (``17850.0`` -> ``"17850"``), tz-aware timestamps
  converted to tz-naive UTC.

Every row is accounted for: ``rows_in == rows_kept + rows_rejected`` per table, and each rejected row is
counted under exactly one rule (the first it breaks, in column order, then keys, then foreign keys).
Messages follow one format, e.g.::

    events.csv: column 'price': 3 rows violate 'price > 0' (examples: -1.0, 0.0, -5.5)

Inputs are never modified: the functions work on copies and return new frames.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from contentlab import serial
from contentlab.data.schema import EARLIEST_TIMESTAMP, FUTURE_TOLERANCE_DAYS, TABLES, Column, TableSpec

MAX_EXAMPLES = 5

# (table, column) -> (referenced table, referenced column)
FOREIGN_KEYS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "events": (("user_id", "users", "user_id"), ("product_id", "products", "product_id")),
    "ratings": (("user_id", "users", "user_id"), ("product_id", "products", "product_id")),
    "exposures": (("user_id", "users", "user_id"), ("product_id", "products", "product_id")),
}
FOREIGN_KEY_POLICY = "reject"  # rows pointing at unknown users/products are rejected, never invented
_ENTITY = {"users": "user", "products": "product"}  # referenced table -> what one of its rows is called

# isolated timestamps: at most this share of rows, cut off from the central rows by an empty gap longer than
# the span of the central rows (and at least ISOLATION_MIN_GAP_DAYS)
ISOLATION_MAX_SHARE = 0.01
ISOLATION_MIN_GAP_DAYS = 30

# a UTC offset / zone marker after a time of day: 10:00Z, 10:00:00+01:00, 10:00 +0100, 10:00 UTC
_TZ_RE = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}
DATETIME_DTYPE = "datetime64[ns]"


class DataValidationError(ValueError):
    """Input that cannot be used. ``problems`` holds one message per fatal problem."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def _fmt_value(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_fmt_value(x) for x in v) + ")"
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return "null"
    if isinstance(v, str):
        s = v if len(v) <= 40 else v[:37] + "..."
        return repr(s)
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        return str(v)
    return str(v)


def distinct_examples(values: Iterable[Any]) -> list[Any]:
    """Up to ``MAX_EXAMPLES`` example values, each shown once (values that print the same count as one)."""
    out: list[Any] = []
    seen: set[str] = set()
    for v in values:
        key = _fmt_value(v)
        if key in seen:
            continue
        seen.add(key)
        out.append(v)
        if len(out) >= MAX_EXAMPLES:
            break
    return out


def examples_json(examples: Iterable[Any]) -> list[Any]:
    """Example values as the reports store them: plain JSON (:func:`contentlab.serial.jsonable`), with a date-time
    written the way the messages print it (``2024-03-02 18:00:00``), also inside a key tuple."""
    return serial.jsonable([_time_as_text(v) for v in examples])


def _time_as_text(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_time_as_text(x) for x in v]
    if v is not pd.NaT and isinstance(v, (pd.Timestamp, _dt.datetime)):
        return str(v)
    return v


def _plural(n: int) -> tuple[str, str]:
    return ("row", "violates") if n == 1 else ("rows", "violate")


@dataclass
class RuleResult:
    """How many rows of one table broke (or were repaired by) one rule, with example values."""

    source: str
    column: str
    rule: str
    count: int
    examples: list[Any] = field(default_factory=list)
    action: str = "rejected"  # "rejected" | "repaired"
    text: str = ""  # a stored message (reports read back from JSON)
    detail: str = ""  # what the rule compared against (bounds, the rejected row referred to, ...)

    @property
    def message(self) -> str:
        if self.text:
            return self.text
        where = f"column '{self.column}'" if "," not in self.column else f"columns ({self.column})"
        ex = ", ".join(_fmt_value(v) for v in self.examples)
        ex = f"{self.detail}; examples: {ex}" if self.detail else f"examples: {ex}"
        row, verb = _plural(self.count)
        if self.action == "repaired":
            return f"{self.source}: {where}: {self.count} {row} repaired by '{self.rule}' ({ex})"
        return f"{self.source}: {where}: {self.count} {row} {verb} '{self.rule}' ({ex})"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "column": self.column, "rule": self.rule, "count": int(self.count), "action": self.action,
            "examples": examples_json(self.examples), "message": self.message,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class TableReport:
    """Row accounting for one table: ``rows_in == rows_kept + rows_rejected``."""

    table: str
    source: str
    rows_in: int
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_repaired: int = 0
    rejected: list[RuleResult] = field(default_factory=list)
    repaired: list[RuleResult] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # key value -> rule of the rejected rows of a one-column-key table (users, products) whose key was not
    # kept: rows of other tables referring to them are rejected as "<user|product> rejected (<rule>)"
    rejected_keys: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def rejected_by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rejected:
            out[r.rule] = out.get(r.rule, 0) + r.count
        return out

    def messages(self) -> list[str]:
        return [r.message for r in self.rejected] + [r.message for r in self.repaired] + list(self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table, "source": self.source, "rows_in": int(self.rows_in),
            "rows_kept": int(self.rows_kept), "rows_rejected": int(self.rows_rejected),
            "rows_repaired": int(self.rows_repaired),
            "rejected_by_rule": self.rejected_by_rule,
            "rules": [r.to_dict() for r in [*self.rejected, *self.repaired]],
            "dropped_columns": list(self.dropped_columns), "notes": list(self.notes),
        }


@dataclass
class ValidationReport:
    """Validation results for a whole dataset (one :class:`TableReport` per table)."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    foreign_key_policy: str = FOREIGN_KEY_POLICY
    time_range: dict[str, str] = field(default_factory=dict)  # {"earliest": ..., "latest": ...} as applied

    @property
    def rows_in(self) -> int:
        return sum(t.rows_in for t in self.tables.values())

    @property
    def rows_kept(self) -> int:
        return sum(t.rows_kept for t in self.tables.values())

    @property
    def rows_rejected(self) -> int:
        return sum(t.rows_rejected for t in self.tables.values())

    @property
    def rows_repaired(self) -> int:
        return sum(t.rows_repaired for t in self.tables.values())

    def messages(self) -> list[str]:
        return [m for t in self.tables.values() for m in t.messages()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in, "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected, "rows_repaired": self.rows_repaired,
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
            "foreign_key_policy": self.foreign_key_policy,
            "time_range": dict(self.time_range),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ValidationReport:
        rep = cls(foreign_key_policy=d.get("foreign_key_policy", FOREIGN_KEY_POLICY),
                  time_range=dict(d.get("time_range") or {}))
        for name, t in d.get("tables", {}).items():
            tr = TableReport(table=t["table"], source=t["source"], rows_in=t["rows_in"], rows_kept=t["rows_kept"],
                             rows_rejected=t["rows_rejected"], rows_repaired=t["rows_repaired"],
                             dropped_columns=list(t.get("dropped_columns", [])), notes=list(t.get("notes", [])))
            for r in t.get("rules", []):
                rr = RuleResult(source=t["source"], column=r["column"], rule=r["rule"], count=r["count"],
                                examples=list(r.get("examples", [])), action=r.get("action", "rejected"),
                                text=r.get("message", ""), detail=r.get("detail", ""))
                (tr.repaired if rr.action == "repaired" else tr.rejected).append(rr)
            rep.tables[name] = tr
        return rep

    def summary_frame(self) -> pd.DataFrame:
        """One row per table: rows in / kept / rejected / repaired and the rejections by rule."""
        rows = []
        for name, t in self.tables.items():
            rows.append({
                "table": name, "source": t.source, "rows_in": t.rows_in, "rows_kept": t.rows_kept,
                "rows_rejected": t.rows_rejected, "rows_repaired": t.rows_repaired,
                "rejected_by_rule": "; ".join(f"{k}: {v:,}" for k, v in t.rejected_by_rule.items()) or "",
            })
        cols = ["table", "source", "rows_in", "rows_kept", "rows_rejected", "rows_repaired", "rejected_by_rule"]
        return pd.DataFrame(rows, columns=cols)

    def issues_frame(self) -> pd.DataFrame:
        """One row per (table, column, rule) that rejected or repaired rows, with examples."""
        rows = []
        for name, t in self.tables.items():
            for r in [*t.rejected, *t.repaired]:
                rows.append({"table": name, "column": r.column, "rule": r.rule, "action": r.action,
                             "rows": r.count, "examples": ", ".join(_fmt_value(v) for v in r.examples)})
        return pd.DataFrame(rows, columns=["table", "column", "rule", "action", "rows", "examples"])


# ---------------------------------------------------------------------------------------------- coercion


@dataclass
class _Coerced:
    values: pd.Series
    bad: np.ndarray  # rows whose non-null value could not be coerced
    rule: str
    repaired: np.ndarray | None = None
    repair_rule: str = ""
    fatal: str | None = None


def _is_null(s: pd.Series) -> np.ndarray:
    null = s.isna().to_numpy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        stripped = s.astype("str").str.strip()
        null = null | (stripped == "").to_numpy()
    return null


def _to_text(s: pd.Series) -> pd.Series:
    return s.astype("str").where(~s.isna(), None).astype("str")


def _coerce_id(s: pd.Series, col: Column) -> _Coerced:
    null = _is_null(s)
    repaired = np.zeros(len(s), dtype=bool)
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        integral = ~np.isnan(vals) & (np.mod(vals, 1) == 0)
        text = np.where(integral, np.char.mod("%d", np.where(integral, vals, 0).astype(np.int64)),
                        s.astype("str").to_numpy())
        out = pd.Series(text, index=s.index, dtype="str")
        repaired = integral
        rule = f"{col.name}: integral float id written as integer"
    elif pd.api.types.is_bool_dtype(s.dtype):
        out = s.astype("str")
        rule = ""
    elif pd.api.types.is_numeric_dtype(s.dtype):
        out = s.astype("Int64").astype("str")
        rule = ""
    else:
        raw = _to_text(s)
        out = raw.str.strip()
        repaired = ((out != raw).fillna(False)).to_numpy(dtype=bool)
        rule = f"{col.name}: surrounding whitespace stripped"
    out = out.where(~null, None).astype("str")
    return _Coerced(out, np.zeros(len(s), dtype=bool), f"{col.name} is an identifier", repaired & ~null, rule)


def _coerce_str(s: pd.Series, col: Column) -> _Coerced:
    null = s.isna().to_numpy()
    out = _to_text(s)
    repaired = np.zeros(len(s), dtype=bool)
    rule = ""
    if col.allowed is not None:
        norm = out.str.strip().str.lower()
        allowed_lower = {a.lower(): a for a in col.allowed}
        canon = norm.map(allowed_lower)
        mapped = canon.where(canon.notna(), out)
        repaired = ((mapped != out).fillna(False) & mapped.isin(col.allowed)).to_numpy(dtype=bool)
        out = mapped.astype("str")
        rule = f"{col.name}: case and whitespace normalised"
    return _Coerced(out, np.zeros(len(s), dtype=bool), f"{col.name} is text", repaired & ~null, rule)


def _coerce_number(s: pd.Series, col: Column, integer: bool) -> _Coerced:
    null = _is_null(s)
    if pd.api.types.is_bool_dtype(s.dtype):
        vals = pd.Series(np.full(len(s), np.nan), index=s.index)
        bad = ~null
    elif pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.astype("float64")
        bad = np.zeros(len(s), dtype=bool)
    else:
        vals = pd.to_numeric(_to_text(s).str.strip(), errors="coerce").astype("float64")
        bad = ~null & vals.isna().to_numpy()
    arr = vals.to_numpy(dtype=float, na_value=np.nan)
    bad = bad | (~null & np.isinf(arr))
    rule = f"{col.name} is numeric"
    if integer:
        nonint = ~null & ~bad & ~np.isnan(arr) & (np.mod(np.where(np.isfinite(arr), arr, 0), 1) != 0)
        bad = bad | nonint
        rule = f"{col.name} is an integer"
    arr = np.where(bad | null, np.nan, arr)
    out = pd.Series(arr, index=s.index, dtype="float64")
    return _Coerced(out, bad, rule)


def _coerce_bool(s: pd.Series, col: Column) -> _Coerced:
    null = _is_null(s)
    if pd.api.types.is_bool_dtype(s.dtype):
        return _Coerced(s.astype("boolean"), np.zeros(len(s), dtype=bool), f"{col.name} is true/false")
    text = _to_text(s).str.strip().str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    is_true = text.isin(_TRUE).to_numpy(dtype=bool)
    is_false = text.isin(_FALSE).to_numpy(dtype=bool)
    out[is_true] = True
    out[is_false] = False
    bad = ~null & ~is_true & ~is_false
    return _Coerced(out, bad, f"{col.name} is true/false")


def _coerce_datetime(s: pd.Series, col: Column, source: str) -> _Coerced:
    rule = f"{col.name} is a parseable date/time"
    n = len(s)
    no_bad = np.zeros(n, dtype=bool)
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC").dt.tz_localize(None).astype(DATETIME_DTYPE)
        return _Coerced(out, no_bad, rule, s.notna().to_numpy(), f"{col.name}: converted from {dtype.tz} to tz-naive UTC")
    if pd.api.types.is_datetime64_dtype(dtype):
        return _Coerced(s.astype(DATETIME_DTYPE), no_bad, rule)
    null = _is_null(s)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = pd.to_datetime(s.astype("float64"), unit="s", errors="coerce")
        bad = ~null & out.isna().to_numpy()
        return _Coerced(out.astype(DATETIME_DTYPE), bad, rule + " (unix seconds)")
    # text or Python objects: datetime objects become ISO strings so tz awareness is visible
    if pd.api.types.is_object_dtype(dtype):
        s = s.map(lambda v: v.isoformat() if isinstance(v, (_dt.datetime, pd.Timestamp)) else v)
    text = _to_text(s).str.strip()
    has_tz = text.str.contains(_TZ_RE, na=False).to_numpy(dtype=bool) & ~null
    naive = ~null & ~has_tz
    if has_tz.any() and naive.any():
        n_tz, n_naive = int(has_tz.sum()), int(naive.sum())
        ex_tz = ", ".join(_fmt_value(v) for v in distinct_examples(text[has_tz]))
        ex_naive = ", ".join(_fmt_value(v) for v in distinct_examples(text[naive]))
        n_min = min(n_tz, n_naive)
        fatal = (f"{source}: column '{col.name}': {n_min} {' '.join(_plural(n_min))} 'one time-zone convention per "
                 f"column' (mixed time zones: {n_tz} {_plural(n_tz)[0]} with a UTC offset, examples: {ex_tz}; "
                 f"{n_naive} {_plural(n_naive)[0]} without, examples: {ex_naive}); convert all timestamps to UTC "
                 f"or drop the offsets")
        return _Coerced(pd.Series(pd.NaT, index=s.index, dtype=DATETIME_DTYPE), no_bad, rule, fatal=fatal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if has_tz.any():
            parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
            parsed = parsed.dt.tz_localize(None)
            repaired, repair_rule = has_tz & parsed.notna().to_numpy(), f"{col.name}: UTC offset converted to tz-naive UTC"
        else:
            parsed = pd.to_datetime(text, errors="coerce")
            retry = parsed.isna().to_numpy() & ~null
            if retry.any():
                again = pd.to_datetime(text[retry], errors="coerce", format="mixed")
                parsed = parsed.astype(DATETIME_DTYPE)
                parsed[retry] = again.astype(DATETIME_DTYPE)
            repaired, repair_rule = None, ""
    out = parsed.astype(DATETIME_DTYPE)
    bad = ~null & out.isna().to_numpy()
    return _Coerced(out, bad, rule, repaired, repair_rule)


def _coerce(s: pd.Series, col: Column, source: str) -> _Coerced:
    if col.kind == "id":
        return _coerce_id(s, col)
    if col.kind == "str":
        return _coerce_str(s, col)
    if col.kind == "float":
        return _coerce_number(s, col, integer=False)
    if col.kind == "int":
        return _coerce_number(s, col, integer=True)
    if col.kind == "bool":
        return _coerce_bool(s, col)
    if col.kind == "datetime":
        return _coerce_datetime(s, col, source)
    raise ValueError(f"unknown column kind {col.kind!r} for {col.name!r}")


def _bounds_rule(col: Column) -> str | None:
    if col.min is not None and col.max is not None:
        lo = "<" if col.strict_min else "<="
        return f"{_num(col.min)} {lo} {col.name} <= {_num(col.max)}"
    if col.min is not None:
        return f"{col.name} {'>' if col.strict_min else '>='} {_num(col.min)}"
    if col.max is not None:
        return f"{col.name} <= {_num(col.max)}"
    return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def time_range(now: pd.Timestamp | _dt.datetime | str | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(earliest, latest)`` accepted for behaviour timestamps: ``EARLIEST_TIMESTAMP`` and ``now`` (UTC, default:
    the current time) plus ``FUTURE_TOLERANCE_DAYS``; tz-naive UTC like the validated columns."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    return pd.Timestamp(EARLIEST_TIMESTAMP), (now + pd.Timedelta(days=FUTURE_TOLERANCE_DAYS)).floor("s")


def _time_range_rule(col: Column) -> str:
    return f"{col.name} between {EARLIEST_TIMESTAMP} and run date + {FUTURE_TOLERANCE_DAYS} day"


def _isolated(values: pd.Series, alive: np.ndarray) -> tuple[np.ndarray, str]:
    """Rows (among ``alive``) whose time is cut off from the bulk of the column by a long empty gap.

    The bulk is the central 98% of the times (1st to 99th percentile). Walking outwards from it, the first
    empty gap longer than the bulk's span (and than ``ISOLATION_MIN_GAP_DAYS``) cuts off everything beyond it:
    at most 1% of the rows on each side, e.g. a few events in 2015 in a 2024 log. Returns the mask and a
    description of the bounds for the message.
    """
    n_all = len(values)
    mask = np.zeros(n_all, dtype=bool)
    ok = alive & values.notna().to_numpy()
    t = values.to_numpy(dtype="datetime64[ns]")[ok].astype(np.int64)
    n = len(t)
    k = int(n * ISOLATION_MAX_SHARE)
    if k == 0:
        return mask, ""
    part = np.partition(t, [k, n - 1 - k])
    lo, hi = int(part[k]), int(part[n - 1 - k])
    day = 86_400 * 10**9
    gap = max(hi - lo, ISOLATION_MIN_GAP_DAYS * day)
    iso = np.zeros(n, dtype=bool)
    upper = np.sort(t[t >= hi])
    wide = np.diff(upper) > gap
    if wide.any():
        iso |= t >= upper[int(np.argmax(wide)) + 1]
    lower = np.sort(t[t <= lo])
    wide = np.diff(lower) > gap
    if wide.any():
        iso |= t <= lower[len(wide) - 1 - int(np.argmax(wide[::-1]))]
    if not iso.any():
        return mask, ""
    mask[np.flatnonzero(ok)[iso]] = True
    lo_ts, hi_ts = pd.Timestamp(lo), pd.Timestamp(hi)
    detail = (f"the central 98% of rows lie between {lo_ts:%Y-%m-%d} and {hi_ts:%Y-%m-%d} "
              f"({(hi - lo) / day:,.0f} days); these rows lie beyond an empty gap of more than "
              f"{gap / day:,.0f} days (the longer of that span and {ISOLATION_MIN_GAP_DAYS} days)")
    return mask, detail


def _final_dtype(values: pd.Series, col: Column) -> pd.Series:
    if col.kind == "int":
        if values.isna().any():
            return values.astype("Int64")
        return values.astype("int64")
    if col.kind == "bool":
        if values.isna().any():
            return values.astype("boolean")
        return values.astype(bool)
    if col.kind in ("id", "str"):
        return values.astype("str")
    return values


class _Ledger:
    """Tracks which rows are still alive and under which rule each rejected row fell."""

    def __init__(self, n: int, source: str):
        self.alive = np.ones(n, dtype=bool)
        self.rule_of = np.full(n, None, dtype=object)  # the rule each rejected row fell under
        self.source = source
        self.results: list[RuleResult] = []
        self.full_column_failures: list[str] = []

    def reject(self, mask: np.ndarray, column: str, rule: str, shown: pd.Series | list, *, fatal_if_all: bool = True,
               detail: str = ""):
        mask = np.asarray(mask, dtype=bool)
        total = int(mask.sum())
        if total == 0:
            return
        new = mask & self.alive
        count = int(new.sum())
        if fatal_if_all and total == len(mask) and len(mask) > 0:
            ex = ", ".join(_fmt_value(v) for v in distinct_examples(_pick(shown, mask)))
            ex = f"{detail}; examples: {ex}" if detail else f"examples: {ex}"
            self.full_column_failures.append(
                f"{self.source}: column '{column}': all {total} rows violate '{rule}' ({ex}); "
                f"the column is unusable"
            )
        if count:
            self.results.append(RuleResult(self.source, column, rule, count, distinct_examples(_pick(shown, new)),
                                           detail=detail))
            self.rule_of[new] = rule
        self.alive &= ~mask


def _pick(shown: pd.Series | list, mask: np.ndarray) -> list:
    if isinstance(shown, pd.Series):
        return shown[mask].tolist()
    return [v for v, m in zip(shown, mask) if m]


def validate_table(
    df: pd.DataFrame | None,
    spec: TableSpec | str,
    source: str | None = None,
    *,
    allow_empty: bool = False,
    now: pd.Timestamp | _dt.datetime | str | None = None,
) -> tuple[pd.DataFrame, TableReport]:
    """Check one table against ``spec``; return the clean frame and its :class:`TableReport`.

    The clean frame has the spec's columns (in spec order, optional ones only when present), canonical
    dtypes (ids/text ``str``, ``float64``, ``int64``, ``bool``, ``datetime64[ns]`` tz-naive UTC) and a fresh
    ``RangeIndex``. Columns that are not in the spec are dropped and listed in ``dropped_columns``.
    ``now`` (default: the current time) sets the upper bound of behaviour timestamps (:func:`time_range`).
    Raises :class:`DataValidationError` for fatal problems (see the module docstring).
    """
    if isinstance(spec, str):
        spec = TABLES[spec]
    source = str(source) if source else spec.name
    if df is None or df.shape[1] == 0:
        raise DataValidationError(
            f"{source}: table '{spec.name}' is empty: 0 rows violate 'non-empty file' (no header and no rows)")
    if len(df) == 0 and not allow_empty:
        cols = ", ".join(map(str, df.columns[:10]))
        raise DataValidationError(
            f"{source}: table '{spec.name}' is empty: 0 rows violate 'non-empty file' (header only: {cols})")
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    n = len(df)
    report = TableReport(table=spec.name, source=source, rows_in=n)

    fatal: list[str] = []
    missing = [c for c in spec.required if c not in df.columns]
    for c in missing:
        found = ", ".join(repr(x) for x in list(df.columns)[:MAX_EXAMPLES])
        fatal.append(f"{source}: column '{c}': all {n} rows violate 'required column present' "
                     f"(column missing; columns found, examples: {found})")
    if missing:
        raise DataValidationError(fatal)
    dup_cols = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup_cols:
        raise DataValidationError([f"{source}: column '{c}': appears more than once (rule 'unique column names')"
                                   for c in dup_cols])
    report.dropped_columns = [c for c in df.columns if c not in spec.names]
    if report.dropped_columns:
        report.notes.append(f"{source}: columns not in the '{spec.name}' schema dropped: "
                            + ", ".join(report.dropped_columns))

    present = [c for c in spec.columns if c.name in df.columns]
    ledger = _Ledger(n, source)
    clean: dict[str, pd.Series] = {}
    repaired_any = np.zeros(n, dtype=bool)
    repair_results: list[tuple[np.ndarray, str, str, pd.Series]] = []
    bad_masks: dict[str, np.ndarray] = {}

    # 1. coercion: rows whose value cannot be read as the column's kind
    for col in present:
        raw = df[col.name]
        res = _coerce(raw, col, source)
        if res.fatal:
            fatal.append(res.fatal)
            continue
        nonnull = ~_is_null(raw)
        n_bad = int(res.bad.sum())
        if n_bad and res.bad[nonnull].all() and (n_bad >= 2 or n_bad == n):
            ex = ", ".join(_fmt_value(v) for v in distinct_examples(raw[res.bad].tolist()))
            fatal.append(f"{source}: column '{col.name}': all {int(res.bad.sum())} non-empty rows violate "
                         f"'{res.rule}' (examples: {ex}); the column is unusable")
            continue
        ledger.reject(res.bad, col.name, res.rule, raw, fatal_if_all=False)
        bad_masks[col.name] = res.bad
        clean[col.name] = res.values
        if res.repaired is not None and res.repaired.any():
            repair_results.append((res.repaired, col.name, res.repair_rule, raw))
    if fatal:
        raise DataValidationError(fatal)

    # 2. nulls in required columns
    for col in present:
        if col.required:
            null = clean[col.name].isna().to_numpy() & ~bad_masks[col.name]
            ledger.reject(null, col.name, f"{col.name} is not null", df[col.name])

    # 3. bounds and allowed values (nulls in optional columns are fine)
    for col in present:
        vals = clean[col.name]
        if col.kind in ("float", "int"):
            rule = _bounds_rule(col)
            if rule:
                arr = vals.to_numpy(dtype=float, na_value=np.nan)
                viol = np.zeros(n, dtype=bool)
                with np.errstate(invalid="ignore"):
                    if col.min is not None:
                        viol |= (arr <= col.min) if col.strict_min else (arr < col.min)
                    if col.max is not None:
                        viol |= arr > col.max
                viol &= ~np.isnan(arr)
                ledger.reject(viol, col.name, rule, vals)
        if col.allowed is not None:
            viol = vals.notna().to_numpy() & ~vals.isin(col.allowed).to_numpy(dtype=bool)
            rule = f"{col.name} in ({', '.join(col.allowed)})"
            ledger.reject(viol, col.name, rule, df[col.name])
        if col.kind == "datetime" and col.in_time_range:
            earliest, latest = time_range(now)
            viol = (vals.notna() & ((vals < earliest) | (vals > latest))).to_numpy(dtype=bool)
            ledger.reject(viol, col.name, _time_range_rule(col), vals,
                          detail=f"accepted: {earliest:%Y-%m-%d} to {latest:%Y-%m-%d %H:%M} UTC")

    # 3b. times cut off from the bulk of the column (a few rows years away from the rest)
    for col in present:
        if col.kind == "datetime" and col.not_isolated:
            iso, detail = _isolated(clean[col.name], ledger.alive)
            ledger.reject(iso, col.name, f"{col.name} not isolated from the bulk of the data", clean[col.name],
                          fatal_if_all=False, detail=detail)

    # 4. duplicate keys among the surviving rows (first occurrence kept)
    key = [k for k in spec.key if k in clean]
    if key and len(key) == len(spec.key):
        frame = pd.DataFrame({k: clean[k] for k in key})
        dup = np.zeros(n, dtype=bool)
        alive_idx = np.flatnonzero(ledger.alive)
        if len(alive_idx):
            d = frame.iloc[alive_idx].duplicated(keep="first").to_numpy()
            dup[alive_idx[d]] = True
        if dup.any():
            shown = pd.Series([None] * n, dtype=object)
            shown[dup] = pd.Series([tuple(r) for r in frame[dup].itertuples(index=False)], dtype=object,
                                   index=np.flatnonzero(dup))
            ledger.reject(dup, ", ".join(key), f"unique key ({', '.join(key)})", shown, fatal_if_all=False)

    for mask, colname, rule, raw in repair_results:
        kept = mask & ledger.alive
        if kept.any():
            report.repaired.append(RuleResult(source, colname, rule, int(kept.sum()),
                                              distinct_examples(raw[kept].tolist()), action="repaired"))
            repaired_any |= kept

    if ledger.full_column_failures:
        raise DataValidationError(ledger.full_column_failures)

    out = pd.DataFrame({c.name: _final_dtype(clean[c.name][ledger.alive].reset_index(drop=True), c) for c in present})
    if len(spec.key) == 1 and spec.key[0] in clean:
        keys = clean[spec.key[0]]
        gone = ~ledger.alive & keys.notna().to_numpy()
        kept = set(keys[ledger.alive].tolist())
        for key_value, rule in zip(keys[gone].tolist(), ledger.rule_of[gone].tolist()):
            if key_value not in kept:
                report.rejected_keys.setdefault(key_value, rule)
    report.rejected = ledger.results
    report.rows_kept = int(ledger.alive.sum())
    report.rows_rejected = n - report.rows_kept
    report.rows_repaired = int(repaired_any.sum())
    if n and report.rows_kept == 0:
        raise DataValidationError(f"{source}: table '{spec.name}': all {n} rows rejected ("
                                  + "; ".join(r.message for r in report.rejected) + ")")
    return out, report


def _check_foreign_keys(
    df: pd.DataFrame, report: TableReport, references: Mapping[str, pd.DataFrame],
    reference_reports: Mapping[str, TableReport] | None = None,
) -> pd.DataFrame:
    """Reject rows pointing at a user / product that is not kept.

    A row whose user or product was in its file but rejected there is counted under
    ``"<user|product> rejected (<that row's rule>)"`` (e.g. ``product rejected (price > 0)``); only a row
    pointing at an id found nowhere falls under ``"<column> exists in <table>.<column>"``.
    """
    n = len(df)
    ledger = _Ledger(n, report.source)
    reference_reports = reference_reports or {}
    for col, ref_table, ref_col in FOREIGN_KEYS.get(report.table, ()):
        if col not in df.columns:
            continue
        ref = references.get(ref_table)
        if ref is None or ref_col not in ref.columns:
            report.notes.append(f"{report.source}: column '{col}' not checked against {ref_table}.{ref_col} "
                                f"(no {ref_table} table)")
            continue
        unknown = ~df[col].isin(set(ref[ref_col].tolist())).to_numpy(dtype=bool)
        ref_report = reference_reports.get(ref_table)
        cascaded = np.zeros(n, dtype=bool)
        if ref_report is not None and ref_report.rejected_keys and unknown.any():
            why = df[col].map(ref_report.rejected_keys).where(unknown, None)
            cascaded = why.notna().to_numpy(dtype=bool)
            entity = _ENTITY.get(ref_table, ref_table)
            for rule in pd.unique(why.dropna()):
                ledger.reject((why == rule).to_numpy(dtype=bool), col, f"{entity} rejected ({rule})", df[col],
                              fatal_if_all=False,
                              detail=f"the {entity} was rejected in {ref_report.source} under '{rule}'")
        ledger.reject(unknown & ~cascaded, col, f"{col} exists in {ref_table}.{ref_col}", df[col])
    if ledger.full_column_failures:
        raise DataValidationError(ledger.full_column_failures)
    report.rejected.extend(ledger.results)
    dropped = int((~ledger.alive).sum())
    report.rows_kept -= dropped
    report.rows_rejected += dropped
    if n and report.rows_kept == 0:
        raise DataValidationError(f"{report.source}: table '{report.table}': all {report.rows_in} rows rejected ("
                                  + "; ".join(r.message for r in report.rejected) + ")")
    return df[ledger.alive].reset_index(drop=True) if dropped else df


def validate_tables(
    tables: Mapping[str, pd.DataFrame | None],
    sources: Mapping[str, str] | None = None,
    *,
    allow_empty: Iterable[str] = (),
    now: pd.Timestamp | _dt.datetime | str | None = None,
) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Validate every canonical table of a dataset, then the foreign keys between them.

    ``sources`` maps a table name to the file (or name) it came from, used in messages. Tables named in
    ``allow_empty`` may have zero rows (e.g. the implicit events of a ratings-only source). ``now`` (default:
    the current time) sets the upper bound of behaviour timestamps. Tables that are not canonical raise.
    All fatal problems of all tables are raised together.
    """
    sources = dict(sources or {})
    allow_empty = set(allow_empty)
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise DataValidationError(f"unknown table(s) {', '.join(map(repr, unknown))}; canonical tables: "
                                  + ", ".join(TABLES))
    order = [t for t in TABLES if t in tables and tables[t] is not None]
    clean: dict[str, pd.DataFrame] = {}
    earliest, latest = time_range(now)
    now = latest - pd.Timedelta(days=FUTURE_TOLERANCE_DAYS)  # one clock for every table
    report = ValidationReport(time_range={"earliest": str(earliest), "latest": str(latest)})
    problems: list[str] = []
    for name in order:
        try:
            clean[name], report.tables[name] = validate_table(
                tables[name], TABLES[name], sources.get(name, name), allow_empty=name in allow_empty, now=now)
        except DataValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataValidationError(problems)
    for name in order:
        if name in FOREIGN_KEYS:
            try:
                clean[name] = _check_foreign_keys(clean[name], report.tables[name], clean, report.tables)
            except DataValidationError as exc:
                problems.extend(exc.problems)
    if problems:
        raise DataValidationError(problems)
    for t in report.tables.values():
        assert t.rows_in == t.rows_kept + t.rows_rejected, t
    return clean, report
