"""Batch job: a range's sessions, then its reports (and a roll-up range's), in one SparkSession.

``python -m stream_jobs.orchestration.batch_job --start 2024-03-10 --end 2024-03-10
[--rollup-start 2024-03-04 --rollup-end 2024-03-10] [--report traffic ...] [--funnels F]``
runs :func:`stream_jobs.sessions.job.run`, then :func:`stream_jobs.reports.job.run` over the
same dates and, when given, over the roll-up dates. One process, one JVM: the ``daily_reports``
DAG used to start three (sessionize, daily reports, weekly roll-up), each paying Spark's
start-up (about 15 s on two cores) and reading the lake cold. The last line printed is the JSON
summary: ``{"job": "batch", "sessionize": {...}, "reports": {...}, "rollup": {...} | null}``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run(spark: SparkSession, settings: Settings, start: date, end: date, names: Sequence[str],
        *, rollup: tuple[date, date] | None = None,
        funnels_file: Path | None = None) -> dict[str, Any]:
    """Sessionize ``[start, end]``, build its reports ``names``, then the roll-up's."""
    from stream_jobs.reports.job import run as build_reports
    from stream_jobs.sessions.job import run as sessionize

    sessions = sessionize(spark, settings, start, end)
    reports, _ = build_reports(spark, settings, start, end, names, funnels_file=funnels_file)
    rolled = None
    if rollup is not None:
        rolled, _ = build_reports(spark, settings, rollup[0], rollup[1], names,
                                  funnels_file=funnels_file)
    return {"job": "batch", "sessionize": sessions, "reports": reports, "rollup": rolled}


def build_parser() -> argparse.ArgumentParser:
    from stream_jobs.reports.registry import REPORTS

    parser = argparse.ArgumentParser(
        prog="stream_jobs.orchestration.batch_job",
        description="Sessionize a date range and build its reports in one Spark session.")
    parser.add_argument("--start", type=date.fromisoformat, required=True,
                        help="first day (YYYY-MM-DD, UTC)")
    parser.add_argument("--end", type=date.fromisoformat, required=True,
                        help="last day, inclusive")
    parser.add_argument("--rollup-start", type=date.fromisoformat, default=None,
                        help="first day of a second report range (a week's roll-up)")
    parser.add_argument("--rollup-end", type=date.fromisoformat, default=None,
                        help="its last day, inclusive")
    parser.add_argument("--report", action="append", choices=tuple(REPORTS),
                        help="report to build (repeatable; default: all)")
    parser.add_argument("--funnels", type=Path, default=None,
                        help="funnels YAML (default: the packaged checkout funnels)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.orchestration.batch_job`` or spark-submit)."""
    from stream_jobs.reports.job import argument_problem
    from stream_jobs.reports.registry import REPORTS
    from stream_jobs.spark_session import run_job

    args = build_parser().parse_args(argv)
    names = args.report or list(REPORTS)
    rollup = None
    if (args.rollup_start is None) != (args.rollup_end is None):
        print("batch: --rollup-start and --rollup-end go together", file=sys.stderr)
        return 2
    problem = argument_problem(args.start, args.end, names, args.funnels)
    if problem is None and args.rollup_start is not None:
        rollup = (args.rollup_start, args.rollup_end)
        problem = argument_problem(*rollup, names, None)
    if problem is not None:
        print(f"batch: {problem}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    return run_job(settings, "clickloop-batch",
                   lambda spark: run(spark, settings, args.start, args.end, names,
                                     rollup=rollup, funnels_file=args.funnels))


if __name__ == "__main__":
    sys.exit(main())
