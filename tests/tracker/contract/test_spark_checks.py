"""The lake job refuses exactly what the collector refuses: the stream job's reject reasons
(Spark built-ins generated from the spec) against the Python validator, field by field."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from tests.tracker.contract.fixtures import TS, URL, VALID_BY_TYPE, base
from tracker.contract import validate_event

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
]


def python_field(text: str) -> str:
    """The first field the validator names, in the shape of a Spark reason's field."""
    errors = validate_event(json.loads(text), allow_enrichment=True)
    assert errors, f"the validator accepts {text[:80]}"
    field = re.sub(r"\[\d+\]", "[]", errors[0].field)
    return re.sub(r"^properties[.\[].*", "properties", field)


@pytest.fixture(scope="module")
def reasons(spark) -> dict[str, str | None]:
    from stream_jobs.stream.kafka_records import parse_records

    texts = [(name, text) for name, text in HOSTILE] + [
        (f"valid {name}", record(event)) for name, event in VALID_BY_TYPE.items()]
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
    else:
        assert reason.split(":")[0] == expected, (reason, expected)
