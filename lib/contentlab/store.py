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

from contentlab import contract
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
        self._columns: dict[str, list[str]] = {}
        for name in TABLES:
            path = self.tables_dir / f"{name}.parquet"
            if path.exists():
                quoted = str(path).replace("'", "''")
                self.con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
                self.tables.append(name)

    @classmethod
    def for_run(cls, run_dir: str | Path, threads: int | None = None) -> EventStore:
        """The store over a run's prepared tables (the contract's ``clean`` product of stage 01)."""
        return cls(contract.product("clean").at(run_dir), threads=threads)

    def register(self, name: str, path: str | Path) -> None:
        """Expose another Parquet file (e.g. planted truth) as a view ``name``."""
        if not name.isidentifier() or name in TABLES:
            raise ValueError(f"cannot register a view named {name!r}")
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(path)
        quoted = str(path).replace("'", "''")
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{quoted}')")
        self._columns.pop(name, None)
        if name not in self.tables:
            self.tables.append(name)

    def has(self, table: str) -> bool:
        return table in self.tables

    def columns(self, table: str) -> list[str]:
        """Column names of a table (empty list when the table is absent)."""
        if table not in self.tables:
            return []
        if table not in self._columns:
            rel = self.con.execute(f"DESCRIBE {table}").fetchall()
            self._columns[table] = [str(r[0]) for r in rel]
        return self._columns[table]

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns(table)

    def count(self, table: str) -> int:
        """Number of rows in a table (0 when absent)."""
        if table not in self.tables:
            return 0
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}"))

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

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
