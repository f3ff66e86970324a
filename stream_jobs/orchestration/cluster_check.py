"""Check a cluster before trusting it with jobs: can its executors run the shipped code?

``spark-submit --py-files clickloop-<v>.zip clickloop_submit.py
stream_jobs.orchestration.cluster_check`` (``clickloop spark check`` builds that command) runs
one tiny task per executor core that imports the project's modules *on the executor* and
validates event ids with :func:`tracker.contract.ids.is_valid_id`; it prints, as its JSON
summary, which interpreter each executor ran and where the modules came from. An executor
whose Python cannot import the code fails the job with the worker's ``ModuleNotFoundError``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PROBE_IDS = ("0f8fad5b-d9cb-469f-a165-70867728950e", "not an id!")


def probe(_: Iterator[Any]) -> Iterator[dict[str, Any]]:
    """Runs on an executor: what it ran and where the project's code came from there."""
    import os
    import platform
    import socket

    import stream_jobs
    import tracker
    from tracker.contract.ids import is_valid_id

    yield {
        "host": socket.gethostname(),
        "python": sys.executable,
        "python_version": platform.python_version(),
        "tracker_from": os.path.abspath(tracker.__file__),
        "stream_jobs_from": os.path.abspath(stream_jobs.__file__),
        "ids_valid": [is_valid_id(value) for value in PROBE_IDS],
    }


def run(spark: SparkSession, tasks: int) -> dict[str, Any]:
    """``tasks`` probes on the executors, and the driver's own interpreter."""
    import tracker

    seen = spark.sparkContext.parallelize(range(tasks), tasks).mapPartitions(probe).collect()
    return {
        "job": "cluster_check",
        "driver": {"python": sys.executable, "tracker_from": tracker.__file__},
        "executors": [dict(pairs) for pairs in sorted(
            {tuple(sorted((k, str(v)) for k, v in row.items())) for row in seen})],
    }


def main(argv: Sequence[str] | None = None) -> int:
    from stream_jobs.spark_session import run_job
    from tracker.settings import Settings

    parser = argparse.ArgumentParser(prog="stream_jobs.orchestration.cluster_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2, help="probe tasks (default 2)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    return run_job(settings, "clickloop-cluster-check", lambda spark: run(spark, args.tasks))


if __name__ == "__main__":
    sys.exit(main())
