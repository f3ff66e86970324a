"""The shop's order confirmation, server-side through the Python tracker client, into the real
collector and Kafka: the purchase carries the visitor's cl_vid and the browser's user agent."""

from __future__ import annotations

import json

import pytest

from demo.shop import close_tracker, create_app
from tests.fixtures.collector import read_topic
from tracker.settings import Settings

pytestmark = pytest.mark.kafka

UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " \
     "Chrome/124.0.6367.82 Mobile Safari/537.36"


def test_order_reaches_kafka_through_the_tracker_client(collector_factory, tmp_path) -> None:
    collector = collector_factory()
    settings = Settings.from_env({"CLICKLOOP_STATE_DIR": str(tmp_path),
                                  "CLICKLOOP_DEMO_COLLECTOR_URL": collector.url})
    app = create_app(settings, {"TESTING": True})
    client = app.test_client()
    client.set_cookie("cl_vid", "5b2f0c9e8d7a4e1f9c3b6a2d4e8f0a1c", domain="localhost")
    client.post("/cart/add", data={"sku": "TS-2002", "quantity": "1"})
    response = client.post("/checkout", headers={"User-Agent": UA})
    order_id = response.headers["Location"].removeprefix("/order/")
    assert close_tracker(app) == 0  # everything sent

    (record,) = read_topic(collector.bootstrap, collector.topic, 1)
    event = json.loads(record.value)
    assert record.key == b"5b2f0c9e8d7a4e1f9c3b6a2d4e8f0a1c"
    assert event["event_type"] == "purchase"
    assert event["visitor_id"] == "5b2f0c9e8d7a4e1f9c3b6a2d4e8f0a1c"
    assert event["url"] == f"http://localhost/order/{order_id}"
    assert event["order"] == {
        "order_id": order_id, "revenue": 169.95, "currency": "EUR", "tax": 27.13,
        "shipping": 0.0,
        "items": [{"sku": "TS-2002", "name": "Summit Guard GTX", "category": "Shoes/Trail",
                   "price": 169.95, "currency": "EUR", "quantity": 1}],
    }
    enrichment = event["enrichment"]
    assert enrichment["source"] == "server"
    assert enrichment["ua"]["device"] == "mobile"  # the visitor's browser, not the client's
    assert "ip_anon" not in enrichment  # the backend's address says nothing about the visitor
