"""Kafka first, the spool when Kafka cannot take a batch, and a replayer that drains the spool.

While the collector is not in spool mode a store goes straight to Kafka. The first failure (no
broker, timeout) puts the whole collector -- every worker, through the spool's marker file --
into spool mode: that batch and every later one go to the spool without waiting, so an outage
costs one produce timeout, not one per request or per worker. Each worker runs a replayer
thread; whichever holds the spool's replay lock seals the shared active segment, sends the
sealed segments oldest first, and ends spool mode once the spool is empty. Because the spool is
one sequence in acceptance order and direct writes resume only after it is empty, a visitor's
events reach Kafka in the order the collector accepted them, across workers and across the
outage. Replay is at-least-once: a batch that timed out may also have reached Kafka; consumers
deduplicate on ``event_id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from collector.sinks.base import Record, RecordsRefused, SinkUnavailable
from collector.sinks.kafka import KafkaSink
from collector.sinks.spool import Spool

log = logging.getLogger(__name__)

REPLAY_CHUNK = 500
MAX_PASSES = 20  # seal-and-send rounds per replay call while new batches keep arriving


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
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the request path -------------------------------------------------------------------

    def store(self, records: Sequence[Record]) -> str:
        if not self.spool.spooling():
            try:
                return self.kafka.store(records)
            except RecordsRefused as exc:  # the rest is in Kafka
                self._set_aside(exc)
                return "kafka"
            except SinkUnavailable as exc:
                log.warning("Kafka unavailable, spooling: %s", exc)
                self.kafka.reset()
                self._wake.set()
        self.spool.append(records)  # enters spool mode; SinkFull propagates: the client gets 503
        self._count("spooled", len(records))
        return "spool"

    def healthy(self) -> bool:
        return (self.kafka_up and self.kafka.healthy()) or self.spool.writable()

    @property
    def kafka_up(self) -> bool:
        """True while stores go straight to Kafka (the collector is not in spool mode)."""
        return not self.spool.spooling()

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
        """Drain the spool if this worker holds the replay lock; True unless Kafka failed."""
        if not self.spool.spooling() and not self.spool.segments():
            return True  # the common case: nothing spooled, one stat and one listdir
        with self.spool.replaying() as leader:
            if not leader:
                return True  # another worker is replaying
            self.spool.seal()  # whoever wrote it: everything accepted so far goes, in order
            if not self.kafka.connect():
                return False
            for _ in range(MAX_PASSES):
                if not self._send_sealed():
                    return False
                if not self.spool.segments() and not self.kafka.ping(self.probe_topic):
                    return False  # nothing to send proves nothing: ask the broker
                if self.spool.leave_spooling_if_empty():
                    return True
                self.spool.seal()  # batches spooled while we were sending
            return True

    def _send_sealed(self) -> bool:
        for segment in self.spool.claim():
            records = segment.read()
            try:
                for start in range(0, len(records), REPLAY_CHUNK):
                    try:
                        self.kafka.store(records[start:start + REPLAY_CHUNK])
                    except RecordsRefused as exc:  # set aside, or the spool never drains
                        self._set_aside(exc)
            except SinkUnavailable as exc:
                log.warning("replay of %s failed: %s", segment.path.name, exc)
                self.kafka.reset()
                return False
            segment.delete()
            self._count("replayed", len(records))
            log.info("replayed %d records from %s", len(records), segment.path.name)
        return True

    def _set_aside(self, refused: RecordsRefused) -> None:
        self.spool.set_aside(refused.refused)  # SinkFull: the client gets 503, none lost
        self._count("refused", len(refused.refused))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the replayer, flush the producer, seal the active segment (left for replay)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.kafka.close(timeout)
        self.spool.close()
