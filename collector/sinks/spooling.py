"""Kafka first, the spool when Kafka cannot take a batch, and a replayer that drains the spool.

While Kafka is healthy a store goes straight to it. The first failure (no broker, timeout)
marks Kafka down: that batch and every later one go to the spool without waiting, so an outage
costs one produce timeout, not one per request. A background thread seals the worker's active
segment, replays every segment it can claim (its own, and those of workers that died), and marks
Kafka up again once it is drained or Kafka answers. Replay is at-least-once: a batch that timed
out may also have reached Kafka; consumers deduplicate on ``event_id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from collector.sinks.base import Record, SinkUnavailable
from collector.sinks.kafka import KafkaSink
from collector.sinks.spool import Spool

log = logging.getLogger(__name__)

REPLAY_CHUNK = 500


class SpoolingSink:
    """A :class:`KafkaSink` backed by a :class:`Spool`, with a background replayer."""

    def __init__(
        self,
        kafka: KafkaSink,
        spool: Spool,
        *,
        probe_topic: str,
        replay_interval_s: float = 1.0,
        max_backoff_s: float = 5.0,
        count: Callable[[str, float], None] = lambda name, value: None,
    ) -> None:
        self.kafka = kafka
        self.spool = spool
        self.probe_topic = probe_topic
        self.replay_interval_s = replay_interval_s
        self.max_backoff_s = max_backoff_s
        self.max_record_bytes = kafka.max_record_bytes
        self._count = count
        self._kafka_up = kafka.connected
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the request path -------------------------------------------------------------------

    def store(self, records: Sequence[Record]) -> str:
        if self._kafka_up:
            try:
                return self.kafka.store(records)
            except SinkUnavailable as exc:
                log.warning("Kafka unavailable, spooling: %s", exc)
                self._kafka_up = False
                self._wake.set()
        self.spool.append(records)  # SinkFull propagates: the client gets a 503
        self._count("spooled", len(records))
        return "spool"

    def healthy(self) -> bool:
        return (self._kafka_up and self.kafka.healthy()) or self.spool.writable()


    @property
    def kafka_up(self) -> bool:
        return self._kafka_up

    # --- the replayer -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the replayer thread (once per worker, after the fork)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="spool-replayer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        backoff = self.replay_interval_s
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                ok = self.replay_once()
            except Exception:  # the replayer must outlive any surprise; the spool is intact
                log.exception("spool replay failed")
                ok = False
            backoff = self.replay_interval_s if ok else min(backoff * 2, self.max_backoff_s)

    def replay_once(self) -> bool:
        """Seal, replay every claimable segment, update the Kafka state; True if all went."""
        self.spool.seal()
        if not self.kafka.connect():
            return False
        for segment in self.spool.claim():
            records = segment.read()
            try:
                for start in range(0, len(records), REPLAY_CHUNK):
                    self.kafka.store(records[start:start + REPLAY_CHUNK])
            except SinkUnavailable as exc:
                log.warning("replay of %s failed: %s", segment.path.name, exc)
                self._kafka_up = False
                self.kafka.reset()
                return False
            segment.delete()
            self._count("replayed", len(records))
            log.info("replayed %d records from %s", len(records), segment.path.name)
        if not self._kafka_up:
            if self.kafka.ping(self.probe_topic):
                self._kafka_up = True
                log.info("Kafka is back; storing directly again")
            else:
                return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop the replayer, flush the producer, seal the active segment (left for replay)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.kafka.close(timeout)
        self.spool.close()
