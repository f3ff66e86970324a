"""Integral floats in integer fields are written as integers (tracker.contract.integers)."""

from __future__ import annotations

import copy

from tests.tracker.contract.fixtures import VALID_BY_TYPE
from tracker.contract.integers import integers_as_integers


def test_integral_floats_in_integer_fields_become_ints_at_any_depth():
    event = copy.deepcopy(VALID_BY_TYPE["purchase"])
    event["engaged_ms"] = 2500.0
    event["order"]["items"][0]["quantity"] = 3.0
    event["context"] = {"screen_width": 1920.0, "language": "en"}
    written = integers_as_integers(event)
    assert written["engaged_ms"] == 2500 and type(written["engaged_ms"]) is int
    assert type(written["order"]["items"][0]["quantity"]) is int
    assert type(written["context"]["screen_width"]) is int
    assert written["context"]["language"] == "en"
    assert event["engaged_ms"] == 2500.0 and type(event["engaged_ms"]) is float  # input intact


def test_numbers_and_properties_keep_their_floats():
    event = copy.deepcopy(VALID_BY_TYPE["custom"])
    event["properties"]["price"] = 2.0
    event["order"] = {"order_id": "O-1", "revenue": 10.0, "currency": "EUR", "items": []}
    written = integers_as_integers(event)
    assert type(written["properties"]["price"]) is float  # free-form: kept as sent
    assert type(written["order"]["revenue"]) is float  # a number, not an integer field


def test_an_event_without_integral_floats_is_returned_as_it_is():
    for event in VALID_BY_TYPE.values():
        assert integers_as_integers(event) is event
