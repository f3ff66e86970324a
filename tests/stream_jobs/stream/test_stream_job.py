"""Streaming job end to end against the real broker: lake, rejects, live sessions, late events,
and a killed-and-restarted job that neither loses nor duplicates events."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stream_jobs.lake import LakePaths, read_sessions
from stream_jobs.sessions.job import run as run_sessionize
from stream_jobs.stream.job import BatchCounts, StreamOptions, start_queries, summary
from tests.stream_jobs.builders import d, eid

pytestmark = [pytest.mark.spark, pytest.mark.kafka]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _needs_kafka_jars(has_kafka_jars):
    if not has_kafka_jars:
        pytest.skip("Spark's Kafka connector jars are missing: run `clickloop kafka start` once")


def record(n: int, visitor: str, when: str, event_type: str = "page_view", **extra) -> dict:
    """A contract event as the collector produces it (enrichment written)."""
    ts = when.replace(" ", "T") + ".000Z"
    event = {"schema_version": 1, "event_id": eid(n), "event_type": event_type,
             "client_ts": ts, "visitor_id": visitor,
             "enrichment": {"collector_ts": ts, "derived_ts": ts, "source": "js",
                            "ua": {"device": "desktop", "is_bot": False}}}
    if event_type == "page_view":
        event["url"] = f"https://shop.example/p{n}"
    event.update(extra)
    return event


def produce(bootstrap: str, topic: str, records: list) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for item in records:
            value = item if isinstance(item, bytes) else json.dumps(item).encode()
            key = item.get("visitor_id", "").encode() if isinstance(item, dict) else None
            producer.send(topic, value, key=key)
        producer.flush()
    finally:
        producer.close()


def lake_ids(spark, lake: LakePaths) -> list[str]:
    return sorted(r.event_id for r in spark.read.parquet(str(lake.events))
                  .select("event_id").collect())


def with_end_text(sessions):
    """``end``: session_end as UTC text (collected datetimes would be in local time)."""
    return sessions.withColumn("end", sessions.session_end.cast("string"))


def run_once(spark, options: StreamOptions) -> dict:
    counts = BatchCounts()
    queries = start_queries(spark, options, counts)
    for query in queries:
        query.awaitTermination()
        assert query.exception() is None
    return summary(queries, counts)


def test_lake_rejects_live_sessions_and_late_events(spark, spark_settings, kafka_broker,
                                                    kafka_topic, tmp_path):
    lake = LakePaths(tmp_path / "lake")
    options = StreamOptions(bootstrap=kafka_broker, topic=kafka_topic, lake=lake.root,
                            checkpoints=tmp_path / "checkpoints", available_now=True,
                            late_minutes=30)
    produce(kafka_broker, kafka_topic, [
        record(1, "a", "2024-03-09 10:00:00"),
        record(2, "a", "2024-03-09 10:10:00"),
        record(2, "a", "2024-03-09 10:10:00"),  # the client retried: same event_id
        record(3, "a", "2024-03-09 10:20:00", "add_to_cart", product={"sku": "s"}),
        record(4, "b", "2024-03-09 12:00:00"),
        b"not json at all",
        {"event_id": eid(90), "event_type": "page_view"},
        record(91, "c", "2024-03-09 12:00:00", url=None),  # page_view without url
    ])
    result = run_once(spark, options)
    assert (result["records_read"], result["events_written"], result["rejects"]) == (8, 4, 3)
    assert lake_ids(spark, lake) == [eid(1), eid(2), eid(3), eid(4)]
    rejects = sorted((r.reason, r.text_head) for r in
                     spark.read.json(str(lake.stream_rejects)).collect())
    assert rejects == [
        ("not a JSON object", "not json at all"),
        ("schema_version: missing or not 1",
         json.dumps({"event_id": eid(90), "event_type": "page_view"})),
        ("url: is required for event_type page_view", json.dumps(
            record(91, "c", "2024-03-09 12:00:00", url=None))),
    ]
    # the watermark (12:00 - 30 min) closed a's session only
    live = read_sessions(spark, lake.sessions_live, d("2024-03-01"), d("2024-03-31"))
    assert [(r.visitor_id, r.events, r.page_views, r.cart_adds, r.end)
            for r in with_end_text(live).collect()] == [("a", 3, 2, 1, "2024-03-09 10:20:00")]

    # a late event for a's closed session, and later traffic that closes b's
    produce(kafka_broker, kafka_topic, [
        record(5, "a", "2024-03-09 10:25:00"),
        record(6, "c", "2024-03-09 14:00:00"),
    ])
    result = run_once(spark, options)
    assert (result["records_read"], result["events_written"]) == (2, 2)
    assert lake_ids(spark, lake) == [eid(n) for n in range(1, 7)]  # the lake keeps it
    live = read_sessions(spark, lake.sessions_live, d("2024-03-01"), d("2024-03-31"))
    live_rows = sorted((r.visitor_id, r.events, r.end, r.session_id)
                       for r in with_end_text(live).collect())
    assert [row[:3] for row in live_rows] == [  # streaming dropped the late event
        ("a", 3, "2024-03-09 10:20:00"), ("b", 1, "2024-03-09 12:00:00")]

    # the batch re-run from the lake puts it back into a's session
    settings = dataclasses.replace(spark_settings, lake_dir=lake.root)
    run_sessionize(spark, settings, d("2024-03-09"), d("2024-03-09"))
    batch = sorted((r.visitor_id, r.events, r.end, r.session_id) for r in with_end_text(
        read_sessions(spark, lake.sessions, d("2024-03-09"), d("2024-03-09"))).collect())
    assert [row[:3] for row in batch] == [
        ("a", 4, "2024-03-09 10:25:00"), ("b", 1, "2024-03-09 12:00:00"),
        ("c", 1, "2024-03-09 14:00:00")]
    # same rules, same ids: the live and the authoritative session of a and b match
    assert [row[3] for row in batch[:2]] == [row[3] for row in live_rows]


def _lake_count(events: Path) -> int:
    import pyarrow.dataset as ds

    if not events.exists():
        return 0
    try:
        return ds.dataset(str(events), format="parquet", partitioning="hive").count_rows()
    except (OSError, ValueError):  # a file moving in right now: ask again
        return -1


def _wait(predicate, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the job exited ({process.returncode}) before {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_and_restarted_job_neither_loses_nor_duplicates(spark, kafka_broker,
                                                               kafka_topic, tmp_path):
    env = {**os.environ,
           "CLICKLOOP_KAFKA_BOOTSTRAP": kafka_broker, "CLICKLOOP_KAFKA_TOPIC": kafka_topic,
           "CLICKLOOP_STATE_DIR": str(tmp_path / "state"),
           "CLICKLOOP_LAKE_DIR": str(tmp_path / "lake"),
           "CLICKLOOP_SPARK_MASTER": "local[2]", "CLICKLOOP_SPARK_DRIVER_MEMORY": "768m",
           "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": "2", "PYTHONPATH": str(ROOT)}
    job = [sys.executable, "-m", "stream_jobs.stream.job", "--max-offsets-per-trigger", "30",
           "--no-live-sessions"]
    events = tmp_path / "lake" / "events"
    first = [record(n, f"v{n % 7}", f"2024-03-09 10:{n % 60:02d}:00") for n in range(100)]
    second = [record(n, f"v{n % 7}", f"2024-03-09 11:{n % 60:02d}:00") for n in range(100, 200)]
    produce(kafka_broker, kafka_topic, first)
    log = (tmp_path / "job1.log").open("w")
    process = subprocess.Popen([*job, "--trigger-seconds", "1"], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: _lake_count(events) == 100, 300, "the first 100 events", process)
        produce(kafka_broker, kafka_topic, second)
        # kill as soon as the next micro-batches start landing: likely mid-batch
        _wait(lambda: _lake_count(events) > 100, 120, "some of the next events", process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # no shutdown hook runs: a real crash
        process.wait(30)
        log.close()

    restart = subprocess.run([*job, "--available-now"], env=env, cwd=ROOT, timeout=400,
                             capture_output=True, text=True)
    assert restart.returncode == 0, restart.stdout[-3000:] + restart.stderr[-3000:]
    last = json.loads(restart.stdout.strip().splitlines()[-1])
    assert last["job"] == "stream_events" and last["rejects"] == 0
    ids = spark.read.parquet(str(events)).select("event_id").collect()
    assert len(ids) == 200
    assert sorted(r.event_id for r in ids) == sorted(eid(n) for n in range(200))
