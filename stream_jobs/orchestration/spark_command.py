"""``clickloop spark``: ship the project's code to a Spark cluster the PySpark way.

- ``clickloop spark package [--out DIR]``: the wheel, its ``--py-files`` zip and the
  ``spark-submit`` main (:mod:`stream_jobs.orchestration.packaging`), in
  ``<state_dir>/spark-package`` by default; prints them and a ready ``spark-submit`` line;
- ``clickloop spark check --master URL``: packages, then runs
  :mod:`stream_jobs.orchestration.cluster_check` on that master through ``spark-submit
  --py-files`` and prints which Python each executor ran and where it imported the code from.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tracker.settings import PROJECT_ROOT, Settings

JOB_MODULE_EXAMPLE = "stream_jobs.sessions.job"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    package = sub.add_parser("package", help="build the wheel and --py-files zip for executors")
    package.add_argument("--out", type=Path, default=None,
                         help="output folder (default <state_dir>/spark-package)")
    check = sub.add_parser("check", help="package, then check a cluster's executors import it")
    check.add_argument("--master", required=True, help="e.g. spark://host:7077")
    check.add_argument("--out", type=Path, default=None, help="as for package")
    check.add_argument("--executor-memory", default=None,
                       help="spark.executor.memory (default Spark's, 1g)")
    check.add_argument("--executor-python", default=None,
                       help="the Python on the workers (default: Spark's, i.e. PYSPARK_PYTHON "
                       "or python3 on the workers' PATH)")


def submit_command(spark_submit: str, master: str, py_files: Path, module: str,
                   args: Sequence[str] = (), conf: Mapping[str, str] | None = None) -> list[str]:
    """``spark-submit`` running job ``module`` from the packaged zip (pure)."""
    from stream_jobs.orchestration.packaging import SUBMIT_MAIN

    command = [spark_submit, "--master", master, "--py-files", str(py_files)]
    for key, value in sorted((conf or {}).items()):
        command += ["--conf", f"{key}={value}"]
    return [*command, str(py_files.with_name(SUBMIT_MAIN)), module, *args]


def default_spark_submit() -> str:
    """The ``spark-submit`` of this environment's PySpark."""
    return str(Path(sys.executable).with_name("spark-submit"))


def run(args: argparse.Namespace, settings: Settings) -> int:
    from stream_jobs.orchestration.packaging import build

    out = args.out or settings.state_dir / "spark-package"
    package = build(PROJECT_ROOT, out)
    if args.action == "package":
        print(f"wheel:    {package.wheel} ({package.modules} modules)")
        print(f"py-files: {package.py_files}")
        print(f"main:     {package.submit_main}")
        example = submit_command("spark-submit", "spark://HOST:7077", package.py_files,
                                 JOB_MODULE_EXAMPLE, ["--start", "2024-03-01", "--end",
                                                      "2024-03-07"])
        print("run a job on a cluster (driver: this interpreter):\n  PYSPARK_DRIVER_PYTHON="
              f"{shlex.quote(sys.executable)} {shlex.join(example)}")
        return 0
    conf: dict[str, str] = {}
    if args.executor_python:
        # spark.pyspark.python would be the driver's too: keep the driver on this interpreter
        conf.update({"spark.pyspark.python": args.executor_python,
                     "spark.pyspark.driver.python": sys.executable})
    if args.executor_memory:
        conf["spark.executor.memory"] = args.executor_memory
    env = {**os.environ, "PYSPARK_DRIVER_PYTHON": sys.executable, **settings.to_env()}
    command = submit_command(default_spark_submit(), args.master, package.py_files,
                             "stream_jobs.orchestration.cluster_check", conf=conf)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        print(f"spark check failed (exit {result.returncode}):\n{result.stderr[-3000:]}",
              file=sys.stderr)
        return 1
    print(json.dumps(json.loads(lines[-1]), indent=2))
    return 0
