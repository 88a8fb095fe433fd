"""A Spark Connect server (``bin/spark-submit`` of its class, from the PyPI distribution) on 127.0.0.1, the whole
tiny profile run against ``sc://127.0.0.1:<port>``, checked as on the standalone cluster (test_spark_cluster.py, whose
helpers it uses); nothing listens outside the loopback interface and the server is stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_spark_cluster import SMALL_03, _check_run, _free_port, _only_loopback, _open, _stop, _wait, pyspark

from conftest import run_cli


@pytest.mark.slow
def test_tiny_profile_on_a_spark_connect_server_on_loopback(tiny_run, tmp_path):
    pytest.importorskip("grpc", reason="Spark Connect's client needs the spark extra's grpcio")
    from contentlab.engine import java_home

    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    # the server runs the package's Python functions (ALS's top-N and metrics, 04's guides) in its own workers: they
    # need a Python with contentlab installed, as on any cluster
    env = dict(os.environ, JAVA_HOME=str(java_home()), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    port = _free_port(15002)
    log = open(tmp_path / "connect.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [str(spark_submit), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "--name",
         "contentlab-test", "--master", "local[2]", "--driver-memory", "1g",
         "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
         "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait("the Spark Connect server", lambda: _open(port) or server.poll() is not None, timeout=120)
        assert server.poll() is None, (tmp_path / "connect.log").read_text()[-3000:]
        master_url = f"sc://127.0.0.1:{port}"
        home = tmp_path / "home"
        shutil.copytree(tiny_run.home, home, symlinks=True)
        proc = run_cli(["run", "--profile", "tiny", "--params", "engine.kind=spark", "--params",
                        f"engine.master={master_url}", *SMALL_03], home)
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        _check_run(home, master_url)
        _only_loopback([server])
    finally:
        _stop(server)
        log.close()
    assert server.poll() is not None
