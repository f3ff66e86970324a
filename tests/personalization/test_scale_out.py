"""Several workers, one model: 3 workers on a 3-partition topic learn, through the shared learner,
what one worker learns from the same stream — real broker, real Redis — and a worker that dies
mid-stream loses no label and no pending bandit decision."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from embedded import kafka_topics
from personalization.bandit.policy import from_state
from personalization.holdout import BANDIT
from personalization.learner import Learner
from personalization.stores import Checkpoint, SaveResult
from personalization.stores.redis_store import RedisStore
from simulation.intent_stream import generate
from tests.personalization.bandit.support import rules_text
from tests.personalization.running import InThread
from tests.personalization.test_worker import RunningWorker, settings_for, wait_for
from tracker.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

VARIANTS = {"standard": 0.05, "free_shipping": 0.30, "discount": 0.12}  # true click rates
CHUNKS = 12


def with_decisions(events: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The stream, with the hero slot shown (bandit arm) after every product view and clicked
    at each variant's true rate: decisions whose outcome the workers must learn."""
    rng = random.Random(seed)
    out = []
    for e in events:
        out.append(e)
        if e["event_type"] != "product_view":
            continue
        variant = rng.choice(sorted(VARIANTS))
        decision = {"decision_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "slot": "hero", "variant": variant, "arm": BANDIT}
        base = {k: v for k, v in e.items() if k not in ("product", "event_id")}
        out.append({**base, "event_type": "personalization_shown", "decision": decision,
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
        if rng.random() < VARIANTS[variant]:
            out.append({**base, "event_type": "personalization_click", "decision": decision,
                        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
    return out


def closing_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One event per partition a day after the stream: stream time moves on everywhere, so
    every session closes and every waiting snapshot and decision gets its outcome."""
    last = events[-1]
    late = dict(last, client_ts="2030-01-01T00:00:00.000Z",
                enrichment={**last["enrichment"], "derived_ts": "2030-01-01T00:00:00.000Z"})
    return [dict(late, visitor_id=f"closer-{p}", event_id=str(uuid.uuid4())) for p in range(3)]


def produce(bootstrap: str, topic: str, events: list[dict[str, Any]],
            partitions: list[int] | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        for i, event in enumerate(events):
            value = json.dumps(event).encode()
            if partitions is None:
                producer.send(topic, key=event["visitor_id"].encode(), value=value)
            else:
                producer.send(topic, partition=partitions[i], value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


def end_offset(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tp = TopicPartition(topic, 0)
        return consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()


class CrashingRedisStore(RedisStore):
    """Redis, whose first checkpoint after ``after`` events that has just published labels
    fails: the worker dies with events processed and labels published whose state was never
    stored (what a kill between the two steps leaves)."""

    after = 200
    worker: Any = None

    def save(self, checkpoint: Checkpoint) -> SaveResult:
        published = self.worker.labels_published if self.worker is not None else 0
        if sum(checkpoint.offsets.values()) >= self.after and published > self._saved_with:
            raise RuntimeError("simulated crash during a checkpoint")
        result = super().save(checkpoint)
        self._saved_with = published
        return result

    _saved_with = 0


class RunningLearner(InThread):
    def __init__(self, settings: Settings, store: RedisStore, bootstrap: str):
        self.learner = Learner(settings, store, bootstrap=bootstrap)
        super().__init__(self.learner.run)

    def stop(self) -> None:
        super().stop()
        assert self.error is None


def run_group(tmp_path: Path, bootstrap: str, redis_url: str, n_workers: int,
              stream: list[dict[str, Any]], crash_one: bool) -> dict[str, Any]:
    """Stream through ``n_workers`` workers and one learner; the learner's final snapshot.

    The stream goes in :data:`CHUNKS` instalments, the next once the last is checkpointed,
    learned and loaded by every worker: the model then lags the stream by the same instalment
    in both runs (read as a backlog, the whole stream would be scored by whichever version
    happened to be loaded, which says nothing about the model)."""
    topic = f"test.scale-out.{n_workers}.{uuid.uuid4().hex[:8]}"
    labels_topic = topic + ".labels"
    kafka_topics.ensure_topics(bootstrap, [topic], partitions=3, replication=1)
    kafka_topics.ensure_topics(bootstrap, [labels_topic], partitions=1, replication=1)
    rules = tmp_path / f"rules-{n_workers}.yaml"
    rules.write_text(rules_text(reward="click"))
    settings = settings_for(tmp_path, bootstrap, topic, labels_topic=labels_topic,
                            rules_file=rules, redis_url=redis_url)
    group = settings.personalization.consumer_group
    prefix = f"run{n_workers}:"
    store = RedisStore(redis_url, prefix)
    learner = RunningLearner(settings, RedisStore(redis_url, prefix), bootstrap)
    doomed = CrashingRedisStore(redis_url, prefix)
    workers = []
    for i in range(n_workers):
        workers.append(RunningWorker(settings, doomed if crash_one and i == 0 else RedisStore(
            redis_url, prefix), bootstrap))
        if crash_one and i == 0:
            doomed.worker = workers[0].worker

    def stored() -> int:
        return sum(store.load_checkpoint(group).offsets.values())

    def learned_to() -> int | None:
        snapshot = store.load_model(group)
        return snapshot.offsets.get(f"{labels_topic}:0") if snapshot else None

    def loaded() -> bool:
        version = store.model_version(group)
        return all(w.worker.model_version == version for w in workers if w.thread.is_alive())

    def settle(total: int) -> None:
        """Wait until ``total`` events are checkpointed, learned and the model loaded."""
        wait_for(lambda: stored() == total, "the instalment checkpointed", timeout=300)
        labels_end = end_offset(bootstrap, labels_topic)
        wait_for(lambda: learned_to() == labels_end, "the learner caught up", timeout=300)
        wait_for(loaded, "every worker on the newest model", timeout=120)

    produced = 0
    size = -(-len(stream) // CHUNKS)
    try:
        for start in range(0, len(stream), size):
            chunk = stream[start:start + size]
            produce(bootstrap, topic, chunk)
            produced += len(chunk)
            settle(produced)
        produce(bootstrap, topic, closing_events(stream), partitions=[0, 1, 2])
        settle(produced + 3)  # every session closed, every label learned
        if crash_one:
            assert not workers[0].thread.is_alive()
            assert isinstance(workers[0].error, RuntimeError)  # it died mid-stream
    finally:
        for running in workers:
            if running.thread.is_alive():
                running.stop()
        learner.stop()
    snapshot = store.load_model(group)
    assert snapshot is not None
    return {"summary": snapshot.summary, "bandit": from_state(store.bandit_state())}


def test_three_workers_learn_one_model_from_all_traffic_and_a_crash_loses_nothing(
        kafka_broker: str, redis_url: str, tmp_path: Path) -> None:
    stream = with_decisions(generate(240, seed=5, days=0.25), seed=5)
    shown = sum(e["event_type"] == "personalization_shown" for e in stream)

    one = run_group(tmp_path, kafka_broker, redis_url, 1, stream, crash_one=False)
    three = run_group(tmp_path, kafka_broker, redis_url, 3, stream, crash_one=True)

    a, b = one["summary"], three["summary"]
    # every session's labels learned exactly once, though a worker died after publishing
    # labels it never checkpointed (they were published again, and skipped as replays)
    assert a["labels"] > 1000
    assert (b["labels"], b["positives"]) == (a["labels"], a["positives"])
    assert a["learner"]["replayed"] == 0 and b["learner"]["replayed"] > 0
    # one model learned from all the traffic ranks as well as the single worker's (the
    # predictions differ only by which model version made them): within noise, i.e. about
    # three standard errors of an AUC near 0.72 on ~400 positives and ~2400 negatives (0.015)
    assert a["roc_auc"] > 0.6, a
    assert abs(a["roc_auc"] - b["roc_auc"]) < 0.05, (a, b)
    # every decision shown got exactly one outcome, the dead worker's pending ones included
    for summary in (a, b):
        assert summary["bandit"]["rewarded"] + summary["bandit"]["unrewarded"] == shown
    # so the bandit statistics are the same sums, and its choices (regret) the same
    hero_a, hero_b = one["bandit"]["hero"], three["bandit"]["hero"]
    assert hero_a.pulls == hero_b.pulls and hero_a.rewards == hero_b.rewards
    best = max(VARIANTS, key=VARIANTS.__getitem__)
    for hero in (hero_a, hero_b):
        rates = {v: hero.rewards[v] / hero.pulls[v] for v in VARIANTS}
        assert max(rates, key=rates.__getitem__) == best
