"""Campaigns: sessions, conversions, revenue and conversion rate by UTM campaign.

A session's campaign is the UTM source/medium/campaign it started with (a new campaign starts a
new session, see docs/sessionization.md). Sessions without UTM tags are one ``(none)`` row, so
campaigns can be compared with everything else.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from stream_jobs.reports.measures import all_dates, money, none_label, pct, ratio
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table

NAME = "campaigns"
TITLE = "Campaigns"


def campaigns(inputs: ReportInputs) -> DataFrame:
    s = inputs.sessions
    return (s.groupBy(none_label(F.col("utm_campaign")).alias("campaign"),
                      none_label(F.col("utm_source")).alias("source"),
                      none_label(F.col("utm_medium")).alias("medium"))
            .agg(F.count(F.lit(1)).alias("sessions"),
                 F.count_distinct("visitor_id").alias("visitors"),
                 F.count_if("converted").alias("conversions"),
                 money(F.sum("revenue")).alias("revenue"))
            .withColumn("conversion_rate_pct", pct(F.col("conversions"), F.col("sessions")))
            .withColumn("revenue_per_session", ratio(F.col("revenue"), F.col("sessions")))
            .orderBy(F.desc("sessions"), "campaign", "source", "medium")
            .limit(inputs.top_n))


def daily(inputs: ReportInputs) -> DataFrame:
    tagged = inputs.sessions.where(F.col("utm_campaign").isNotNull())
    per_day = tagged.groupBy(F.col("session_date").alias("date")).agg(
        F.count(F.lit(1)).alias("campaign_sessions"),
        F.count_if("converted").alias("campaign_conversions"),
        money(F.sum("revenue")).alias("campaign_revenue"))
    return (all_dates(inputs.spark, inputs.start, inputs.end).join(per_day, "date", "left")
            .select("date",
                    F.coalesce("campaign_sessions", F.lit(0)).cast("long")
                    .alias("campaign_sessions"),
                    F.coalesce("campaign_conversions", F.lit(0)).cast("long")
                    .alias("campaign_conversions"),
                    F.coalesce("campaign_revenue", F.lit(0.0)).alias("campaign_revenue"))
            .orderBy("date"))


def build(inputs: ReportInputs) -> Report:
    return Report(
        name=NAME, title=TITLE, headline="campaigns",
        tables=(
            Table("campaigns", f"Top {inputs.top_n} campaigns by sessions", campaigns(inputs)),
            Table("daily", "Campaign sessions by day", daily(inputs)),
        ),
        charts=(
            Chart("campaigns", "bar", "campaign", ("sessions",), "Sessions by campaign"),
            Chart("campaigns", "bar", "campaign", ("conversion_rate_pct",),
                  "Conversion rate by campaign (%)"),
            Chart("daily", "line", "date", ("campaign_sessions", "campaign_conversions"),
                  "Campaign sessions and conversions by day"),
        ),
    )
