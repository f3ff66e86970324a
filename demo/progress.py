"""How far the pipeline has got, read from the outside: what the demo shows while it runs.

Every figure comes from where the data really is, never from the sender's own counters:

- events in Kafka: the topic's end offsets;
- events the streaming lake job has read: the Kafka offsets of the last micro-batch its
  checkpoint *committed* (``<checkpoints>/lake/offsets/N`` with ``commits/N``);
- sessions written by the streaming job: rows in ``sessions_live`` (Parquet footers only);
- events the personalization worker has learned from: the offsets in its store checkpoint;
- the intent model: ``GET /v1/model`` on the decision API (progressive validation).

The same functions tell the demo when the pipeline has caught up with what was sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.settings import Settings


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> end offset of ``topic`` (empty when the topic does not exist)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             request_timeout_ms=10_000)
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return {}
        return {tp.partition: int(o) for tp, o in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def committed_stream_offsets(checkpoint: Path, topic: str) -> dict[int, int]:
    """Kafka offsets up to which a Structured Streaming query's checkpoint has committed.

    ``offsets/N`` holds, on its third line, ``{topic: {partition: end offset}}`` of batch N;
    a batch counts once ``commits/N`` exists (its output is written). Empty before the first
    committed batch.
    """
    commits = checkpoint / "commits"
    if not commits.is_dir():
        return {}
    done = sorted((int(p.name) for p in commits.iterdir() if p.name.isdigit()), reverse=True)
    for batch in done:
        try:
            lines = (checkpoint / "offsets" / str(batch)).read_text(encoding="utf-8").splitlines()
            offsets = json.loads(lines[2]).get(topic, {})
        except (OSError, IndexError, ValueError, AttributeError):
            continue
        return {int(p): int(o) for p, o in offsets.items()}
    return {}


def parquet_rows(folder: Path) -> int:
    """Rows in the Parquet files under ``folder`` (footers only; Spark's ``_``/``.`` files
    and folders are skipped)."""
    import pyarrow.parquet as pq

    if not folder.is_dir():
        return 0
    total = 0
    for path in folder.rglob("*.parquet"):
        parts = path.relative_to(folder).parts
        if any(part.startswith(("_", ".")) for part in parts):
            continue
        try:
            total += pq.read_metadata(path).num_rows
        except (OSError, ValueError):
            continue  # being written right now
    return total


def worker_offsets(settings: Settings) -> dict[int, int]:
    """Partition -> next offset the personalization worker's last checkpoint stored."""
    from personalization.stores import STORE_ERRORS, open_store

    store = open_store(settings)
    try:
        stored = store.load_checkpoint(settings.personalization.consumer_group).offsets
    except STORE_ERRORS:
        return {}
    finally:
        store.close()
    prefix = settings.kafka.topic + ":"
    return {int(k[len(prefix):]): int(v) for k, v in stored.items() if k.startswith(prefix)}


def model_summary(api_url: str, token: str) -> dict[str, Any] | None:
    """The intent model's summary from the decision API (None before the first checkpoint)."""
    import requests

    try:
        response = requests.get(f"{api_url}/v1/model", timeout=5,
                                headers={"Authorization": f"Bearer {token}"})
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    body = response.json()
    return body if isinstance(body, dict) else None


def behind(done: dict[int, int], target: dict[int, int]) -> int:
    """How many records of ``target`` (partition -> end offset) ``done`` has not reached."""
    return sum(max(0, end - done.get(p, 0)) for p, end in target.items())


@dataclass(frozen=True)
class Snapshot:
    """One look at the pipeline (``None``: that part is not running or has nothing yet)."""

    in_kafka: int
    in_lake: int | None
    live_sessions: int | None
    learned: int | None

    def line(self, sent: int | None = None) -> str:
        parts = [] if sent is None else [f"sent {sent:,}"]
        parts.append(f"in Kafka {self.in_kafka:,}")
        if self.in_lake is not None:
            parts.append(f"read by the lake job {self.in_lake:,}")
        if self.live_sessions is not None:
            parts.append(f"sessions written {self.live_sessions:,}")
        if self.learned is not None:
            parts.append(f"read by the worker {self.learned:,}")
        return " · ".join(parts)


class Watcher:
    """Reads the pipeline's progress for one stack (Kafka, checkpoints, lake, store)."""

    def __init__(self, settings: Settings, bootstrap: str, *, stream: bool = True):
        self.settings = settings
        self.bootstrap = bootstrap
        self.stream = stream
        self.topic = settings.kafka.topic
        self.checkpoint = Path(settings.state_dir) / "checkpoints" / "lake"

    def kafka(self) -> dict[int, int]:
        return end_offsets(self.bootstrap, self.topic)

    def lake(self) -> dict[int, int]:
        return committed_stream_offsets(self.checkpoint, self.topic)

    def worker(self) -> dict[int, int]:
        return worker_offsets(self.settings)

    def snapshot(self) -> Snapshot:
        # the readers first, Kafka last: while traffic flows, a line never shows a consumer
        # ahead of the topic it reads
        in_lake = sum(self.lake().values()) if self.stream else None
        sessions = parquet_rows(self.settings.lake / "sessions_live") if self.stream else None
        learned = sum(self.worker().values())
        return Snapshot(in_kafka=sum(self.kafka().values()), in_lake=in_lake,
                        live_sessions=sessions, learned=learned)

    def wait_caught_up(self, target: dict[int, int], *, timeout: float,
                       alive: Callable[[], bool] = lambda: True,
                       tick: Callable[[Snapshot], None] | None = None) -> dict[str, int]:
        """Wait until the lake job and the worker have read up to ``target``; returns what
        each still lacks (all zero when caught up) once done or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            lacking = {"worker": behind(self.worker(), target)}
            if self.stream:
                lacking["lake"] = behind(self.lake(), target)
            if not any(lacking.values()) or time.monotonic() > deadline or not alive():
                return lacking
            if tick is not None:
                tick(self.snapshot())
            time.sleep(1.0)
