"""The compiled contract (msgspec, the collector's fast path) and hostile input to the contract.

The fast path may only accept what the reference validator accepts; generated near-valid
events check that. Each hostile input from issue 15 gets a precise error naming the field,
never an exception.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tracker.contract.fixtures import TS, URL, VALID_BY_TYPE, base
from tracker.contract import BatchError, decode_batch, encode_batch, validate_event
from tracker.contract.compiled import _accept, check_batch
from tracker.contract.validate import parse_timestamp

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def one(body: bytes) -> list[dict[str, str]]:
    """The errors of the single event of ``body``, as the collector's check reports them."""
    [checked] = check_batch(body, now=NOW)
    return [e.as_dict() for e in checked.errors]


def raw_batch(event_json: str) -> bytes:
    return ('{"events": [' + event_json + "]}").encode()


def with_raw(event: dict[str, Any], name: str, literal: str) -> str:
    """``event`` as JSON with field ``name`` set to the raw JSON text ``literal``."""
    text = json.dumps({k: v for k, v in event.items() if k != name})
    return text[:-1] + f', "{name}": {literal}}}'


# --- out-of-range timestamps -------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("sent_ts", "9999-12-31T23:59:59Z", "minutes in the future"),
    ("sent_ts", "5000-01-01T00:00:00Z", "minutes in the future"),
    ("sent_ts", "2001-01-01T00:00:00Z", "days in the past"),
    ("client_ts", "0001-01-01T00:00:00+01:00", "outside years 0001-9999"),
    ("client_ts", "9999-12-31T23:59:59-01:00", "outside years 0001-9999"),
    ("sent_ts", "0001-01-01T00:00:00+01:00", "outside years 0001-9999"),
])
def test_out_of_range_timestamps_are_named(field: str, value: str, fragment: str) -> None:
    event = {**base("page_view", url=URL), field: value}
    errors = one(encode_batch([event]))
    assert [e["field"] for e in errors] == [field], errors
    assert fragment in errors[0]["message"]


def test_out_of_range_timestamps_without_a_clock() -> None:
    # replayed logs (no collector clock): still a named error, never OverflowError
    assert parse_timestamp("0001-01-01T00:00:00+01:00") is None
    errors = validate_event(base("page_view", url=URL, client_ts="9999-12-31T23:59:59-01:00"))
    assert [e.field for e in errors] == ["client_ts"]


# --- numbers, characters, keys -----------------------------------------------------------------

def test_an_integer_of_5000_digits_is_named() -> None:
    event = base("custom", name="x")
    body = raw_batch(with_raw(event, "properties", '{"n": ' + "7" * 5000 + "}"))
    assert one(body) == [{"field": "properties.n", "message":
                          "is an integer literal of 5000 characters; numbers must fit in 64 "
                          "bits (send longer ones as a string)"}]
    # in a typed field, and at the top of the body
    body = raw_batch(with_raw(base("page_ping", url=URL),
                              "engaged_ms", "9" * 5000))
    assert [e["field"] for e in one(body)] == ["engaged_ms"]
    with pytest.raises(BatchError) as info:
        decode_batch(b"9" * 5000)
    assert info.value.field == "events"


def test_integers_beyond_64_bits_are_refused_in_properties() -> None:
    event = base("custom", name="x")
    body = raw_batch(with_raw(event, "properties", '{"n": 9223372036854775808}'))
    assert [e["field"] for e in one(body)] == ["properties.n"]
    ok = raw_batch(with_raw(event, "properties", '{"n": 9223372036854775807}'))
    assert one(ok) == []


@pytest.mark.parametrize(("event", "field"), [
    (base("page_view", url=URL, title="a\x00b"), "title"),
    (base("custom", name="x", properties={"k": "v\x00"}), "properties.k"),
    (base("custom", name="x", properties={"k\x00": "v"}), "properties.k\x00"),
    (base("add_to_cart", url=URL, product={"sku": "S\x00"}), "product.sku"),
])
def test_nul_characters_are_refused(event: dict[str, Any], field: str) -> None:
    errors = one(encode_batch([event]))
    assert [e["field"] for e in errors] == [field]
    assert "NUL" in errors[0]["message"]


def test_an_empty_property_key_is_refused() -> None:
    event = base("custom", name="x", properties={"": 1, "ok": 2})
    assert one(encode_batch([event])) == [{"field": 'properties[""]',
                                           "message": "property name is empty"}]


def test_schema_version_must_be_the_integer_1() -> None:
    event = base("page_view", url=URL)
    for literal in ("1.0", "true", '"1"', "1e0"):
        errors = one(raw_batch(with_raw(event, "schema_version", literal)))
        assert [e["field"] for e in errors] == ["schema_version"], literal
        assert errors[0]["message"].startswith("must be the integer 1")
    assert one(raw_batch(with_raw(event, "schema_version", "1"))) == []


def test_a_repeated_events_key_is_refused() -> None:
    good = json.dumps(base("page_view", url=URL))
    for body in (f'{{"events": [{good}], "events": [{good}]}}',
                 f'{{"events": [], "events": [{good}]}}'):
        with pytest.raises(BatchError) as info:
            check_batch(body.encode(), now=NOW)
        assert (info.value.status, info.value.field) == (400, "events")
        assert "more than once" in info.value.message


def test_a_raw_control_character_is_explained_once() -> None:
    with pytest.raises(BatchError) as info:
        check_batch(b'{"events": [{"title": "a\nb"}]}', now=NOW)
    assert info.value.message == (
        "is not valid JSON: a raw control character (U+000A) inside a string at line 1 "
        "column 25; escape it (\\n, \\t, \\u00XX)")
    assert "at at" not in info.value.message


# --- the fast path agrees with the reference ---------------------------------------------------

def test_valid_fixtures_take_the_fast_path() -> None:
    for event in VALID_BY_TYPE.values():
        event = {**event, "client_ts": TS, "sent_ts": TS}
        assert _accept(json.dumps(event).encode(), None) == event


def test_batch_results_equal_the_reference_on_mixed_batches() -> None:
    events = [{**e, "client_ts": TS, "sent_ts": TS} for e in VALID_BY_TYPE.values()]
    events[3] = {**events[3], "title": 5}
    events[5]["product"] = {**events[5]["product"], "price": -1}
    body = encode_batch(events)
    checked = check_batch(body, now=NOW)
    assert [list(c.errors) for c in checked] == [
        validate_event(e, now=NOW, wire_bytes=len(json.dumps(e, ensure_ascii=False).encode()))
        for e in decode_batch(body)]
    assert [c.event for c in checked] == events


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                    st.sampled_from(["", "\x00", "9999-12-31T23:59:59-01:00",
                                     "2026-11-23 10:00:00Z", "2026-11-23T10:00:00.1234567Z",
                                     "2026-11-23T10:00:00+0100", "2026-11-23t10:00:00.5z",
                                     "2026-02-30T10:00:00Z", "https://x.example/",
                                     "0b9f4f3e8a434c3e9d596f1e2f3a4b5c", "EUR", "a" * 65]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _similar(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-2, 100_001) | st.sampled_from([2**63 - 1, 2**63, 3_600_001])
    if isinstance(value, float):
        return st.floats(-1, 1.1e9, allow_nan=False)
    if isinstance(value, str):
        return (st.text(max_size=70) | st.sampled_from([value + "x", value.upper(), value[:3]])
                | st.integers(0, 2100).map(lambda n: "h" * n))
    return st.just(value)


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid fixture with a few values replaced, removed or added anywhere in it."""
    event = copy.deepcopy(draw(st.sampled_from(list(VALID_BY_TYPE.values()))))
    event.update(client_ts=TS, sent_ts=TS)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(event)
        path = draw(st.sampled_from(paths))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["tweak", "tweak", "replace", "remove", "add"]))
        if action == "tweak":  # a value of the same type, often near a limit
            parent[path[-1]] = draw(_similar(parent[path[-1]]))
        elif action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["", "x", "title", "k\x00", "enrichment"]))] = (
                draw(VALUES))
    return event


@settings(max_examples=400, deadline=None)
@given(event=near_valid_events(), clock=st.sampled_from([None, NOW, NOW + timedelta(days=40)]))
def test_fast_path_never_accepts_what_the_reference_rejects(event: dict[str, Any],
                                                            clock: datetime | None) -> None:
    raw = json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")
    window = None if clock is None else (clock - timedelta(days=30),
                                         clock + timedelta(minutes=1440))
    accepted = _accept(raw, window)
    if accepted is not None:
        assert validate_event(event, now=clock, wire_bytes=len(raw)) == []
        assert accepted == json.loads(raw)
