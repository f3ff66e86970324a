"""Campaign ROI: what each campaign cost against the visits, orders and revenue it brought.

Costs come from ``clickloop import costs FILE`` (``campaign,date,cost``; ``<lake>/costs/``, the
latest import of a (campaign, date) wins) and are summed over the range's days. Visits, orders
and revenue are those of the sessions that started with that ``utm_campaign`` (see
:mod:`.campaigns`). ``cost_per_visit`` = cost / sessions, ``cost_per_order`` = cost / orders,
``roas`` (return on ad spend) = revenue / cost; each is empty where its divisor is 0. A campaign
with costs and no sessions, or sessions and no costs, still gets its row.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from stream_jobs.reports.measures import all_dates, money, ratio
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table
from stream_jobs.reports.order_history import lake_options

NAME = "campaign_roi"
TITLE = "Campaign ROI"


def read_costs(spark: SparkSession, lake: Path) -> DataFrame:
    """Every imported cost row, the latest import per (campaign, date)."""
    folder = lake / "costs"
    schema = "campaign string, date date, cost double, imported_at timestamp"
    if not any(p.is_file() for p in folder.glob("[!_]*.parquet")):
        return spark.createDataFrame([], schema)
    raw = spark.read.schema(schema).parquet(str(folder / "[!_]*.parquet"))
    latest = Window.partitionBy("campaign", "date").orderBy(F.desc("imported_at"))
    return raw.withColumn("_n", F.row_number().over(latest)).where("_n = 1").drop("_n")


def campaign_roi(sessions: DataFrame, costs: DataFrame, start, end) -> DataFrame:
    in_range = costs.where(F.col("date").between(F.lit(start), F.lit(end)))
    spent = in_range.groupBy("campaign").agg(money(F.sum("cost")).alias("cost"))
    brought = (sessions.where(F.col("utm_campaign").isNotNull())
               .groupBy(F.col("utm_campaign").alias("campaign"))
               .agg(F.count(F.lit(1)).alias("sessions"),
                    F.coalesce(F.sum("orders"), F.lit(0)).cast("long").alias("orders"),
                    money(F.sum("revenue")).alias("revenue")))
    joined = spent.join(brought, "campaign", "full")
    return (joined.select(
                "campaign",
                F.coalesce("cost", F.lit(0.0)).alias("cost"),
                F.coalesce("sessions", F.lit(0)).cast("long").alias("sessions"),
                F.coalesce("orders", F.lit(0)).cast("long").alias("orders"),
                F.coalesce("revenue", F.lit(0.0)).alias("revenue"))
            .withColumn("cost_per_visit", ratio(F.col("cost"), F.col("sessions")))
            .withColumn("cost_per_order", ratio(F.col("cost"), F.col("orders")))
            .withColumn("roas", ratio(F.col("revenue"), F.col("cost")))
            .orderBy(F.desc("cost"), F.desc("sessions"), "campaign"))


def daily(inputs: ReportInputs, costs: DataFrame) -> DataFrame:
    spent = costs.groupBy("date").agg(F.sum("cost").alias("cost"))
    brought = (inputs.sessions.where(F.col("utm_campaign").isNotNull())
               .groupBy(F.col("session_date").alias("date"))
               .agg(F.count(F.lit(1)).alias("sessions"), F.sum("revenue").alias("revenue")))
    return (all_dates(inputs.spark, inputs.start, inputs.end)
            .join(spent, "date", "left").join(brought, "date", "left")
            .select("date", money(F.col("cost")).alias("cost"),
                    F.coalesce("sessions", F.lit(0)).cast("long").alias("campaign_sessions"),
                    money(F.col("revenue")).alias("campaign_revenue"))
            .withColumn("roas", ratio(F.col("campaign_revenue"), F.col("cost")))
            .orderBy("date"))


def build(inputs: ReportInputs) -> Report:
    lake, _ = lake_options(inputs)
    costs = read_costs(inputs.spark, lake)
    return Report(
        name=NAME, title=TITLE, headline="campaigns",
        tables=(
            Table("campaigns", "Cost, visits, orders and return by campaign",
                  campaign_roi(inputs.sessions, costs, inputs.start, inputs.end),
                  note="roas = revenue / cost. Costs: clickloop import costs FILE "
                       "(campaign,date,cost)."),
            Table("daily", "Campaign cost and revenue by day", daily(inputs, costs)),
        ),
        charts=(
            Chart("campaigns", "bar", "campaign", ("roas",), "Return on ad spend by campaign"),
            Chart("daily", "line", "date", ("cost", "campaign_revenue"),
                  "Campaign cost and revenue by day"),
        ),
    )
