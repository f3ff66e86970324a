"""Every event the browser snippet emits validates under the Python event contract.

The events come from the shipped bundle running in jsdom (js_snippet/test/contract-sample.mjs):
one of each type, with consent granted and denied.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.js_snippet.node import run
from tracker.contract.validate import validate_event

SAMPLE_TIME = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the sample's fake clock


@pytest.fixture(scope="module")
def snippet_events() -> list[dict]:
    result = run("node", "test/contract-sample.mjs")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_sample_covers_every_browser_event_type(snippet_events: list[dict]) -> None:
    assert {e["event_type"] for e in snippet_events} == {
        "page_view", "page_ping", "click", "search", "product_view", "add_to_cart",
        "remove_from_cart", "begin_checkout", "purchase", "identify", "custom",
        "personalization_shown", "personalization_click",
    }
    kinds = {e["target"]["kind"] for e in snippet_events if e["event_type"] == "click"}
    assert kinds == {"outbound", "download", "element"}
    assert {e.get("consent") for e in snippet_events} == {"granted", "denied"}


def test_every_snippet_event_is_valid(snippet_events: list[dict]) -> None:
    for event in snippet_events:
        assert validate_event(event, now=SAMPLE_TIME) == [], event


def test_denied_events_carry_no_identifiers(snippet_events: list[dict]) -> None:
    denied = [e for e in snippet_events if e.get("consent") == "denied"]
    assert len(denied) == 18
    assert all("session_id" not in e and "user_id" not in e for e in denied)
