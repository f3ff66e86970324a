"""Batch job: authoritative sessions for a date range of the lake.

``python -m stream_jobs.sessionize --start 2024-03-01 --end 2024-03-07`` re-derives every session
that *started* on those dates from all events in the lake (streamed and log-parsed, late ones
included) and replaces those ``sessions/session_date=…`` partitions. It reads one day either
side of the range so a session crossing midnight is neither cut nor double-counted; sessions
longer than a day (robots, mostly) are cut at that margin. Rules: :mod:`stream_jobs.sessions`.

Erasure is part of the run: first :func:`stream_jobs.apply_erasure.run` removes the people on
the suppression list (``clickloop forget``) from the lake's events and sessions (the whole
lake after a new request, else the dates read), then the sessions are built with the list
applied again, so an event that arrived meanwhile cannot bring the person back.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from tracker.erasure import SuppressionList
from tracker.settings import Settings

MARGIN = timedelta(days=1)


def sessions_for_range(events: Any, start: date, end: date, gap_minutes: int,
                       suppressed: Any = None) -> Any:
    """Sessions starting in ``[start, end]`` from ``events`` (which should span the margin),
    without the people of ``suppressed`` (:mod:`stream_jobs.suppression`)."""
    from pyspark.sql import functions as F

    from stream_jobs.sessions import sessionize

    return sessionize(events, gap_minutes, suppressed).where(
        F.col("session_date").between(F.lit(start), F.lit(end))
    )


def run(spark: Any, settings: Settings, start: date, end: date,
        gap_minutes: int | None = None) -> dict[str, Any]:
    """Sessionize ``[start, end]`` into ``<lake>/sessions``; returns the JSON summary."""
    from pyspark.sql import functions as F

    from stream_jobs import apply_erasure
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
    entries = list(SuppressionList(settings.state_dir))  # read once for both steps
    erasure = apply_erasure.run(spark, settings, start, end, entries)
    events = read_events(spark, lake, start - MARGIN, end + MARGIN)
    suppressed = None
    if entries:
        from stream_jobs.suppression import holds_listed, suppression_frame

        listed = suppression_frame(spark, entries)
        if holds_listed(events, listed):  # arrived after the lake pass: filter them too
            suppressed = listed
    write_sessions(sessions_for_range(events, start, end, gap, suppressed), lake)
    per_date = {row["session_date"]: row["count"] for row in
                read_sessions(spark, lake.sessions, start, end)
                .groupBy("session_date").count().collect()}
    for day in dates_between(start, end):  # a date that lost all its sessions (data removed)
        if day not in per_date:
            shutil.rmtree(lake.sessions / f"session_date={day.isoformat()}", ignore_errors=True)
    events_in_range = events.where(F.col("event_date").between(F.lit(start), F.lit(end)))
    summary = {
        "job": "sessionize", "start": start.isoformat(), "end": end.isoformat(),
        "gap_minutes": gap, "events": events_in_range.count(),
        "sessions": sum(per_date.values()),
        "sessions_by_date": {d.isoformat(): n for d, n in sorted(per_date.items())},
        "erasure": erasure,
    }
    return summary


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
