"""``clickloop report``: build marketer reports and print a short table of each.

``clickloop report traffic --start 2024-03-01 --end 2024-03-31`` (or ``funnels``, ``paths``,
``campaigns``, ``customers``, ``all``): the Spark reports of
:mod:`stream_jobs.reports.registry`, written in full to ``<lake>/reports/``.

Reports that do not come from the lake (``uplift``, from the personalization store) are added
beside these by the CLI (:mod:`clickloop.report_command`), so this package never imports another
component.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tracker.settings import Settings

MAX_ROWS = 10
MAX_WIDTH = 28

def add_arguments(parser: argparse.ArgumentParser) -> Any:
    """One sub-parser per Spark report (and ``all``); returns the sub-parsers, so the CLI can add
    reports from other stores beside them."""
    from stream_jobs.reports.job import add_arguments as job_arguments
    from stream_jobs.reports.registry import REPORTS

    reports = parser.add_subparsers(dest="report", metavar="REPORT")
    reports.required = True
    for name in (*REPORTS, "all"):
        what = "every report above" if name == "all" else f"the {name} report"
        sub = reports.add_parser(name, help=f"build {what} for a date range",
                                 description=f"Build {what} (Parquet, CSV, HTML) and print "
                                             f"its main table.")
        job_arguments(sub)
    return reports


def format_table(columns: list[str], rows: list[list[str]], max_rows: int = MAX_ROWS) -> str:
    """A plain aligned text table (long cells shortened), for terminals and logs."""
    def short(text: str) -> str:
        return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"

    shown = [[short(c) for c in row] for row in rows[:max_rows]]
    header = [short(c) for c in columns]
    widths = [max(len(r[i]) for r in [header, *shown]) for i in range(len(columns))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in shown]
    if len(rows) > max_rows:
        lines.append(f"… {len(rows) - max_rows} more rows in the CSV")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from stream_jobs.reports.job import argument_problem
    from stream_jobs.reports.job import run as run_reports
    from stream_jobs.reports.registry import REPORTS
    from stream_jobs.spark_session import build_spark

    names = list(REPORTS) if args.report == "all" else [args.report]
    problem = argument_problem(args.start, args.end, names, args.funnels)
    if problem is not None:
        print(f"clickloop report: {problem}", file=sys.stderr)
        return 2
    spark = build_spark(settings, "clickloop-report")
    _, written = run_reports(spark, settings, args.start, args.end, names,
                             funnels_file=args.funnels, include_bots=args.include_bots,
                             top_n=args.top)
    for report in written:
        table = report.headline_table()
        print(f"\n{report.title} · {args.start} to {args.end}")
        if table is not None:
            print(format_table(table.columns, table.texts()))
        print(f"→ {report.html}")
    return 0
