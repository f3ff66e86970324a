"""Batch job: marketer reports for a date range (Parquet + CSV + one HTML page per report).

``python -m stream_jobs.reports.job --start 2024-03-01 --end 2024-03-31 [--report traffic ...]
[--funnels funnels.yaml]`` writes ``<lake>/reports/<report>/<start>_<end>/``. Sessions are
derived from the lake with the same rules as ``stream_jobs.sessions.job`` (one day of margin each
side), so a report always agrees with the events it counts, late ones included, and without
the people on the erasure suppression list (``clickloop forget``). Bots are left out unless
``--include-bots``. The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from stream_jobs.reports.model import ReportInputs
    from stream_jobs.reports.output import WrittenReport

MARGIN = timedelta(days=1)
DEFAULT_FUNNELS = Path(__file__).resolve().parent / "default_funnels.yaml"


def report_inputs(spark: SparkSession, settings: Settings, start: date, end: date, *,
                  funnels_file: Path | None = None, include_bots: bool = False,
                  top_n: int = 20) -> ReportInputs:
    """Events (with sessions) and sessions that started in ``[start, end]``, cached."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from stream_jobs.erasure.suppression import holds_listed, suppression_frame
    from stream_jobs.lake import LakePaths, read_events
    from stream_jobs.reports.model import ReportInputs
    from stream_jobs.sessions.rules import sessions_and_events, stitch_users, summarize_sessions
    from tracker.erasure import SuppressionList

    events = read_events(spark, LakePaths(settings.lake), start - MARGIN, end + MARGIN)
    entries = list(SuppressionList(settings.state_dir))
    suppressed = suppression_frame(spark, entries) if entries else None
    if suppressed is not None and not holds_listed(events, suppressed):
        suppressed = None  # nobody listed in these dates: the single-pass pipeline is exact
    assigned, _ = sessions_and_events(events, settings.spark.session_gap_minutes, suppressed)
    assigned = assigned.persist(StorageLevel.MEMORY_AND_DISK)
    sessions = stitch_users(summarize_sessions(assigned)).where(
        F.col("session_date").between(F.lit(start), F.lit(end)))
    if not include_bots:
        sessions = sessions.where(~F.col("is_bot"))
    sessions = sessions.persist(StorageLevel.MEMORY_AND_DISK)
    in_range = assigned.join(sessions.select("session_id"), "session_id", "left_semi")
    return ReportInputs(spark=spark, start=start, end=end, events=in_range.persist(),
                        sessions=sessions, top_n=top_n, include_bots=include_bots,
                        funnels_file=funnels_file or DEFAULT_FUNNELS,
                        options={"lake": settings.lake, "state_dir": settings.state_dir})


def run(spark: SparkSession, settings: Settings, start: date, end: date, names: Sequence[str], *,
        funnels_file: Path | None = None, include_bots: bool = False,
        top_n: int = 20) -> tuple[dict[str, Any], list[WrittenReport]]:
    """Build and write the reports ``names``; returns the JSON summary and what was written."""
    from stream_jobs.lake import LakePaths
    from stream_jobs.reports.funnel_spec import load_funnels
    from stream_jobs.reports.output import write_report
    from stream_jobs.reports.registry import report_module

    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    modules = [report_module(name) for name in names]  # unknown names fail before any work
    if "funnels" in names:  # so does a bad funnels file
        load_funnels(funnels_file or DEFAULT_FUNNELS)
    inputs = report_inputs(spark, settings, start, end, funnels_file=funnels_file,
                           include_bots=include_bots, top_n=top_n)
    written: list[WrittenReport] = []
    try:
        for module in modules:
            written.append(write_report(module.build(inputs),
                                        inputs, LakePaths(settings.lake).reports))
    finally:
        for frame in (inputs.events, inputs.sessions):
            frame.unpersist()
    summary = {
        "job": "reports", "start": start.isoformat(), "end": end.isoformat(),
        "reports": {w.name: {"html": str(w.html),
                             "tables": {n: len(t.rows) for n, t in w.tables.items()}}
                    for w in written},
    }
    return summary, written


def argument_problem(start: date, end: date, names: Sequence[str],
                     funnels_file: Path | None) -> str | None:
    """What is wrong with a run's arguments (checked before Spark starts), or None."""
    from stream_jobs.reports.funnel_spec import FunnelSpecError, load_funnels

    if end < start:
        return f"--end {end} is before --start {start}"
    if "funnels" in names:  # a bad funnels file fails before Spark starts too
        try:
            load_funnels(funnels_file or DEFAULT_FUNNELS)
        except FunnelSpecError as exc:
            return str(exc)
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``python -m stream_jobs.reports.job`` and ``clickloop report``."""
    parser.add_argument("--start", type=date.fromisoformat, required=True,
                        help="first day (YYYY-MM-DD, UTC)")
    parser.add_argument("--end", type=date.fromisoformat, required=True,
                        help="last day, inclusive")
    parser.add_argument("--funnels", type=Path, default=None,
                        help="funnels YAML (default: the packaged checkout funnels)")
    parser.add_argument("--include-bots", action="store_true",
                        help="count sessions of bots too")
    parser.add_argument("--top", type=int, default=20, help="rows in top-N tables")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.reports.job`` or spark-submit)."""
    from stream_jobs.reports.registry import REPORTS
    from stream_jobs.spark_session import run_job

    parser = argparse.ArgumentParser(prog="stream_jobs.reports.job",
                                     description="Build marketer reports for a date range.")
    parser.add_argument("--report", action="append", choices=(*REPORTS, "all"),
                        help="report to build (repeatable; default: all)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    names = list(REPORTS) if not args.report or "all" in args.report else args.report
    problem = argument_problem(args.start, args.end, names, args.funnels)
    if problem is not None:
        print(f"reports: {problem}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    return run_job(settings, "clickloop-reports",
                   lambda spark: run(spark, settings, args.start, args.end, names,
                                     funnels_file=args.funnels, include_bots=args.include_bots,
                                     top_n=args.top)[0])


if __name__ == "__main__":
    sys.exit(main())
