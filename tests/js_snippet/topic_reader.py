"""Reading what the collector published, as a browser test needs it: from the beginning of the
topic, until the events a test waits for have arrived (or a deadline passes)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer

from tests.fixtures.kafka import topic_partitions


class TopicReader:
    """Consumes every partition of ``topic`` from offset 0; keeps what it has read.

    ``records`` are ``(partition, offset, event)`` in arrival order per partition. The collector
    keys records by visitor id, so one visitor's events share a partition and keep their order.
    """

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.records: list[tuple[int, int, dict[str, Any]]] = []
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                       enable_auto_commit=False)
        partitions = topic_partitions(self._consumer, topic)
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)

    def until(self, select: Callable[[dict[str, Any]], bool], count: int,
              timeout: float = 60.0) -> list[dict[str, Any]]:
        """The selected events once at least ``count`` have arrived, in partition order.

        Fails after ``timeout`` seconds with what did arrive. Callers assert the exact list:
        waiting for a later event first (a sentinel) proves nothing else is still on its way.
        """
        deadline = time.monotonic() + timeout
        while True:
            chosen = [r for r in self.records if select(r[2])]
            if len(chosen) >= count:
                partitions = {p for p, _, _ in chosen}
                assert len(partitions) == 1, f"one visitor's events span partitions {partitions}"
                return [event for _, _, event in sorted(chosen, key=lambda r: r[1])]
            if time.monotonic() > deadline:
                got = [(e["event_type"], e.get("url")) for _, _, e in chosen]
                raise AssertionError(f"{len(chosen)} of {count} events arrived: {got}")
            for batch in self._consumer.poll(timeout_ms=500).values():
                for message in batch:
                    self.records.append(
                        (message.partition, message.offset, json.loads(message.value))
                    )

    def close(self) -> None:
        self._consumer.close()
