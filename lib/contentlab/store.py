"""Data-access layer: SQL aggregations over the canonical Parquet tables with DuckDB.

Every aggregation over events goes through :class:`EventStore`, so memory stays flat as the
event log grows and a bigger engine can be swapped in behind the same ``sql`` method.
Tables present in the directory are exposed as views named after the table
(``events``, ``users``, ``products``, ``ratings``, ``exposures``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from contentlab.data.schema import TABLES


class EventStore:
    def __init__(self, tables_dir: str | Path, threads: int | None = None):
        self.tables_dir = Path(tables_dir)
        if not self.tables_dir.is_dir():
            raise FileNotFoundError(f"no table directory at {self.tables_dir}")
        self.con = duckdb.connect(database=":memory:")
        if threads:
            self.con.execute(f"SET threads TO {int(threads)}")
        self.tables: list[str] = []
        for name in TABLES:
            path = self.tables_dir / f"{name}.parquet"
            if path.exists():
                quoted = str(path).replace("'", "''")
                self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
                self.tables.append(name)

    def has(self, table: str) -> bool:
        return table in self.tables

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run a query and return a DataFrame."""
        rel = self.con.execute(query, params) if params is not None else self.con.execute(query)
        return rel.df()

    def scalar(self, query: str, params: list | dict | None = None):
        rel = self.con.execute(query, params) if params is not None else self.con.execute(query)
        row = rel.fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "EventStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
