"""A report registered in ``clickloop.report_command.EXTRA_REPORTS`` by a test, the way
the personalization package registers ``uplift``: own options, own ``run``."""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--slot", required=True)


def run(args, settings) -> int:
    print(f"example report for slot {args.slot} in {settings.lake.name}")
    return 3
