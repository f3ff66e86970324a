"""``clickloop logs parse FILE...``: parse web server access logs into the event lake.

Prints what happened to the lines (read, page views, static, bots, other, rejects) per file
and in total; rejected lines are in ``<lake>/rejects/logs/`` with file and line number.
Options are those of ``python -m stream_jobs.logs.job``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from tracker.settings import Settings

# Inputs up to this size parse in seconds: Spark's JVM is then started for a short job (see
# stream_jobs.spark_session.SHORT_JOB_JAVA_OPTIONS). Compressed files count 8 times their size.
SHORT_JOB_BYTES = 64 * 2**20
COLUMNS = ("lines", "page_views", "static", "bots", "filtered", "rejects")
HEADERS = ("lines read", "page views", "static", "bots", "other", "rejects")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream_jobs.logs.job import add_arguments as job_arguments

    sub = parser.add_subparsers(dest="logs_command", metavar="ACTION")
    sub.required = True
    parse = sub.add_parser("parse", help="parse access logs into the lake",
                           description="Parse access logs into the event lake.")
    job_arguments(parse)
    parse.add_argument("--progress-interval", type=float, default=2.0, metavar="SECONDS",
                       help="how often to print progress on stderr (default: 2)")


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The per-file and total counts as an aligned table."""
    rows = [(p["file"].rsplit("/", 1)[-1], *(str(p[c]) for c in COLUMNS))
            for p in summary["files"]]
    if len(rows) > 1:
        rows.append(("total", *(str(summary[c]) for c in COLUMNS)))
    header = ("file", *HEADERS)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return [line(header), *[line(r) for r in rows]]


def reason_lines(summary: dict[str, Any]) -> list[str]:
    """Rejected lines per reason, most frequent first."""
    reasons = summary.get("reject_reasons") or {}
    width = max((len(f"{n:,}") for n in reasons.values()), default=0)
    return [f"  {n:>{width},}  {reason}" for reason, n in
            sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]


def input_bytes(files: Sequence[Any]) -> int:
    """Roughly how many bytes of text ``files`` hold (decides a short job)."""
    return sum(f.size * (8 if f.path.endswith((".gz", ".bz2")) else 1) for f in files)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from stream_jobs.logs.enrich_requests import start_warm_up
    from stream_jobs.logs.job import LogInputError, prepare_from, rules_from
    from stream_jobs.logs.job import run as parse
    from stream_jobs.logs.progress import Progress
    from stream_jobs.spark_session import build_spark

    try:
        files = prepare_from(args)
    except LogInputError as exc:
        print(f"clickloop logs parse: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    short = input_bytes(files) <= SHORT_JOB_BYTES
    # the driver enriches the distinct values of most inputs, large ones included (up to
    # DRIVER_LOOKUP_LIMIT of them): prepare it on the core the JVM's start leaves idle
    warming = start_warm_up()
    spark = build_spark(settings, "clickloop-logs", short_job=short,
                        extra={"spark.ui.showConsoleProgress": "false",
                               # running tasks report their rows with each heartbeat (10 s
                               # by default): as often as progress is printed
                               "spark.executor.heartbeatInterval":
                                   f"{min(max(round(args.progress_interval), 1), 10)}s"})
    print(f"Spark started in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    warming.join()
    with Progress(spark, interval=args.progress_interval) as progress:
        summary = parse(spark, settings, files, rules=rules_from(args), site=args.site,
                        progress=progress)
    for text in summary_lines(summary):
        print(text)
    bots = "dropped" if summary["bots_dropped"] else "kept, flagged"
    print(f"{summary['events_written']} page_view events written to {settings.lake / 'events'} "
          f"(bots {bots}); rejects in {settings.lake / 'rejects' / 'logs'}")
    if summary["rejects"]:
        print("rejects by reason:")
        for text in reason_lines(summary):
            print(text)
    rate = summary["lines"] / summary["seconds"] if summary["seconds"] else 0.0
    print(f"{summary['lines']:,} lines in {summary['seconds']:.1f} s ({rate:,.0f} lines/s, "
          "Spark start-up not included)")
    return 0
