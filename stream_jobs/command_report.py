"""``clickloop report``: build marketer reports and print a short table of each.

``clickloop report traffic --start 2024-03-01 --end 2024-03-31`` (or ``funnels``, ``paths``,
``campaigns``, ``customers``, ``all``): the Spark reports of
:mod:`stream_jobs.reporting.registry`, written in full to ``<lake>/reports/``.

Other packages add a sub-report that is not a Spark report (say ``uplift``, from the
personalization store) with one line in :data:`EXTRA_REPORTS`; its module defines
``add_arguments(parser)`` for that sub-report's own options and ``run(args, settings) -> int``,
the same protocol as :data:`clickloop.cli.COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tracker.settings import Settings

MAX_ROWS = 10
MAX_WIDTH = 28

# sub-report -> (module, one-line help); modules are imported when `clickloop report` runs
EXTRA_REPORTS: dict[str, tuple[str, str]] = {
    "uplift": ("personalization.report_command", "personalization vs the holdout: conversion "
               "and revenue per visitor, with confidence intervals"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream_jobs.reporting.registry import REPORTS
    from stream_jobs.reports import add_arguments as job_arguments

    reports = parser.add_subparsers(dest="report", metavar="REPORT")
    reports.required = True
    for name in (*REPORTS, "all"):
        what = "every report above" if name == "all" else f"the {name} report"
        sub = reports.add_parser(name, help=f"build {what} for a date range",
                                 description=f"Build {what} (Parquet, CSV, HTML) and print "
                                             f"its main table.")
        job_arguments(sub)
    for name, (module, help_text) in EXTRA_REPORTS.items():
        sub = reports.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_extra_report=module)
        importlib.import_module(module).add_arguments(sub)


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
    extra = getattr(args, "_extra_report", None)
    if extra is not None:
        return int(importlib.import_module(extra).run(args, settings) or 0)
    from stream_jobs.reporting.funnel_spec import FunnelSpecError, load_funnels
    from stream_jobs.reporting.registry import REPORTS
    from stream_jobs.reports import DEFAULT_FUNNELS
    from stream_jobs.reports import run as run_reports
    from stream_jobs.spark_session import build_spark

    names = list(REPORTS) if args.report == "all" else [args.report]
    if args.end < args.start:
        print(f"clickloop report: --end {args.end} is before --start {args.start}",
              file=sys.stderr)
        return 2
    if "funnels" in names:  # a bad funnels file fails before Spark starts
        try:
            load_funnels(args.funnels or DEFAULT_FUNNELS)
        except FunnelSpecError as exc:
            print(f"clickloop report: {exc}", file=sys.stderr)
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
