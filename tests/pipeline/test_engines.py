"""01 and 02 on DuckDB and on Spark (local[2]) give the same recorded metrics and the same ``user_profiles`` table.

Both engines run the same query definitions (DuckDB SQL, transpiled for Spark by ``contentlab.store.to_spark_sql``);
counts must be equal, floats within 1e-9 (relative): sums of floating-point numbers add up in another order on Spark.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli

pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")

STAGES = ("01_eda", "02_profiling")
SPARK = ["--params", "engine.kind=spark", "--params", "engine.master=local[2]",
         "--params", "engine.conf={spark.sql.shuffle.partitions: 2, spark.driver.memory: 1g}"]
MID = {"name": "mid", "seed": 11,
       "dataset": {"kind": "demo", "n_users": 2000, "n_products": 300, "n_days": 60, "locale": "en", "seed": 11},
       "notebooks": {"02_profiling": {"k_max": 6, "holdout_days": 14, "clv_horizon_days": 30}}}


def _run(home: Path, profile: str, extra: list[str]) -> dict:
    proc = run_cli(["run", "--profile", profile, "--only", ",".join(STAGES), *extra], home)
    assert proc.returncode == 0, f"{extra or 'duckdb'} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads((home / "reports" / "latest" / "manifest.json").read_text())


def _assert_same_metrics(duck: dict, spark: dict) -> int:
    checked = 0
    for stage in STAGES:
        a = next(nb for nb in duck["notebooks"] if nb["name"] == stage)["metrics"]
        b = next(nb for nb in spark["notebooks"] if nb["name"] == stage)["metrics"]
        assert list(a) == list(b), f"{stage}: the engines recorded different metrics"
        for name, x in a.items():
            y = b[name]
            if isinstance(x, float) or isinstance(y, float):
                same = (x is None and y is None) or (x is not None and y is not None and (
                    (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)))
                assert same, f"{stage}.{name}: duckdb {x!r}, spark {y!r}"
            else:
                assert x == y, f"{stage}.{name}: duckdb {x!r}, spark {y!r}"
            checked += 1
    return checked


def _assert_same_profiles(duck: Path, spark: Path) -> None:
    a = pd.read_parquet(duck / "user_profiles.parquet")
    b = pd.read_parquet(spark / "user_profiles.parquet")
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    for col in a.columns:  # integers and text exactly, floats within 1e-9
        pd.testing.assert_series_equal(a[col], b[col], check_exact=a[col].dtype.kind not in "fc", rtol=1e-9,
                                       atol=1e-12, obj=f"user_profiles.{col}")


def _compare(home: Path, profile: str) -> None:
    duck = _run(home, profile, [])
    spark = _run(home, profile, SPARK)
    assert duck["engine"] == "duckdb" and "spark_master" not in duck and "spark_version" not in duck
    from importlib.metadata import version

    assert (spark["engine"], spark["spark_master"], spark["spark_version"]) == ("spark", "local[2]",
                                                                              version("pyspark"))
    assert _assert_same_metrics(duck, spark) > 40
    processed = home / "data" / "processed"
    _assert_same_profiles(processed / duck["run_id"], processed / spark["run_id"])


@pytest.mark.slow
def test_01_and_02_are_the_same_on_duckdb_and_spark_tiny(tmp_path):
    _compare(tmp_path, "tiny")


@pytest.mark.slow
def test_01_and_02_are_the_same_on_duckdb_and_spark_mid_size(tmp_path):
    path = tmp_path / "mid.yaml"
    path.write_text(json.dumps(MID))
    _compare(tmp_path / "home", str(path))
