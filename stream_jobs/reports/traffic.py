"""Traffic: visitors, sessions, page views, bounce rate, duration; pages, entries, exits, sources.

Definitions (docs/reports.md): a visitor is a ``visitor_id``; a person is the session's user
where known, the visitor otherwise (table ``people``); sessions are those that started in the
range; bounce rate = sessions with exactly one page view / sessions; duration = last
event minus first event of the session; exit rate of a page = exits / its page views.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stream_jobs.reports.measures import (
    COOKIELESS_NOTE,
    PEOPLE_NOTE,
    all_dates,
    none_label,
    pct,
    people_measures,
    ratio,
)
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table
from stream_jobs.reports.ranking import with_total

NAME = "traffic"
TITLE = "Traffic"


def daily(inputs: ReportInputs) -> DataFrame:
    per_day = inputs.sessions.groupBy(F.col("session_date").alias("date")).agg(
        F.count_distinct("visitor_id").alias("visitors"),
        F.count(F.lit(1)).alias("sessions"),
        F.sum("page_views").alias("page_views"),
        F.count_if("bounce").alias("_bounces"),
        F.round(F.avg("duration_s"), 2).alias("avg_duration_s"),
    )
    days = all_dates(inputs.spark, inputs.start, inputs.end)
    return (days.join(per_day, "date", "left")
            .select("date",
                    *[F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c)
                      for c in ("visitors", "sessions", "page_views")],
                    pct(F.coalesce(F.col("_bounces"), F.lit(0)), F.col("sessions"))
                    .alias("bounce_rate_pct"),
                    "avg_duration_s",
                    ratio(F.col("page_views"), F.col("sessions")).alias("pages_per_session"))
            .orderBy("date"))


def summary(inputs: ReportInputs) -> DataFrame:
    s = inputs.sessions
    return s.agg(
        F.count_distinct("visitor_id").alias("visitors"),
        F.count(F.lit(1)).alias("sessions"),
        F.coalesce(F.sum("page_views"), F.lit(0)).alias("page_views"),
        pct(F.count_if("bounce"), F.count(F.lit(1))).alias("bounce_rate_pct"),
        F.round(F.avg("duration_s"), 2).alias("avg_duration_s"),
        F.round(F.median("duration_s"), 2).alias("median_duration_s"),
        ratio(F.sum("page_views"), F.count(F.lit(1))).alias("pages_per_session"),
    )


def people(inputs: ReportInputs) -> DataFrame:
    """People (users where known, visitors otherwise) and the share of cookieless traffic."""
    s = inputs.sessions
    return s.agg(
        *people_measures(F.col("user_id"), F.col("visitor_id"), F.col("cookieless")),
        F.count_distinct("visitor_id").alias("visitors"),
        F.count(F.lit(1)).alias("sessions"),
        F.count_if("cookieless").alias("cookieless_sessions"),
        pct(F.count_if("cookieless"), F.count(F.lit(1))).alias("cookieless_sessions_pct"),
    )


def cookieless_note(people_frame: DataFrame) -> tuple[str, ...]:
    """A note on the page when some of the figures come from cookieless traffic."""
    row = people_frame.first()
    if row is None or not row["cookieless_sessions"]:
        return ()
    return (f"{row['cookieless_sessions']} of {row['sessions']} sessions "
            f"({row['cookieless_sessions_pct']:.2f}%) and {row['cookieless_visitors']} of "
            f"{row['visitors']} visitors come from cookieless traffic: those visitors are "
            "counted per day (the same person on two days counts twice) and are never linked "
            "to a user.",)


def top_pages(inputs: ReportInputs) -> DataFrame:
    views = inputs.events.where((F.col("event_type") == "page_view") & F.col("page").isNotNull())
    return (views.groupBy("page").agg(
        F.count(F.lit(1)).alias("page_views"),
        F.count_distinct("visitor_id").alias("visitors"),
        F.count_distinct("session_id").alias("sessions"))
        .orderBy(F.desc("page_views"), "page").limit(inputs.top_n))


def entry_pages(inputs: ReportInputs) -> DataFrame:
    s = inputs.sessions.where(F.col("landing_page").isNotNull())
    return (s.groupBy(F.col("landing_page").alias("page")).agg(
        F.count(F.lit(1)).alias("entrances"),
        pct(F.count_if("bounce"), F.count(F.lit(1))).alias("bounce_rate_pct"))
        .orderBy(F.desc("entrances"), "page").limit(inputs.top_n))


def exit_pages(inputs: ReportInputs) -> DataFrame:
    exits = (inputs.sessions.where(F.col("exit_page").isNotNull())
             .groupBy(F.col("exit_page").alias("page")).agg(F.count(F.lit(1)).alias("exits")))
    views = (inputs.events.where(F.col("event_type") == "page_view")
             .groupBy("page").agg(F.count(F.lit(1)).alias("page_views")))
    return (exits.join(views, "page", "left")
            .select("page", "exits", "page_views",
                    pct(F.col("exits"), F.col("page_views")).alias("exit_rate_pct"))
            .orderBy(F.desc("exits"), "page").limit(inputs.top_n))


def sources(inputs: ReportInputs) -> DataFrame:
    counted = inputs.sessions.groupBy(none_label(F.col("referrer_class")).alias("source")).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count_distinct("visitor_id").alias("visitors"))
    return (with_total(counted, "_total", F.sum("sessions"))
            .withColumn("share_pct", pct(F.col("sessions"), F.col("_total"))).drop("_total")
            .orderBy(F.desc("sessions"), "source"))


def referrers(inputs: ReportInputs) -> DataFrame:
    s = inputs.sessions.where(F.col("referrer_host").isNotNull()
                              & (F.col("referrer_class") != "internal"))
    return (s.groupBy("referrer_host", none_label(F.col("referrer_class")).alias("source"))
            .agg(F.count(F.lit(1)).alias("sessions"),
                 F.count_distinct("visitor_id").alias("visitors"))
            .orderBy(F.desc("sessions"), "referrer_host").limit(inputs.top_n))


def build(inputs: ReportInputs) -> Report:
    people_frame = people(inputs)
    return Report(
        name=NAME, title=TITLE, headline="summary",
        tables=(
            Table("summary", "Summary", summary(inputs),
                  note="visitors: distinct visitor ids (a cookie, or a daily cookieless id); "
                       "see People for users."),
            Table("people", "People: users where known, visitors otherwise", people_frame,
                  note=f"{PEOPLE_NOTE} {COOKIELESS_NOTE}"),
            Table("daily", "By day", daily(inputs)),
            Table("top_pages", f"Top {inputs.top_n} pages", top_pages(inputs)),
            Table("entry_pages", f"Top {inputs.top_n} entry (landing) pages", entry_pages(inputs)),
            Table("exit_pages", f"Top {inputs.top_n} exit pages", exit_pages(inputs)),
            Table("sources", "Traffic sources", sources(inputs)),
            Table("referrers", f"Top {inputs.top_n} referring sites", referrers(inputs),
                  note="External referrers only (internal navigation excluded)."),
        ),
        charts=(
            Chart("daily", "line", "date", ("visitors", "sessions", "page_views"),
                  "Visitors, sessions and page views by day"),
            Chart("sources", "bar", "source", ("sessions",), "Sessions by traffic source"),
            Chart("top_pages", "bar", "page", ("page_views",), "Page views of the top pages"),
        ),
        notes=cookieless_note(people_frame),
    )
