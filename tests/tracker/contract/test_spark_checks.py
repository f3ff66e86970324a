"""The lake job refuses exactly what the collector refuses: the stream job's reject reasons
(Spark built-ins generated from the spec) against the Python validator, field by field."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from tests.tracker.contract.fixtures import TS, URL, VALID_BY_TYPE, base
from tracker.contract import validate_event
from tracker.contract.compiled import check_batch

pytestmark = pytest.mark.spark

ENRICHMENT = {"collector_ts": TS, "derived_ts": TS, "source": "js",
              "ua": {"device": "desktop", "is_bot": False}}


def record(event: dict, **raw: str) -> str:
    """``event`` with enrichment as the collector writes it, fields replaced by raw JSON."""
    text = json.dumps({**{k: v for k, v in event.items() if k not in raw},
                       "enrichment": event.get("enrichment", ENRICHMENT)})
    for name, literal in raw.items():
        text = text[:-1] + f', "{name}": {literal}}}'
    return text


PAGE = base("page_view", url=URL)
CART = VALID_BY_TYPE["add_to_cart"]
ORDER = VALID_BY_TYPE["purchase"]
HOSTILE = [
    ("schema_version 1.0", record(PAGE, schema_version="1.0")),
    ("schema_version string", record(PAGE, schema_version='"1"')),
    ("long title", record(PAGE, title=json.dumps("x" * 600))),
    ("NUL in title", record(PAGE, title='"a\\u0000b"')),
    ("timestamp with a space", record(PAGE, client_ts='"2026-11-23 10:00:00Z"')),
    ("sent_ts without zone", record(PAGE, sent_ts='"2026-11-23T10:00:00"')),
    ("unknown field", record(PAGE, colour='"red"')),
    ("negative price", record(CART, product=json.dumps({**CART["product"], "price": -1}))),
    ("long nested sku", record(ORDER, order=json.dumps(
        {**ORDER["order"], "items": [CART["product"], {"sku": "s" * 65}]}))),
    ("empty property key", record(VALID_BY_TYPE["custom"], properties='{"": "1"}')),
    ("NUL in a property", record(VALID_BY_TYPE["custom"], properties='{"k": "\\u0000"}')),
    ("negative engaged_ms", record(VALID_BY_TYPE["page_ping"], engaged_ms="-5")),
    ("unknown device", record({**PAGE, "enrichment": {
        **ENRICHMENT, "ua": {"device": "robot"}}})),
    ("url not http", record(PAGE, url='"ftp://x"')),
    ("visitor id with spaces", record(PAGE, visitor_id='"a b"')),
    # a value of the wrong JSON type: Spark's parser nulls or stringifies it, the lake must not
    ("title a number", record(PAGE, title="5")),
    ("title an object", record(PAGE, title='{"a": 1}')),
    ("engaged_ms a string", record(VALID_BY_TYPE["page_ping"], engaged_ms='"ten"')),
    ("engaged_ms a fraction", record(VALID_BY_TYPE["page_ping"], engaged_ms="10.5")),
    ("price a string", record(CART, product=json.dumps({**CART["product"], "price": "cheap"}))),
    ("sku a number", record(CART, product=json.dumps({**CART["product"], "sku": 42}))),
    ("product a string", record(CART, product='"SKU-42"')),
    ("product an array", record(CART, product=json.dumps([CART["product"]]))),
    ("products an object", record(VALID_BY_TYPE["begin_checkout"],
                                  products=json.dumps(CART["product"]))),
    ("item quantity a string", record(ORDER, order=json.dumps(
        {**ORDER["order"], "items": [CART["product"], {**CART["product"], "quantity": "2"}]}))),
    ("item a string", record(ORDER, order=json.dumps(
        {**ORDER["order"], "items": [CART["product"], "SKU-7"]}))),
    ("context width a string", record(VALID_BY_TYPE["page_view"], context=json.dumps(
        {**VALID_BY_TYPE["page_view"]["context"], "screen_width": "wide"}))),
    ("property value a list", record(VALID_BY_TYPE["custom"], properties='{"k": [1, 2]}')),
    ("is_bot a string", record({**PAGE, "enrichment": {
        **ENRICHMENT, "ua": {"device": "desktop", "is_bot": "no"}}})),
    ("enrichment ua a string", record({**PAGE, "enrichment": {**ENRICHMENT, "ua": "desktop"}})),
    ("schema_version true", record(PAGE, schema_version="true")),
    ("unknown product field", record(CART, product=json.dumps(
        {**CART["product"], "colour": "red"}))),
    ("unknown item field", record(ORDER, order=json.dumps(
        {**ORDER["order"], "items": [{**CART["product"], "colour": "red"}]}))),
]


# Python's json.dumps writes 10.0: the validator takes it for an integer field, the collector
# writes 10 (tracker.contract.integers), and the lake must keep that value
INTEGRAL_FLOATS = {**VALID_BY_TYPE["page_ping"], "engaged_ms": 10.0,
                   "context": {"screen_width": 1920.0, "screen_height": 1080}}


def python_field(text: str) -> str:
    """The first field the validator names, in the shape of a Spark reason's field."""
    errors = validate_event(json.loads(text), allow_enrichment=True)
    assert errors, f"the validator accepts {text[:80]}"
    field = re.sub(r"\[\d+\]", "[]", errors[0].field)
    return re.sub(r"^properties[.\[].*", "properties", field)


@pytest.fixture(scope="module")
def reasons(spark) -> dict[str, str | None]:
    from stream_jobs.stream.kafka_records import parse_records

    [written] = check_batch(json.dumps({"events": [INTEGRAL_FLOATS]}).encode())
    assert written.errors == ()
    texts = [(name, text) for name, text in HOSTILE] + [
        (f"valid {name}", record(event)) for name, event in VALID_BY_TYPE.items()] + [
        ("integral floats as the collector writes them", record(written.event)),
        ("integral floats from another producer", record(INTEGRAL_FLOATS))]
    rows = [(text.encode(), "t", 0, offset, datetime(2026, 11, 23, 10))
            for offset, (_, text) in enumerate(texts)]
    frame = spark.createDataFrame(
        rows, "value binary, topic string, partition int, offset long, timestamp timestamp")
    found = {r.offset: r.reason for r in parse_records(frame).select("offset", "reason")
             .collect()}
    return {name: found[offset] for offset, (name, _) in enumerate(texts)}


@pytest.mark.parametrize("name", VALID_BY_TYPE)
def test_what_the_collector_accepts_the_lake_accepts(reasons, name):
    assert validate_event(json.loads(record(VALID_BY_TYPE[name])), allow_enrichment=True) == []
    assert reasons[f"valid {name}"] is None


@pytest.mark.parametrize(("name", "text"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_what_the_collector_refuses_the_lake_refuses_for_the_same_field(reasons, name, text):
    reason = reasons[name]
    assert reason is not None, f"the lake accepted {name}"
    expected = python_field(text)
    if expected == "colour":  # Spark names the rule: its reasons are fixed texts
        assert reason == "unknown top-level field"
    elif expected.endswith(".colour"):  # the object that holds the unknown field
        assert reason == f"{expected.removesuffix('.colour')}: has a field the contract does " \
                         "not know", (reason, expected)
    else:
        assert reason.split(":")[0] == expected, (reason, expected)


def test_integral_floats_the_collector_accepted_reach_the_lake(reasons):
    assert reasons["integral floats as the collector writes them"] is None


def test_integral_floats_written_by_another_producer_are_refused_not_nulled(reasons):
    # Spark's parser would store a null engaged_ms: the lake refuses the record instead
    assert reasons["integral floats from another producer"] == "engaged_ms: must be an integer"


def test_a_record_is_parsed_once_where_its_valid_events_are_filtered(spark):
    # ~250 checks read the parsed record: were the parses plain columns, pushing the filter on
    # ``reason`` down would put a parse into each read (238 of them, 10x slower live sessions)
    from stream_jobs.stream.kafka_records import parse_records, valid_events

    frame = spark.createDataFrame(
        [(record(PAGE).encode(), "t", 0, 0, datetime(2026, 11, 23, 10))],
        "value binary, topic string, partition int, offset long, timestamp timestamp")
    plan = valid_events(parse_records(frame))._jdf.queryExecution().optimizedPlan().toString()
    # once for the event column, once inside the filter (where it is bound to a lambda)
    assert plan.count("from_json(") == 2
    assert plan.count("parseJson(") == 1
    assert [row.event_type for row in valid_events(parse_records(frame)).collect()] == [
        "page_view"]
