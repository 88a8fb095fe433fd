"""Adapters: public data formats -> canonical tables (``contentlab.data.schema``).

Each loader returns ``(Dataset, AdapterReport)``. The dataset's tables are mapped but not yet validated
(``contentlab.data.validate`` does that, and ``pipeline.prepare_data`` runs both). Messy source rows are
never dropped silently: a row the adapter cannot map is counted in ``AdapterReport.excluded`` under the first
reason that applies (so ``rows_read == rows_mapped + sum(excluded)``); rows that are mapped but known to be
suspicious (e.g. CDNOW orders worth $0.00, which validation then rejects under ``price > 0``) are counted in
``AdapterReport.flagged``. ``AdapterReport.overlaps`` gives every reason's total, ignoring precedence.

- :func:`load_cdnow`: ``CDNOW_master.txt`` (customer, YYYYMMDD date, number of CDs, dollar value).
- :func:`load_online_retail`: UCI Online Retail and Online Retail II (CSV or XLSX).
- :func:`load_movielens`: MovieLens ``u.data`` (ML-100K) and ``ratings.csv`` (ML-latest / 20M / 25M).
- :func:`load_files`: any CSV / TSV / Parquet / XLSX / JSON-lines tables with a column mapping.

``data/README.md`` documents every mapping for people.
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contentlab.data.io import Dataset
from contentlab.data.schema import TABLES
from contentlab.data.validate import DataValidationError, distinct_examples, examples_json

CD_PRODUCT_ID = "CD"
CD_CATEGORY = "CD"
CD_TITLE = "CD (CDNOW order; titles not recorded)"
MOVIELENS_NOMINAL_PRICE = 1.0
MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
# Online Retail stock codes that are not products (postage, fees, manual adjustments, ...).
NON_PRODUCT_CODES = frozenset({
    "POST", "DOT", "M", "D", "S", "B", "C2", "C3", "CRUK", "PADS", "BANK CHARGES", "AMAZONFEE", "ADJUST",
    "ADJUST2", "SP1002", "TEST001", "TEST002",
})
_NON_PRODUCT_PREFIXES = ("GIFT_", "TEST", "ADJUST")


@dataclass
class AdapterReport:
    """What an adapter read and what it could not map (counted per reason, with examples)."""

    adapter: str
    files: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # table -> source name used in validation messages
    rows_read: int = 0
    rows_mapped: int = 0
    excluded: dict[str, int] = field(default_factory=dict)  # first reason per unmapped row
    flagged: dict[str, int] = field(default_factory=dict)  # mapped, but validation will reject / worth knowing
    overlaps: dict[str, int] = field(default_factory=dict)  # every reason's total, ignoring precedence
    examples: dict[str, list[Any]] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)  # rows per mapped table
    notes: list[str] = field(default_factory=list)

    @property
    def rows_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter, "files": list(self.files), "sources": dict(self.sources),
            "rows_read": int(self.rows_read), "rows_mapped": int(self.rows_mapped),
            "rows_excluded": self.rows_excluded,
            "excluded": {k: int(v) for k, v in self.excluded.items()},
            "flagged": {k: int(v) for k, v in self.flagged.items()},
            "overlaps": {k: int(v) for k, v in self.overlaps.items()},
            "examples": {k: examples_json(v) for k, v in self.examples.items()},
            "tables": {k: int(v) for k, v in self.tables.items()},
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AdapterReport:
        """The report back from :meth:`to_dict` (``validation.json["adapter"]``); ``rows_excluded`` is recomputed
        from ``excluded``."""
        return cls(adapter=str(d.get("adapter", "")), files=list(d.get("files") or []),
                   sources=dict(d.get("sources") or {}), rows_read=int(d.get("rows_read") or 0),
                   rows_mapped=int(d.get("rows_mapped") or 0),
                   excluded={str(k): int(v) for k, v in (d.get("excluded") or {}).items()},
                   flagged={str(k): int(v) for k, v in (d.get("flagged") or {}).items()},
                   overlaps={str(k): int(v) for k, v in (d.get("overlaps") or {}).items()},
                   examples={str(k): list(v) for k, v in (d.get("examples") or {}).items()},
                   tables={str(k): int(v) for k, v in (d.get("tables") or {}).items()},
                   notes=[str(n) for n in d.get("notes") or []])


class _Exclusions:
    """Assigns each source row to the first exclusion reason it meets; keeps totals and examples."""

    def __init__(self, report: AdapterReport, n: int):
        self.report = report
        self.alive = np.ones(n, dtype=bool)

    def exclude(self, reason: str, mask: np.ndarray | pd.Series, shown: pd.Series | pd.DataFrame) -> None:
        mask = np.asarray(mask, dtype=bool)
        total = int(mask.sum())
        if not total:
            return
        new = mask & self.alive
        self.report.overlaps[reason] = total
        if new.any():
            self.report.excluded[reason] = int(new.sum())
            self.report.examples[reason] = _shown_examples(shown, new)
        self.alive &= ~mask

    def flag(self, reason: str, mask: np.ndarray | pd.Series, shown: pd.Series | pd.DataFrame) -> None:
        mask = np.asarray(mask, dtype=bool) & self.alive
        if mask.any():
            self.report.flagged[reason] = int(mask.sum())
            self.report.examples[reason] = _shown_examples(shown, mask)


def _shown_examples(shown: pd.Series | pd.DataFrame, mask: np.ndarray) -> list[Any]:
    """Up to five distinct example source rows (a DataFrame's rows become tuples of text)."""
    picked = shown[mask]
    if isinstance(picked, pd.DataFrame):
        return distinct_examples(_row_tuples(picked.head(200)).tolist())
    return distinct_examples(picked.head(200).tolist())


def _empty_table(name: str) -> pd.DataFrame:
    spec = TABLES[name]
    dtypes = {"id": "str", "str": "str", "float": "float64", "int": "int64", "bool": "bool",
              "datetime": "datetime64[ns]"}
    return pd.DataFrame({c.name: pd.Series([], dtype=dtypes[c.kind]) for c in spec.columns if c.required})


def _id_text(s: pd.Series) -> pd.Series:
    """Identifiers as text; integral numbers lose their '.0' (Excel / float round trips)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        num = s.astype("float64")
        integral = num.notna() & (num % 1 == 0)
        out = s.astype("str")
        out[integral] = num[integral].astype("int64").astype("str")
        return out.where(num.notna(), None).astype("str")
    if s.dtype == object:
        s = s.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else v)
    text = s.astype("str").str.strip()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.where(text.notna() & (text != ""), None).astype("str")


def _row_tuples(df: pd.DataFrame) -> pd.Series:
    """Each source row as a tuple of its fields as text (missing -> ''), for examples in reports."""
    return pd.Series([tuple("" if pd.isna(v) else str(v) for v in r) for r in df.itertuples(index=False)],
                     dtype=object)


def _users_from_first_seen(user_ids: pd.Series, times: pd.Series, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    df = pd.DataFrame({"user_id": user_ids, "signup_date": times}).dropna()
    users = df.groupby("user_id", sort=True)["signup_date"].min().reset_index()
    if extra is not None and len(extra):
        users = users.merge(extra, on="user_id", how="left")
    return users


# -------------------------------------------------------------------------------------------- CDNOW


def cdnow_default_path(name: str = "CDNOW_master.txt") -> Path:
    """``datasets/<name>`` inside the installed ``lifetimes`` package (located without importing it):
    ``CDNOW_master.txt`` (23,570 customers) or ``CDNOW_sample.txt`` (Fader & Hardie's 1/10 sample, 2,357)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the PyPI package 'lifetimes' is not installed, so its {name} cannot be "
                                "found; install the project's dependencies or pass the file's path")
    for base in spec.submodule_search_locations:
        path = Path(base) / "datasets" / name
        if path.exists():
            return path
    raise FileNotFoundError(f"{name} not found under {list(spec.submodule_search_locations)}/datasets")


def load_cdnow(path: str | Path | None = None) -> tuple[Dataset, AdapterReport]:
    """CDNOW purchase log -> users, one synthetic product, purchase events.

    Each line of ``CDNOW_master.txt`` (``customer_id date number_of_cds dollar_value``, whitespace-separated,
    optional header) is one order: product ``"CD"`` (category ``"CD"``), ``quantity`` = number of CDs,
    ``price`` = dollar value / number of CDs, ``timestamp`` = the date at 00:00, ``order_id`` and
    ``session_id`` = ``<customer>-<YYYYMMDD>-<k>`` (k-th order of that customer that day, in file order).
    Users: the customer id as written (``"00001"``), ``signup_date`` = first purchase. Orders worth $0.00
    are mapped with price 0 and flagged (``zero_value_order``); validation rejects them under ``price > 0``.
    The 5-column ``CDNOW_sample.txt`` layout (master id, sample id, date, CDs, dollars) is read too.
    """
    path = Path(path) if path is not None else cdnow_default_path()
    report = AdapterReport("cdnow", files=[str(path)])
    report.sources = {t: f"{path.name} ({t})" for t in ("users", "products", "events")}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    parts = [ln.split() for ln in lines if ln.strip()]
    if parts and not parts[0][0].isdigit():  # header line
        parts = parts[1:]
    if not parts:
        raise DataValidationError(f"{path.name}: table 'events' is empty: 0 rows violate 'non-empty file'")
    report.rows_read = len(parts)
    width = 5 if sum(len(p) == 5 for p in parts) > len(parts) / 2 else 4
    raw = pd.Series([" ".join(p) for p in parts], dtype="str")
    ok_shape = np.array([len(p) == width for p in parts])
    rows = [p if len(p) == width else [None] * width for p in parts]
    cols = ["customer_id", "date", "number_of_cds", "dollar_value"]
    if width == 5:
        cols = ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"]
    df = pd.DataFrame(rows, columns=cols, dtype="str")
    date = pd.to_datetime(df["date"], format="%Y%m%d", errors="coerce")
    n_cds = pd.to_numeric(df["number_of_cds"], errors="coerce")
    value = pd.to_numeric(df["dollar_value"], errors="coerce")

    ex = _Exclusions(report, len(df))
    ex.exclude("malformed_line", ~ok_shape, raw)
    ex.exclude("unparseable_date", date.isna(), raw)
    ex.exclude("unparseable_number_of_cds", n_cds.isna() | (n_cds % 1 != 0), raw)
    ex.exclude("non_positive_number_of_cds", n_cds <= 0, raw)
    ex.exclude("unparseable_dollar_value", value.isna(), raw)
    ex.flag("zero_value_order", value == 0, raw)
    ex.flag("negative_value_order", value < 0, raw)

    keep = ex.alive
    ev = pd.DataFrame({
        "customer_id": df["customer_id"][keep], "date": date[keep], "date_text": df["date"][keep],
        "quantity": n_cds[keep].astype("int64"), "value": value[keep],
    }).reset_index(drop=True)
    k = ev.groupby(["customer_id", "date_text"], sort=False).cumcount() + 1
    order_id = ev["customer_id"] + "-" + ev["date_text"] + "-" + k.astype("str")
    events = pd.DataFrame({
        "timestamp": ev["date"].astype("datetime64[ns]"),
        "user_id": ev["customer_id"].astype("str"),
        "session_id": order_id,
        "product_id": CD_PRODUCT_ID,
        "event_type": "purchase",
        "price": ev["value"] / ev["quantity"],
        "quantity": ev["quantity"],
        "order_id": order_id,
    })
    users = _users_from_first_seen(events["user_id"], events["timestamp"])
    positive = events["price"][events["price"] > 0]
    products = pd.DataFrame({
        "product_id": [CD_PRODUCT_ID], "title": [CD_TITLE], "category": [CD_CATEGORY],
        "price": [float(positive.median()) if len(positive) else np.nan],
    })
    report.rows_mapped = len(events)
    report.tables = {"users": len(users), "products": 1, "events": len(events)}
    report.notes.append("one synthetic product 'CD' (category 'CD') stands for every order; its list price is "
                        "the median unit price of the orders")
    ds = Dataset(name="cdnow", tables={"users": users, "products": products, "events": events}, locale="en",
                 meta={"source": "cdnow", "synthetic_product": CD_PRODUCT_ID, "currency": "USD"})
    return ds, report


# ------------------------------------------------------------------------------------- Online Retail

_RETAIL_COLUMNS = {  # normalised header -> internal name
    "invoiceno": "invoice", "invoice": "invoice",
    "stockcode": "stock_code",
    "description": "description",
    "quantity": "quantity",
    "invoicedate": "invoice_date",
    "unitprice": "unit_price", "price": "unit_price",
    "customerid": "customer_id",
    "country": "country",
}
_RETAIL_NAMES = {"invoice": "InvoiceNo/Invoice", "stock_code": "StockCode", "quantity": "Quantity",
                 "invoice_date": "InvoiceDate", "unit_price": "UnitPrice/Price", "customer_id": "CustomerID/Customer ID"}
_RETAIL_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
                        "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M")


# Delimited text: encodings tried in this order (utf-8-sig also reads plain UTF-8 and drops a byte-order mark;
# cp1252 is what Excel writes on Western Windows; latin-1 reads any byte) and delimiters sniffed among these.
CSV_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_SNIFF_LINES = 50
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _decode_sample(raw: bytes, encoding: str, truncated: bool) -> str:
    """The sample as text (strict); a sample cut from a longer file loses its last, possibly partial, line."""
    if truncated and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n")]
    return raw.decode(encoding)


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter of a text table: among ``CSV_DELIMITERS``, the one that splits the header into more than
    one field and gives that many fields on the most lines (ties: ``default``, then more fields). A file whose
    header no candidate splits has one column: ``default``."""
    lines = [ln for ln in sample.splitlines() if ln.strip()][:_SNIFF_LINES]
    best: tuple[float, bool, int] | None = None
    chosen = default
    for d in CSV_DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=d)]
        if not counts or counts[0] < 2:
            continue
        body = counts[1:]
        share = sum(c == counts[0] for c in body) / len(body) if body else 1.0
        score = (share, d == default, counts[0])
        if best is None or score > best:
            best, chosen = score, d
    return chosen


def _read_options_error(path: Path, exc: TypeError, table: str | None) -> DataValidationError:
    """An unknown ``read_options`` key (pandas raises TypeError): name it, with the closest valid option."""
    m = re.search(r"unexpected keyword argument '([^']+)'", str(exc))
    if not m:
        raise exc
    key = m.group(1)
    valid = [p for p in inspect.signature(pd.read_csv).parameters if p != "filepath_or_buffer"]
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f"read_options.{table}" if table else "read_options"
    return DataValidationError(f"{path.name}: {where}: unknown option {key!r} (rule 'known read option'; options "
                               f"are those of pandas.read_csv, e.g. sep, encoding, quotechar, decimal){hint}")


def _read_csv_text(path: Path, *, default_sep: str = ",", table: str | None = None, **kw: Any) -> pd.DataFrame:
    """A delimited text file with every column as text; delimiter and encoding sniffed unless given in ``kw``.

    The frame's ``attrs["read_as"]`` says how it was read. A file that still cannot be split into rows raises
    :class:`DataValidationError` naming the file, the line and the ``read_options`` to set.
    """
    with open(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES + 1)
    truncated = len(raw) > _SNIFF_BYTES
    raw = raw[:_SNIFF_BYTES]
    if not raw.strip():
        return pd.DataFrame()
    given_sep = kw.pop("sep", None)
    given_sep = kw.pop("delimiter", None) or given_sep
    given_enc = kw.pop("encoding", None)
    decimal, thousands = kw.pop("decimal", None), kw.pop("thousands", None)  # columns are text: applied below
    encodings = [given_enc] if given_enc else list(CSV_ENCODINGS)
    where = f"read_options: {{{table or '<table>'}: {{sep: ..., encoding: ...}}}}"
    tried = []
    for enc in encodings:
        try:
            sample = _decode_sample(raw, enc, truncated)
        except (UnicodeDecodeError, LookupError):
            tried.append(enc)
            continue
        sep = given_sep or sniff_delimiter(sample, default_sep)
        try:
            df = pd.read_csv(path, dtype="str", keep_default_na=True, encoding=enc, sep=sep, **kw)
        except UnicodeDecodeError:
            tried.append(enc)
            continue
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except pd.errors.ParserError as exc:
            detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
            name = _DELIMITER_NAMES.get(sep, repr(sep))
            raise DataValidationError(
                f"{path.name}: 1 line violates 'same number of fields on every line' ({detail}; read as "
                f"{name}-separated {enc}, {'as given' if given_sep else 'delimiter detected'}); if the delimiter, "
                f"quoting or encoding is different, set it in the dataset spec: {where}") from None
        except TypeError as exc:
            raise _read_options_error(path, exc, table) from None
        # columns stay text (validation types them): numbers with a decimal comma are rewritten here, as asked
        # by read_options, or, in a ';'-separated file, in columns whose every value is such a number
        if decimal is not None or thousands is not None:
            decimals = _read_decimals(df, decimal or ".", thousands, whole_columns=False)
        elif sep == ";":
            decimals = _read_decimals(df, ",", None, whole_columns=True)
        else:
            decimals = []
        df.attrs["read_as"] = {"sep": sep, "encoding": enc, "sep_detected": not given_sep,
                               "encoding_detected": not given_enc, "decimal_columns": decimals,
                               "decimal": decimal or ","}
        return df
    raise DataValidationError(f"{path.name}: cannot be decoded as {' or '.join(tried)} (rule 'readable text "
                              f"encoding'); set the file's encoding in the dataset spec: {where}")


def _read_decimals(df: pd.DataFrame, decimal: str, thousands: str | None, *, whole_columns: bool) -> list[str]:
    """Rewrite numbers written with ``decimal`` (and ``thousands``) marks as plain ``1234.5`` text, in place;
    returns the columns changed. ``whole_columns``: only columns whose every non-empty value is such a number
    and at least one has the decimal mark (so text and ids are never touched)."""
    whole = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+" if thousands else r"\d+"
    pattern = rf"\s*[+-]?(?:{whole})(?:{re.escape(decimal)}\d+)?\s*"
    changed = []
    for col in df.columns:
        s = df[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)) or not s.notna().any():
            continue
        text = s.astype("str")
        match = text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool) & s.notna().to_numpy()
        if not match.any():
            continue
        marked = text[match].str.contains(decimal, regex=False)
        if whole_columns and (not match[s.notna().to_numpy()].all() or not marked.any()):
            continue
        conv = text[match]
        if thousands:
            conv = conv.str.replace(thousands, "", regex=False)
        conv = conv.str.replace(decimal, ".", regex=False).str.strip()
        if (conv != text[match]).any():
            out = s.astype(object)
            out[match] = conv
            df[col] = out.astype(s.dtype)
            changed.append(str(col))
    return changed


def _read_as_note(path: Path, df: pd.DataFrame) -> str | None:
    info = df.attrs.get("read_as")
    if not info:
        return None
    how = [k for k in ("sep", "encoding") if info.get(f"{k}_detected")]
    detected = f" ({' and '.join('delimiter' if k == 'sep' else k for k in how)} detected)" if how else ""
    name = _DELIMITER_NAMES.get(info["sep"], repr(info["sep"]))
    enc = "UTF-8" if info["encoding"] == "utf-8-sig" else info["encoding"]
    note = f"{path.name}: read as {name}-separated text, {enc}{detected}"
    if info.get("decimal_columns"):
        mark = "decimal commas" if info.get("decimal") == "," else f"decimal mark {info.get('decimal')!r}"
        note += f"; {mark} read in column(s) {', '.join(info['decimal_columns'])}"
    return note


def _parse_retail_dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("datetime64[ns]")
    if s.dtype == object and s.map(lambda v: isinstance(v, pd.Timestamp) or hasattr(v, "isoformat")).any():
        return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")
    text = s.astype("str").str.strip()
    codes, uniques = pd.factorize(text)  # invoices share timestamps: parse each distinct text once
    uniq = pd.Series(uniques, dtype="str")
    sample = uniq.head(2000)
    ranked = sorted(_RETAIL_DATE_FORMATS, key=lambda f: -int(pd.to_datetime(sample, format=f, errors="coerce")
                                                            .notna().sum()))  # stable: ties keep listed order
    # one day/month order for the whole file; unambiguous ISO forms may fill gaps
    parsed = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[ns]")
    for fmt in [ranked[0], *(f for f in _RETAIL_DATE_FORMATS[:2] if f != ranked[0])]:
        todo = parsed.isna().to_numpy()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(uniq[todo], format=fmt, errors="coerce").astype("datetime64[ns]")
    values = parsed.to_numpy()
    out = np.where(codes >= 0, values[np.clip(codes, 0, None)], np.datetime64("NaT"))
    return pd.Series(out, index=s.index).astype("datetime64[ns]")


def _is_non_product(code: pd.Series) -> np.ndarray:
    upper = code.str.upper()
    named = upper.isin(NON_PRODUCT_CODES).to_numpy(dtype=bool)
    prefixed = upper.str.startswith(_NON_PRODUCT_PREFIXES).fillna(False).to_numpy(dtype=bool)
    no_digit = (~upper.str.contains(r"\d", regex=True)).fillna(False).to_numpy(dtype=bool)
    return (named | prefixed | no_digit) & code.notna().to_numpy()


def load_online_retail(path: str | Path, *, sheet: str | int | None = None) -> tuple[Dataset, AdapterReport]:
    """UCI Online Retail (I or II), CSV or XLSX -> products, users, purchase events.

    Source rows that are not mapped, each counted under the first reason that applies: ``missing_invoice``,
    ``cancellation`` (invoice starts with ``C``), ``missing_stock_code``, ``non_product_stock_code`` (POST,
    M, BANK CHARGES, gift vouchers, codes without a digit, ...), ``missing_customer_id``,
    ``unparseable_quantity``, ``non_positive_quantity``, ``unparseable_price``, ``non_positive_price``,
    ``unparseable_invoice_date``, ``merged_into_first_line`` (further lines of the same invoice and stock code:
    quantities are summed into the first line, price is the quantity-weighted mean). Exact duplicate lines are
    passed on and rejected by validation as duplicate keys. For XLSX all sheets are read (Online Retail II
    ships one sheet per year) unless ``sheet`` is given.
    """
    path = Path(path)
    report = AdapterReport("online_retail", files=[str(path)])
    report.sources = {t: f"{path.name} ({t})" for t in ("users", "products", "events")}
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        sheets = pd.read_excel(path, sheet_name=sheet if sheet is not None else None, engine="openpyxl")
        raw = pd.concat(list(sheets.values()), ignore_index=True) if isinstance(sheets, dict) else sheets
    else:
        raw = _read_csv_text(path)
    if raw.shape[1] == 0 or len(raw) == 0:
        raise DataValidationError(f"{path.name}: table 'events' is empty: 0 rows violate 'non-empty file'")
    rename = {}
    for c in raw.columns:
        key = re.sub(r"[\s_]", "", str(c)).lower()
        if key in _RETAIL_COLUMNS:
            rename[c] = _RETAIL_COLUMNS[key]
    df = raw.rename(columns=rename)
    missing = [k for k in _RETAIL_NAMES if k not in df.columns]
    if missing:
        found = ", ".join(repr(str(c)) for c in list(raw.columns)[:8])
        raise DataValidationError([
            f"{path.name}: column '{_RETAIL_NAMES[k]}': all {len(raw)} rows violate 'required column present' "
            f"(not an Online Retail file? columns found: {found})" for k in missing])
    variant = "Online Retail II" if "Price" in raw.columns or "Invoice" in raw.columns else "Online Retail"
    report.notes.append(f"format: {variant} ({suffix.lstrip('.') or 'csv'})")
    read_as = _read_as_note(path, raw)
    if read_as:
        report.notes.append(read_as)
    n = len(df)
    report.rows_read = n
    invoice = _id_text(df["invoice"]).str.upper()
    code = _id_text(df["stock_code"]).str.upper()
    customer = _id_text(df["customer_id"])
    quantity = pd.to_numeric(df["quantity"], errors="coerce")
    price = pd.to_numeric(df["unit_price"], errors="coerce")
    when = _parse_retail_dates(df["invoice_date"])
    description = (df["description"].astype("str").str.strip() if "description" in df.columns
                   else pd.Series([None] * n, dtype="str"))
    country = df["country"].astype("str").str.strip() if "country" in df.columns else None
    shown = raw

    ex = _Exclusions(report, n)
    ex.exclude("missing_invoice", invoice.isna(), shown)
    ex.exclude("cancellation", invoice.str.startswith("C").fillna(False), shown)
    ex.exclude("missing_stock_code", code.isna(), shown)
    ex.exclude("non_product_stock_code", _is_non_product(code), shown)
    ex.exclude("missing_customer_id", customer.isna(), shown)
    ex.exclude("unparseable_quantity", quantity.isna() | (quantity % 1 != 0), shown)
    ex.exclude("non_positive_quantity", quantity <= 0, shown)
    ex.exclude("unparseable_price", price.isna(), shown)
    ex.exclude("non_positive_price", price <= 0, shown)
    ex.exclude("unparseable_invoice_date", when.isna(), shown)

    keep = ex.alive
    lines = pd.DataFrame({
        "timestamp": when[keep], "user_id": customer[keep], "invoice": invoice[keep], "product_id": code[keep],
        "price": price[keep], "quantity": quantity[keep], "_row": np.flatnonzero(keep),
    })
    # exact duplicate lines go on as they are (validation drops them as duplicate keys, counted there)
    exact_dup = raw[keep].duplicated(keep="first").to_numpy()
    base, dups = lines[~exact_dup], lines[exact_dup]
    base = base.assign(_value=base["price"] * base["quantity"])
    grouped = base.groupby(["invoice", "product_id"], sort=False)
    first = grouped.head(1).set_index(["invoice", "product_id"])
    sums = grouped[["quantity", "_value"]].sum()
    merged_mask = grouped.cumcount().to_numpy() > 0
    if merged_mask.any():
        rows = base["_row"].to_numpy()[merged_mask]
        report.excluded["merged_into_first_line"] = int(merged_mask.sum())
        report.overlaps["merged_into_first_line"] = int(merged_mask.sum())
        report.examples["merged_into_first_line"] = distinct_examples(_row_tuples(raw.iloc[rows[:200]]).tolist())
    first["quantity"] = sums["quantity"]
    first["price"] = sums["_value"] / sums["quantity"]
    merged = first.reset_index()[lines.columns]
    lines = pd.concat([merged, dups], ignore_index=True).sort_values("_row", kind="stable")
    events = pd.DataFrame({
        "timestamp": lines["timestamp"].astype("datetime64[ns]"),
        "user_id": lines["user_id"].astype("str"),
        "session_id": lines["invoice"].astype("str"),
        "product_id": lines["product_id"].astype("str"),
        "event_type": "purchase",
        "price": lines["price"].astype("float64"),
        "quantity": lines["quantity"].astype("int64"),
        "order_id": lines["invoice"].astype("str"),
    }).reset_index(drop=True)

    # products: every product code seen with a positive price; title = most frequent description
    is_product = code.notna().to_numpy() & ~_is_non_product(code) & (price > 0).fillna(False).to_numpy()
    cat = pd.DataFrame({"product_id": code[is_product], "description": description[is_product],
                        "price": price[is_product]})
    titles = (cat.dropna(subset=["description"]).groupby(["product_id", "description"]).size()
              .reset_index(name="n").sort_values(["product_id", "n", "description"], ascending=[True, False, True])
              .drop_duplicates("product_id").set_index("product_id")["description"])
    products = cat.groupby("product_id")["price"].median().rename("price").reset_index()
    products["title"] = products["product_id"].map(titles).fillna(products["product_id"]).astype("str")
    products = products[["product_id", "title", "price"]]
    no_title = int((~products["product_id"].isin(titles.index)).sum())
    if no_title:
        report.notes.append(f"{no_title} products without any description use their stock code as title")

    # users: first invoice seen (any line with a customer id and a date), country = most frequent
    seen = customer.notna().to_numpy() & when.notna().to_numpy()
    extra = None
    if country is not None:
        cc = pd.DataFrame({"user_id": customer[seen], "region": country[seen]}).dropna()
        extra = (cc.groupby(["user_id", "region"]).size().reset_index(name="n")
                 .sort_values(["user_id", "n", "region"], ascending=[True, False, True])
                 .drop_duplicates("user_id")[["user_id", "region"]])
    users = _users_from_first_seen(customer[seen], when[seen], extra)

    report.rows_mapped = len(events)
    report.tables = {"users": len(users), "products": len(products), "events": len(events)}
    assert report.rows_read == report.rows_mapped + report.rows_excluded
    ds = Dataset(name="online_retail", tables={"users": users, "products": products, "events": events},
                 locale="en", meta={"source": "online_retail", "variant": variant, "currency": "GBP"})
    return ds, report


# ----------------------------------------------------------------------------------------- MovieLens


def _movielens_paths(path: Path) -> Path:
    if path.is_dir():
        for name in ("u.data", "ratings.csv", "ratings.dat"):
            if (path / name).exists():
                return path / name
        raise FileNotFoundError(f"{path}: no u.data, ratings.csv or ratings.dat in this directory")
    return path


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def load_movielens(path: str | Path, *, low_ratings: str = "reject") -> tuple[Dataset, AdapterReport]:
    """MovieLens ratings -> ratings, users and products (implicit ``events`` is an empty table).

    Formats: ``u.data`` (ML-100K, tab-separated ``user item rating unix_ts``, no header), ``ratings.csv``
    (``userId,movieId,rating,timestamp`` with header) and ``ratings.dat`` (ML-1M, ``::``-separated); ``path``
    may be the file or its directory. Titles and the first genre (as ``category``) come from ``u.item`` /
    ``movies.csv`` / ``movies.dat`` beside the ratings when present, else the title is ``"Movie <id>"``;
    ``u.user`` adds ``gender`` and ``age_band``. Users' ``signup_date`` is their first rating. MovieLens has
    no prices: products carry a nominal price of 1.0 (``meta["nominal_price"]``). Half-star ratings below
    1 (0.5 in ratings.csv) violate ``1 <= rating <= 5``: ``low_ratings="reject"`` (default) passes them on
    for validation to reject (flagged ``rating_below_1``), ``"clip"`` maps them to 1.0 (flagged
    ``rating_clipped_to_1``).
    """
    if low_ratings not in ("reject", "clip"):
        raise ValueError(f"low_ratings must be 'reject' or 'clip', not {low_ratings!r}")
    path = _movielens_paths(Path(path))
    report = AdapterReport("movielens", files=[str(path)])
    report.sources = {"ratings": path.name, "users": f"{path.name} (users)", "products": f"{path.name} (products)",
                      "events": f"{path.name} (events)"}
    names = ["user_id", "product_id", "rating", "timestamp"]
    if path.suffix.lower() == ".csv":
        fmt = "ratings.csv"
        try:
            raw = pd.read_csv(path, dtype="str", on_bad_lines="skip")
        except pd.errors.EmptyDataError:
            raw = pd.DataFrame()
        header_lines = 1
        cols = {c.lower(): c for c in raw.columns}
        need = {"userid": "user_id", "movieid": "product_id", "rating": "rating", "timestamp": "timestamp"}
        missing = [k for k in need if k not in cols]
        if raw.shape[1] and missing:
            found = ", ".join(repr(c) for c in raw.columns[:8])
            raise DataValidationError([f"{path.name}: column '{k}': all {len(raw)} rows violate 'required column "
                                       f"present' (columns found: {found})" for k in missing])
        raw = raw.rename(columns={cols[k]: v for k, v in need.items() if k in cols})
    else:
        fmt = "ratings.dat" if path.suffix.lower() == ".dat" else "u.data"
        sep = "::" if fmt == "ratings.dat" else "\t"
        try:
            raw = pd.read_csv(path, sep=sep, header=None, names=names, dtype="str", on_bad_lines="skip",
                              engine="python" if sep == "::" else "c")
        except pd.errors.EmptyDataError:
            raw = pd.DataFrame()
        header_lines = 0
    if raw.shape[1] == 0 or len(raw) == 0:
        raise DataValidationError(f"{path.name}: table 'ratings' is empty: 0 rows violate 'non-empty file'")
    report.notes.append(f"format: {fmt}")
    n_lines = _count_lines(path) - header_lines
    too_many_fields = max(n_lines - len(raw), 0)
    report.rows_read = len(raw) + too_many_fields
    if too_many_fields:
        report.excluded["malformed_line"] = too_many_fields
        report.overlaps["malformed_line"] = too_many_fields
    user = _id_text(raw["user_id"])
    item = _id_text(raw["product_id"])
    rating = pd.to_numeric(raw["rating"], errors="coerce")
    ts = pd.to_numeric(raw["timestamp"], errors="coerce")
    shown = raw[names]
    ex = _Exclusions(report, len(raw))
    ex.exclude("missing_user_id", user.isna(), shown)
    ex.exclude("missing_item_id", item.isna(), shown)
    ex.exclude("unparseable_rating", rating.isna(), shown)
    ex.exclude("unparseable_timestamp", ts.isna(), shown)
    if low_ratings == "clip":
        ex.flag("rating_clipped_to_1", rating < 1, shown)
        rating = rating.where(~(rating < 1), 1.0)
    else:
        ex.flag("rating_below_1", rating < 1, shown)
    ex.flag("rating_above_5", rating > 5, shown)
    keep = ex.alive
    ratings = pd.DataFrame({
        "user_id": user[keep], "product_id": item[keep], "rating": rating[keep].astype("float64"),
        "timestamp": pd.to_datetime(ts[keep], unit="s").astype("datetime64[ns]"),
    }).reset_index(drop=True)

    meta_items = _movielens_items(path.parent, report)
    products = pd.DataFrame({"product_id": sorted(ratings["product_id"].unique())})
    if meta_items is not None:
        products = products.merge(meta_items, on="product_id", how="left")
    else:
        products["title"] = None
    products["title"] = products["title"].fillna("Movie " + products["product_id"]).astype("str")
    products["price"] = MOVIELENS_NOMINAL_PRICE
    users_extra = _movielens_users(path.parent, report)
    users = _users_from_first_seen(ratings["user_id"], ratings["timestamp"], users_extra)

    report.rows_mapped = len(ratings)
    report.tables = {"users": len(users), "products": len(products), "ratings": len(ratings), "events": 0}
    report.notes.append("no prices in MovieLens: products carry a nominal price of 1.0; implicit events are empty")
    ds = Dataset(name="movielens", locale="en",
                 tables={"users": users, "products": products, "events": _empty_table("events"), "ratings": ratings},
                 meta={"source": "movielens", "format": fmt, "nominal_price": True, "allow_empty": ["events"]})
    return ds, report


def _movielens_items(folder: Path, report: AdapterReport) -> pd.DataFrame | None:
    if (folder / "u.item").exists():
        f = folder / "u.item"
        genres = list(MOVIELENS_GENRES)
        if (folder / "u.genre").exists():
            g = pd.read_csv(folder / "u.genre", sep="|", header=None, names=["genre", "idx"], dtype="str",
                            encoding="latin-1").dropna()
            genres = g.sort_values("idx", key=lambda s: s.astype(int))["genre"].tolist()
        df = pd.read_csv(f, sep="|", header=None, dtype="str", encoding="latin-1")
        flags = df.iloc[:, 5:5 + len(genres)].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy()
        first = np.where(flags.any(axis=1), flags.argmax(axis=1), -1)
        category = [genres[i] if i >= 0 else None for i in first]
        out = pd.DataFrame({"product_id": _id_text(df[0]), "title": df[1].astype("str"),
                            "category": pd.Series(category, dtype="str")})
    elif (folder / "movies.csv").exists() or (folder / "movies.dat").exists():
        if (folder / "movies.csv").exists():
            f = folder / "movies.csv"
            df = pd.read_csv(f, dtype="str")
            df.columns = [c.lower() for c in df.columns]
        else:
            f = folder / "movies.dat"
            df = pd.read_csv(f, sep="::", header=None, names=["movieid", "title", "genres"], dtype="str",
                             engine="python", encoding="latin-1")
        first = df["genres"].str.split("|").str[0]
        out = pd.DataFrame({"product_id": _id_text(df["movieid"]), "title": df["title"].astype("str"),
                            "category": first.where(first != "(no genres listed)", None).astype("str")})
    else:
        return None
    report.files.append(str(f))
    return out.dropna(subset=["product_id"]).drop_duplicates("product_id")


def _movielens_users(folder: Path, report: AdapterReport) -> pd.DataFrame | None:
    f = folder / "u.user"
    if not f.exists():
        return None
    df = pd.read_csv(f, sep="|", header=None, names=["user_id", "age", "gender", "occupation", "zip"], dtype="str",
                     encoding="latin-1")
    age = pd.to_numeric(df["age"], errors="coerce")
    band = pd.cut(age, [0, 17, 24, 34, 44, 54, 200], labels=["<18", "18-24", "25-34", "35-44", "45-54", "55+"])
    report.files.append(str(f))
    return pd.DataFrame({"user_id": _id_text(df["user_id"]), "age_band": band.astype("str").where(age.notna(), None),
                         "gender": df["gender"].astype("str")}).drop_duplicates("user_id")


# ------------------------------------------------------------------------------------------ generic


def read_table_file(path: str | Path, *, table: str | None = None, **read_options: Any) -> pd.DataFrame:
    """Read one table file as it is: CSV/TSV/TXT (every column as text), Parquet, XLSX, JSON lines.

    Delimited text: unless ``read_options`` set them, the encoding is the first of ``CSV_ENCODINGS`` that
    reads the file and the delimiter is sniffed (:func:`sniff_delimiter`); ``attrs["read_as"]`` records both.
    ``read_options`` go to the pandas reader (``read_csv``, ``read_excel``, ...). An empty file gives an empty
    frame (validation then reports it as empty). ``table`` is only used in messages.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path, **read_options)
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(path, engine="openpyxl", **read_options)
        if suffix in (".jsonl", ".ndjson"):
            if not path.read_bytes().strip():
                return pd.DataFrame()
            return pd.read_json(path, lines=True, dtype=False, **read_options)
    except TypeError as exc:
        raise _read_options_error(path, exc, table) from None
    return _read_csv_text(path, default_sep="\t" if suffix == ".tsv" else ",", table=table, **read_options)


def load_files(
    paths: Mapping[str, str | Path],
    mapping: Mapping[str, Mapping[str, str]] | None = None,
    *,
    name: str = "files",
    locale: str = "en",
    read_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[Dataset, AdapterReport]:
    """Canonical tables from arbitrary files: ``paths`` = {table: file}, ``mapping`` = {table: {source: canonical}}.

    Columns named in the mapping are renamed; every source column named in a mapping must exist. Columns
    that are neither canonical nor mapped are passed on (validation drops them and lists them). Without
    an ``events`` table an empty one is supplied (allowed to be empty, like MovieLens). A file with nothing
    in it violates ``non-empty file``. ``read_options`` = {table: reader options} (``sep``, ``encoding``, ...);
    without them a text file's delimiter and encoding are detected (:func:`read_table_file`) and noted.
    Problems of all files are raised together.
    """
    mapping = dict(mapping or {})
    read_options = dict(read_options or {})
    unknown = [t for t in [*paths, *mapping] if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown table(s) {sorted(set(unknown))}; canonical tables: {', '.join(TABLES)}")
    unknown_opts = [t for t in read_options if t not in paths]
    if unknown_opts:
        raise ValueError(f"read_options for table(s) {sorted(unknown_opts)} that have no file in 'paths' "
                         f"({', '.join(paths)}); read_options maps a table to the reader's options")
    report = AdapterReport("files")
    tables: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    for table, p in paths.items():
        p = Path(p)
        report.files.append(str(p))
        report.sources[table] = p.name
        try:
            df = read_table_file(p, table=table, **dict(read_options.get(table) or {}))
        except DataValidationError as exc:
            problems.extend(exc.problems)
            continue
        if df.shape[1] == 0:  # 0 bytes, blank lines only, or no columns: nothing to map
            what = "0 bytes" if p.stat().st_size == 0 else "no header and no rows"
            problems.append(f"{p.name}: table '{table}' is empty: 0 rows violate 'non-empty file' ({what})")
            continue
        note = _read_as_note(p, df)
        if note:
            report.notes.append(note)
        m = dict(mapping.get(table, {}))
        absent = [src for src in m if src not in df.columns]
        for src in absent:
            found = ", ".join(repr(str(c)) for c in list(df.columns)[:8])
            problems.append(f"{p.name}: column '{src}': all {len(df)} rows violate 'mapped column present' (mapping "
                            f"{src!r} -> {m[src]!r}; columns found: {found})")
        bad_target = [dst for dst in m.values() if dst not in TABLES[table].names]
        for dst in bad_target:
            problems.append(f"{p.name}: mapping target '{dst}' is not a column of '{table}' (columns: "
                            f"{', '.join(TABLES[table].names)})")
        tables[table] = df.rename(columns=m)
        report.rows_read += len(df)
        report.tables[table] = len(df)
    if problems:
        raise DataValidationError(problems)
    meta: dict[str, Any] = {"source": "files"}
    if "events" not in tables:
        tables["events"] = _empty_table("events")
        meta["allow_empty"] = ["events"]
        report.notes.append("no events file: the events table is empty")
    report.rows_mapped = report.rows_read
    return Dataset(name=name, tables=tables, locale=locale, meta=meta), report


__all__ = [
    "AdapterReport", "CD_PRODUCT_ID", "NON_PRODUCT_CODES", "cdnow_default_path", "load_cdnow", "load_files",
    "load_movielens", "load_online_retail", "read_table_file",
]
