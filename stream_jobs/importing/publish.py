"""Imported events -> the events topic, so the personalization profiles learn the shop's history.

The lake gets an import straight from the job; the profiles live in the personalization
workers, which read only the events topic (and may not be imported from here: both are layer
2). So the job also produces every event it wrote to the lake to that topic, exactly as the
collector would (JSON value, keyed by visitor id so a visitor's events stay on one partition
and one worker), plus the ``clickloop-import`` header (:mod:`tracker.topic_headers`) naming
the import. The header is what makes them history: the worker applies them to profile history,
the item graph and segments, never to live sessions, clocks or the intent model; the Spark
stream job skips them (they are in the lake already).

Delivery is all or nothing from the caller's view: every record must be acknowledged by the
broker (``acks=all``, idempotent producer), else :class:`PublishError` says how many were not
and why. Publishing again is harmless (the workers skip an imported event id they have
applied), so the cure for a failure is to run the same import again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from tracker.erasure import SuppressionList, forget_key
from tracker.topic_headers import IMPORT_HEADER

PRODUCE_TIMEOUT_S = 60.0
REPORT_EVERY = 20_000
PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    # the partitioner of the collector (and of Java and kafka-python clients): a visitor's
    # imported events land on the partition of its live ones, so one worker owns its profile
    "partitioner": "murmur2_random",
    "linger.ms": 20,
    "compression.type": "lz4",
    # a past order is kept whole (over the contract's 100 items): up to the broker's 1 MiB
    "message.max.bytes": 1024 * 1024,
    "socket.connection.setup.timeout.ms": 5000,
}


class PublishError(RuntimeError):
    """The events did not all reach the topic; the message names the topic, broker and why."""


def record_key(event: dict[str, Any]) -> bytes:
    """The partition key the collector gives an event: its visitor (else user, else id).

    >>> record_key({"visitor_id": "import-c17850", "user_id": "17850", "event_id": "e"})
    b'import-c17850'
    """
    return str(event.get("visitor_id") or event.get("user_id") or event["event_id"]).encode()


def not_forgotten(events: Iterable[dict[str, Any]], suppressions: SuppressionList
                  ) -> list[dict[str, Any]]:
    """The events whose visitor and user are not on the erasure list (as the lake write)."""
    visitors, users = suppressions.keys("visitor"), suppressions.keys("user")
    if not visitors and not users:
        return list(events)
    return [e for e in events
            if forget_key(e["visitor_id"]) not in visitors
            and not (e.get("user_id") and forget_key(e["user_id"]) in users)]


def publish_events(bootstrap: str, topic: str, ingest: str, events: list[dict[str, Any]],
                   progress: Callable[[int], None] | None = None, *,
                   timeout_s: float = PRODUCE_TIMEOUT_S) -> int:
    """Produce ``events`` to ``topic`` with the import header; returns how many the broker
    acknowledged (all of them, else :class:`PublishError` once ``timeout_s`` has passed)."""
    from confluent_kafka import KafkaException, Producer

    where = f"Kafka topic {topic!r} at {bootstrap}"
    if not events:
        return 0
    failures: list[str] = []
    delivered = [0]

    def report(err: Any, _msg: Any) -> None:
        if err is None:
            delivered[0] += 1
        elif len(failures) < 3:  # the first reasons; the count is what is missing
            failures.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG,
                         # a record not acknowledged by then fails (and is counted) before
                         # the final flush gives up
                         "message.timeout.ms": int(timeout_s * 750)})
    header = [(IMPORT_HEADER, ingest.encode())]
    try:
        for n, event in enumerate(events, start=1):
            value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
            while True:
                try:
                    producer.produce(topic, value=value, key=record_key(event), headers=header,
                                     on_delivery=report)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.5)
            producer.poll(0)
            if progress is not None and n % REPORT_EVERY == 0:
                progress(n)
        remaining = producer.flush(timeout_s)
    except KafkaException as exc:
        raise PublishError(f"{where}: {exc}") from exc
    missing = len(events) - delivered[0]
    if missing or remaining:
        reasons = "; ".join(dict.fromkeys(failures)) or \
            f"no acknowledgement within {timeout_s:.0f} s (is the broker up?)"
        raise PublishError(f"{where}: {missing:,} of {len(events):,} events not acknowledged "
                           f"({reasons})")
    return delivered[0]
