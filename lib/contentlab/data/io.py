"""A dataset in memory (:class:`Dataset`) and on disk (a directory of Parquet tables)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contentlab.data.schema import TABLES

TRUTH_DIR = "truth"
META_FILE = "dataset.json"


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


def write_dataset(ds: Dataset, path: str | Path, extra_meta: dict[str, Any] | None = None) -> Path:
    """Write tables, metadata and truth to ``path`` (created)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, df in ds.tables.items():
        if df is not None:
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
            tables[name] = pd.read_parquet(f)
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
