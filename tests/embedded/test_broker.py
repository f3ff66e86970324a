"""The run's broker carries contract events intact, and topic creation is idempotent."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer

import embedded.kafka_broker
from embedded import kafka_topics
from tests.embedded.events import consume_all, page_views, produce

pytestmark = pytest.mark.kafka


def test_events_come_back_exactly_once_and_unchanged(kafka_broker: str, kafka_topic: str) -> None:
    sent = page_views(200)

    produce(kafka_broker, kafka_topic, sent)
    received = consume_all(kafka_broker, kafka_topic, expected=200)

    assert len(received) == 200
    by_id = {event["event_id"]: event for event in received}
    assert len(by_id) == 200, "an event was delivered twice"
    assert by_id == {event["event_id"]: event for event in sent}


def test_topic_fixture_has_three_partitions(kafka_broker: str, kafka_topic: str) -> None:
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker)
    try:
        assert consumer.partitions_for_topic(kafka_topic) == {0, 1, 2}
    finally:
        consumer.close()


def test_ensure_topics_creates_only_what_is_missing(kafka_broker: str, kafka_topic: str) -> None:
    fresh = f"test.ensure.{uuid.uuid4().hex[:8]}"

    first = kafka_topics.ensure_topics(kafka_broker, [kafka_topic, fresh], 2, 1)
    second = kafka_topics.ensure_topics(kafka_broker, [kafka_topic, fresh], 2, 1)

    assert first == [fresh]
    assert second == []
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker)
    try:
        assert consumer.partitions_for_topic(fresh) == {0, 1}
        assert consumer.partitions_for_topic(kafka_topic) == {0, 1, 2}  # left as it was
    finally:
        consumer.close()


def test_configured_bootstrap_starts_nothing(settings, tmp_path) -> None:
    # the `settings` fixture names the run's broker: ensure_kafka must hand it back as is
    assert embedded.kafka_broker.ensure_kafka(settings) == settings.kafka.bootstrap
    assert not (settings.state_dir / "kafka").exists()
