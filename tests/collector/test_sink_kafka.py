"""The librdkafka sink against the run's real broker: acknowledged stores, Java-compatible key
partitioning, and spool mode shared by workers with an in-order drain."""

from __future__ import annotations

import pytest
from kafka.partitioner.default import DefaultPartitioner

from collector.sinks import KafkaSink, Record, SinkUnavailable, Spool, SpoolingSink
from embedded.ports import free_port
from tests.fixtures.collector import read_topic

pytestmark = pytest.mark.kafka


def test_store_returns_after_the_broker_acknowledged_keyed_like_java_clients(kafka_broker,
                                                                            kafka_topic):
    sink = KafkaSink(kafka_broker, timeout_s=10)
    try:
        assert sink.connected and sink.ping(kafka_topic)
        records = [Record(kafka_topic, f"v-{n % 30}".encode(), f'{{"n":{n}}}'.encode())
                   for n in range(300)]
        for start in range(0, 300, 20):
            assert sink.store(records[start:start + 20]) == "kafka"
        stored = read_topic(kafka_broker, kafka_topic, 300, timeout=30)
    finally:
        sink.close(5)
    # the Java client's murmur2 (which kafka-python implements too): the visitor's partition
    # does not depend on which client wrote it
    java = DefaultPartitioner()
    for record in stored:
        assert record.partition == java(record.key, [0, 1, 2], [0, 1, 2])
    by_key: dict[bytes, list[bytes]] = {}
    for record in sorted(stored, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key, []).append(record.value)
    assert by_key == {key: [r.value for r in records if r.key == key] for key in by_key}
    assert len(by_key) == 30


def test_store_without_a_broker_is_unavailable_not_an_error(tmp_path):
    sink = KafkaSink(f"127.0.0.1:{free_port()}", timeout_s=0.5, connect_timeout_s=0.3)
    assert not sink.connected and not sink.healthy()
    with pytest.raises(SinkUnavailable, match="no connection"):
        sink.store([Record("t", b"k", b"{}")])
    assert sink.ping("t") is False
    sink.close(1)


def test_one_worker_spooling_makes_every_worker_spool_until_the_drain(kafka_broker, kafka_topic,
                                                                     tmp_path):
    """Worker A still reaches Kafka, worker B does not: once B spools, A must spool too (or A's
    newer events would overtake B's spooled ones); A's replayer drains in acceptance order and
    only then stores directly again."""
    def record(n: int) -> Record:
        return Record(kafka_topic, b"v-1", f'{{"n":{n}}}'.encode())

    up = SpoolingSink(KafkaSink(kafka_broker, timeout_s=10),
                      Spool(tmp_path, max_bytes=1 << 20), probe_topic=kafka_topic)
    down = SpoolingSink(KafkaSink(f"127.0.0.1:{free_port()}", timeout_s=0.5,
                                  connect_timeout_s=0.3),
                        Spool(tmp_path, max_bytes=1 << 20), probe_topic=kafka_topic)
    try:
        assert up.store([record(1)]) == "kafka"
        assert down.store([record(2)]) == "spool"
        assert not up.kafka_up
        assert up.store([record(3)]) == "spool"
        assert down.store([record(4)]) == "spool"
        assert down.replay_once() is False  # B cannot reach Kafka: everything stays
        assert up.replay_once() is True
        assert up.kafka_up and down.kafka_up
        assert up.spool.size_bytes() == 0
        assert up.store([record(5)]) == "kafka"
        stored = read_topic(kafka_broker, kafka_topic, 5, timeout=30)
    finally:
        up.close(5)
        down.close(1)
    assert [r.value for r in stored] == [record(n).value for n in range(1, 6)]
