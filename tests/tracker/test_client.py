"""The Python tracker client against the real collector (gunicorn) and the real broker."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta

import pytest

from embedded.ports import free_port
from tests.fixtures.collector import end_offsets, read_topic
from tracker.client import Tracker, TrackerQueueFull
from tracker.contract import ContractViolation
from tracker.settings import PROJECT_ROOT

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
ORDER = {"order_id": "O-1", "revenue": 99.8, "currency": "EUR"}


@pytest.fixture(scope="module")
def server(collector_factory):
    return collector_factory(workers=1)


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.kafka
def test_delivers_batches_from_many_threads(server):
    before = end_offsets(server.bootstrap, server.topic)
    tracker = Tracker(server.url, batch_size=7, flush_interval_s=0.2)
    ids: list[str] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        for i in range(15):
            event_id = tracker.track("purchase", visitor_id=f"v-{thread}", user_id=f"u-{thread}",
                                     order={**ORDER, "order_id": f"O-{thread}-{i}"},
                                     user_agent=IPHONE)
            with lock:
                ids.append(event_id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracker.flush(timeout=30) is True
    assert tracker.pending == 0
    assert tracker.close() == 0
    assert tracker.stats["accepted"] == 45 and tracker.stats["dropped"] == 0
    values = [json.loads(r.value) for r in read_topic(server.bootstrap, server.topic, 45,
                                                      since=before)]
    assert sorted(v["event_id"] for v in values) == sorted(ids)
    first = values[0]
    assert first["enrichment"]["source"] == "server"
    assert first["enrichment"]["ua"]["os"] == "iOS"
    assert "sent_ts" in first  # stamped at send time, for skew correction
    per_visitor = {}
    for v in values:  # each thread's events stay in the order they were tracked
        per_visitor.setdefault(v["visitor_id"], []).append(v["order"]["order_id"])
    assert per_visitor["v-1"] == [f"O-1-{i}" for i in range(15)]


@pytest.mark.kafka
def test_survives_a_collector_restart(server):
    before = end_offsets(server.bootstrap, server.topic)
    tracker = Tracker(server.url, batch_size=5, flush_interval_s=0.1, backoff_initial_s=0.2,
                      backoff_max_s=1.0)
    ids = [tracker.track("identify", user_id=f"u-{i}") for i in range(10)]
    assert tracker.flush(timeout=30)
    server.stop()
    ids += [tracker.track("identify", user_id=f"u-{i}") for i in range(10, 30)]
    assert tracker.flush(timeout=1) is False  # nobody is listening
    assert tracker.pending == 20
    server.start()
    assert tracker.flush(timeout=60) is True
    assert tracker.stats["retries"] > 0
    tracker.close()
    count = sum(end_offsets(server.bootstrap, server.topic).values()) - sum(before.values())
    stored = [json.loads(r.value)["event_id"]
              for r in read_topic(server.bootstrap, server.topic, count, since=before)]
    assert set(stored) == set(ids)  # all of them; a retried send may add a duplicate


@pytest.mark.kafka
def test_events_are_flushed_when_the_process_exits(server):
    before = end_offsets(server.bootstrap, server.topic)
    script = textwrap.dedent(f"""
        from tracker.client import Tracker
        tracker = Tracker({server.url!r}, flush_interval_s=3600)
        for i in range(5):
            tracker.track("custom", name="exit-flush", properties={{"i": i}})
        # no flush, no close: the interpreter's exit must send them
    """)
    subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, check=True, timeout=60)
    values = [json.loads(r.value) for r in read_topic(server.bootstrap, server.topic, 5,
                                                      since=before)]
    assert sorted(v["properties"]["i"] for v in values) == [0, 1, 2, 3, 4]


@pytest.mark.kafka
def test_events_the_collector_rejects_are_reported(server, caplog):
    tracker = Tracker(server.url)
    future = datetime.now(UTC) + timedelta(days=30)  # locally valid, outside the time window
    tracker.track("custom", name="from-the-future", at=future)
    with caplog.at_level(logging.ERROR, logger="tracker.client"):
        assert tracker.flush(timeout=30)
    tracker.close()
    assert tracker.stats["rejected"] == 1
    assert "client_ts" in caplog.text


@pytest.mark.kafka
def test_identify_sends_the_contracts_identify_event(server):
    before = end_offsets(server.bootstrap, server.topic)
    with Tracker(server.url) as tracker:
        event_id = tracker.identify("ann@example.com", visitor_id="v-ann", user_agent=IPHONE)
        assert tracker.flush(timeout=30)
    [record] = read_topic(server.bootstrap, server.topic, 1, since=before)
    value = json.loads(record.value)
    assert (value["event_id"], value["event_type"], value["visitor_id"], value["user_id"]) == \
        (event_id, "identify", "v-ann", "ann@example.com")
    assert record.key == b"v-ann"  # on the visitor's partition, in order with its events
    assert value["enrichment"]["ua"]["os"] == "iOS"


def test_identify_needs_a_user_id_and_a_valid_visitor():
    tracker = Tracker(closed_port_url())
    with pytest.raises(ValueError, match="user_id"):
        tracker.identify(" ", visitor_id="v-1")
    with pytest.raises(ContractViolation, match="visitor_id"):
        tracker.identify("u-1", visitor_id="not a cookie")
    assert tracker.pending == 0
    tracker.close(timeout=0)


def test_invalid_events_fail_where_they_are_made():
    tracker = Tracker(closed_port_url())
    with pytest.raises(ContractViolation, match="order"):
        tracker.track("purchase", visitor_id="v-1")
    with pytest.raises(ContractViolation, match="event_type"):
        tracker.track("teleport")
    assert tracker.pending == 0
    tracker.close(timeout=0)


def test_unreachable_collector_closes_with_the_count_logged(caplog):
    tracker = Tracker(closed_port_url(), backoff_initial_s=0.05, backoff_max_s=0.1)
    for i in range(3):
        tracker.track("identify", user_id=f"u-{i}")
    with caplog.at_level(logging.ERROR, logger="tracker.client"):
        assert tracker.close(timeout=0.5) == 3
    assert "3 events unsent" in caplog.text
    with pytest.raises(RuntimeError, match="closed"):
        tracker.track("identify", user_id="late")


def test_full_queue_raises_instead_of_growing():
    tracker = Tracker(closed_port_url(), max_queue=3, enqueue_timeout_s=0.05,
                      flush_interval_s=3600, batch_size=10)
    for i in range(3):
        tracker.track("identify", user_id=f"u-{i}")
    with pytest.raises(TrackerQueueFull):
        tracker.track("identify", user_id="u-3")
    assert tracker.close(timeout=0.2) == 3
