"""Batch job: authoritative sessions for a date range of the lake.

``python -m stream_jobs.sessions.job --start 2024-03-01 --end 2024-03-07`` re-derives every
session that *started* on those dates from all events in the lake (streamed and log-parsed, late
ones included) and replaces those ``sessions/session_date=…`` partitions. It reads one day either
side of the range so a session crossing midnight is neither cut nor double-counted; sessions
longer than a day (robots, mostly) are cut at that margin. Rules: :mod:`stream_jobs.sessions.rules`.

Erasure is part of the run: first :func:`stream_jobs.erasure.job.run` removes the people on
the suppression list (``clickloop forget``) from the lake's events and sessions (the whole
lake after a new request, else the dates read), then the sessions are built with the list
applied again, so an event that arrived meanwhile cannot bring the person back.

:func:`run` is a sequence of named steps: :func:`erase`, :func:`read`, :func:`transform` (pure),
:func:`write`, :func:`count` and :func:`clean`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from stream_jobs.lake import LakePaths, dates_between, read_events, read_sessions, write_sessions
from stream_jobs.sessions.rules import sessionize
from tracker.erasure import Suppression, SuppressionList
from tracker.settings import Settings

MARGIN = timedelta(days=1)


def erase(spark: SparkSession, settings: Settings, start: date, end: date,
          entries: list[Suppression]) -> dict[str, Any]:
    """Step 1: the suppression list applied to the lake first (its JSON summary)."""
    from stream_jobs.erasure import job as erasure_job

    return erasure_job.run(spark, settings, start, end, entries)


def read(spark: SparkSession, lake: LakePaths, start: date, end: date,
         entries: list[Suppression]) -> tuple[DataFrame, DataFrame | None]:
    """Step 2: the events of ``[start, end]`` and a day either side, and the suppression list as
    a frame when listed people are among them (they arrived after the lake pass), else None."""
    events = read_events(spark, lake, start - MARGIN, end + MARGIN)
    if not entries:
        return events, None
    from stream_jobs.erasure.suppression import holds_listed, suppression_frame

    listed = suppression_frame(spark, entries)
    return events, (listed if holds_listed(events, listed) else None)


def transform(events: DataFrame, start: date, end: date, gap_minutes: int,
              suppressed: DataFrame | None) -> DataFrame:
    """Step 3 (pure): the sessions that started in ``[start, end]`` from ``events`` (which span
    the margin), without the people of ``suppressed`` (:mod:`stream_jobs.erasure.suppression`)."""
    return sessionize(events, gap_minutes, suppressed).where(
        F.col("session_date").between(F.lit(start), F.lit(end))
    )


def write(sessions: DataFrame, lake: LakePaths) -> None:
    """Step 4: replace the ``session_date`` partitions present in ``sessions``."""
    write_sessions(sessions, lake)


def count(spark: SparkSession, lake: LakePaths, start: date, end: date) -> dict[date, int]:
    """Step 5: sessions per date as written (read back from the lake)."""
    return {row["session_date"]: row["count"] for row in
            read_sessions(spark, lake.sessions, start, end)
            .groupBy("session_date").count().collect()}


def clean(lake: LakePaths, start: date, end: date, per_date: dict[date, int]) -> None:
    """Step 6: remove the partition of a date that lost all its sessions (data removed)."""
    for day in dates_between(start, end):
        if day not in per_date:
            shutil.rmtree(lake.sessions / f"session_date={day.isoformat()}", ignore_errors=True)


def run(spark: SparkSession, settings: Settings, start: date, end: date,
        gap_minutes: int | None = None) -> dict[str, Any]:
    """Sessionize ``[start, end]`` into ``<lake>/sessions``; returns the JSON summary."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    lake = LakePaths(settings.lake)
    gap = gap_minutes or settings.spark.session_gap_minutes
    entries = list(SuppressionList(settings.state_dir))  # read once for both steps
    erasure = erase(spark, settings, start, end, entries)
    events, suppressed = read(spark, lake, start, end, entries)
    write(transform(events, start, end, gap, suppressed), lake)
    per_date = count(spark, lake, start, end)
    clean(lake, start, end, per_date)
    events_in_range = events.where(F.col("event_date").between(F.lit(start), F.lit(end)))
    return {
        "job": "sessionize", "start": start.isoformat(), "end": end.isoformat(),
        "gap_minutes": gap, "events": events_in_range.count(),
        "sessions": sum(per_date.values()),
        "sessions_by_date": {d.isoformat(): n for d, n in sorted(per_date.items())},
        "erasure": erasure,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stream_jobs.sessions.job",
        description="Re-derive authoritative sessions for a date range of the event lake.",
    )
    parser.add_argument("--start", type=date.fromisoformat, required=True,
                        help="first session date (YYYY-MM-DD, UTC)")
    parser.add_argument("--end", type=date.fromisoformat, required=True,
                        help="last session date, inclusive")
    parser.add_argument("--gap-minutes", type=int, default=None,
                        help="inactivity gap (default: CLICKLOOP_SESSION_GAP_MINUTES)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (``python -m stream_jobs.sessions.job`` or spark-submit)."""
    from stream_jobs.spark_session import run_job

    args = build_parser().parse_args(argv)
    if args.end < args.start:
        print(f"sessionize: --end {args.end} is before --start {args.start}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    return run_job(settings, "clickloop-sessionize",
                   lambda spark: run(spark, settings, args.start, args.end, args.gap_minutes))


if __name__ == "__main__":
    sys.exit(main())
