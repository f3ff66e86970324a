"""``clickloop import orders FILE`` / ``clickloop import events FILE``: the shop's history.

Prints progress to stderr and, last, a JSON summary (rows read, events written, rejects and
where they are, events published for the personalization profiles). Exit code 2 when the file
cannot be imported at all, 1 when the profiles could not be given the events (``--profiles``).
"""

from __future__ import annotations

import argparse

from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from stream_jobs.importing.job import add_arguments as job_arguments

    sub = parser.add_subparsers(dest="import_kind", metavar="KIND")
    sub.required = True
    job_arguments(sub.add_parser(
        "orders", help="past orders from a CSV (cancellations become refunds)",
        description="Import past orders from a CSV; the default column mapping is the UCI "
                    "Online Retail layout."))
    job_arguments(sub.add_parser(
        "events", help="contract events from JSON lines, with their own event times",
        description="Import contract events (one JSON object a line) with their own times."))
    job_arguments(sub.add_parser(
        "costs", help="campaign costs from a CSV (campaign,date,cost) for the ROI report",
        description="Import campaign costs (campaign,date,cost) for the campaign ROI report."))


def run(args: argparse.Namespace, settings: Settings) -> int:
    from stream_jobs.importing.job import execute

    return execute(args.import_kind, args, settings)
