"""Sessionization: lake events in, sessions out (pure DataFrame transformations).

Rules (docs/sessionization.md explains them and compares them with Google Analytics and Matomo):

- events are per visitor (``visitor_id``) in time order of ``enrichment.derived_ts`` (ties by
  ``event_id``), after removing duplicate ``event_id`` s (the copy that reached the collector
  first wins);
- a session ends after more than ``gap_minutes`` of inactivity: a gap of exactly 30:00 continues
  the session, 30:01 starts a new one (the same boundary as Spark's ``session_window``, so the
  streaming and the batch job agree);
- an event carrying a UTM campaign (source/medium/campaign) different from the session's starts
  a new session; events without UTM parameters never do;
- midnight does not end a session; a session belongs to the UTC date it started on;
- a session carries the user id known in it; an anonymous session takes the user of the same
  visitor's *next* identified session (:func:`stitch_users`), so a shared device never merges
  two users: each session belongs to at most one.

The batch job (:func:`sessionize`) is authoritative. The streaming job uses
:func:`stream_jobs.stream.live_sessions.live_sessions`, which applies the inactivity rule only
(``session_window`` has no notion of campaigns) and drops events older than its watermark; the
nightly batch re-run fixes both.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from stream_jobs.lake import session_schema

# the session's attributes taken from its landing page view, else its first event (traffic
# source, device, place)
FIRST_EVENT_COLUMNS = (
    "referrer_class", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "device", "browser", "os", "country", "site", "source", "is_bot",
)
# The collector's cookieless visitor ids (collector.identity.cookieless_visitor_id): a daily
# keyed hash, so such a visitor cannot be followed from one UTC day to the next.
COOKIELESS_PREFIX = "anon-"


def is_cookieless(visitor_id: Column) -> Column:
    """Whether a visitor id is a cookieless (daily) id; false for a null id."""
    return F.coalesce(F.startswith(visitor_id, F.lit(COOKIELESS_PREFIX)), F.lit(False))


def page_path(url: Column) -> Column:
    """The path of a page URL (``/`` when empty); null for a missing or unparsable URL."""
    path = F.try_parse_url(url, F.lit("PATH"))
    # the parse in the first condition: Spark evaluates it once for the whole expression (in a
    # later branch only, it was evaluated once per use: 3 parses a row)
    return F.when(path.isNull(), F.lit(None)).when(path == "", F.lit("/")).otherwise(path)


def event_rows(events: DataFrame) -> DataFrame:
    """Flatten lake events to the columns sessionization and reports use.

    Events without a visitor or an event time cannot belong to a session and are left out.
    """
    e = "enrichment"
    return events.select(
        "event_id", "visitor_id", "user_id", "event_type",
        F.col(f"{e}.derived_ts").alias("ts"),
        F.col(f"{e}.collector_ts").alias("collector_ts"),
        "url",
        page_path(F.col("url")).alias("page"),
        F.col(f"{e}.referrer_class").alias("referrer_class"),
        F.col(f"{e}.referrer_host").alias("referrer_host"),
        *[F.col(f"{e}.utm.{k}").alias(f"utm_{k}")
          for k in ("source", "medium", "campaign", "term", "content")],
        F.col(f"{e}.ua.device").alias("device"),
        F.col(f"{e}.ua.browser").alias("browser"),
        F.col(f"{e}.ua.os").alias("os"),
        F.col(f"{e}.geo.country_code").alias("country"),
        F.col(f"{e}.site").alias("site"),
        F.col(f"{e}.source").alias("source"),
        F.coalesce(F.col(f"{e}.ua.is_bot"), F.lit(False)).alias("is_bot"),
        F.col("order.order_id").alias("order_id"),
        F.when(F.col("event_type") == "purchase", F.col("order.revenue")).alias("revenue"),
        F.col("product.sku").alias("sku"),
        "name",
        "ingest",
    ).where(F.col("visitor_id").isNotNull() & F.col("ts").isNotNull())


def dedupe_events(rows: DataFrame) -> DataFrame:
    """One row per ``event_id``: the copy the collector received first (then by ingest name).

    The same ``event_id`` may reach the lake under two visitor ids (a retried first request
    gets a second new cookie; a cookieless id changes at midnight), so duplicates are found over
    the whole table, not per visitor. They are rare, so only they pay for it: a narrow count of
    a 64-bit hash of every ``event_id`` (long keys, no wide rows moved) names the hashes seen
    more than once, and only the rows with those hashes go through the ranking by ``event_id``;
    the rest pass as they are. A hash collision only sends a unique event through the ranking,
    which keeps it: the result is exact either way.
    """
    key = F.xxhash64("event_id")
    repeated = (rows.select(key.alias("_h")).groupBy("_h").count()
                .where(F.col("count") > 1).select("_h"))
    hashed = rows.withColumn("_h", key)
    single = hashed.join(F.broadcast(repeated), "_h", "left_anti")
    first = Window.partitionBy("event_id").orderBy(
        F.col("collector_ts").asc_nulls_last(), F.col("ingest").asc_nulls_last(),
        F.col("ts").asc_nulls_last(),
    )
    kept = (hashed.join(F.broadcast(repeated), "_h", "left_semi")
            .withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n"))
    return single.unionByName(kept).drop("_h")


def _campaign_key(row_utm: tuple[str, str, str] = ("utm_source", "utm_medium", "utm_campaign")
                  ) -> Column:
    cols = [F.col(c) for c in row_utm]
    any_set = cols[0].isNotNull() | cols[1].isNotNull() | cols[2].isNotNull()
    return F.when(any_set, F.concat_ws("\u001f", *[F.coalesce(c, F.lit("")) for c in cols]))


def session_id_for(visitor_id: Column, session_start: Column) -> Column:
    """Stable session id: the same visitor and first event time give the same id on every run."""
    text = F.concat_ws("|", visitor_id, F.unix_micros(session_start).cast("string"))
    return F.substring(F.sha2(text, 256), 1, 32)


# the columns the session rules read (assign_sessions); every other column rides along
RULED_COLUMNS = ("visitor_id", "ts", "event_id", "utm_source", "utm_medium", "utm_campaign")


def assign_sessions(rows: DataFrame, gap_minutes: int) -> DataFrame:
    """Add ``session_id`` and ``session_start`` to deduplicated event rows.

    One window (per visitor, by time) carries the whole computation so Spark sorts once, in
    three dependent steps (each one window operator over the same sorted rows):

    1. the previous event's time (a gap break) and the last campaign seen before this event,
       with its time;
    2. where the current inactivity segment started: that campaign counts only if it was seen
       in it, and a different campaign then starts a session;
    3. the start of the current session.

    Every window operator copies each row it passes on, field by field; the columns the rules
    do not read ride through them packed in one struct, which is copied as one block (on 2
    million events, ~40 % less time in the window steps). Spark's optimizer unpacks the fields
    a later consumer reads after the first step, and cannot drop the ones nobody reads: a
    caller that needs fewer columns selects them before (``sessions_and_events(columns=…)``).
    """
    passengers = [c for c in rows.columns if c not in RULED_COLUMNS]
    packed = rows.select(*RULED_COLUMNS, F.struct(*passengers).alias("_rest"))
    by_time = Window.partitionBy("visitor_id").orderBy("ts", "event_id")
    upto_here = by_time.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    before_here = by_time.rowsBetween(Window.unboundedPreceding, -1)
    gap_us = int(gap_minutes) * 60 * 1_000_000

    campaign = _campaign_key()
    prev_ts = F.lag("ts").over(by_time)
    # the last campaign before this event and its time (both from the same, last campaign row)
    prev_campaign = F.last(campaign, ignorenulls=True).over(before_here)
    prev_campaign_ts = F.last(F.when(campaign.isNotNull(), F.col("ts")),
                              ignorenulls=True).over(before_here)
    step = packed.select(
        "*", campaign.alias("_campaign"), prev_campaign.alias("_prev"),
        prev_campaign_ts.alias("_prev_ts"),
        (prev_ts.isNull() | ((F.unix_micros("ts") - F.unix_micros(prev_ts)) > gap_us))
        .alias("_gap_break"))
    # a segment's first event is later than every event before it (by more than the gap), so
    # its time alone says which events lie in the segment
    segment_start = F.max(F.when(F.col("_gap_break"), F.col("ts"))).over(upto_here)
    step = step.select("*", segment_start.alias("_segment_start"))
    same_segment_campaign = F.when(F.col("_prev_ts") >= F.col("_segment_start"), F.col("_prev"))
    new_session = (F.col("_gap_break")
                   | (F.col("_campaign").isNotNull()
                      & ~F.col("_campaign").eqNullSafe(same_segment_campaign)))
    session_start = F.max(F.when(new_session, F.col("ts"))).over(upto_here)
    step = step.withColumn("session_start", session_start)
    session_id = session_id_for(F.col("visitor_id"), F.col("session_start"))
    return step.select(*[F.col(c) if c in RULED_COLUMNS else F.col(f"_rest.{c}").alias(c)
                         for c in rows.columns],
                       "session_start", session_id.alias("session_id"))


# the event columns the per-session aggregates read (with visitor_id, ts and session_start); the
# URL, not the page: only a session's landing and exit URLs are parsed into pages
SESSION_INPUTS = ("event_id", "user_id", "event_type", "url", "revenue", *FIRST_EVENT_COLUMNS)


def session_aggregates(*, with_start: bool = True) -> list[Column]:
    """The per-session aggregates, usable both by ``groupBy`` and by ``session_window``.

    ``with_start=False`` leaves out ``session_start`` (the minimum time) for a grouping that
    has it as a key already.
    """
    order = F.struct("ts", "event_id")
    is_pv = F.col("event_type") == "page_view"
    # The landing page view carries the referrer. Another event of that page can sort before
    # it: each request's derived_ts carries that request's own network delay, so a page's
    # later batch (personalization_shown 20 ms after the view, with no referrer) overtakes the
    # view when its request was the faster one. The page view wins regardless.
    landing_first = F.struct(F.coalesce(~is_pv, F.lit(True)), "ts", "event_id")
    first = F.min_by(F.struct(*FIRST_EVENT_COLUMNS), landing_first)
    return [
        *([F.min("ts").alias("session_start")] if with_start else []),
        F.max("ts").alias("session_end"),
        F.count(F.lit(1)).alias("events"),
        F.count_if(is_pv).alias("page_views"),
        # URLs, parsed by finish_sessions: 2 parses a session instead of one an event (parsing
        # a URL was 8 % of the batch job's CPU when every event's was)
        F.min_by("url", F.when(is_pv, order)).alias("_landing_url"),
        F.max_by("url", F.when(is_pv, order)).alias("_exit_url"),
        F.max_by("user_id", F.when(F.col("user_id").isNotNull(), order)).alias("user_id"),
        first.alias("_first"),
        F.count_if(F.col("event_type") == "add_to_cart").alias("cart_adds"),
        F.count_if(F.col("event_type") == "purchase").alias("orders"),
        F.sum("revenue").alias("_revenue"),
    ]


def finish_sessions(grouped: DataFrame) -> DataFrame:
    """Derived columns and the schema's column order, shared by batch and live sessions."""
    out = (grouped
           .withColumn("session_id", session_id_for(F.col("visitor_id"), F.col("session_start")))
           .withColumn("duration_s",
                       (F.unix_millis("session_end") - F.unix_millis("session_start")) / 1000.0)
           .withColumn("converted", F.col("orders") > 0)
           .withColumn("revenue", F.coalesce(F.col("_revenue"), F.lit(0.0)))
           .withColumn("bounce", F.col("page_views") == 1)
           .withColumn("cookieless", is_cookieless(F.col("visitor_id")))
           .withColumn("session_date", F.to_date("session_start"))
           .withColumn("landing_page", page_path(F.col("_landing_url")))
           .withColumn("exit_page", page_path(F.col("_exit_url"))))
    for name in FIRST_EVENT_COLUMNS:
        out = out.withColumn(name, F.col(f"_first.{name}"))
    return out.select(*[f.name for f in session_schema().fields])


def summarize_sessions(assigned: DataFrame) -> DataFrame:
    """One row per session from events carrying ``session_start`` (see :func:`assign_sessions`).

    The key is the visitor and the session's start, of which the session id is a function:
    grouping by visitor first keeps the visitor partitioning (no extra shuffle), and rows that
    come in the visitor's time order are then already in key order, so the aggregation's sort
    has little to do (a key of hashed ids had to be sorted from scratch).
    """
    grouped = (assigned.groupBy("visitor_id", "session_start")
               .agg(*session_aggregates(with_start=False)))
    return finish_sessions(grouped)


def stitch_users(sessions: DataFrame) -> DataFrame:
    """Back-fill ``user_id``: a session without one takes that of the same visitor's next
    session that has one (in the frame: the batch's range and margin).

    Sessions that carry a user keep it, so when a second user identifies on a shared device
    the anonymous sessions *after* the first user's last identified session go to the second
    user, and no session of either moves to the other. Sessions after a visitor's last
    identified session stay anonymous (unless their events carry a user id).
    """
    later = (Window.partitionBy("visitor_id").orderBy("session_start", "session_id")
             .rowsBetween(Window.currentRow, Window.unboundedFollowing))
    return sessions.withColumn("user_id", F.first("user_id", ignorenulls=True).over(later))


def sessions_and_events(events: DataFrame, gap_minutes: int,
                        suppressed: DataFrame | None = None, *,
                        columns: Sequence[str] | None = None) -> tuple[DataFrame, DataFrame]:
    """Lake events → (event rows with ``session_id``/``session_start``, stitched sessions).

    With a suppression list (:mod:`stream_jobs.erasure.suppression`), the listed people's events go
    first — by their own ids and by the user their session is attributed to. Attribution is per
    visitor, so only the visitors with a listed id somewhere are sessionized twice (to
    attribute, then again from what is left); everybody else goes through once.

    ``columns``: the event columns to keep (besides the ids and times the rules need), when the
    caller needs fewer than :func:`event_rows` gives. Spark cannot drop them itself once they
    travel inside :func:`assign_sessions`' packed struct, so they would be shuffled and sorted.
    """
    from stream_jobs.erasure.suppression import forget_events, listed_rows

    def assigned_of(frame: DataFrame) -> DataFrame:
        rows = dedupe_events(event_rows(frame))
        if columns is not None:
            wanted = {*columns, *RULED_COLUMNS, "user_id"}  # the erasure list matches user_id
            rows = rows.select(*[c for c in rows.columns if c in wanted])
        return assign_sessions(rows, gap_minutes)

    if suppressed is None:
        assigned = assigned_of(events)
        return assigned, stitch_users(summarize_sessions(assigned))
    hit = F.broadcast(listed_rows(events, suppressed).where(F.col("visitor_id").isNotNull())
                      .select("visitor_id").distinct())
    others = assigned_of(events.join(hit, "visitor_id", "left_anti"))
    theirs = assigned_of(events.join(hit, "visitor_id", "left_semi"))
    kept = forget_events(theirs, stitch_users(summarize_sessions(theirs)), suppressed)
    # a session that lost its first event (another user's, in a shared-device session) starts
    # later: its events must carry the id the re-summarized session gets
    per_session = Window.partitionBy("session_id")
    kept = (kept.withColumn("session_start", F.min("ts").over(per_session))
            .withColumn("session_id", session_id_for(F.col("visitor_id"),
                                                     F.col("session_start"))))
    sessions = stitch_users(summarize_sessions(others)).unionByName(
        stitch_users(summarize_sessions(kept)))
    return others.unionByName(kept), sessions


def sessionize(events: DataFrame, gap_minutes: int,
               suppressed: DataFrame | None = None) -> DataFrame:
    """Lake events → sessions, with every rule in the module docstring (and the list's)."""
    return sessions_and_events(events, gap_minutes, suppressed, columns=SESSION_INPUTS)[1]
