"""The sink interface and its records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record to be: topic, partitioning key (the visitor id; None spreads records
    over partitions), JSON value."""

    topic: str
    key: bytes | None
    value: bytes


class SinkError(Exception):
    """The sink did not store the batch; the client must not get a 2xx."""


class SinkUnavailable(SinkError):
    """The destination is unreachable or too slow (Kafka down, produce timed out)."""


class SinkFull(SinkError):
    """The destination is out of room (the spool reached its cap): answer 503, never drop."""


class RecordsRefused(SinkError):
    """Kafka stored the batch except ``refused``: records it will never take as they are
    (larger than the topic's ``max.message.bytes``), each with Kafka's reason. Sent again they
    would be refused again, so they must be set aside, not retried: a spool that retried them
    would never drain."""

    def __init__(self, refused: Sequence[tuple[Record, str]]) -> None:
        super().__init__(f"Kafka refused {len(refused)} record(s) for good: {refused[0][1]}")
        self.refused = list(refused)


class Sink(Protocol):
    """What the HTTP layer needs from storage."""

    max_record_bytes: int

    def store(self, records: Sequence[Record]) -> str:
        """Durably store every record or raise :class:`SinkError`; returns where they went
        (``"kafka"`` or ``"spool"``), for metrics."""
        ...

    def healthy(self) -> bool:
        """True when a store is expected to succeed (for ``/readyz``)."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is buffered and release resources (worker shutdown)."""
        ...
