"""Batch sessionization on hand-made events, every expected session written out by hand."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from stream_jobs.sessions.job import run as run_sessionize
from stream_jobs.sessions.rules import sessionize
from tests.stream_jobs.builders import at, d, event, lake_frame

pytestmark = pytest.mark.spark

COLUMNS = ["visitor_id", "session_start", "session_end", "duration_s", "events", "page_views",
           "landing_page", "exit_page", "utm_campaign", "cart_adds", "orders", "converted",
           "revenue", "bounce", "session_date"]
EXPECTED_SCHEMA = T.StructType([
    T.StructField("visitor_id", T.StringType()),
    T.StructField("session_start", T.TimestampType()),
    T.StructField("session_end", T.TimestampType()),
    T.StructField("duration_s", T.DoubleType()),
    T.StructField("events", T.LongType()),
    T.StructField("page_views", T.LongType()),
    T.StructField("landing_page", T.StringType()),
    T.StructField("exit_page", T.StringType()),
    T.StructField("utm_campaign", T.StringType()),
    T.StructField("cart_adds", T.LongType()),
    T.StructField("orders", T.LongType()),
    T.StructField("converted", T.BooleanType()),
    T.StructField("revenue", T.DoubleType()),
    T.StructField("bounce", T.BooleanType()),
    T.StructField("session_date", T.DateType()),
])

SPRING = ("news", "email", "spring")
SUMMER = ("ads", "cpc", "summer")


def rows() -> list[dict]:
    """Five visitors, one rule each (see the expectations below)."""
    return [
        # a: a gap of exactly 30:00 continues the session
        event(1, "a", "2024-03-09 10:00:00"),
        event(2, "a", "2024-03-09 10:30:00"),
        # b: 30:01 starts a new one
        event(3, "b", "2024-03-09 10:00:00"),
        event(4, "b", "2024-03-09 10:30:01"),
        # c: a campaign arriving mid-visit starts a session; the same campaign again does not;
        #    events without UTM never do; a different campaign does
        event(5, "c", "2024-03-09 09:00:00"),
        event(6, "c", "2024-03-09 09:05:00", utm=SPRING),
        event(7, "c", "2024-03-09 09:06:00", "add_to_cart", sku="sku-1"),
        event(8, "c", "2024-03-09 09:07:00", utm=SPRING),
        event(9, "c", "2024-03-09 09:08:00", utm=SUMMER),
        event(10, "c", "2024-03-09 09:09:00", "purchase", revenue=40.0),
        # d: midnight does not end a session; it belongs to the day it started
        event(11, "d", "2024-03-09 23:50:00"),
        event(12, "d", "2024-03-10 00:10:00"),
        # e: duplicates (the copy the collector saw first wins) and arrival out of order
        event(15, "e", "2024-03-09 10:20:00"),
        event(13, "e", "2024-03-09 10:00:02", collector_delay_s=60),  # late resend, skewed
        event(14, "e", "2024-03-09 10:10:00"),
        event(14, "e", "2024-03-09 10:10:00", collector_delay_s=5),
        event(13, "e", "2024-03-09 10:00:00"),
        # no visitor: cannot be sessionized
        event(16, None, "2024-03-09 10:00:00"),
    ]


def expected(spark, data: list[tuple]):
    return spark.createDataFrame(
        [(v, at(s), at(e), dur, n, pv, land, exit_, camp, cart, orders, conv, rev, bounce, d(day))
         for v, s, e, dur, n, pv, land, exit_, camp, cart, orders, conv, rev, bounce, day in data],
        EXPECTED_SCHEMA,
    )


EXPECTED = [
    ("a", "2024-03-09 10:00:00", "2024-03-09 10:30:00", 1800.0, 2, 2, "/p1", "/p2", None,
     0, 0, False, 0.0, False, "2024-03-09"),
    ("b", "2024-03-09 10:00:00", "2024-03-09 10:00:00", 0.0, 1, 1, "/p3", "/p3", None,
     0, 0, False, 0.0, True, "2024-03-09"),
    ("b", "2024-03-09 10:30:01", "2024-03-09 10:30:01", 0.0, 1, 1, "/p4", "/p4", None,
     0, 0, False, 0.0, True, "2024-03-09"),
    ("c", "2024-03-09 09:00:00", "2024-03-09 09:00:00", 0.0, 1, 1, "/p5", "/p5", None,
     0, 0, False, 0.0, True, "2024-03-09"),
    ("c", "2024-03-09 09:05:00", "2024-03-09 09:07:00", 120.0, 3, 2, "/p6", "/p8", "spring",
     1, 0, False, 0.0, False, "2024-03-09"),
    ("c", "2024-03-09 09:08:00", "2024-03-09 09:09:00", 60.0, 2, 1, "/p9", "/p9", "summer",
     0, 1, True, 40.0, True, "2024-03-09"),
    ("d", "2024-03-09 23:50:00", "2024-03-10 00:10:00", 1200.0, 2, 2, "/p11", "/p12", None,
     0, 0, False, 0.0, False, "2024-03-09"),
    ("e", "2024-03-09 10:00:00", "2024-03-09 10:20:00", 1200.0, 3, 3, "/p13", "/p15", None,
     0, 0, False, 0.0, False, "2024-03-09"),
]


def test_session_rules(spark):
    sessions = sessionize(lake_frame(spark, rows()), gap_minutes=30)
    assertDataFrameEqual(sessions.select(*COLUMNS), expected(spark, EXPECTED))


def test_input_order_does_not_matter(spark):
    shuffled = rows()
    random.Random(7).shuffle(shuffled)
    sessions = sessionize(lake_frame(spark, shuffled).repartition(3), gap_minutes=30)
    assertDataFrameEqual(sessions.select(*COLUMNS), expected(spark, EXPECTED))


def test_gap_is_configurable(spark):
    sessions = sessionize(lake_frame(spark, rows()[:4]), gap_minutes=45)
    assertDataFrameEqual(sessions.select(*COLUMNS), expected(spark, [
        ("a", "2024-03-09 10:00:00", "2024-03-09 10:30:00", 1800.0, 2, 2, "/p1", "/p2", None,
         0, 0, False, 0.0, False, "2024-03-09"),
        ("b", "2024-03-09 10:00:00", "2024-03-09 10:30:01", 1801.0, 2, 2, "/p3", "/p4", None,
         0, 0, False, 0.0, False, "2024-03-09"),
    ]))


def test_a_campaign_seen_before_a_gap_starts_a_session_again_after_it(spark):
    """The campaign that counts is the last one seen in the current inactivity segment: the
    same campaign arriving mid-visit after a gap is a new arrival, and repeats of it are not."""
    frame = lake_frame(spark, [
        event(1, "f", "2024-03-09 09:00:00", utm=SPRING),
        event(2, "f", "2024-03-09 10:00:00"),  # more than 30 min later: a new session
        event(3, "f", "2024-03-09 10:05:00", utm=SPRING),  # arrives again: another one
        event(4, "f", "2024-03-09 10:06:00", utm=SPRING),
        event(5, "f", "2024-03-09 10:07:00", utm=SUMMER),
        event(6, "f", "2024-03-09 10:08:00"),
    ])
    got = sorted((str(r.session_start), r.events, r.utm_campaign)
                 for r in sessionize(frame, gap_minutes=30).collect())
    assert got == [("2024-03-09 09:00:00", 1, "spring"), ("2024-03-09 10:00:00", 1, None),
                   ("2024-03-09 10:05:00", 2, "spring"), ("2024-03-09 10:07:00", 2, "summer")]


def test_session_assignment_adds_its_two_columns_and_keeps_the_rest_as_they_were(spark):
    """The columns the rules do not read travel packed through the window steps: unpacked, they
    come back in their order, with their types and values."""
    from stream_jobs.sessions.rules import assign_sessions, event_rows

    rows_in = event_rows(lake_frame(spark, rows()))
    assigned = assign_sessions(rows_in, 30)
    assert assigned.columns == [*rows_in.columns, "session_start", "session_id"]
    assert assigned.schema.fields[:len(rows_in.columns)] == rows_in.schema.fields
    assertDataFrameEqual(assigned.drop("session_start", "session_id"), rows_in)


def test_sessions_from_the_pruned_rows_equal_those_from_every_column(spark):
    """``sessionize`` carries only the columns the session aggregates read through the window
    steps; its sessions are those of the full event rows (which the reports job keeps), and
    every session id is that of its events."""
    from stream_jobs.sessions.rules import SESSION_INPUTS, sessionize, sessions_and_events

    frame = lake_frame(spark, rows())
    assigned, full = sessions_and_events(frame, 30)
    pruned = sessionize(frame, 30)
    assertDataFrameEqual(pruned, full)
    assert pruned.count() == assigned.select("session_id").distinct().count() > 1
    assert assigned.join(pruned, "session_id", "left_anti").count() == 0
    narrow, _ = sessions_and_events(frame, 30, columns=SESSION_INPUTS)
    # the aggregates read the URL and parse only the landing and exit ones: no per-event page
    assert "page" in assigned.columns and "page" not in narrow.columns
    assert "url" in narrow.columns


def test_page_is_the_url_path(spark):
    from stream_jobs.sessions.rules import page_path

    cases = [("https://a.b", "/"), ("https://a.b?x=1#f", "/"), ("https://a.b/p/q?x=1#f", "/p/q"),
             ("HTTPS://A.B:8080/P;v=1", "/P;v=1"), ("https://a.b/%7Bx%7D", "/%7Bx%7D"),
             ("https://a.b/é", "/é"), ("https://a.b/p q", None),
             ("https://a.b/x?q={${jndi}}", None), ("not a url", None), (None, None)]
    frame = spark.createDataFrame([(i, url) for i, (url, _) in enumerate(cases)],
                                  "i int, url string")
    got = [r.page for r in frame.orderBy("i").select(page_path(F.col("url")).alias("page"))
           .collect()]
    assert got == [page for _, page in cases]


def test_live_sessions_split_exactly_where_the_batch_does(spark):
    """Streaming's ``session_window`` draws the 30:00 / 30:01 boundary where the batch rule
    does, and gives the same session ids: live and authoritative sessions agree."""
    from stream_jobs.sessions.rules import event_rows
    from stream_jobs.stream.live_sessions import live_sessions

    frame = lake_frame(spark, rows()[:4])
    live = live_sessions(event_rows(frame), gap_minutes=30)
    assertDataFrameEqual(live.select(*COLUMNS), expected(spark, EXPECTED[:3]))
    batch_ids = {r.session_id for r in sessionize(frame, gap_minutes=30).collect()}
    assert {r.session_id for r in live.collect()} == batch_ids
    assert len(batch_ids) == 3


def test_session_carries_first_event_attributes_and_stable_id(spark):
    data = [
        event(1, "v", "2024-03-09 08:00:00", referrer_class="search",
              referrer_host="www.google.com", device="mobile", browser="Safari", country="FR",
              user_id=None),
        event(2, "v", "2024-03-09 08:01:00", "identify", user_id="u-7", device="desktop",
              country="DE", referrer_class="internal"),
        event(3, "v", "2024-03-09 08:02:00", "custom", name="x"),
    ]
    row = sessionize(lake_frame(spark, data), gap_minutes=30).collect()[0]
    assert (row.referrer_class, row.referrer_host, row.device, row.browser, row.country) == \
        ("search", "www.google.com", "mobile", "Safari", "FR")
    assert (row.user_id, row.events, row.page_views, row.bounce) == ("u-7", 3, 1, True)
    start_micros = int(datetime(2024, 3, 9, 8, tzinfo=UTC).timestamp()) * 1_000_000
    assert row.session_id == hashlib.sha256(f"v|{start_micros}".encode()).hexdigest()[:32]


def test_session_source_comes_from_the_landing_page_view_not_a_faster_request(spark):
    """The e2e demo's one-visitor mismatch: the landing page's personalization_shown left
    20 ms after the page view, in a later request whose network delay was shorter, so its
    derived_ts sorts first; it has no referrer ("direct"). The session is still "search"."""
    data = [
        event(1, "v", "2024-03-09 08:00:00.020", "personalization_shown",
              url="https://shop.example/p1", referrer_class="direct"),
        event(2, "v", "2024-03-09 08:00:00.050", referrer_class="search",
              referrer_host="www.google.com", url="https://shop.example/p1"),
        event(3, "v", "2024-03-09 08:00:30", referrer_class="internal"),
        # a session with no page view keeps its first event's attributes
        event(4, "w", "2024-03-09 08:00:00", "purchase", revenue=5.0, referrer_class=None,
              source="server", device="desktop"),
        event(5, "w", "2024-03-09 08:00:01", "custom", name="x", referrer_class="direct",
              device="mobile"),
    ]
    got = {r.visitor_id: (r.events, r.referrer_class, r.referrer_host, r.landing_page,
                          r.source, r.device)
           for r in sessionize(lake_frame(spark, data), gap_minutes=30).collect()}
    assert got == {
        "v": (3, "search", "www.google.com", "/p1", "js", "desktop"),
        "w": (2, None, None, None, "server", "desktop"),
    }


def test_batch_job_replaces_exactly_its_dates(spark, spark_settings, tmp_path):
    import dataclasses

    from stream_jobs.lake import LakePaths, read_sessions, write_events

    settings = dataclasses.replace(spark_settings, lake_dir=tmp_path / "lake")
    lake = LakePaths(settings.lake)
    write_events(lake_frame(spark, [*rows(), event(20, "f", "2024-03-10 12:00:00")]), lake)

    summary = run_sessionize(spark, settings, d("2024-03-10"), d("2024-03-10"))
    # d's 00:10 event belongs to the session that started on the 9th: only f's starts on the 10th
    assert summary["sessions_by_date"] == {"2024-03-10": 1}
    assert summary["events"] == 2  # events dated 2024-03-10: d's second one and f's

    summary = run_sessionize(spark, settings, d("2024-03-09"), d("2024-03-09"))
    assert summary["sessions"] == 8
    all_sessions = read_sessions(spark, lake.sessions, d("2024-03-01"), d("2024-03-31"))
    assertDataFrameEqual(
        all_sessions.select(*COLUMNS),
        expected(spark, [*EXPECTED, ("f", "2024-03-10 12:00:00", "2024-03-10 12:00:00", 0.0, 1,
                                     1, "/p20", "/p20", None, 0, 0, False, 0.0, True,
                                     "2024-03-10")]),
    )

    # late data for the 9th: only the 9th is rewritten, the 10th is untouched
    late = lake_frame(spark, [event(21, "a", "2024-03-09 10:45:00", ingest="log-late")])
    write_events(late, lake)
    tenth_files = sorted((lake.sessions / "session_date=2024-03-10").iterdir())
    run_sessionize(spark, settings, d("2024-03-09"), d("2024-03-09"))
    assert sorted((lake.sessions / "session_date=2024-03-10").iterdir()) == tenth_files
    a_rows = (read_sessions(spark, lake.sessions, d("2024-03-09"), d("2024-03-09"))
              .where("visitor_id = 'a'")
              .select(F.col("session_end").cast("string").alias("end"), "events").collect())
    assert [(r.end, r.events) for r in a_rows] == [("2024-03-09 10:45:00", 3)]


def test_end_before_start_is_an_error(spark, spark_settings):
    with pytest.raises(ValueError, match="before --start"):
        run_sessionize(spark, spark_settings, d("2024-03-10"), d("2024-03-09"))


def test_sessionize_job_main_rejects_an_end_before_the_start(capsys):
    from stream_jobs.sessions import job as sessionize_job

    assert sessionize_job.main(["--start", "2024-03-10", "--end", "2024-03-09"]) == 2
    assert "before --start" in capsys.readouterr().err
