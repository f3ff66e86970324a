"""The worker against a real Kafka broker (and real Redis): events in, profiles out, and a
crash or a SIGKILL at any moment neither loses nor double-counts an event."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from personalization.stores import Checkpoint, SaveResult, Store
from personalization.stores.embedded import EmbeddedStore
from personalization.worker import Worker
from simulation.intent_stream import generate
from tests.embedded.events import produce
from tests.personalization.builders import START, add, buy, event, view
from tests.personalization.running import InThread
from tests.waiting import wait_until
from tracker.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.kafka


def story_day_one() -> list[dict[str, Any]]:
    return [
        view("x1", 0, "JK-1"), view("x1", 1, "CP-1"), view("x2", 2, "JK-1"),
        view("x2", 3, "CP-1"),
        event("page_view", "bob", 0, source="email", campaign="spring"),
        view("bob", 1, "SH-1"), view("bob", 2, "SK-1"), add("bob", 3, "SH-1"),
        add("bob", 4, "SK-1"), buy("bob", 6, "o-bob", {"SH-1": 1, "SK-1": 1}),
        view("ann", 10, "JK-1"), add("ann", 11, "JK-1"),
        event("page_view", "crawler", 12, is_bot=True),
    ]


def story_day_two() -> list[dict[str, Any]]:
    return [event("page_view", "ann", 24 * 60, device="mobile"),
            view("ann", 24 * 60 + 1, "SH-2"),
            event("page_view", "bob", 24 * 60 + 5)]


def check_story(store: Store) -> None:
    """What the two days must leave, written out by hand."""
    ann, bob, x1 = (store.read_profile(v) for v in ("ann", "bob", "x1"))
    assert ann is not None and bob is not None and x1 is not None
    assert ann.segment == "cart_abandoner"
    assert {sku: line.quantity for sku, line in ann.cart.items()} == {"JK-1": 1}
    assert ann.history.sessions == 1
    assert ann.session is not None
    assert (ann.session.events, ann.session.page_views, ann.session.product_views) == (2, 1, 1)
    assert ann.session.device == "mobile"
    ann_recs = [r["sku"] for r in ann.recommendations]
    assert ann_recs[0] == "CP-1"  # viewed together with the jacket in her cart
    assert "JK-1" not in ann_recs and "SH-2" not in ann_recs  # in the cart; on screen
    assert bob.segment == "first_time_customer"
    assert (bob.history.purchases, bob.history.revenue, bob.history.sessions) == (1, 148.0, 1)
    assert bob.cart == {}
    assert not {"SH-1", "SK-1"} & {r["sku"] for r in bob.recommendations}  # just bought
    assert x1.session is None or x1.session.product_views == 2
    assert 0 < ann.intent < 1  # type: ignore[operator]
    assert store.read_profile("crawler") is None


def settings_for(tmp_path: Path, bootstrap: str, topic: str, **section: Any) -> Settings:
    base = Settings.from_env(environ={})
    values = {"consumer_group": f"test-{uuid.uuid4().hex[:8]}", "checkpoint_seconds": 0.2,
              **section}
    return dataclasses.replace(
        base, state_dir=tmp_path / "state",
        kafka=dataclasses.replace(base.kafka, bootstrap=bootstrap, topic=topic),
        personalization=dataclasses.replace(base.personalization, **values),
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    """Poll until ``condition`` holds; fail with ``what`` after ``timeout`` (a deadline on
    a condition, not a timed assertion: nothing here depends on how fast it happens)."""
    wait_until(condition, timeout=timeout, interval=0.05, what=what)


def stored_total(store: Store, group: str) -> int:
    return sum(store.load_checkpoint(group).offsets.values())


class RunningWorker(InThread):
    """A worker in a thread of this process; ``stop()`` checkpoints and leaves the group."""

    def __init__(self, settings: Settings, store: Store, bootstrap: str):
        self.worker = Worker(settings, store, bootstrap=bootstrap)
        super().__init__(
            lambda stop: self.worker.run(stop, consumer_config={"max_poll_records": 50}))


def send_raw(bootstrap: str, topic: str, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(topic, key=b"ann", value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def send_garbage(bootstrap: str, topic: str) -> None:
    send_raw(bootstrap, topic, b"{definitely not json")


def test_events_in_kafka_become_profiles_segments_scores_and_recommendations(
        kafka_broker: str, kafka_topic: str, tmp_path: Path, store: Store) -> None:
    events = story_day_one() + story_day_two()
    produce(kafka_broker, kafka_topic, events)
    send_garbage(kafka_broker, kafka_topic)  # not JSON: skipped, counted, logged
    anonymous = {k: v for k, v in event("purchase", "x", 30, order={
        "order_id": "o-anon", "revenue": 10.0, "currency": "EUR"}).items() if k != "visitor_id"}
    send_raw(kafka_broker, kafka_topic, json.dumps(anonymous).encode())
    settings = settings_for(tmp_path, kafka_broker, kafka_topic)
    running = RunningWorker(settings, store, kafka_broker)
    try:
        group = settings.personalization.consumer_group
        wait_for(lambda: stored_total(store, group) == len(events) + 2, "the checkpoint")
    finally:
        running.stop()
    assert running.error is None
    check_story(store)
    summary = store.model_summary(group)
    assert summary is not None
    assert (summary["unusable"], summary["anonymous"]) == (1, 1)
    assert summary["counters"]["events"] == len(events)
    assert summary["counters"]["bots"] == 1


class CrashingStore(EmbeddedStore):
    """The embedded store, whose next checkpoint fails once ``armed``: the worker dies having
    processed events whose state was never stored (the window a crash must not lose)."""

    armed = False

    def save(self, checkpoint: Checkpoint) -> SaveResult:
        if self.armed:
            raise RuntimeError("simulated crash during a checkpoint")
        return super().save(checkpoint)


def test_a_worker_that_dies_before_its_checkpoint_loses_and_repeats_nothing(
        kafka_broker: str, kafka_topic: str, tmp_path: Path) -> None:
    folder = tmp_path / "state" / "personalization"
    settings = settings_for(tmp_path, kafka_broker, kafka_topic)
    group = settings.personalization.consumer_group
    first, second = story_day_one(), story_day_two()
    crashing = CrashingStore(folder)
    produce(kafka_broker, kafka_topic, first)
    running = RunningWorker(settings, crashing, kafka_broker)
    wait_for(lambda: stored_total(crashing, group) == len(first), "day one's checkpoint")
    crashing.armed = True
    produce(kafka_broker, kafka_topic, second)
    running.thread.join(timeout=90)
    assert isinstance(running.error, RuntimeError)  # it processed day two, then died
    counters = running.worker.engine.counters
    assert (counters.events, counters.applied) == (len(first) + len(second),
                                                   len(first) + len(second) - 1)  # 1 bot
    crashing.close()

    store = EmbeddedStore(folder)
    assert stored_total(store, group) == len(first)  # day two's state never made it
    restarted = RunningWorker(settings, store, kafka_broker)
    try:
        wait_for(lambda: stored_total(store, group) == len(first) + len(second), "day two")
    finally:
        restarted.stop()
    check_story(store)
    summary = store.model_summary(group)
    assert summary is not None
    assert summary["counters"]["events"] == len(first) + len(second)


def test_a_killed_worker_resumes_from_its_checkpoint(kafka_broker: str, kafka_topic: str,
                                                     tmp_path: Path) -> None:
    """SIGKILL a real ``clickloop personalization worker`` in the middle of a stream."""
    # volume, so that the kill falls mid-stream; a month earlier, so the story stays the latest
    filler = generate(150, seed=11, start=START - timedelta(days=30), days=10)
    third_of = len(filler) // 3
    first = story_day_one() + filler[:third_of]
    second = filler[third_of: 2 * third_of]
    # produced only after the kill: only the restarted worker can process it, so the kill
    # falls mid-stream however fast the first worker is, and the restarted one is surely up
    # (its signal handlers in place) when the test stops it
    third = filler[2 * third_of:] + story_day_two()
    settings = settings_for(tmp_path, kafka_broker, kafka_topic, checkpoint_events=200,
                            checkpoint_seconds=0.5, worker_instance_id="worker-1")
    group = settings.personalization.consumer_group
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "clickloop.cli", "personalization", "worker"]
    log = tmp_path / "worker.log"
    store = EmbeddedStore(settings.state_dir / "personalization")

    def start() -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=out,
                                    stderr=subprocess.STDOUT)

    produce(kafka_broker, kafka_topic, first)
    worker = start()
    try:
        wait_for(lambda: stored_total(store, group) == len(first), "the first checkpoint")
        produce(kafka_broker, kafka_topic, second)
        wait_for(lambda: stored_total(store, group) > len(first), "a checkpoint in part two")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        produce(kafka_broker, kafka_topic, third)
        worker = start()
        wait_for(lambda: stored_total(store, group) == len(first) + len(second) + len(third),
                 "the restarted worker to finish")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
    assert worker.returncode == 0, log.read_text()[-3000:]
    check_story(store)
    summary = store.model_summary(group)
    assert summary is not None
    everything = first + second + third
    bots = sum(1 for e in everything if e["enrichment"]["ua"]["is_bot"])
    assert summary["counters"]["events"] == len(everything)
    assert summary["counters"]["applied"] == len(everything) - bots
    assert summary["counters"]["duplicates"] == 0
