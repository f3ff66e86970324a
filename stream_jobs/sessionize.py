"""Batch job: authoritative sessions for a date range of the lake.

``python -m stream_jobs.sessionize --start 2024-03-01 --end 2024-03-07`` re-derives every session
that *started* on those dates from all events in the lake (streamed and log-parsed, late ones
included) and replaces those ``sessions/session_date=…`` partitions. It reads one day either
side of the range so a session crossing midnight is neither cut nor double-counted; sessions
longer than a day (robots, mostly) are cut at that margin. Rules: :mod:`stream_jobs.sessions`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from tracker.settings import Settings

MARGIN = timedelta(days=1)


def sessions_for_range(events: Any, start: date, end: date, gap_minutes: int) -> Any:
    """Sessions starting in ``[start, end]`` from ``events`` (which should span the margin)."""
    from pyspark.sql import functions as F

    from stream_jobs.sessions import sessionize

    return sessionize(events, gap_minutes).where(
        F.col("session_date").between(F.lit(start), F.lit(end))
    )


def run(spark: Any, settings: Settings, start: date, end: date,
        gap_minutes: int | None = None) -> dict[str, Any]:
    """Sessionize ``[start, end]`` into ``<lake>/sessions``; returns the JSON summary."""
    from pyspark.sql import functions as F

    from stream_jobs.lake import (
        LakePaths,
        dates_between,
        read_events,
        read_sessions,
        write_sessions,
    )

    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    lake = LakePaths(settings.lake)
    gap = gap_minutes or settings.spark.session_gap_minutes
    events = read_events(spark, lake, start - MARGIN, end + MARGIN)
    write_sessions(sessions_for_range(events, start, end, gap), lake)
    per_date = {row["session_date"]: row["count"] for row in
                read_sessions(spark, lake.sessions, start, end)
                .groupBy("session_date").count().collect()}
    for day in dates_between(start, end):  # a date that lost all its sessions (data removed)
        if day not in per_date:
            shutil.rmtree(lake.sessions / f"session_date={day.isoformat()}", ignore_errors=True)
    events_in_range = events.where(F.col("event_date").between(F.lit(start), F.lit(end)))
    return {
        "job": "sessionize", "start": start.isoformat(), "end": end.isoformat(),
        "gap_minutes": gap, "events": events_in_range.count(),
        "sessions": sum(per_date.values()),
        "sessions_by_date": {d.isoformat(): n for d, n in sorted(per_date.items())},
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stream_jobs.sessionize",
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
    """Entry point (``python -m stream_jobs.sessionize`` or spark-submit)."""
    from stream_jobs.spark_session import build_spark, launched_by_spark_submit

    args = build_parser().parse_args(argv)
    if args.end < args.start:
        print(f"sessionize: --end {args.end} is before --start {args.start}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    spark = build_spark(settings, "clickloop-sessionize",
                        under_spark_submit=launched_by_spark_submit(os.environ))
    try:
        result = run(spark, settings, args.start, args.end, args.gap_minutes)
    finally:
        spark.stop()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
