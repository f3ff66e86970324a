"""``clickloop report``: build marketer reports and print a short table of each.

``clickloop report traffic --start 2024-03-01 --end 2024-03-31`` (or ``funnels``, ``paths``,
``campaigns``, ``customers``, ``all``, and any report registered in
:mod:`stream_jobs.reporting.registry`). The full output goes to ``<lake>/reports/``.
"""

from __future__ import annotations

import argparse
import sys

from tracker.settings import Settings

MAX_ROWS = 10
MAX_WIDTH = 28


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream_jobs.reporting.registry import REPORTS
    from stream_jobs.reports import add_arguments as job_arguments

    parser.add_argument("report", choices=(*REPORTS, "all"), help="which report")
    job_arguments(parser)


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
    from stream_jobs.reporting.funnel_spec import FunnelSpecError
    from stream_jobs.reporting.registry import REPORTS
    from stream_jobs.reports import run as run_reports
    from stream_jobs.spark_session import build_spark

    names = list(REPORTS) if args.report == "all" else [args.report]
    if args.end < args.start:
        print(f"clickloop report: --end {args.end} is before --start {args.start}",
              file=sys.stderr)
        return 2
    spark = build_spark(settings, "clickloop-report")
    try:
        _, written = run_reports(spark, settings, args.start, args.end, names,
                                 funnels_file=args.funnels, include_bots=args.include_bots,
                                 top_n=args.top)
    except FunnelSpecError as exc:
        print(f"clickloop report: {exc}", file=sys.stderr)
        return 2
    for report in written:
        table = report.headline_table()
        print(f"\n{report.title} · {args.start} – {args.end}")
        if table is not None:
            print(format_table(table.columns, table.texts()))
        print(f"→ {report.html}")
    return 0
