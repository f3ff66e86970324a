"""Contract events from JSON lines -> lake-ready events with their own times (pure, no Spark).

Each line is one event as a client would send it, checked by the contract's own validator
without the collector's time window (history is old by definition). The ``enrichment`` block is
the importer's: ``collector_ts`` and ``derived_ts`` are the event's ``client_ts`` (no skew
correction: there was no collector), ``source`` is ``server``. A visitor id is required, since
sessions are per visitor; an event id seen on an earlier line is rejected (the first wins).
"""

from __future__ import annotations

import json
from typing import Any

from stream_jobs.importing.orders import Reject
from tracker.contract.validate import format_timestamp, parse_timestamp, validate_event


def parse_event_line(text: str, line: int, seen: dict[str, int]) -> dict[str, Any] | Reject:
    """One JSON line -> the event to write, or a :class:`Reject`; ``seen``: event id -> line."""
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        return Reject(line, f"not JSON: {exc.msg} at column {exc.colno}", text)
    if isinstance(event, dict):
        event.pop("enrichment", None)  # never trusted from outside, as at the collector
    errors = validate_event(event)
    if errors:
        return Reject(line, "; ".join(str(e) for e in errors), text)
    if not event.get("visitor_id"):
        return Reject(line, "visitor_id: is required for imported events (sessions are per "
                            "visitor)", text)
    first = seen.setdefault(event["event_id"], line)
    if first != line:
        return Reject(line, f"event_id: {event['event_id']} already on line {first}", text)
    ts = parse_timestamp(event["client_ts"])
    assert ts is not None  # the validator checked it
    stamp = format_timestamp(ts)
    event["enrichment"] = {"collector_ts": stamp, "derived_ts": stamp, "source": "server"}
    properties = dict(event.get("properties") or {})
    properties.setdefault("import", "events")
    event["properties"] = properties
    return event
