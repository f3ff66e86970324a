"""An in-memory sink: a unit-test convenience for the HTTP layer, never proof of delivery."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from collector.sinks.base import Record, SinkError


class MemorySink:
    """Keeps records in a list; ``fail_with`` makes the next stores raise (to test 503s)."""

    max_record_bytes = 1024 * 1024

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.fail_with: SinkError | None = None
        self.closed = False
        self._lock = threading.Lock()

    def store(self, records: Sequence[Record]) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.records.extend(records)
        return "memory"

    def healthy(self) -> bool:
        return self.fail_with is None

    def close(self, timeout: float = 10.0) -> None:
        self.closed = True

    def on_topic(self, topic: str) -> list[Record]:
        return [record for record in self.records if record.topic == topic]
