"""Decoding a ``POST /v1/events`` body into events, with the contract's size limits.

Wire format: ``{"events": [event, ...]}`` as UTF-8 JSON. Problems with the body as a whole are
:class:`BatchError` (the collector answers 400 or 413 with the message); problems with single
events are left to :func:`tracker.contract.validate.validate_event`, so a batch with some bad
events still delivers the good ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracker.contract.spec import LIMITS, Limits
from tracker.contract.validate import MAX_INT_LITERAL, OversizeInteger


@dataclass(frozen=True)
class BatchError(Exception):
    """The body cannot be read as a batch. ``status`` is the HTTP status to answer with."""

    status: int
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def decode_batch(body: bytes, limits: Limits = LIMITS) -> list[Any]:
    """The list of (not yet validated) events in ``body``, or raise :class:`BatchError`."""
    if len(body) > limits.max_body_bytes:
        raise BatchError(413, "body", f"is {len(body)} bytes; the limit is "
                                      f"{limits.max_body_bytes}")
    if not body.strip():
        raise BatchError(400, "body", "is empty; send {\"events\": [...]}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchError(400, "body", f"is not valid UTF-8 (byte {exc.start})") from None
    try:
        document = loads(text)
    except RecursionError:
        raise BatchError(400, "body", f"nests deeper than {limits.max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise BatchError(400, "body", f"is not valid JSON: {json_problem(exc)}") from None
    if isinstance(document, _RepeatedEvents):
        raise BatchError(400, "events", "appears more than once in the batch object; send one "
                                        "events array")
    depth = json_depth(document)
    if depth > limits.max_depth:
        raise BatchError(400, "body", f"nests {depth} levels deep; the limit is "
                                      f"{limits.max_depth}")
    if not isinstance(document, dict) or "events" not in document:
        raise BatchError(400, "events", "is required: send {\"events\": [...]}")
    unknown = sorted(set(document) - {"events"})
    if unknown:
        raise BatchError(400, unknown[0][:64], "unknown field in the batch object")
    events = document["events"]
    if not isinstance(events, list):
        raise BatchError(400, "events", "must be an array of events")
    if not events:
        raise BatchError(400, "events", "is empty")
    if len(events) > limits.max_batch_events:
        raise BatchError(413, "events", f"has {len(events)} events; the limit is "
                                        f"{limits.max_batch_events}")
    return events


class _RepeatedEvents(dict):
    """A decoded object that had the key ``events`` more than once (JSON keeps the last)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) < len(pairs) and sum(1 for key, _ in pairs if key == "events") > 1:
        return _RepeatedEvents(document)
    return document


def _integer(literal: str) -> int | OversizeInteger:
    # Python refuses to convert literals over 4,300 digits (ValueError, not a JSON error);
    # anything over 64 bits is refused by the contract anyway, so long ones stay a marker
    return int(literal) if len(literal) <= MAX_INT_LITERAL else OversizeInteger(len(literal))


def loads(text: str | bytes) -> Any:
    """``json.loads`` for untrusted input: no integer conversion of unbounded cost, and a
    repeated batch ``events`` key is detectable (see :func:`decode_batch`)."""
    return json.loads(text, object_pairs_hook=_object, parse_int=_integer)


def json_problem(exc: json.JSONDecodeError) -> str:
    """A readable account of a JSON syntax error with its line and column."""
    where = f"line {exc.lineno} column {exc.colno}"
    if exc.msg.startswith("Invalid control character"):
        character = exc.doc[exc.pos] if 0 <= exc.pos < len(exc.doc) else "?"
        return (f"a raw control character (U+{ord(character):04X}) inside a string at {where}; "
                f"escape it (\\n, \\t, \\u00XX)")
    return f"{exc.msg.removesuffix(' at')} at {where}"


def json_depth(document: Any) -> int:
    """Nesting depth of containers (a scalar is 0, ``{}`` is 1). Iterative: hostile input safe."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node)
    return deepest


def encode_batch(events: list[dict[str, Any]]) -> bytes:
    """The wire body for ``events`` (what the Python tracker and the simulator send)."""
    return json.dumps({"events": events}, separators=(",", ":"), ensure_ascii=False).encode()
