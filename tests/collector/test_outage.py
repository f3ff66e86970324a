"""Kill the broker in the middle of a load run, restart it: every acknowledged event arrives.

Uses its own broker (never the session's): it is SIGKILLed, like a crashed machine. While it is
down the collector answers 2xx from the fsync'd spool; a second collector with a 1 MiB spool
answers 503 once that is full. After the restart both spools drain into Kafka by themselves.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from embedded import kafka_broker, kafka_topics
from embedded.ports import port_free
from tests.fixtures.collector import (
    CollectorServer,
    collector_settings,
    end_offsets,
    read_topic,
    start_collector,
)
from tests.waiting import wait_until
from tracker.contract import new_event
from tracker.settings import Settings

pytestmark = pytest.mark.kafka



@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[tuple[Settings, str]]:
    settings = dataclasses.replace(Settings.from_env({}),
                                   state_dir=tmp_path_factory.mktemp("outage-broker"))
    bootstrap = kafka_broker.start(settings)
    try:
        yield settings, bootstrap
    finally:
        kafka_broker.stop(settings)


class Load:
    """Threads posting 20-event batches until stopped; remembers what was acknowledged."""

    def __init__(self, url: str, threads: int = 2, pause_s: float = 0.05):
        self.url = url
        self.acked: list[str] = []
        self.sent: list[str] = []
        self.statuses: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(pause_s,), daemon=True)
                         for _ in range(threads)]

    def _run(self, pause_s: float) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            events = [new_event("page_view", url="https://shop.example.com/", visitor_id=f"v-{i}")
                      for i in range(20)]
            try:
                response = session.post(self.url + "/v1/events", json={"events": events},
                                        timeout=30)
                status = response.status_code
            except requests.RequestException:
                status = 0
            with self._lock:
                self.sent += [e["event_id"] for e in events]
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 200:
                    self.acked += [e["event_id"] for e in events]
            time.sleep(pause_s)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        wait_until(lambda: len(self.acked) >= count, timeout=timeout, interval=0.1,
                   what=lambda: f"only {len(self.acked)} events acknowledged")


def metric(server: CollectorServer, name: str) -> float:
    text = requests.get(server.url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def wait_drained(server: CollectorServer, timeout: float = 180) -> None:
    last: dict[str, object] = {}

    def drained() -> bool:
        last.update(requests.get(server.url + "/readyz", timeout=10).json())
        return (last["spool_bytes"] == 0
                and metric(server, "clickloop_collector_kafka_up") >= 1)

    wait_until(drained, timeout=timeout, interval=0.5, what=lambda: f"spool not drained: {last}")


def read_all(bootstrap: str, topic: str) -> list[str]:
    """Event ids of every record in ``topic``."""
    count = sum(end_offsets(bootstrap, topic).values())
    return [json.loads(r.value)["event_id"] for r in read_topic(bootstrap, topic, count)]


def test_every_acknowledged_event_survives_a_broker_crash(broker, tmp_path):
    settings, bootstrap = broker
    port = int(bootstrap.rsplit(":", 1)[1])
    main = collector_settings(tmp_path / "main", bootstrap, produce_timeout_s=2.0)
    small = collector_settings(tmp_path / "small", bootstrap, produce_timeout_s=2.0,
                               spool_max_mb=1)
    for s in (main, small):
        kafka_topics.ensure_topics(bootstrap, [s.kafka.topic, s.kafka.dead_letter_topic],
                                     partitions=3, replication=1)
    servers = [start_collector(main, workers=2), start_collector(small, workers=1)]
    server, tiny = servers
    try:
        with Load(server.url) as load:
            load.wait_for(1000)
            os.kill(kafka_broker.status(settings).pid, signal.SIGKILL)
            at_kill = len(load.acked)
            load.wait_for(at_kill + 2000)  # acknowledged while the broker is dead: spooled

            # the small collector fills its 1 MiB spool, then refuses with 503
            tiny_acked: list[str] = []
            refused = None
            for _ in range(400):
                events = [new_event("page_view", url="https://shop.example.com/" + "x" * 500)
                          for _ in range(20)]
                response = requests.post(tiny.url + "/v1/events", json={"events": events},
                                         timeout=30)
                if response.status_code == 503:
                    refused = response
                    break
                assert response.status_code == 200, response.text
                tiny_acked += [e["event_id"] for e in events]
            assert refused is not None, "the 1 MiB spool never filled"
            assert refused.json()["error"]["field"] == "storage"
            assert refused.headers["Retry-After"]
            assert metric(tiny, "clickloop_collector_spool_full_total") >= 1
            assert metric(server, "clickloop_collector_events_spooled_total") > 0

            wait_until(lambda: port_free(port, reuse_address=True), timeout=90, interval=0.5,
                       what=f"port {port} stayed busy")
            # the broker comes back on its old port (TIME_WAIT does not push it elsewhere)
            assert kafka_broker.start(settings) == bootstrap
            at_restart = len(load.acked)
            load.wait_for(at_restart + 1000)  # and it keeps going once Kafka is back

        for collector in servers:
            wait_drained(collector)
        assert metric(server, "clickloop_collector_events_replayed_total") > 0

        # at least once: everything acknowledged is there; duplicates only from retried sends
        stored = read_all(bootstrap, main.kafka.topic)
        missing = set(load.acked) - set(stored)
        assert not missing, f"{len(missing)} of {len(load.acked)} acknowledged events lost"
        assert set(stored) <= set(load.sent)
        tiny_stored = read_all(bootstrap, small.kafka.topic)
        assert set(tiny_acked) <= set(tiny_stored)
        assert len(set(tiny_stored)) == len(tiny_acked)  # the refused batch was not stored
    finally:
        for collector in servers:
            collector.stop()
