"""The event contract: round trips, precise errors, batch limits and schema agreement."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from tests.tracker.contract.fixtures import INVALID, TS, URL, VALID_BY_TYPE, base
from tracker.contract import (
    EVENT_TYPES,
    LIMITS,
    BatchError,
    ContractViolation,
    decode_batch,
    encode_batch,
    format_timestamp,
    new_event,
    parse_timestamp,
    reference,
    validate_event,
)
from tracker.contract.jsonschema import PUBLISHED_PATH, event_schema, render

SCHEMA_VALIDATOR = jsonschema.Draft202012Validator(
    event_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def test_every_event_type_has_a_fixture() -> None:
    assert set(VALID_BY_TYPE) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_round_trips(event_type: str) -> None:
    event = VALID_BY_TYPE[event_type]
    assert validate_event(event) == []
    wire = encode_batch([event])
    assert decode_batch(wire) == [event]
    assert validate_event(json.loads(json.dumps(event))) == []


@pytest.mark.parametrize(("name", "event", "fields"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_events_name_the_field(name: str, event: object, fields: list[str]) -> None:
    errors = validate_event(event)
    assert [e.field for e in errors] == fields, errors
    assert all(e.message for e in errors)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_json_schema_accepts_valid_fixtures(event_type: str) -> None:
    assert list(SCHEMA_VALIDATOR.iter_errors(VALID_BY_TYPE[event_type])) == []


@pytest.mark.parametrize(("name", "event", "fields"), INVALID, ids=[c[0] for c in INVALID])
def test_json_schema_rejects_invalid_fixtures(name: str, event: object,
                                              fields: list[str]) -> None:
    assert list(SCHEMA_VALIDATOR.iter_errors(event)), f"schema accepted {name}"


def test_published_schema_is_current() -> None:
    assert PUBLISHED_PATH.read_text(encoding="utf-8") == render(), (
        "docs/event-v1.schema.json is stale: regenerate with `clickloop contract schema --write`"
    )


def test_published_reference_is_current() -> None:
    assert reference.PUBLISHED_PATH.read_text(encoding="utf-8") == reference.render(), (
        "docs/contract.md is stale: regenerate with `clickloop contract docs --write`"
    )


def test_messages_are_precise() -> None:
    errors = validate_event(base("page_view", url=URL, title="x" * 600))
    assert [str(e) for e in errors] == ["title: is 600 characters long; the limit is 512"]
    errors = validate_event(base("teleport", url=URL))
    assert errors[0].message.startswith("must be one of page_view, page_ping,")
    assert errors[0].message.endswith("got 'teleport'")
    errors = validate_event(base("custom", name="x", properties={f"k{i}": 1 for i in range(60)}))
    assert [str(e) for e in errors] == ["properties: has 60 properties; the limit is 50"]


def test_event_size_limit() -> None:
    event = base("custom", name="x", properties={f"k{i}": "y" * 500 for i in range(50)},
                 title="t" * 500)
    event["products"] = [{"sku": "s" * 64, "name": "n" * 256, "category": "c" * 256}] * 20
    errors = validate_event(event)
    assert len(errors) == 1 and errors[0].field == ""
    assert errors[0].message.endswith("bytes serialised; the limit is 32768")


def test_lone_surrogate_is_not_unicode() -> None:
    # json.loads accepts "\ud800" but it cannot be stored as UTF-8
    event = json.loads(json.dumps(base("page_view", url=URL))[:-1] + ', "title": "\\ud800"}')
    assert [str(e) for e in validate_event(event)] == [
        "title: is not valid Unicode (lone surrogate)"
    ]


def test_time_window_against_collector_clock() -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    ok = base("page_view", url=URL, client_ts=format_timestamp(now - timedelta(days=29)))
    assert validate_event(ok, now=now) == []
    future = base("page_view", url=URL, client_ts=format_timestamp(now + timedelta(days=2)))
    assert [e.field for e in validate_event(future, now=now)] == ["client_ts"]
    assert "in the future" in validate_event(future, now=now)[0].message
    past = base("page_view", url=URL, client_ts="2001-01-01T00:00:00Z")
    assert "days in the past" in validate_event(past, now=now)[0].message
    # without a clock (replaying old logs) any well-formed time is fine
    assert validate_event(past) == []


def test_timestamps_parse_with_offsets_and_micros() -> None:
    assert parse_timestamp("2026-11-23T11:00:00+01:00") == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert parse_timestamp("2026-11-23T10:00:00.123456Z").microsecond == 123456
    assert parse_timestamp(TS) == datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.678Z"
    )
    assert parse_timestamp("2026-11-23 10:00:00Z") is None


def test_new_event_builds_valid_events_and_rejects_bad_ones() -> None:
    event = new_event("add_to_cart", url=URL, product={"sku": "A", "price": 1.0}, user_id=None)
    assert validate_event(event) == []
    assert "user_id" not in event
    with pytest.raises(ContractViolation) as info:
        new_event("purchase", order={"order_id": "x", "revenue": -3, "currency": "EUR"})
    assert [e.field for e in info.value.errors] == ["order.revenue"]


@pytest.mark.parametrize(
    ("body", "status", "field", "fragment"),
    [
        (b"", 400, "body", "is empty"),
        (b"\xff\xfe{}", 400, "body", "not valid UTF-8 (byte 0)"),
        (b'{"events": [', 400, "body", "not valid JSON"),
        (b"[1, 2]", 400, "events", "is required"),
        (b'{"events": {}}', 400, "events", "must be an array"),
        (b'{"events": []}', 400, "events", "is empty"),
        (b'{"events": [], "extra": 1}', 400, "extra", "unknown field"),
        (b'{"events": [' + b"[" * 10 + b"]" * 10 + b"]}", 400, "body", "levels deep"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "body", "levels"),
        (b'{"events": [' + b",".join([b"{}"] * 10_000) + b"]}", 413, "events",
         "has 10000 events; the limit is 200"),
        (b" " * (LIMITS.max_body_bytes + 1), 413, "body", "bytes; the limit is"),
    ],
    ids=["empty", "not-utf8", "truncated", "bare-array", "not-array", "no-events", "extra-key",
         "deep", "very-deep", "10k-events", "oversize"],
)
def test_batch_errors(body: bytes, status: int, field: str, fragment: str) -> None:
    with pytest.raises(BatchError) as info:
        decode_batch(body)
    assert (info.value.status, info.value.field) == (status, field)
    assert fragment in info.value.message
