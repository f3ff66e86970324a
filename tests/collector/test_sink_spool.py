"""The spool through the real collector (gunicorn, 2 workers): readiness at the cap, and
per-visitor order when several workers spool during a broker outage.

The order test uses its own broker (it is SIGKILLed, like a crashed machine); the readiness test
needs no broker at all (the bootstrap address answers nothing, as in a network partition).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from collector.metrics import INDEX
from embedded import kafka_broker, kafka_topics
from embedded.ports import free_port, port_free
from tests.fixtures.collector import collector_settings, read_topic, start_collector
from tests.waiting import wait_until
from tracker.contract import new_event
from tracker.settings import Settings

pytestmark = pytest.mark.kafka

SPOOLED = INDEX[("clickloop_collector_events_spooled_total", ())]


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[tuple[Settings, str]]:
    settings = dataclasses.replace(Settings.from_env({}),
                                   state_dir=tmp_path_factory.mktemp("order-broker"))
    bootstrap = kafka_broker.start(settings)
    try:
        yield settings, bootstrap
    finally:
        kafka_broker.stop(settings)


def spooled_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Records each worker process wrote to the spool (its own metrics file)."""
    counts = {}
    for path in metrics_dir.glob("*.metrics"):
        counts[path.stem] = struct.unpack_from("d", path.read_bytes(), SPOOLED * 8)[0]
    return counts


def post(url: str, events: list[dict]) -> requests.Response:
    # a new connection per request, so gunicorn hands requests to both workers
    return requests.post(url + "/v1/events", json={"events": events},
                         headers={"Connection": "close"}, timeout=30)


def test_readyz_is_not_ready_when_the_spool_has_no_room_for_a_batch(tmp_path):
    settings = collector_settings(tmp_path / "state", f"127.0.0.1:{free_port()}",
                                  produce_timeout_s=0.5, spool_max_mb=1)
    server = start_collector(settings, workers=2, threads=2)
    try:
        assert requests.get(server.url + "/readyz", timeout=10).json()["ready"] is True
        refused = None
        for sent in range(400):
            events = [new_event("page_view", url="https://shop.example.com/" + "x" * 500)
                      for _ in range(20)]
            response = post(server.url, events)
            if response.status_code == 503:
                refused = response
                break
            assert response.status_code == 200, response.text
            if sent < 10:  # a quarter full at most: ready
                assert requests.get(server.url + "/readyz", timeout=10).status_code == 200
        assert refused is not None, "the 1 MiB spool never filled"
        assert refused.json()["error"]["field"] == "storage"
        # whichever worker answers: not ready, because the next batch would be refused too
        for _ in range(10):
            answer = requests.get(server.url + "/readyz", headers={"Connection": "close"},
                                  timeout=10)
            assert answer.status_code == 503, answer.text
            body = answer.json()
            assert body["ready"] is False and body["spool_writable"] is False
            assert body["spool_bytes"] <= 1024 * 1024
    finally:
        server.stop()


def test_spool_drains_in_per_visitor_order_across_workers(broker, tmp_path):
    broker_settings, bootstrap = broker
    port = int(bootstrap.rsplit(":", 1)[1])
    settings = collector_settings(tmp_path / "state", bootstrap, produce_timeout_s=2.0)
    kafka_topics.ensure_topics(bootstrap, [settings.kafka.topic, settings.kafka.dead_letter_topic],
                               partitions=3, replication=1)
    metrics_dir = tmp_path / "metrics"
    server = start_collector(settings, workers=2, threads=4,
                             extra_env={"CLICKLOOP_FLASK_METRICS_DIR": str(metrics_dir)})
    visitors = [f"v-{n}" for n in range(8)]
    accepted: dict[str, list[str]] = {v: [] for v in visitors}  # in acknowledgement order

    def send_round(tag: str) -> None:
        # each visitor's batches are sent one after the other, each after the previous answer
        for visitor in visitors:
            events = [new_event("page_view", url=f"https://shop.example.com/{tag}/{i}",
                                visitor_id=visitor) for i in range(3)]
            response = post(server.url, events)
            assert response.status_code == 200, response.text
            accepted[visitor] += [e["event_id"] for e in events]

    try:
        for n in range(3):
            send_round(f"before-{n}")
        os.kill(kafka_broker.status(broker_settings).pid, signal.SIGKILL)
        for n in range(25):
            send_round(f"down-{n}")
        by_worker = spooled_by_worker(metrics_dir)
        assert len([c for c in by_worker.values() if c > 0]) == 2, by_worker

        wait_until(lambda: port_free(port, reuse_address=True), timeout=90, interval=0.5,
                   what=f"port {port} stayed busy")
        assert kafka_broker.start(broker_settings) == bootstrap
        for n in range(10):  # while the spool drains
            send_round(f"back-{n}")

        def drained() -> bool:
            ready = requests.get(server.url + "/readyz", timeout=10).json()
            return ready["spool_bytes"] == 0 and ready["kafka"] is True

        wait_until(drained, timeout=180, interval=0.5, what="the spool did not drain")
        for n in range(3):
            send_round(f"after-{n}")

        total = sum(len(ids) for ids in accepted.values())
        stored = read_all(bootstrap, settings.kafka.topic, total)
        for visitor in visitors:
            seen: list[str] = []
            for event_id in stored[visitor]:  # at least once: a retried send may repeat
                if event_id not in seen:
                    seen.append(event_id)
            assert seen == accepted[visitor], f"{visitor}: Kafka order differs from acceptance"
    finally:
        server.stop()


def read_all(bootstrap: str, topic: str, at_least: int) -> dict[str, list[str]]:
    """Event ids per visitor, in partition (= Kafka) order; waits for ``at_least`` records."""
    from tests.fixtures.collector import end_offsets

    wait_until(lambda: sum(end_offsets(bootstrap, topic).values()) >= at_least, timeout=60,
               what="records")
    count = sum(end_offsets(bootstrap, topic).values())
    by_visitor: dict[str, list[str]] = {}
    for record in sorted(read_topic(bootstrap, topic, count),
                         key=lambda r: (r.partition, r.offset)):
        value = json.loads(record.value)
        by_visitor.setdefault(value["visitor_id"], []).append(value["event_id"])
    return by_visitor
