"""``clickloop contract``: print or publish the JSON Schema, validate events from a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tracker.contract import reference, validate_event
from tracker.contract.batch import json_problem, loads
from tracker.contract.jsonschema import PUBLISHED_PATH, render
from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    schema = sub.add_parser("schema", help="print the event JSON Schema")
    schema.add_argument("--write", action="store_true",
                        help=f"write it to {PUBLISHED_PATH.name} in docs/")
    docs = sub.add_parser("docs", help="print the Markdown field reference")
    docs.add_argument("--write", action="store_true", help="write it to docs/contract.md")
    check = sub.add_parser("validate", help="validate JSON-lines events; one line per error")
    check.add_argument("file", type=Path, help="file of JSON events, one per line ('-': stdin)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "schema":
        if args.write:
            PUBLISHED_PATH.write_text(render(), encoding="utf-8")
            print(f"wrote {PUBLISHED_PATH}")
        else:
            sys.stdout.write(render())
        return 0
    if args.action == "docs":
        if args.write:
            reference.PUBLISHED_PATH.write_text(reference.render(), encoding="utf-8")
            print(f"wrote {reference.PUBLISHED_PATH}")
        else:
            sys.stdout.write(reference.render())
        return 0
    stream = sys.stdin if str(args.file) == "-" else args.file.open(encoding="utf-8",
                                                                    errors="replace")
    bad = 0
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                errors = validate_event(loads(line))
            except (json.JSONDecodeError, RecursionError) as exc:
                problem = (json_problem(exc) if isinstance(exc, json.JSONDecodeError)
                           else "nested too deeply")
                print(f"line {number}: not valid JSON: {problem}")
                bad += 1
                continue
            for error in errors:
                print(f"line {number}: {error}")
            bad += bool(errors)
    print(f"{bad} invalid event(s)", file=sys.stderr)
    return 1 if bad else 0
