"""The suppression list in the batch jobs: after the next run no row of a forgotten person is
left in the lake's events or sessions (read back from Parquet), and nobody else's is lost."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.sql import functions as F

from stream_jobs.erasure import job as apply_erasure
from stream_jobs.erasure.suppression import drop_listed, forget_key_column, suppression_frame
from stream_jobs.lake import LakePaths, write_events
from stream_jobs.sessions.job import run as run_sessionize
from tests.stream_jobs.builders import d, eid, event, lake_frame
from tracker.erasure import AuditLog, Suppression, SuppressionList, forget_key

pytestmark = pytest.mark.spark


def test_forget_key_column_is_the_python_key(spark):
    ids = ["v-1", "ünïcode user", "a" * 128]
    frame = spark.createDataFrame([(i,) for i in ids], "id string")
    got = {r.id: r.key for r in frame.select("id", forget_key_column(F.col("id")).alias("key"))
           .collect()}
    assert got == {i: forget_key(i) for i in ids}


def test_drop_listed_matches_ids_by_kind(spark):
    frame = spark.createDataFrame(
        [("a", None), ("b", "u1"), ("u1", None), (None, "u2"), ("c", "a")],
        "visitor_id string, user_id string")
    listed = suppression_frame(spark, [Suppression(forget_key("a"), "visitor", "t"),
                                       Suppression(forget_key("u1"), "user", "t")])
    kept = drop_listed(frame, listed).collect()
    # a visitor key never matches a user id, nor a user key a visitor id
    assert sorted((r.visitor_id or "", r.user_id or "") for r in kept) == \
        [("", "u2"), ("c", "a"), ("u1", "")]


def lake_rows() -> list[dict]:
    """``gone-v`` is forgotten as a visitor, ``gone-u`` as a user (on a shared tablet, on a
    second device and on a site backend's event); ``stay-u`` shares the tablet, ``keep`` not."""
    return [
        event(1, "gone-v", "2024-03-09 10:00:00"),
        event(2, "gone-v", "2024-03-10 10:00:00", ingest="log-abc"),
        event(3, "gone-v", "2024-03-14 10:00:00"),  # far outside the day re-sessionized
        event(10, "tablet", "2024-03-10 08:00:00"),  # anonymous: back-filled to gone-u
        event(11, "tablet", "2024-03-10 09:00:00", "identify", user_id="gone-u"),
        event(12, "tablet", "2024-03-10 09:01:00", user_id="gone-u"),
        event(13, "tablet", "2024-03-10 11:00:00"),  # anonymous: stay-u's (next identify)
        event(14, "tablet", "2024-03-10 13:00:00", "identify", user_id="stay-u"),
        event(15, "phone", "2024-03-12 09:00:00", "purchase", revenue=9.0, user_id="gone-u"),
        event(16, None, "2024-03-10 09:30:00", "purchase", revenue=9.0, user_id="gone-u",
              source="server"),
        event(20, "keep", "2024-03-10 10:00:00"),
        event(21, "keep", "2024-03-14 10:00:00"),
        event(22, "keep", "2024-03-10 10:00:00", ingest="log-abc"),
    ]


KEPT = {eid(n) for n in (13, 14, 20, 21, 22)}


def test_next_batch_run_leaves_no_row_of_the_forgotten(spark, spark_settings, tmp_path):
    settings = dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                                   lake_dir=tmp_path / "lake")
    lake = LakePaths(settings.lake)
    write_events(lake_frame(spark, lake_rows()), lake)
    run_sessionize(spark, settings, d("2024-03-09"), d("2024-03-14"))  # before the request

    suppressions = SuppressionList(settings.state_dir)
    suppressions.add("visitor", "gone-v")
    suppressions.add("user", "gone-u")
    AuditLog(settings.state_dir).record("forget", "user", {"profiles": 1})
    audit = AuditLog(settings.state_dir).path.read_bytes()

    summary = run_sessionize(spark, settings, d("2024-03-10"), d("2024-03-10"))

    assert summary["erasure"]["scope"] == "lake"  # a new request: the whole lake, once
    assert summary["erasure"]["events"]["rows_removed"] == 8
    events = spark.read.parquet(str(lake.events))
    assert {r.event_id for r in events.collect()} == KEPT
    assert events.where("visitor_id in ('gone-v', 'phone') or user_id = 'gone-u'").count() == 0
    sessions = spark.read.parquet(str(lake.sessions))
    assert sorted((r.visitor_id, r.user_id, str(r.session_date)) for r in sessions.collect()) \
        == [("keep", None, "2024-03-10"), ("keep", None, "2024-03-14"),
            ("tablet", "stay-u", "2024-03-10"), ("tablet", "stay-u", "2024-03-10")]
    assert not list(lake.staging.glob("erasure-*"))
    assert AuditLog(settings.state_dir).path.read_bytes() == audit  # Spark never writes it

    again = run_sessionize(spark, settings, d("2024-03-10"), d("2024-03-10"))
    assert again["erasure"]["scope"] == "2024-03-09..2024-03-11"  # already applied everywhere
    assert again["erasure"]["events"] == {"rows_removed": 0, "files_rewritten": 0}
    assert {r.event_id for r in spark.read.parquet(str(lake.events)).collect()} == KEPT


def test_files_without_the_person_are_left_alone(spark, spark_settings, tmp_path):
    settings = dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                                   lake_dir=tmp_path / "lake")
    lake = LakePaths(settings.lake)
    write_events(lake_frame(spark, lake_rows()), lake)
    before = {p: p.stat().st_mtime_ns for p in lake.events.rglob("*.parquet")}
    holding = {apply_erasure.local_path(r.f) for r in spark.read.parquet(str(lake.events))
               .where("visitor_id = 'gone-v'").select(F.input_file_name().alias("f")).collect()}
    SuppressionList(settings.state_dir).add("visitor", "gone-v")

    summary = apply_erasure.run(spark, settings)

    assert summary["events"] == {"rows_removed": 3, "files_rewritten": len(holding)}
    assert holding and not any(p.exists() for p in holding)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in before.items()
               if p not in holding)  # every other file is the same file, unchanged
    assert {r.event_id for r in spark.read.parquet(str(lake.events)).collect()} == \
        {eid(n) for n in range(10, 23) if n not in (1, 2, 3)} & {e["event_id"] for e in
                                                                 lake_rows()}
    assert spark.read.parquet(str(lake.events)).where("visitor_id = 'gone-v'").count() == 0


def test_log_parsing_does_not_write_the_forgotten(spark, spark_settings, tmp_path):
    from stream_jobs.logs.input_files import Site, prepare_files
    from stream_jobs.logs.job import run as run_parse

    settings = dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                                   lake_dir=tmp_path / "lake")
    log = tmp_path / "access.log"
    log.write_text(
        '10.1.2.3 - - [10/Oct/2023:13:55:36 +0000] "GET /about HTTP/1.0" 200 2326\n'
        '10.9.9.9 - - [10/Oct/2023:13:56:36 +0000] "GET /contact HTTP/1.0" 200 2326\n')
    run_parse(spark, settings, prepare_files([log], "auto"), site=Site())
    events = spark.read.parquet(str(LakePaths(settings.lake).events))
    by_url = {r.url: r.visitor_id for r in events.collect()}
    SuppressionList(settings.state_dir).add("visitor", by_url["http://localhost/about"])

    summary = run_parse(spark, settings, prepare_files([log], "auto"), site=Site())

    assert summary["events_written"] == 1
    events = spark.read.parquet(str(LakePaths(settings.lake).events))
    assert [r.url for r in events.collect()] == ["http://localhost/contact"]


def test_apply_erasure_arguments_are_checked_before_spark(capsys):
    assert apply_erasure.main(["--start", "2024-03-10"]) == 2
    assert "both --start and --end" in capsys.readouterr().err
    assert apply_erasure.main(["--start", "2024-03-10", "--end", "2024-03-09"]) == 2
    assert "before --start" in capsys.readouterr().err


def test_one_erasure_pass_at_a_time(tmp_path):
    import fcntl

    lock_file = tmp_path / "privacy" / "erasure.lock"
    with (apply_erasure.erasure_lock(tmp_path), open(lock_file, "a") as other,
          pytest.raises(BlockingIOError)):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a second pass would wait
    with open(lock_file, "a") as other:  # released afterwards
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_reports_leave_the_forgotten_out(spark, spark_settings, tmp_path):
    from stream_jobs.reports.job import report_inputs

    settings = dataclasses.replace(spark_settings, state_dir=tmp_path / "state",
                                   lake_dir=tmp_path / "lake")
    write_events(lake_frame(spark, lake_rows()), LakePaths(settings.lake))
    suppressions = SuppressionList(settings.state_dir)
    suppressions.add("visitor", "gone-v")
    suppressions.add("user", "gone-u")

    inputs = report_inputs(spark, settings, d("2024-03-10"), d("2024-03-10"))
    try:
        # the lake still holds them (no sessionize run yet): the report filters on its own
        assert sorted((r.visitor_id, r.user_id) for r in inputs.sessions.collect()) == [
            ("keep", None), ("tablet", "stay-u"), ("tablet", "stay-u")]
        assert {r.event_id for r in inputs.events.collect()} == {eid(n) for n in (13, 14, 20,
                                                                                  22)}
    finally:
        inputs.events.unpersist()
        inputs.sessions.unpersist()
