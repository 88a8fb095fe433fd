"""A real Spark cluster: a standalone master and one worker started on 127.0.0.1 from the PyPI distribution's own
classes (``bin/spark-class``), the whole tiny profile run against ``spark://127.0.0.1:<port>`` (01 and 02's
aggregations, 03's Spark MLlib ALS, 04's guide for every customer, 05): 01's metrics equal DuckDB's over the same
tables, ALS is recorded and placed in the report, every customer with recommendations gets a guide, nothing listens
outside the loopback interface, and both daemons are stopped. The same through a Spark Connect server is in
test_spark_connect.py (its own file, so that the two run on different test workers).

The runs start from a copy of the shared tiny run's home, so 04 finds its cached copy model (the same catalogue)
and trains nothing; every stage runs again on the cluster."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run_cli

pyspark = pytest.importorskip("pyspark", reason="the spark extra (make setup installs it)")
psutil = pytest.importorskip("psutil")

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def _free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def _open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, check, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} not up after {timeout:.0f} s")


def _listening(proc: psutil.Process) -> list[tuple[str, int]]:
    out = []
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            out += [(c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="inet") if c.status == "LISTEN"]
    return out


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


STAGES = ["01_eda", "02_profiling", "03_recommend", "04_generate", "05_feedback"]
SMALL_03 = ["--params", "03_recommend.model_params.ALS={rank: 8, regParam: 0.1, alpha: [1.0, 10.0]}"]


def _check_run(home: Path, master_url: str) -> None:
    """The run's manifest names the engine and master, every stage succeeded, 01's counts equal DuckDB's over the
    same tables, 03 recorded ALS (trained on every customer: the tiny shop is below ``single_node_users``) and placed
    it in its report, and 04 wrote a guide on Spark for every customer with recommendations."""
    import pandas as pd

    from contentlab.store import EventStore

    manifest = json.loads((home / "reports" / "latest" / "manifest.json").read_text())
    assert (manifest["engine"], manifest["spark_master"]) == ("spark", master_url)
    assert [(nb["name"], nb["status"]) for nb in manifest["notebooks"]] == [(s, "ok") for s in STAGES]
    assert (home / "reports" / "latest" / "index.html").is_file()
    metrics = {nb["name"]: nb["metrics"] for nb in manifest["notebooks"]}
    run_dir = home / "data" / "processed" / manifest["run_id"]
    with EventStore(run_dir / "clean") as duck:
        assert metrics["01_eda"]["events_rows"] == duck.count("events") > 0
        assert metrics["01_eda"]["users"] == duck.count("users")
        gmv = duck.scalar("SELECT SUM(price * quantity) FROM events WHERE event_type = 'purchase'")
        assert metrics["01_eda"]["gmv"] == pytest.approx(gmv, rel=1e-9)
    assert metrics["02_profiling"]["users_profiled"] == metrics["01_eda"]["users"]

    rec = metrics["03_recommend"]
    assert 0 < rec["als_ndcg_at_10"] < 1 and rec["single_node_users"] is None
    html = (home / "reports" / "latest" / "03_recommend.html").read_text(encoding="utf-8")
    assert f"trained and evaluated on Spark <code>{master_url}</code>" in html
    recs = pd.read_parquet(run_dir / "recommendations.parquet")
    guides = pd.read_parquet(run_dir / "user_guides")
    assert metrics["04_generate"]["guides_written"] == len(guides) == recs["user_id"].nunique() == rec[
        "recommended_users"] > 4
    assert (home / "reports" / "latest" / "05_feedback.html").is_file()


def _only_loopback(procs: list[subprocess.Popen]) -> None:
    for p in procs:  # the daemons (and anything they started) listen on the loopback interface only
        ports = _listening(psutil.Process(p.pid))
        assert ports, "the Spark daemon listens nowhere?"
        outside = [(ip, port) for ip, port in ports if ip not in LOOPBACK]
        assert not outside, f"listening outside the loopback interface: {outside}"


@pytest.mark.slow
def test_tiny_profile_on_a_standalone_cluster_on_loopback(tiny_run, tmp_path):
    from contentlab.engine import java_home

    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    env = dict(os.environ, JAVA_HOME=str(java_home()), SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=str(tmp_path),
               SPARK_WORKER_DIR=str(tmp_path / "work"), SPARK_NO_DAEMONIZE="1")
    port, ui, wport, wui = _free_port(7077), _free_port(), _free_port(), _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("master", "worker")}  # noqa: SIM115
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(ui)], env=env, stdout=logs["master"], stderr=subprocess.STDOUT))
        _wait("the master", lambda: _open(port))
        procs.append(subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
             "--port", str(wport), "--webui-port", str(wui), "--cores", "2", "--memory", "1g"],
            env=env, stdout=logs["worker"], stderr=subprocess.STDOUT))
        _wait("the worker's registration",
              lambda: "Registering worker" in (tmp_path / "master.log").read_text(errors="replace"))

        conf = "{spark.executor.memory: 512m, spark.cores.max: 2, spark.sql.shuffle.partitions: 2}"
        home = tmp_path / "home"
        shutil.copytree(tiny_run.home, home, symlinks=True)
        proc = run_cli(["run", "--profile", "tiny", "--params", "engine.kind=spark", "--params",
                        f"engine.master={master_url}", "--params", f"engine.conf={conf}", *SMALL_03], home)
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "Registered app" in (tmp_path / "master.log").read_text(errors="replace")  # it ran on the cluster

        _check_run(home, master_url)
        _only_loopback(procs)
    finally:
        for p in reversed(procs):
            _stop(p)
        for f in logs.values():
            f.close()
    assert all(p.poll() is not None for p in procs)
