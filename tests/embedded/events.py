"""Produce and read back contract events: the round trip every Kafka test checks."""

from __future__ import annotations

import json
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from tracker.contract import new_event


def page_views(count: int) -> list[dict[str, Any]]:
    """``count`` valid page_view events over 7 visitors (so keys spread over partitions)."""
    return [
        new_event("page_view", url=f"https://shop.example.com/p/{i}", visitor_id=f"v-{i % 7}",
                  session_id=f"s-{i % 7}")
        for i in range(count)
    ]


def produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                             value_serializer=lambda e: json.dumps(e).encode(),
                             key_serializer=str.encode)
    try:
        for event in events:
            producer.send(topic, key=event["visitor_id"], value=event)
        producer.flush(timeout=30)
    finally:
        producer.close()


def consume_all(bootstrap: str, topic: str, expected: int) -> list[dict[str, Any]]:
    """Everything in ``topic`` from the beginning. The consumer iterator ends only after 2 s
    without a record, so once ``expected`` arrived, a record too many would have shown up too."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=2000,
                             value_deserializer=lambda raw: json.loads(raw))
    received: list[dict[str, Any]] = []
    try:
        for _ in range(30):  # idle windows of 2 s; ~60 s at most
            received.extend(record.value for record in consumer)
            if len(received) >= expected:
                break
    finally:
        consumer.close()
    return received
