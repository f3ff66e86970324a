"""The packaged code on a real Spark standalone cluster whose workers run another Python.

A master and a worker are started from this PySpark install (``spark-class``); the executors'
Python is the system's ``/usr/bin/python3.11``, which has neither this checkout, nor the venv's
site-packages, nor pyspark installed (Spark gives its workers only its own ``pyspark.zip``).
``clickloop spark check`` then submits a job whose tasks import the project *on the executors*:
they can only find it in the shipped ``--py-files`` archive, and the test checks they did.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stream_jobs.orchestration.packaging import SUBMIT_MAIN, build
from tests.waiting import wait_until
from tracker.settings import PROJECT_ROOT

WORKER_PYTHON = Path("/usr/bin/python3.11")
SPARK_CLASS = Path(sys.executable).with_name("spark-class")


def test_the_package_holds_the_code_and_is_reproducible(tmp_path: Path) -> None:
    first = build(PROJECT_ROOT, tmp_path / "a")
    second = build(PROJECT_ROOT, tmp_path / "b")
    assert first.py_files.read_bytes() == second.py_files.read_bytes()
    assert first.wheel.read_bytes() == first.py_files.read_bytes()
    names = zipfile.ZipFile(first.py_files).namelist()
    for module in ("tracker/__init__.py", "stream_jobs/sessions/job.py",
                   "stream_jobs/reports/default_funnels.yaml", "enrichment/__init__.py",
                   "clickloop-0.1.0.dist-info/METADATA", "clickloop-0.1.0.dist-info/RECORD"):
        assert module in names
    assert not [n for n in names if n.startswith(("tests/", ".venv/", "dags/"))]
    assert (first.py_files.parent / SUBMIT_MAIN).is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def standalone_cluster(tmp_path: Path):
    """``spark://127.0.0.1:PORT`` with one worker (1 core, 768 MB); both stopped after."""
    port = free_port()
    import pyspark

    # spark-class finds Spark's jars through SPARK_HOME (else through `python3` on PATH)
    env = {**os.environ, "SPARK_HOME": str(Path(pyspark.__file__).parent),
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DAEMON_MEMORY": "256m",
           "SPARK_LOG_DIR": str(tmp_path / "logs"), "SPARK_NO_DAEMONIZE": "1"}
    env.pop("PYSPARK_PYTHON", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    master_log = (logs / "master.log").open("wb")
    worker_log = (logs / "worker.log").open("wb")
    master = subprocess.Popen(
        [str(SPARK_CLASS), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(port), "--webui-port", str(free_port())],
        env=env, stdout=master_log, stderr=subprocess.STDOUT)
    url = f"spark://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [str(SPARK_CLASS), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
         "--cores", "1", "--memory", "768m", "--webui-port", str(free_port()),
         "--work-dir", str(tmp_path / "work")],
        env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"Successfully registered with master"
                   in (logs / "worker.log").read_bytes(), timeout=240,
                   what="the Spark worker registering with the master")
        yield url, tmp_path / "work"
    finally:
        for process in (worker, master):
            process.terminate()
        for process in (worker, master):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        master_log.close()
        worker_log.close()


@pytest.mark.spark
@pytest.mark.timeout(600)  # ~40 s on an idle 2-core machine; 5 min at load average 25
@pytest.mark.skipif(not WORKER_PYTHON.is_file(), reason="needs a system Python 3.11")
def test_executors_with_another_python_run_the_shipped_code(standalone_cluster, tmp_path):
    url, work_dir = standalone_cluster
    # that interpreter really cannot see the project or PySpark by itself
    alone = subprocess.run([str(WORKER_PYTHON), "-c", "import tracker"], cwd=tmp_path,
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert "No module named 'tracker'" in alone.stderr

    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKLOOP_", "PYSPARK"))}
    env.update({"CLICKLOOP_STATE_DIR": str(state), "CLICKLOOP_SPARK_DRIVER_MEMORY": "512m",
                "SPARK_LOCAL_IP": "127.0.0.1"})
    result = subprocess.run(
        [sys.executable, "-m", "clickloop.cli", "spark", "check", "--master", url,
         "--executor-python", str(WORKER_PYTHON), "--executor-memory", "512m",
         "--out", str(tmp_path / "package")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=500)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["driver"]["python"] == sys.executable
    executors = summary["executors"]
    assert executors, summary
    for seen in executors:
        assert seen["python"] == str(WORKER_PYTHON)
        assert seen["ids_valid"] == "[True, False]"
        for module in ("tracker_from", "stream_jobs_from"):
            # inside the copy of the archive the worker fetched for this application
            assert seen[module].startswith(str(work_dir.resolve())), seen
            assert "/clickloop-0.1.0.zip/" in seen[module], seen
            assert not seen[module].startswith(str(PROJECT_ROOT)), seen
