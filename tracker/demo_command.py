"""``clickloop demo``: the README's main command.

Foundation stage: start (or reuse) the embedded Kafka broker, send contract events through it,
read them back and print a summary. Later stages add the collector, personalization, Spark and
the demo shop around the same loop.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from typing import Any

from tracker import kafka_embedded
from tracker.contract import new_event, validate_event
from tracker.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=500, help="events to send (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the traffic")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


def sample_events(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` contract events of a few visitors browsing a shop (deterministic by seed)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    while len(events) < count:
        visitor = f"v-{rng.randrange(10**8):08d}"
        session = f"s-{rng.randrange(10**8):08d}"
        sku = f"SKU-{rng.randrange(20):03d}"
        page = f"https://shop.example.com/p/{sku}"
        steps = [
            new_event("page_view", visitor_id=visitor, session_id=session, url=page),
            new_event("product_view", visitor_id=visitor, session_id=session, url=page,
                      product={"sku": sku, "price": 10.0 + rng.randrange(90), "currency": "EUR"}),
        ]
        if rng.random() < 0.3:
            steps.append(new_event("add_to_cart", visitor_id=visitor, session_id=session,
                                   url=page, product={"sku": sku, "quantity": 1}))
        events.extend(steps)
    return events[:count]


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    try:
        bootstrap = kafka_embedded.ensure_kafka(settings)
    except kafka_embedded.KafkaError as exc:
        print(f"clickloop demo: {exc}", file=sys.stderr)
        return 2
    topic = settings.kafka.topic
    kafka_embedded.ensure_topics(bootstrap, [topic], settings.kafka.partitions,
                                 settings.kafka.replication)
    print(f"Kafka at {bootstrap} (topic {topic})")
    events = sample_events(args.events, args.seed)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    start = consumer.end_offsets(partitions)
    started = time.perf_counter()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             key_serializer=str.encode,
                             value_serializer=lambda e: json.dumps(e).encode())
    for event in events:
        producer.send(topic, key=event["visitor_id"], value=event)
    producer.flush()
    producer.close()
    sent_s = time.perf_counter() - started
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, start[tp])
    end = consumer.end_offsets(partitions)
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while any(consumer.position(tp) < end[tp] for tp in partitions) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            received.extend(json.loads(r.value) for r in records)
    consumer.close()
    sent_ids = {e["event_id"] for e in events}
    got_ids = {e["event_id"] for e in received}
    invalid = sum(1 for e in received if validate_event(e))
    print(f"sent {len(events)} events in {sent_s:.2f}s; read back {len(received)} "
          f"({len(sent_ids & got_ids)} matching, {invalid} invalid)")
    for event_type, n in sorted(Counter(e["event_type"] for e in received).items()):
        print(f"  {event_type:14} {n}")
    print(f"visitors: {len({e['visitor_id'] for e in received})}")
    return 0 if got_ids == sent_ids and not invalid else 1
