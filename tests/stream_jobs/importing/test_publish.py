"""Publishing an import for the profiles: where the records go (partition, key, header), who is
left out, when it happens, and a broker that does not answer is an error naming it."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2

from stream_jobs.importing.job import ProfilesTarget, profiles_target
from stream_jobs.importing.publish import PublishError, not_forgotten, publish_events
from tests.fixtures.kafka import topic_partitions
from tracker.erasure import SuppressionList
from tracker.settings import Settings
from tracker.topic_headers import IMPORT_HEADER, import_ingest

INGEST = "import-0123456789ab"


def order(n: int, customer: str | None) -> dict:
    visitor = f"import-c{customer}" if customer else f"import-g{n}"
    out = {"schema_version": 1, "event_id": f"00000000-0000-4000-8000-{n:012d}",
           "event_type": "purchase", "client_ts": "2011-01-02T10:00:00.000Z",
           "visitor_id": visitor,
           "order": {"order_id": str(n), "revenue": 1.0, "currency": "GBP", "items": []},
           "enrichment": {"collector_ts": "2011-01-02T10:00:00.000Z",
                          "derived_ts": "2011-01-02T10:00:00.000Z", "source": "server"}}
    if customer:
        out["user_id"] = customer
    return out


@pytest.mark.kafka
def test_records_go_where_the_collector_would_put_them_with_the_import_header(
        kafka_broker: str, kafka_topic: str) -> None:
    events = [order(n, f"c{n % 5}" if n % 4 else None) for n in range(40)]
    assert publish_events(kafka_broker, kafka_topic, INGEST, events) == 40
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker, group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        partitions = topic_partitions(consumer, kafka_topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        records = list(consumer)
    finally:
        consumer.close()
    assert len(records) == 40
    for record in records:
        assert import_ingest(record.headers) == INGEST
        assert record.headers == [(IMPORT_HEADER, INGEST.encode())]
        # the Java/kafka-python/librdkafka murmur2 choice the collector's records get
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % len(partitions)
    assert sorted(r.key.decode() for r in records) == sorted(e["visitor_id"] for e in events)


def test_a_broker_that_does_not_answer_is_an_error_naming_it() -> None:
    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    address = f"127.0.0.1:{port}"
    with pytest.raises(PublishError) as raised:
        publish_events(address, "clickloop.events", INGEST, [order(1, "c1"), order(2, None)],
                       timeout_s=3.0)
    message = str(raised.value)
    assert "'clickloop.events'" in message and address in message
    assert "2 of 2 events not acknowledged" in message


def test_forgotten_people_are_not_published(tmp_path: Path) -> None:
    suppressions = SuppressionList(tmp_path)
    events = [order(1, "c1"), order(2, "c2"), order(3, None)]
    assert not_forgotten(events, suppressions) == events
    suppressions.add("user", "c1")
    suppressions.add("visitor", "import-g3")
    assert [e["event_id"] for e in not_forgotten(events, suppressions)] == [events[1]["event_id"]]


def test_profiles_are_fed_when_a_broker_is_configured_or_running_unless_refused(
        tmp_path: Path) -> None:
    base = dataclasses.replace(Settings.from_env(environ={}), state_dir=tmp_path / "state")
    target, note = profiles_target(base, None)  # no broker configured, none running here
    assert target is None and "--profiles" in note
    assert profiles_target(base, False) == (None, "skipped (--no-profiles)")
    configured = dataclasses.replace(base, kafka=dataclasses.replace(
        base.kafka, bootstrap="kafka-1:9092", topic="shop.events"))
    assert profiles_target(configured, None)[0] == ProfilesTarget("kafka-1:9092", "shop.events")
    assert profiles_target(configured, True)[0] == ProfilesTarget("kafka-1:9092", "shop.events")
    assert profiles_target(configured, False)[0] is None
