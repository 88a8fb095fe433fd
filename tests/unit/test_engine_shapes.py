"""The Spark engine on the shapes of real datasets: a date-only purchase log (CDNOW), a ratings-only dataset
(MovieLens: the ratings become activity through a view) and a purchase-only shop with order ids (Online Retail). The
per-user features and 01's tables are the same as DuckDB's (counts exactly, floats within 1e-9)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contentlab import pipeline
from contentlab.eda.workflow import EdaConfig, analyse
from contentlab.profiling.features import user_features
from contentlab.store import EventStore
from test_profiling_real_shapes import _cdnow_master_file, _movielens_files, _online_retail_csv

pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")
pytestmark = pytest.mark.slow

SPARK = {"kind": "spark", "master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2"}}


@pytest.fixture(scope="module", autouse=True)
def _stop_spark():
    yield
    from contentlab.engine import stop_spark

    stop_spark()


def _prepare(tmp: Path, kind: str) -> Path:
    if kind == "cdnow":
        _cdnow_master_file(tmp / "CDNOW_master.txt")
        spec = {"kind": "cdnow", "path": str(tmp / "CDNOW_master.txt")}
    elif kind == "movielens":
        (tmp / "ml").mkdir()
        _movielens_files(tmp / "ml")
        spec = {"kind": "movielens", "path": str(tmp / "ml" / "u.data")}
    else:
        _online_retail_csv(tmp / "online_retail.csv")
        spec = {"kind": "online_retail", "path": str(tmp / "online_retail.csv")}
    pipeline.prepare_data(spec, tmp / "run")
    return tmp / "run"


@pytest.mark.parametrize("kind", ["cdnow", "movielens", "online_retail"])
def test_spark_gives_duckdbs_features_and_eda_tables(tmp_path, kind):
    run_dir = _prepare(tmp_path, kind)
    with EventStore(run_dir / pipeline.CLEAN_DIR) as duck, \
            EventStore(run_dir / pipeline.CLEAN_DIR, engine=SPARK) as spark:
        a, b = user_features(duck), user_features(spark)
    assert (a.activity, a.population, a.time_resolution) == (b.activity, b.population, b.time_resolution)
    assert a.skipped == b.skipped and a.unmeasurable == b.unmeasurable
    assert len(a.frame) > 0
    pd.testing.assert_frame_equal(a.frame, b.frame, rtol=1e-9, atol=1e-12)
    x, y = analyse(run_dir, EdaConfig()), analyse(run_dir, EdaConfig(engine=SPARK))
    assert x.headline.keys() == y.headline.keys()
    for name, value in x.headline.items():
        if isinstance(value, float):
            assert y.headline[name] == pytest.approx(value, rel=1e-9, nan_ok=True), name
        else:
            assert y.headline[name] == value, name
    for table in ("daily", "funnel", "retention", "prices", "baskets", "orders_per_user", "top_categories"):
        pd.testing.assert_frame_equal(getattr(x, table), getattr(y, table), rtol=1e-9, obj=f"{kind} {table}")
