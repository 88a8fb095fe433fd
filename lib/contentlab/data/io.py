"""A dataset in memory (:class:`Dataset`) and on disk (a directory of Parquet tables).

On disk every table is ``<table>.parquet``: one Parquet file, or, for a large events table, a directory of that name
holding the table date-partitioned in the hive layout (``events.parquet/event_date=2026-01-05/part-00000.parquet``,
or by month: ``event_month=2026-01/``; :data:`PARTITIONINGS`). The partition value is only in the directory name,
never a column: every file holds the canonical columns, so the table reads the same whichever way it was written
(:func:`read_table`, :func:`table_files`, and :class:`contentlab.store.EventStore` on DuckDB and Spark).
:class:`TableWriter` writes a table a batch of rows at a time (the chunked simulator), flat or partitioned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from contentlab.data.schema import TABLES

TRUTH_DIR = "truth"
META_FILE = "dataset.json"
PARTITIONINGS: dict[str, tuple[str, str]] = {"day": ("event_date", "%Y-%m-%d"), "month": ("event_month", "%Y-%m")}
"""Date partitionings of the events table: name -> (the hive key in the directory names, its strftime format)."""
PARTITIONED_TABLES = ("events",)
"""Tables that can be written date-partitioned (on their ``timestamp``)."""


@dataclass
class Dataset:
    """Canonical tables of one dataset, plus planted truth when it was simulated."""

    name: str
    tables: dict[str, pd.DataFrame]
    locale: str = "en"
    truth: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, item: str) -> pd.DataFrame:
        # ds.events, ds.users, ... (only for canonical table names)
        if item in TABLES:
            tables = self.__dict__.get("tables", {})
            if item in tables:
                return tables[item]
            raise AttributeError(f"dataset {self.__dict__.get('name')!r} has no {item!r} table")
        raise AttributeError(item)

    def has(self, table: str) -> bool:
        return table in self.tables and self.tables[table] is not None

    @property
    def has_truth(self) -> bool:
        return bool(self.truth)


def _write_truth(truth: dict[str, Any], path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    rest: dict[str, Any] = {}
    for key, value in truth.items():
        if isinstance(value, pd.DataFrame):
            value.to_parquet(path / f"{key}.parquet", index=False)
        elif key == "segments":
            (path / "segments.json").write_text(json.dumps(value, indent=2, ensure_ascii=False), encoding="utf-8")
        else:
            rest[key] = value
    (path / "truth.json").write_text(json.dumps(rest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def read_truth(path: str | Path) -> dict[str, Any] | None:
    path = Path(path)
    if not path.is_dir():
        return None
    truth: dict[str, Any] = {}
    for f in sorted(path.glob("*.parquet")):
        truth[f.stem] = pd.read_parquet(f)
    if (path / "segments.json").exists():
        truth["segments"] = json.loads((path / "segments.json").read_text(encoding="utf-8"))
    if (path / "truth.json").exists():
        truth.update(json.loads((path / "truth.json").read_text(encoding="utf-8")))
    return truth


def check_partitioning(partition: str | None) -> str | None:
    """``partition`` validated: ``None`` (one file per table) or a key of :data:`PARTITIONINGS`."""
    if partition is not None and partition not in PARTITIONINGS:
        raise ValueError(f"partition_events must be one of {', '.join(PARTITIONINGS)} (the events table "
                         f"date-partitioned) or absent (one file), got {partition!r}")
    return partition


class TableWriter:
    """Writes one table to ``path`` a frame at a time: one Parquet file (``partition=None``, a row group or more per
    frame) or a hive-partitioned directory (``partition="day"`` / ``"month"`` on the ``timestamp`` column, one file
    per frame and partition). Every frame is written with the first frame's schema, so all files agree."""

    def __init__(self, path: str | Path, partition: str | None = None, time_column: str = "timestamp"):
        self.path, self.partition, self.time_column = Path(path), check_partitioning(partition), time_column
        self.schema: pa.Schema | None = None
        self.rows = 0
        self.frames = 0
        self._writer: pq.ParquetWriter | None = None
        self._empty: pa.Table | None = None

    def write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        if self.schema is None:
            self.schema = table.schema
        self.rows += len(df)
        if self.partition is None:
            if self._writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self.path, self.schema)
            self._writer.write_table(table)
        elif len(df):
            key, fmt = PARTITIONINGS[self.partition]
            values = pd.to_datetime(df[self.time_column]).dt.strftime(fmt).to_numpy()
            for value in sorted(set(values)):
                part = self.path / f"{key}={value}"
                part.mkdir(parents=True, exist_ok=True)
                pq.write_table(table.filter(pa.array(values == value)), part / f"part-{self.frames:05d}.parquet")
        elif self._empty is None:
            self._empty = table
        self.frames += 1

    def close(self) -> Path:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        elif self.partition is not None and self.rows == 0 and self._empty is not None:
            pq.write_table(self._empty, self.path)  # nothing to partition: an empty table is one empty file
        return self.path

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def table_files(path: str | Path) -> list[Path]:
    """The Parquet files of a table written by :func:`write_dataset` or :class:`TableWriter`: the file itself, or
    every ``*.parquet`` file under a partitioned directory, in path order (so by date)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(f for f in path.rglob("*.parquet") if f.is_file())
        if not files:
            raise FileNotFoundError(f"{path}: a partitioned table directory with no Parquet file in it")
        return files
    if not path.exists():
        raise FileNotFoundError(path)
    return [path]


def read_table(path: str | Path) -> pd.DataFrame:
    """A table as a DataFrame, from one Parquet file or a date-partitioned directory (the rows of its files in path
    order; the partition value is not added as a column)."""
    files = table_files(path)
    if len(files) == 1 and files[0] == Path(path):
        return pd.read_parquet(files[0])
    return pads.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()


def write_dataset(ds: Dataset, path: str | Path, extra_meta: dict[str, Any] | None = None,
                  partition_events: str | None = None) -> Path:
    """Write tables, metadata and truth to ``path`` (created). ``partition_events`` (``"day"`` or ``"month"``)
    writes the events table date-partitioned (see the module docstring); the metadata records it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    check_partitioning(partition_events)
    for name, df in ds.tables.items():
        if df is None:
            continue
        if partition_events and name in PARTITIONED_TABLES:
            with TableWriter(path / f"{name}.parquet", partition_events) as w:
                w.write(df)
        else:
            df.to_parquet(path / f"{name}.parquet", index=False)
    if ds.truth:
        _write_truth(ds.truth, path / TRUTH_DIR)
    meta = dict(ds.meta)
    meta.update(extra_meta or {})
    meta.update(
        name=ds.name,
        locale=ds.locale,
        tables=sorted(n for n, df in ds.tables.items() if df is not None),
        has_truth=bool(ds.truth),
    )
    if partition_events:
        meta["events_partitioning"] = partition_events
    (path / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def read_dataset(path: str | Path, truth_dir: str | Path | None = None) -> Dataset:
    """Read a dataset directory written by :func:`write_dataset`."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path} not found: not a ContentLab dataset directory")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    tables = {}
    for name in TABLES:
        f = path / f"{name}.parquet"
        if f.exists():
            tables[name] = read_table(f)
    tdir = Path(truth_dir) if truth_dir else path / TRUTH_DIR
    truth = read_truth(tdir)
    return Dataset(name=meta.get("name", path.name), tables=tables, locale=meta.get("locale", "en"), truth=truth, meta=meta)


def file_fingerprint(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (first 16 hex chars)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()[:16]


def frame_fingerprint(df: pd.DataFrame) -> str:
    """Order-sensitive content hash of a DataFrame (first 16 hex chars)."""
    h = hashlib.sha256()
    h.update(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()[:16]
