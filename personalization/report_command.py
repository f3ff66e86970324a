"""``clickloop report uplift``: did personalization help? Treated arms against the holdout.

Registered as a report in ``clickloop.report_command.EXTRA_REPORTS`` (same protocol as
the CLI's commands); it needs no Spark.

Reads the profiles from the configured store (the worker records each visitor's arm and what
they bought after their first exposure) and prints conversion and revenue per visitor per arm,
with the difference and its confidence interval (``--json`` for machines).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from personalization.uplift import exposed_rows, format_report, slots_of, uplift
from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``clickloop report uplift`` (listed in ``clickloop.report_command``)."""
    parser.add_argument("--slot", default=None, help="only visitors exposed in this slot")
    parser.add_argument("--per-slot", action="store_true",
                        help="one report per slot (holdout, rules and bandit arms of each)")
    parser.add_argument("--since", default=None,
                        help="only visitors first exposed from this date (YYYY-MM-DD, UTC)")
    parser.add_argument("--confidence", type=float, default=0.95,
                        help="confidence level of the intervals (default 0.95)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not 0.5 <= args.confidence < 1:
        print("clickloop report: --confidence must be in [0.5, 1), e.g. 0.95", file=sys.stderr)
        return 2
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since + "T00:00:00+00:00").timestamp()
        except ValueError:
            print(f"clickloop report: --since {args.since!r} is not a date like 2026-11-01",
                  file=sys.stderr)
            return 2
    from personalization.stores import STORE_ERRORS, open_store

    if args.per_slot and args.slot:
        print("clickloop report: give --slot or --per-slot, not both", file=sys.stderr)
        return 2
    store = open_store(settings)
    try:
        if args.per_slot:
            profiles = list(store.iter_profiles())
            scopes: list[str | None] = list(slots_of(profiles))
        else:
            profiles, scopes = store.iter_profiles(), [args.slot]
        reports = {slot: uplift(exposed_rows(profiles, slot, since), args.confidence)
                   for slot in scopes}
    except STORE_ERRORS as exc:
        print(f"clickloop report: the store is unusable: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if args.json:
        if args.per_slot:
            print(json.dumps({"slots": {s: r.as_dict() for s, r in reports.items()}}, indent=2))
        else:
            print(json.dumps(reports[args.slot].as_dict(), indent=2))
    else:
        texts = []
        for slot, report in reports.items():
            scope = f" in slot {slot!r}" if slot else ""
            texts.append(format_report(report, f"Uplift of personalization over the "
                                               f"holdout{scope}"))
        print("\n\n".join(texts) if texts else "no exposures yet: nothing to report")
    return 0
