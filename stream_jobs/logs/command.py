"""``clickloop logs parse FILE...``: parse web server access logs into the event lake.

Prints what happened to the lines (read, page views, static, bots, other, rejects) per file
and in total; rejected lines are in ``<lake>/rejects/logs/`` with file and line number.
Options are those of ``python -m stream_jobs.logs.job``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracker.settings import Settings

COLUMNS = ("lines", "page_views", "static", "bots", "filtered", "rejects")
HEADERS = ("lines read", "page views", "static", "bots", "other", "rejects")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream_jobs.logs.job import add_arguments as job_arguments

    sub = parser.add_subparsers(dest="logs_command", metavar="ACTION")
    sub.required = True
    job_arguments(sub.add_parser("parse", help="parse access logs into the lake",
                                 description="Parse access logs into the event lake."))


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


def run(args: argparse.Namespace, settings: Settings) -> int:
    from stream_jobs.logs.job import LogInputError, prepare_files, rules_from
    from stream_jobs.logs.job import run as parse
    from stream_jobs.spark_session import build_spark

    try:
        files = prepare_files(args.files, args.format)
    except LogInputError as exc:
        print(f"clickloop logs parse: {exc}", file=sys.stderr)
        return 2
    spark = build_spark(settings, "clickloop-logs")
    summary = parse(spark, settings, files, rules=rules_from(args), site=args.site)
    for text in summary_lines(summary):
        print(text)
    bots = "dropped" if summary["bots_dropped"] else "kept, flagged"
    print(f"{summary['events_written']} page_view events written to {settings.lake / 'events'} "
          f"(bots {bots}); rejects in {settings.lake / 'rejects' / 'logs'}")
    return 0
