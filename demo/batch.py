"""The demo's batch step: the history import, authoritative sessions, then every report, in
one Spark session.

``python -m demo.batch --start 2026-11-22 --end 2026-11-23`` runs
:func:`stream_jobs.sessions.job.run` and :func:`stream_jobs.reports.job.run` (all reports, the
packaged funnels) over the same dates with one SparkSession, which saves a JVM start over
running ``python -m stream_jobs.sessions.job`` and ``python -m stream_jobs.reports.job`` one after
the other (what the Airflow DAG does). With the demo's history (:mod:`demo.history`):
``--import-events FILE`` first imports that contract JSON-lines file into the lake through
``clickloop import events``'s own job (:mod:`stream_jobs.importing.job`), and
``--history-start DATE`` sessionizes from that date and builds the reports that need the past
(:data:`HISTORY_REPORTS`) once more over ``[history start, end]``. Like those jobs it prints a
one-line JSON summary last: ``{"job": "demo_batch", "import": {...}, "sessionize": {...},
"reports": {...}, "history_reports": {...}}``.

:func:`run_batch` starts it as a child process (the demo keeps no JVM of its own) and returns
that summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from tracker.settings import PROJECT_ROOT, Settings

# The reports whose figures depend on the past (customer value, lifecycle, baskets), built
# over the whole history besides the live range.
HISTORY_REPORTS = ("customers", "lifecycle", "baskets")


class BatchError(RuntimeError):
    """The batch step failed; the message quotes the end of its log."""


def run_batch(start: date, end: date, *, env: Mapping[str, str], log_path: Path,
              reports: Sequence[str] = (), import_events: Path | None = None,
              history_start: date | None = None, timeout: float = 1800.0) -> dict[str, Any]:
    """Run this module as a child process with ``env``; its JSON summary. ``reports``: only
    these (default: all); ``import_events``, ``history_start``: see the module's doc."""
    command = [sys.executable, "-m", "demo.batch", "--start", start.isoformat(),
               "--end", end.isoformat(), *[a for name in reports for a in ("--report", name)]]
    if import_events is not None:
        command += ["--import-events", str(import_events)]
    if history_start is not None:
        command += ["--history-start", history_start.isoformat()]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        result = subprocess.run(command, env=dict(env), cwd=PROJECT_ROOT,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log, timeout=timeout)
        log.write(result.stdout)
    lines = result.stdout.decode("utf-8", "replace").strip().splitlines()
    if result.returncode != 0 or not lines:
        raise BatchError(f"the batch step (sessionize + reports) failed with exit code "
                         f"{result.returncode}; see {log_path}:\n{_tail(log_path)}")
    from stream_jobs.orchestration.job_launch import LaunchConfigError, job_summary

    try:
        return job_summary(lines[-1])
    except LaunchConfigError as exc:
        raise BatchError(f"{exc}; see {log_path}") from exc


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def main(argv: Sequence[str] | None = None) -> int:
    from stream_jobs.reports import job as reports
    from stream_jobs.reports.registry import REPORTS
    from stream_jobs.sessions import job as sessionize
    from stream_jobs.spark_session import build_spark, launched_by_spark_submit

    parser = argparse.ArgumentParser(prog="demo.batch",
                                     description="Sessionize and build every report for a date "
                                     "range, in one Spark session.")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--report", action="append", choices=tuple(REPORTS),
                        help="build only this report (repeatable; default: all)")
    parser.add_argument("--import-events", type=Path, default=None, metavar="FILE",
                        help="first import this contract JSON-lines file into the lake")
    parser.add_argument("--history-start", type=date.fromisoformat, default=None,
                        help="sessionize from this date and build the history reports over "
                        "[history start, end] too")
    args = parser.parse_args(argv)
    if args.end < args.start:
        print(f"demo.batch: --end {args.end} is before --start {args.start}",
              file=sys.stderr)
        return 2
    if args.history_start is not None and args.history_start > args.start:
        print(f"demo.batch: --history-start {args.history_start} is after --start {args.start}",
              file=sys.stderr)
        return 2
    from stream_jobs.importing import job as importing
    from stream_jobs.importing.reading import ImportFileError

    settings = Settings.from_env()
    read = None
    if args.import_events is not None:
        try:  # the file is checked before Spark starts, as `clickloop import events` does
            read = importing.read_import("events", args.import_events, progress=False)
        except ImportFileError as exc:
            print(f"demo.batch: {exc}", file=sys.stderr)
            return 2
    first = args.history_start or args.start
    spark = build_spark(settings, "clickloop-demo-batch",
                        under_spark_submit=launched_by_spark_submit(os.environ),
                        extra={"spark.ui.showConsoleProgress": "false"})
    out: dict[str, Any] = {"job": "demo_batch"}
    try:
        if read is not None:
            out["import"] = importing.run(spark, settings, read)
        out["sessionize"] = sessionize.run(spark, settings, first, args.end)
        out["reports"], _ = reports.run(spark, settings, args.start, args.end,
                                        args.report or list(REPORTS))
        if args.history_start is not None:
            out["history_reports"], _ = reports.run(spark, settings, args.history_start,
                                                    args.end, list(HISTORY_REPORTS))
    finally:
        spark.stop()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
