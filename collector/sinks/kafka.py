"""The Kafka sink: one librdkafka producer (confluent-kafka) per worker process, after the fork.

A store hands every record to the producer and waits for the broker's ``acks=all`` answer,
bounded by the produce timeout: only then may the client get its 2xx. Anything short of that --
no broker, a full local queue, a failed or late acknowledgement -- is :class:`SinkUnavailable`,
which the :class:`~collector.sinks.spooling.SpoolingSink` turns into a spool write. A record
Kafka will never take (over the topic's size limit) is :class:`RecordsRefused` instead, which
the spooling sink sets aside on disk rather than retrying. The producer is idempotent, so the
broker drops its own retries' duplicates.

Why librdkafka and not kafka-python (the project's other Kafka client, still used by tests and
tools): the producer runs in C on its own threads, so a 20-record batch costs the worker's GIL a
few microseconds per record instead of kafka-python's ~50 (its sender thread, record batching
and murmur2 key hashing are Python). Measured figures are in docs/collector.md, "Sink and
spool". It is used here only: this module is the collector's one Kafka producer.

Delivery reports are served by one poller thread per producer (``poll()``), which completes the
waiting requests' :class:`_Pending` counters; request threads never call ``poll()`` or
``flush()`` themselves, so one slow batch does not make other requests wait for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from collector.sinks.base import Record, RecordsRefused, SinkUnavailable

log = logging.getLogger(__name__)

# librdkafka's names (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md).
# Chosen with bench/collector_throughput.py --sweep (docs/collector.md, "Sink and spool").
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    # the Java client's (and kafka-python's) key hashing: a visitor stays on the partition it
    # had before the switch, and any other producer of these topics agrees with us
    "partitioner": "murmur2_random",
    "linger.ms": 2,
    "compression.type": "lz4",
    "reconnect.backoff.ms": 100,
    "reconnect.backoff.max.ms": 1000,
    "retry.backoff.ms": 100,
    "socket.connection.setup.timeout.ms": 2000,
    "message.max.bytes": 1024 * 1024 + 64 * 1024,
    "log.connection.close": False,
}


Content = tuple[str, bytes | None, bytes]  # a record as a delivery report gives it back


# Kafka's answers that are about the record itself: sent again, it would be refused again
REFUSED_CODES = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE,
                           KafkaError.INVALID_RECORD})


class _Pending:
    """One store's records in flight: counts delivery reports down, keeps the first error that
    is not a refusal, and the records Kafka refused (as ``(topic, key, value)``)."""

    __slots__ = ("done", "error", "refused", "remaining")

    def __init__(self, count: int) -> None:
        self.remaining = count
        self.error: KafkaError | None = None
        self.refused: list[tuple[Content, str]] = []
        self.done = threading.Event()

    def report(self, err: KafkaError | None, msg: Any) -> None:
        # called on the poller thread only, so the counter needs no lock
        if err is not None:
            if err.code() in REFUSED_CODES:
                self.refused.append(((msg.topic(), msg.key(), msg.value()), err.str()))
            elif self.error is None:
                self.error = err
        self.remaining -= 1
        if self.remaining <= 0 or self.error is not None:
            self.done.set()


def _by_topic(records: Sequence[Record]) -> dict[str, list[dict[str, bytes | None]]]:
    grouped: dict[str, list[dict[str, bytes | None]]] = {}
    for record in records:
        grouped.setdefault(record.topic, []).append({"value": record.value, "key": record.key})
    return grouped


def _refused_records(records: Sequence[Record], refused: Sequence[tuple[Content, str]]
                     ) -> list[Record]:
    """The refused ones of ``records``, in the batch's order (reports come per partition, not
    in that order); equal records count once each."""
    left: dict[Content, int] = {}
    for content, _reason in refused:
        left[content] = left.get(content, 0) + 1
    found = []
    for record in records:
        content = (record.topic, record.key, record.value)
        if left.get(content):
            left[content] -= 1
            found.append(record)
    return found


class KafkaSink:
    """Stores records in Kafka, waiting up to ``timeout_s`` for the acknowledgement."""

    max_record_bytes = 1024 * 1024

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        producer_config: dict[str, Any] | None = None,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
        connect: bool = True,
    ) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        timeout_ms = max(int(timeout_s * 1000), 1000)
        self._config = {
            **PRODUCER_DEFAULTS,
            "bootstrap.servers": bootstrap,
            # librdkafka gives a record up about when the request that waits for it does, so a
            # record that was spooled is rarely delivered a second time after the outage
            "message.timeout.ms": timeout_ms,
            "request.timeout.ms": timeout_ms,
            "logger": log,
            "error_cb": self._on_error,
            **(producer_config or {}),
        }
        self._factory = producer_factory
        self._producer: Any = None
        self._fatal = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._reported = False
        if connect:
            self.connect()

    # --- connection -------------------------------------------------------------------------

    def connect(self) -> bool:
        """Create the producer if there is none and the broker answers a metadata request;
        False (and logged once per outage) otherwise.

        Blocks up to ``connect_timeout_s`` while Kafka is down. Only startup and the replayer
        call it, never a request.
        """
        with self._lock:
            if self._producer is not None and not self._fatal:
                return True
            self._drop_locked()
            try:
                producer = self._factory(self._config)
                producer.list_topics(timeout=self.connect_timeout_s)
            except KafkaException as exc:
                level = logging.DEBUG if self._reported else logging.WARNING
                log.log(level, "Kafka at %s unreachable: %s", self.bootstrap, exc)
                self._reported = True
                return False
            self._reported = False
            self._producer, self._fatal = producer, False
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll, args=(producer,),
                                            name="kafka-delivery-reports", daemon=True)
            self._poller.start()
            return True

    def _poll(self, producer: Any) -> None:
        while not self._stop.is_set():
            producer.poll(0.2)

    def _on_error(self, err: KafkaError) -> None:
        # connection errors are retried by librdkafka itself; a fatal one (the idempotent
        # producer's state is lost) needs a new producer, which the replayer's connect makes
        if err.fatal():
            log.error("Kafka producer failed fatally: %s", err)
            self._fatal = True
        else:
            log.debug("Kafka client error: %s", err)

    @property
    def connected(self) -> bool:
        """A producer exists (the broker answered when it was built) and is not broken."""
        return self._producer is not None and not self._fatal

    def healthy(self) -> bool:
        return self.connected

    def ping(self, topic: str) -> bool:
        """True when the broker answers a metadata request for ``topic`` in time."""
        if not self.connect():
            return False
        try:
            metadata = self._producer.list_topics(topic, timeout=self.connect_timeout_s)
        except (KafkaException, AttributeError):  # AttributeError: dropped meanwhile
            return False
        found = metadata.topics.get(topic)
        return found is not None and found.error is None and bool(found.partitions)

    # --- storing ----------------------------------------------------------------------------

    def store(self, records: Sequence[Record]) -> str:
        """Store ``records``; :class:`RecordsRefused` when Kafka took all but some that it
        will never take (each refused one was tried again on its own first: the broker
        refuses a whole record batch when the batch is over the topic's limit, so a record
        can be refused only for its neighbours' sake)."""
        refused = self._send(records)
        if not refused:
            return "kafka"
        again = _refused_records(records, refused)  # in order: a visitor's stay in order
        log.warning("Kafka refused %d of %d records (%s); sending them one by one",
                    len(again), len(records), refused[0][1])
        final: list[tuple[Record, str]] = []
        for record in again:
            alone = self._send([record])
            if alone:
                final.append((record, alone[0][1]))
        if final:
            raise RecordsRefused(final)
        return "kafka"

    def _send(self, records: Sequence[Record]) -> list[tuple[Content, str]]:
        """Send and wait for every acknowledgement; the refused records with Kafka's reason;
        :class:`SinkUnavailable` for anything else that went wrong."""
        producer = self._producer
        if producer is None or self._fatal:
            raise SinkUnavailable(f"no connection to Kafka at {self.bootstrap}")
        if not records:
            return []
        pending = _Pending(len(records))
        try:
            # one produce_batch call per topic (a batch's events, its dead letters): one trip
            # into librdkafka instead of one per record; the key's partition and the order of
            # the records within each topic are kept
            for topic, messages in _by_topic(records).items():
                queued = producer.produce_batch(topic, messages, on_delivery=pending.report)
                if queued != len(messages):
                    failed = next(m["_error"] for m in messages if "_error" in m)
                    raise SinkUnavailable(f"Kafka producer refused {len(messages) - queued} "
                                          f"records: {failed}")
        except BufferError as exc:  # the local queue is full: the broker is not keeping up
            raise SinkUnavailable(f"Kafka producer queue full: {exc}") from exc
        except KafkaException as exc:
            raise SinkUnavailable(f"Kafka refused a record: {exc}") from exc
        if not pending.done.wait(self.timeout_s):
            raise SinkUnavailable(f"Kafka did not acknowledge within {self.timeout_s:g} s")
        if pending.error is not None:
            raise SinkUnavailable(f"Kafka did not acknowledge: {pending.error}")
        return pending.refused

    def reset(self) -> None:
        """Forget what the producer still queues: those records were spooled by the requests
        that gave up on them, and sending them after the outage would put them ahead of the
        spool's replay. In-flight ones are left to their (short) message timeout."""
        producer = self._producer
        if producer is not None:
            try:
                producer.purge(in_queue=True, in_flight=False, blocking=True)
            except KafkaException:
                log.exception("purging the producer's queue failed")

    # --- shutdown ---------------------------------------------------------------------------

    def _drop_locked(self) -> None:
        producer, self._producer = self._producer, None
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
            self._poller = None
        if producer is not None:
            producer.purge(in_queue=True, in_flight=True, blocking=True)
            producer.poll(0)

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            producer = self._producer
            if producer is not None:
                left = producer.flush(timeout)
                if left:
                    log.warning("final flush incomplete: %d records not acknowledged", left)
            self._drop_locked()
