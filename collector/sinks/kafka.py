"""The Kafka sink: one kafka-python producer per worker process, created after the fork.

A store sends every record and waits for the broker's ``acks=all`` answer, bounded by the
produce timeout: only then may the client get its 2xx. Anything short of that -- no broker,
metadata or buffer wait past ``max_block_ms``, a failed or late acknowledgement -- is
:class:`SinkUnavailable`, which the :class:`~collector.sinks.spooling.SpoolingSink` turns into a
spool write. The producer is idempotent, so the broker drops its own retries' duplicates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from collector.sinks.base import Record, SinkUnavailable

log = logging.getLogger(__name__)

# Chosen with bench/collector_throughput.py --sweep (docs/collector.md): gzip costs the worker
# measurably more CPU per event than lz4 or none, which are level within noise, so lz4 (events
# are repetitive JSON: several times smaller on the broker's disk); linger 0/5/20 ms made no
# measurable difference, 5 ms lets concurrent requests of a worker share a produce request.
# `crc32c` (a dependency) makes kafka-python checksum record batches in C, not Python.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 128 * 1024,
    "compression_type": "lz4",
    "reconnect_backoff_ms": 100,
    "reconnect_backoff_max_ms": 1000,
    "retry_backoff_ms": 100,
    "api_version_auto_timeout_ms": 2000,
}


class KafkaSink:
    """Stores records in Kafka, waiting up to ``timeout_s`` for the acknowledgement."""

    max_record_bytes = 1024 * 1024  # the producer's default max_request_size

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout_s: float = 5.0,
        producer_config: dict[str, Any] | None = None,
        producer_factory: Callable[..., Any] = KafkaProducer,
        connect: bool = True,
    ) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        timeout_ms = int(timeout_s * 1000)
        self._config = {
            **PRODUCER_DEFAULTS,
            "max_block_ms": timeout_ms,
            "request_timeout_ms": max(timeout_ms, 1000),
            "delivery_timeout_ms": max(timeout_ms, 1000) * 2 + 100,
            **(producer_config or {}),
        }
        self._factory = producer_factory
        self._producer: Any = None
        self._lock = threading.Lock()
        self._reported = False
        if connect:
            self.connect()

    def connect(self) -> bool:
        """Create the producer if there is none; False (and logged) when the broker is away.

        kafka-python asks the broker for its version when the producer is built, so this blocks
        up to ``api_version_auto_timeout_ms`` while Kafka is down. Only startup and the
        replayer call it, never a request.
        """
        with self._lock:
            if self._producer is not None:
                return True
            try:
                self._producer = self._factory(bootstrap_servers=self.bootstrap, **self._config)
            except KafkaError as exc:
                # once per outage: the replayer retries every few seconds
                level = logging.DEBUG if self._reported else logging.WARNING
                log.log(level, "Kafka at %s unreachable: %r", self.bootstrap, exc)
                self._reported = True
                return False
            self._reported = False
            return True

    def store(self, records: Sequence[Record]) -> str:
        producer = self._producer
        if producer is None:
            raise SinkUnavailable(f"no connection to Kafka at {self.bootstrap}")
        deadline = time.monotonic() + self.timeout_s
        try:
            futures = [producer.send(r.topic, value=r.value, key=r.key) for r in records]
            for future in futures:
                future.get(timeout=max(0.001, deadline - time.monotonic()))
        except KafkaError as exc:
            raise SinkUnavailable(f"Kafka did not acknowledge: {exc!r}") from exc
        return "kafka"

    @property
    def connected(self) -> bool:
        """A producer exists (the broker answered when it was built)."""
        return self._producer is not None

    def ping(self, topic: str) -> bool:
        """True when the broker answers a metadata request for ``topic`` in time."""
        producer = self._producer
        if producer is None and not self.connect():
            return False
        try:
            return bool(self._producer.partitions_for(topic))
        except KafkaError:
            return False

    def healthy(self) -> bool:
        return self._producer is not None

    def reset(self) -> None:
        """Drop the producer (after failures) so the next :meth:`connect` starts afresh.

        An idempotent producer can be left fenced or with expired sequence state by a long
        outage; what it still buffers was already spooled by the requests that gave up on it.
        """
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # closing a broken producer must not take the replayer down
                log.exception("closing the old producer failed")

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.flush(timeout=timeout)
            except KafkaError as exc:
                log.warning("final flush incomplete: %s", exc)
            producer.close(timeout=timeout)
