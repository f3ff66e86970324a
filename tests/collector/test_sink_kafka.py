"""The librdkafka sink against the run's real broker: acknowledged stores, Java-compatible key
partitioning, and spool mode shared by workers with an in-order drain."""

from __future__ import annotations

import json
import random

import pytest
from kafka.partitioner.default import DefaultPartitioner

from collector.sinks import KafkaSink, Record, SinkUnavailable, Spool, SpoolingSink
from collector.sinks.base import RecordsRefused
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


def limit_record_batches(bootstrap: str, topic: str, max_bytes: int) -> None:
    """Set the topic's ``max.message.bytes`` (the largest record batch the broker takes)."""
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    entry = ConfigEntry("max.message.bytes", str(max_bytes),
                        incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: its futures need it alive
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def refusable_batch(topic: str) -> tuple[list[Record], Record]:
    """20 records that fit a 3,000-byte limit one by one but not as one batch (random hex:
    lz4 cannot shrink it below the limit), and one that fits it in no way, in the middle."""
    noise = random.Random(7)
    small = [Record(topic, b"v-1", f'{{"n":{n},"pad":"{noise.randbytes(200).hex()}"}}'.encode())
             for n in range(20)]
    big = Record(topic, b"v-1", f'{{"n":"big","pad":"{noise.randbytes(4000).hex()}"}}'.encode())
    return [*small[:10], big, *small[10:]], big


def test_a_record_kafka_refuses_for_good_is_set_aside_and_the_rest_stored(kafka_broker,
                                                                           kafka_topic, tmp_path):
    """A topic whose ``max.message.bytes`` is below a record's size refuses that record on
    every try: it is kept on disk with Kafka's reason, its batch's other records reach Kafka in
    order (the broker refused them only as part of a batch over the limit), and the collector
    stays out of spool mode instead of spooling a batch that could never drain."""
    limit_record_batches(kafka_broker, kafka_topic, 3000)
    records, big = refusable_batch(kafka_topic)
    counted: dict[str, float] = {}
    sink = SpoolingSink(KafkaSink(kafka_broker, timeout_s=10), Spool(tmp_path, max_bytes=1 << 20),
                        probe_topic=kafka_topic,
                        count=lambda name, value: counted.update({name: value}))
    try:
        with pytest.raises(RecordsRefused) as refused:
            sink.kafka.store(records)
        assert [record for record, _ in refused.value.refused] == [big]
        assert "too large" in refused.value.refused[0][1].lower()
        assert sink.store(records) == "kafka"
        assert sink.kafka_up and not sink.spool.segments()
        stored = read_topic(kafka_broker, kafka_topic, 40, timeout=30)
    finally:
        sink.close(5)
    small = [r.value for r in records if r is not big]
    assert [r.value for r in stored] == small + small  # both stores, each in order
    kept = [json.loads(line) for line in (tmp_path / "refused.jsonl").read_text().splitlines()]
    assert [(k["topic"], k["key"], k["value"]) for k in kept] == \
        [(kafka_topic, "v-1", big.value.decode())]
    assert "too large" in kept[0]["reason"].lower() and kept[0]["refused_at"]
    assert counted == {"refused": 1}
    assert sink.spool.size_bytes() == (tmp_path / "refused.jsonl").stat().st_size  # capped


def test_a_spooled_record_kafka_refuses_for_good_does_not_stall_the_replay(kafka_broker,
                                                                         kafka_topic, tmp_path):
    limit_record_batches(kafka_broker, kafka_topic, 3000)
    records, big = refusable_batch(kafka_topic)
    after = Record(kafka_topic, b"v-1", b'{"n":"after"}')
    down = SpoolingSink(KafkaSink(f"127.0.0.1:{free_port()}", timeout_s=0.5,
                                  connect_timeout_s=0.3),
                        Spool(tmp_path, max_bytes=1 << 20), probe_topic=kafka_topic)
    up = SpoolingSink(KafkaSink(kafka_broker, timeout_s=10),
                      Spool(tmp_path, max_bytes=1 << 20), probe_topic=kafka_topic)
    try:
        assert down.store(records) == "spool"
        assert up.store([after]) == "spool"  # the collector is in spool mode
        assert up.replay_once() is True
        assert up.kafka_up and not up.spool.segments()
        stored = read_topic(kafka_broker, kafka_topic, 21, timeout=30)
    finally:
        up.close(5)
        down.close(1)
    assert [r.value for r in stored] == [r.value for r in records if r is not big] + \
        [after.value]
    kept = (tmp_path / "refused.jsonl").read_text().splitlines()
    assert [json.loads(line)["value"] for line in kept] == [big.value.decode()]
