"""Paths: where visitors come from and where they go next (page-to-page transitions).

Within each session, page views in time order, a page viewed again right after itself (a reload)
counted once. Every session adds ``(entrance: <source>) → landing page``, each following page
view ``page → next page``, and ``last page → (exit)``. ``share_pct`` is the transition's share of
everything that left its ``from`` page, exits included.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from stream_jobs.reports.measures import none_label, pct
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table

NAME = "paths"
TITLE = "Paths"
EXIT = "(exit)"


def page_sequence(events: DataFrame) -> DataFrame:
    """Page views per session in order, reloads of the same page dropped."""
    order = Window.partitionBy("session_id").orderBy("ts", "event_id")
    views = events.where((F.col("event_type") == "page_view") & F.col("page").isNotNull())
    return (views.withColumn("_prev", F.lag("page").over(order))
            .where(F.col("_prev").isNull() | (F.col("_prev") != F.col("page")))
            .select("session_id", "visitor_id", "ts", "event_id", "page"))


def transitions(inputs: ReportInputs) -> DataFrame:
    order = Window.partitionBy("session_id").orderBy("ts", "event_id")
    seq = page_sequence(inputs.events)
    moves = seq.select(
        "session_id",
        F.col("page").alias("from_page"),
        F.coalesce(F.lead("page").over(order), F.lit(EXIT)).alias("to_page"),
    )
    entrances = inputs.sessions.where(F.col("landing_page").isNotNull()).select(
        "session_id",
        F.concat(F.lit("(entrance: "), none_label(F.col("referrer_class")), F.lit(")"))
        .alias("from_page"),
        F.col("landing_page").alias("to_page"),
    )
    counted = (moves.unionByName(entrances).groupBy("from_page", "to_page")
               .agg(F.count(F.lit(1)).alias("transitions")))
    leaving = Window.partitionBy("from_page")
    return (counted.withColumn("share_pct",
                               pct(F.col("transitions"), F.sum("transitions").over(leaving)))
            .withColumn("path", F.concat_ws(" → ", "from_page", "to_page"))
            .select("from_page", "to_page", "path", "transitions", "share_pct")
            .orderBy(F.desc("transitions"), "from_page", "to_page").limit(inputs.top_n))


def entrances(inputs: ReportInputs) -> DataFrame:
    s = inputs.sessions.where(F.col("landing_page").isNotNull())
    return (s.groupBy(none_label(F.col("referrer_class")).alias("source"),
                      none_label(F.col("referrer_host"), "(none)").alias("referrer_host"),
                      F.col("landing_page"))
            .agg(F.count(F.lit(1)).alias("sessions"))
            .orderBy(F.desc("sessions"), "source", "referrer_host", "landing_page")
            .limit(inputs.top_n))


def build(inputs: ReportInputs) -> Report:
    return Report(
        name=NAME, title=TITLE, headline="transitions",
        tables=(
            Table("transitions", f"Top {inputs.top_n} page-to-page transitions",
                  transitions(inputs),
                  note="Reloads of the same page count once; (exit) ends a session."),
            Table("entrances", f"Top {inputs.top_n} ways in (source, referrer, landing page)",
                  entrances(inputs)),
        ),
        charts=(Chart("transitions", "bar", "path", ("transitions",),
                      "Most frequent transitions"),),
    )
