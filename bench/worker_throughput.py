"""Personalization worker throughput on one core: events/s read from Kafka, learned, scored and
checkpointed, side by side with a bare consumer that only reads and decodes the same records.

The benchmark process is pinned to one CPU (the broker is another process). Three runs over the
same topic, each with a fresh consumer group:

1. *bare consumer* (the reference): kafka-python poll + ``json.loads``, nothing else;
2. *worker*: the real :class:`personalization.worker.Worker` with the embedded SQLite store,
   timed until its checkpoint holds every offset (so checkpoint cost is included);
3. *engine only*: the same events through :class:`personalization.engine.Engine` in memory,
   to show where the time goes (no Kafka, no store).

Then the *shared learner* (several workers, one model): the labels the engine would publish
for this stream, learned by :class:`personalization.learner.SharedModel` record by record and
a poll at a time, in CPU time, and how much workers' traffic that one learner keeps up with.

    .venv/bin/python bench/worker_throughput.py                      # 4000 visitors
    .venv/bin/python bench/worker_throughput.py --visitors 8000 --model forest

Uses ``CLICKLOOP_KAFKA_BOOTSTRAP`` when set, else starts a dedicated embedded broker.

Each run prints events per second of wall time and of this process's CPU time: on a shared
machine (other jobs on the same cores) the wall figure varies with the neighbours' load, the
CPU figure much less, and the ratio to the bare consumer is read from both.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402

from embedded import kafka_broker, kafka_topics  # noqa: E402
from personalization.engine import Engine  # noqa: E402
from personalization.intent import MODELS, IntentModel  # noqa: E402
from personalization.learner import SharedModel, intent_record  # noqa: E402
from personalization.observation import read_record  # noqa: E402
from personalization.recommend import ItemGraph  # noqa: E402
from personalization.stores.embedded import EmbeddedStore  # noqa: E402
from personalization.worker import Worker  # noqa: E402
from simulation.intent_stream import generate  # noqa: E402
from tracker.settings import Settings  # noqa: E402


def produce(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=256 * 1024)
    try:
        for key, value in zip(keys, values, strict=True):
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=120)
    finally:
        producer.close()


def bare_consumer(bootstrap: str, topic: str, total: int) -> tuple[float, float]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap,
                             group_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             max_poll_records=500)
    try:
        seen = 0
        started = cpu = None
        while seen < total:
            batches = consumer.poll(timeout_ms=500)
            for records in batches.values():
                if started is None:
                    started, cpu = time.perf_counter(), time.process_time()
                for record in records:
                    json.loads(record.value)
                    seen += 1
        assert started is not None and cpu is not None
        return total / (time.perf_counter() - started), total / (time.process_time() - cpu)
    finally:
        consumer.close()


def worker_run(settings: Settings, bootstrap: str, total: int
               ) -> tuple[tuple[float, float], dict]:
    store = EmbeddedStore(settings.state_dir / "personalization")
    worker = Worker(settings, store, bootstrap=bootstrap)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    group = settings.personalization.consumer_group
    thread.start()
    # the clock starts at the first event processed (group join is not throughput)
    while worker.engine.counters.events == 0:
        time.sleep(0.001)
    started, cpu = time.perf_counter(), time.process_time()
    probe = EmbeddedStore(settings.state_dir / "personalization")  # its own connection
    while sum(probe.load_checkpoint(group).offsets.values()) < total:
        time.sleep(0.05)
    elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
    probe.close()
    stop.set()
    thread.join(timeout=60)
    summary = store.model_summary(group) or {}
    store.close()
    return (total / elapsed, total / cpu_used), summary


def engine_only(values: list[bytes], kind: str) -> tuple[float, float]:
    engine = Engine(IntentModel(kind), ItemGraph())
    started, cpu = time.perf_counter(), time.process_time()
    for i, value in enumerate(values):
        obs = read_record(value)
        engine.process(obs)
        if i % 200 == 0:
            engine.advance(obs.ts)
    engine.publish(engine.event_time)
    return (len(values) / (time.perf_counter() - started),
            len(values) / (time.process_time() - cpu))


def shared_learner(values: list[bytes], kind: str) -> tuple[int, int, float, float]:
    """The shared learner (``CLICKLOOP_LABELS_TOPIC`` set) on this stream's labels: the
    engine publishes each closed session as a labels-topic record, then a fresh
    :class:`SharedModel` learns them record by record and 500 at a time (one poll). Returns
    (records, labels, CPU seconds one by one, CPU seconds a poll at once)."""
    records: list[bytes] = []
    engine = Engine(IntentModel(kind), ItemGraph(),
                    label_sink=lambda labels: records.append(intent_record(labels, 0.0)))
    for i, value in enumerate(values):
        obs = read_record(value)
        engine.process(obs)
        if i % 200 == 0:
            engine.advance(obs.ts)
    engine.advance(engine.event_time + 2 * engine.gap_s)
    in_turn, at_once = SharedModel(kind), SharedModel(kind)
    cpu = time.process_time()
    for record in records:
        in_turn.learn(record)
    one_by_one = time.process_time() - cpu
    cpu = time.process_time()
    for start in range(0, len(records), 500):
        at_once.learn_all(records[start:start + 500])
    polled = time.process_time() - cpu
    if at_once.model.learned != in_turn.model.learned:
        raise AssertionError("the two learners learned different label counts")
    return len(records), at_once.model.learned, one_by_one, polled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=4000)
    parser.add_argument("--model", choices=sorted(MODELS), default="logreg")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin this process to")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    events = generate(args.visitors, seed=7)
    values = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    keys = [e["visitor_id"].encode() for e in events]
    total = len(values)

    temp = Path(tempfile.mkdtemp(prefix="clickloop-bench-worker-"))
    base = Settings.from_env()
    broker_settings = dataclasses.replace(base, state_dir=temp / "kafka-state")
    started_broker = False
    try:
        bootstrap = base.kafka.bootstrap
        if not bootstrap:
            bootstrap = kafka_broker.start(broker_settings)
            started_broker = True
        topic = f"bench.worker.{uuid.uuid4().hex[:8]}"
        kafka_topics.ensure_topics(bootstrap, [topic], partitions=3, replication=1)
        produce(bootstrap, topic, values, keys)
        print(f"{total} events from {args.visitors} visitors in topic {topic}; model "
              f"{args.model}; this process pinned to CPU {args.cpu} of {os.cpu_count()}; "
              f"load average {os.getloadavg()[0]:.1f}\n", flush=True)

        bare = bare_consumer(bootstrap, topic, total)
        settings = dataclasses.replace(
            base, state_dir=temp / "worker-state",
            kafka=dataclasses.replace(base.kafka, bootstrap=bootstrap, topic=topic),
            personalization=dataclasses.replace(
                base.personalization, consumer_group=f"bench-{uuid.uuid4().hex[:6]}",
                intent_model=args.model, redis_url=None))
        worker, summary = worker_run(settings, bootstrap, total)
        memory = engine_only(values, args.model)

        print(f"{'run':<34} {'events/s':>10} {'vs bare':>8} {'events/CPU-s':>13} {'vs bare':>8}")
        for name, (wall, cpu) in (("bare consumer (read + json)", bare),
                                  ("worker (learn, score, checkpoint)", worker),
                                  ("engine only (no Kafka, no store)", memory)):
            print(f"{name:<34} {wall:>10.0f} {wall / bare[0]:>8.2f} {cpu:>13.0f} "
                  f"{cpu / bare[1]:>8.2f}")
        counters = summary.get("counters", {})
        print(f"\nworker: {counters.get('applied')} events applied, "
              f"{summary.get('labels')} labels learned, progressive ROC AUC "
              f"{summary.get('roc_auc')}")
        sessions, labels, one_by_one, polled = shared_learner(values, args.model)
        print(f"shared learner on the same stream's {sessions} labelled sessions ({labels} "
              f"labels), CPU: record by record {one_by_one:.2f} s, a poll (500) at once "
              f"{polled:.2f} s ({one_by_one / polled:.1f}x); it keeps up with "
              f"{total / polled:,.0f} events/s of workers' traffic")
    finally:
        if started_broker:
            kafka_broker.stop(broker_settings)
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
