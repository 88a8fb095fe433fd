"""A run whose events table is written date-partitioned (``dataset.partition_events``) gives the same 01 and 02
metrics and ``user_profiles`` as the same shop written as one file: on DuckDB, and on Spark (slow)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from contentlab import pipeline
from contentlab.data.io import read_dataset, table_files, write_dataset
from contentlab.data.simulate import PROFILES, simulate
from contentlab.eda.workflow import EdaConfig, analyse
from contentlab.profiling import ProfilingConfig, run_profiling
from contentlab.store import EventStore

SPEC = {"kind": "demo", **PROFILES["tiny"], "locale": "en", "seed": 7}
PROFILING = dict(k_max=5, holdout_days=7, clv_horizon_days=30, random_state=11)
SPARK = {"kind": "spark", "master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2"}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTENTLAB_HOME", str(home))
        out = {}
        for layout in ("flat", "day", "month"):
            run_dir = home / "data" / "processed" / f"20260101T00000{len(out)}-{layout}"
            spec = SPEC if layout == "flat" else {**SPEC, "partition_events": layout}
            pipeline.prepare_data(spec, run_dir)
            out[layout] = run_dir
        yield out


def _metrics(run_dir, engine=None) -> tuple[dict, dict, pd.DataFrame]:
    eda = analyse(run_dir, EdaConfig(engine=engine)).metrics()
    prof = run_profiling(ProfilingConfig(**PROFILING, engine=engine), {}, run_dir=run_dir)
    return eda, prof.metrics(), pd.read_parquet(run_dir / "user_profiles.parquet")


def _same(a: dict, b: dict) -> None:
    """Counts and text equal, floats within 1e-9 (several files are scanned in parallel: sums add in another order)."""
    assert list(a) == list(b)
    for name, x in a.items():
        y = b[name]
        if isinstance(x, float) and isinstance(y, float):
            assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (name, x, y)
        else:
            assert x == y, (name, x, y)


def test_the_run_writes_the_events_date_partitioned(runs):
    flat = runs["flat"] / pipeline.CLEAN_DIR
    assert (flat / "events.parquet").is_file()
    for layout, key, width in (("day", "event_date", 10), ("month", "event_month", 7)):
        clean = runs[layout] / pipeline.CLEAN_DIR
        files = table_files(clean / "events.parquet")
        assert len(files) > 1 and all(f.parent.name.startswith(f"{key}=") for f in files)
        assert all(len(f.parent.name.split("=")[1]) == width for f in files)
        assert json.loads((clean / "dataset.json").read_text())["events_partitioning"] == layout
        # the partitioned table reads as the flat one, row for row (the rows are in time order)
        pd.testing.assert_frame_equal(read_dataset(clean).events, read_dataset(flat).events)
        for t in ("users", "products", "ratings", "exposures"):
            assert (clean / f"{t}.parquet").is_file()


def test_partitioned_and_flat_give_the_same_01_and_02_metrics_on_duckdb(runs):
    eda, prof, profiles = _metrics(runs["flat"])
    assert len(eda) > 20 and len(prof) > 10
    e, p, u = _metrics(runs["day"])
    _same(eda, e)
    _same(prof, p)
    pd.testing.assert_frame_equal(profiles, u, rtol=1e-9, atol=1e-12)


def test_the_store_reads_a_partitioned_table_with_the_canonical_columns_only(runs, tmp_path):
    with EventStore(runs["day"] / pipeline.CLEAN_DIR) as day, EventStore(runs["flat"] / pipeline.CLEAN_DIR) as flat:
        assert day.columns("events") == flat.columns("events")
        assert day.count("events") == flat.count("events") > 0
    empty = tmp_path / "clean"
    (empty / "events.parquet").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no Parquet file"):
        EventStore(empty)


def test_a_wrong_partitioning_is_refused_naming_the_key(tmp_path):
    with pytest.raises(pipeline.DatasetSpecError, match="partition_events must be one of day, month.*'week'"):
        pipeline.check_dataset_spec({**SPEC, "partition_events": "week"})
    with pytest.raises(ValueError, match="partition_events must be one of day, month"):
        write_dataset(simulate(**PROFILES["tiny"], seed=3), tmp_path / "x", partition_events="hour")


@pytest.mark.slow
def test_partitioned_on_spark_gives_duckdbs_01_and_02_metrics(runs):
    pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")
    from contentlab.engine import stop_spark

    eda, prof, profiles = _metrics(runs["flat"])
    try:
        e, p, u = _metrics(runs["day"], SPARK)
    finally:
        stop_spark()
    _same(eda, e)
    _same(prof, p)
    pd.testing.assert_frame_equal(profiles, u, rtol=1e-9, atol=1e-12)
