"""Data-access layer: SQL aggregations over the canonical Parquet tables, on DuckDB (embedded, the default) or on
Apache Spark SQL (:mod:`contentlab.engine`).

Every aggregation over events goes through :class:`EventStore`, so memory stays flat as the event log grows.
Tables present in the directory are exposed as views named after the table (``events``, ``users``, ``products``,
``ratings``, ``exposures``); a table is ``<name>.parquet``, one file or a date-partitioned directory of that name
(:mod:`contentlab.data.io`), read whole on both engines with the canonical columns only. Queries are written once, in DuckDB's SQL; on Spark the store transpiles them with
``sqlglot`` (:func:`to_spark_sql`), correcting the functions whose meaning differs between the two dialects, and
returns the same pandas types DuckDB does (:func:`arrow_to_pandas`). What stays different is documented in
``docs/architecture.md`` ("Engines"): floating-point sums add in another order (results agree to ~1e-12 relative),
and Spark keeps timestamps to the microsecond (ContentLab's tables are written to the second or coarser).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contentlab import contract
from contentlab.data.io import table_files
from contentlab.data.schema import TABLES
from contentlab.engine import check_engine_spec, spark_session

__all__ = ["EventStore", "to_spark_sql", "arrow_to_pandas"]


class _DuckDB:
    """DuckDB in memory, the views reading the Parquet files."""

    name = "duckdb"

    def __init__(self, threads: int | None):
        self.con = duckdb.connect(database=":memory:")
        if threads:
            self.con.execute(f"SET threads TO {int(threads)}")

    def view_parquet(self, name: str, path: Path) -> None:
        if path.is_dir():  # date-partitioned: every file under it; the partition keys are no columns
            table_files(path)  # fails clearly on a directory without Parquet files
            pattern = str(path / "**" / "*.parquet").replace("'", "''")
            source = f"read_parquet('{pattern}', hive_partitioning = false)"
        else:
            source = "read_parquet('{}')".format(str(path).replace("'", "''"))
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")

    def view_sql(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")

    def columns(self, name: str) -> list[str]:
        return [str(r[0]) for r in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def query(self, query: str, params: list | dict | None) -> pd.DataFrame:
        rel = self.con.execute(query, params) if params is not None else self.con.execute(query)
        return rel.df()

    def scalar(self, query: str, params: list | dict | None) -> Any:
        rel = self.con.execute(query, params) if params is not None else self.con.execute(query)
        row = rel.fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.con.close()


class _Spark:
    """Spark SQL: a session of its own (its own temporary views) on the engine's shared Spark context."""

    name = "spark"

    def __init__(self, spec: Mapping[str, Any]):
        base = spark_session(spec)
        self.remote = spec["master"].startswith("sc://")
        # a session of its own, so two stores never see each other's views (Spark Connect has no newSession)
        self.spark = base if self.remote else base.newSession()

    def view_parquet(self, name: str, path: Path) -> None:
        from pyspark.sql import functions as F

        files = table_files(path)
        # a date-partitioned directory: every file under it, without partition discovery (the keys are no columns)
        reader = self.spark.read.option("recursiveFileLookup", "true") if path.is_dir() else self.spark.read
        df = reader.parquet(str(path))
        for field in pq.read_schema(files[0]):  # nanosecond timestamps arrive as longs (nanosAsLong)
            if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
                df = df.withColumn(field.name, F.timestamp_micros(F.floor(F.col(field.name) / 1000)))
        df.createOrReplaceTempView(name)

    def view_sql(self, name: str, query: str) -> None:
        self.spark.sql(to_spark_sql(query)).createOrReplaceTempView(name)

    def columns(self, name: str) -> list[str]:
        return list(self.spark.table(name).columns)

    def query(self, query: str, params: list | dict | None) -> pd.DataFrame:
        return arrow_to_pandas(self._arrow(query, params))

    def _arrow(self, query: str, params: list | dict | None) -> pa.Table:
        df = self.spark.sql(to_spark_sql(query), args=params) if params else self.spark.sql(to_spark_sql(query))
        return df.toArrow()

    def scalar(self, query: str, params: list | dict | None) -> Any:
        table = self._arrow(query, params)
        if table.num_rows == 0:
            return None
        col = table.column(0)
        if pa.types.is_decimal(col.type):
            col = col.cast(pa.float64())
        value = col[0].as_py()
        if pa.types.is_timestamp(col.type) and value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def close(self) -> None:
        if not self.remote:
            for view in self.spark.catalog.listTables():
                if view.isTemporary:
                    self.spark.catalog.dropTempView(view.name)


@functools.lru_cache(maxsize=512)
def to_spark_sql(query: str) -> str:
    """A DuckDB query as Spark SQL: ``sqlglot`` transpiles it, and these functions get Spark's spelling of the same
    meaning (sqlglot keeps their name, but the value differs):

    - ``dayofweek``: DuckDB counts Sunday = 0 … Saturday = 6, Spark Sunday = 1 … 7 → ``dayofweek(x) - 1``;
    - ``epoch(ts)``: DuckDB's seconds with their fraction; Spark's ``unix_timestamp`` drops the fraction →
      ``unix_micros(ts) / 1e6``;
    - ``quantile_cont(x, q)`` → ``percentile(x, q)``: both exact, interpolated linearly between the order statistics
      (``median`` is the same on both);
    - decimal literals (``1.0``, ``60.0``): DuckDB computes averages and ratios of them in double precision, Spark in
      fixed-point decimals rounded to a few places → cast to ``DOUBLE``.
    """
    import sqlglot
    from sqlglot import exp

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DayOfWeek):
            return exp.paren(exp.Sub(this=node.copy(), expression=exp.Literal.number(1)), copy=False)
        if isinstance(node, exp.TimeToUnix):
            return exp.Div(this=exp.Anonymous(this="unix_micros", expressions=[node.this.copy()]),
                           expression=exp.Cast(this=exp.Literal.number("1000000"), to=exp.DataType.build("DOUBLE")))
        if isinstance(node, exp.PercentileCont | exp.Quantile):
            args = [node.this.copy()] + ([node.args["expression"].copy()] if node.args.get("expression") else [])
            return exp.Anonymous(this="percentile", expressions=args)
        if isinstance(node, exp.Literal) and not node.is_string and ("." in node.this or "e" in node.this.lower()):
            return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
        return node

    tree = sqlglot.parse_one(query, read="duckdb")
    return tree.transform(fix, copy=True).sql(dialect="spark")


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A Spark result as DuckDB's ``.df()`` gives it: naive timestamps and dates as ``datetime64[us]``, decimals as
    ``float64``, integer columns with missing values as pandas' nullable integers."""
    columns: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns):
        t = col.type
        if pa.types.is_timestamp(t):
            col = col.cast(pa.timestamp("us", tz=t.tz)) if t.unit != "us" else col
            s = col.to_pandas()
            if t.tz is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pa.types.is_date(t):
            s = pd.Series(col.cast(pa.timestamp("us")).to_pandas())
        elif pa.types.is_decimal(t):
            s = col.cast(pa.float64()).to_pandas()
        elif pa.types.is_integer(t) and col.null_count:
            s = col.to_pandas(types_mapper=lambda at: pd.ArrowDtype(at)).astype(f"Int{t.bit_width}")
        else:
            s = col.to_pandas()
        columns[name] = pd.Series(s).reset_index(drop=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


class EventStore:
    """SQL over a directory of canonical Parquet tables; ``engine`` (a run profile's ``engine`` entry, see
    :mod:`contentlab.engine`) picks DuckDB (default) or Spark."""

    REMEMBER_ROWS = 1000

    def __init__(self, tables_dir: str | Path, threads: int | None = None,
                 engine: Mapping[str, Any] | None = None):
        self.tables_dir = Path(tables_dir)
        if not self.tables_dir.is_dir():
            raise FileNotFoundError(f"no table directory at {self.tables_dir}")
        self.engine = check_engine_spec(engine)
        self.backend: _DuckDB | _Spark = (_Spark(self.engine) if self.engine["kind"] == "spark"
                                          else _DuckDB(threads))
        self.tables: list[str] = []
        self._columns: dict[str, list[str]] = {}
        self._scalars: dict[tuple[str, str], Any] = {}
        self._results: dict[tuple[str, str], pd.DataFrame] = {}
        for name in TABLES:
            path = self.tables_dir / f"{name}.parquet"
            if path.exists():
                self.backend.view_parquet(name, path)
                self.tables.append(name)

    @classmethod
    def for_run(cls, run_dir: str | Path, threads: int | None = None,
                engine: Mapping[str, Any] | None = None) -> EventStore:
        """The store over a run's prepared tables (the contract's ``clean`` product of stage 01)."""
        return cls(contract.product("clean").at(run_dir), threads=threads, engine=engine)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection (DuckDB engine only)."""
        if not isinstance(self.backend, _DuckDB):
            raise AttributeError("this store runs on Spark: it has no DuckDB connection")
        return self.backend.con

    def register(self, name: str, path: str | Path) -> None:
        """Expose another Parquet file (e.g. planted truth) as a view ``name``."""
        if not name.isidentifier() or name in TABLES:
            raise ValueError(f"cannot register a view named {name!r}")
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(path)
        self.backend.view_parquet(name, path)
        self._columns.pop(name, None)
        self._scalars.clear()
        self._results.clear()
        if name not in self.tables:
            self.tables.append(name)

    def create_view(self, name: str, query: str) -> None:
        """A temporary view ``name`` defined by a query over the store's tables (replaced when it exists)."""
        if not name.isidentifier() or name in TABLES:
            raise ValueError(f"cannot create a view named {name!r}")
        self.backend.view_sql(name, query)
        self._columns.pop(name, None)
        self._scalars.clear()
        self._results.clear()

    def has(self, table: str) -> bool:
        return table in self.tables

    def columns(self, table: str) -> list[str]:
        """Column names of a table or view (empty list when it is absent)."""
        if table not in self._columns:
            try:
                self._columns[table] = self.backend.columns(table)
            except Exception:  # an absent table or view: DuckDB's CatalogException, Spark's AnalysisException
                if table in self.tables:
                    raise
                return []
        return self._columns[table]

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns(table)

    def count(self, table: str) -> int:
        """Number of rows in a table (0 when absent)."""
        if table not in self.tables:
            return 0
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}"))

    def sql(self, query: str, params: list | dict | None = None) -> pd.DataFrame:
        """Run a query (DuckDB's SQL, ``?`` placeholders for ``params``) and return a DataFrame (a copy of a small
        result, up to :attr:`REMEMBER_ROWS` rows, is remembered like :meth:`scalar`'s)."""
        key = (query, repr(params))
        if key in self._results:
            return self._results[key].copy()
        df = self.backend.query(query, params)
        if len(df) <= self.REMEMBER_ROWS:
            self._results[key] = df.copy()
        return df

    def scalar(self, query: str, params: list | dict | None = None):
        """The first value of a query's first row as a Python value (``None`` for NULL or no row).

        Remembered for the store's life (the tables do not change under it; a view created or registered clears it):
        the stages ask the same counts many times, and on Spark every query is a job with its fixed cost."""
        key = (query, repr(params))
        if key not in self._scalars:
            self._scalars[key] = self.backend.scalar(query, params)
        return self._scalars[key]

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
