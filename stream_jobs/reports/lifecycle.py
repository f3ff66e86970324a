"""The customer lifecycle (acquire → develop → retain → win back) over the whole order history.

Unlike the session reports, this one looks back past the range: a customer's stage depends on
when they first bought. It reads every purchase up to the range's end (tracked and imported,
:mod:`.order_history`) and shows:

- **RFM segments as of the range's end** ("today's"): the tables of :mod:`.customers`
  (scores, segment rules, the 80/20 revenue share) over each customer's whole history;
- **cohort retention**: customers by the month of their first purchase by months since, the
  share of the cohort that bought in that month;
- **stage movements per month** of the range: ``new`` (first purchase this month), ``repeat``
  (bought this month and last month), ``won_back`` (bought this month, not last month, but
  before), ``lapsed`` (bought last month, not this month); and the revenue of each stage.

Months are UTC calendar months; the range's first and last month may be partial.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from stream_jobs.reports.customers import scored, segment, segments, summary
from stream_jobs.reports.measures import money, pct
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table
from stream_jobs.reports.order_history import (
    HISTORY_START,
    lake_options,
    orders,
    read_commerce_events,
)

NAME = "lifecycle"
TITLE = "Customer lifecycle"
STAGES = ("new", "repeat", "won_back", "lapsed")


def month_number(day: Column) -> Column:
    """Months since year 0, so month differences are plain subtraction."""
    return F.year(day) * 12 + F.month(day) - 1


def month_start(number: Column) -> Column:
    return F.make_date(F.floor(number / 12).cast("int"), (number % 12 + 1).cast("int"), F.lit(1))


def rfm_customers(purchases: DataFrame, end) -> DataFrame:
    """One row per customer: orders, revenue, recency (days to ``end``), scores, segment."""
    per = purchases.groupBy("customer_id", "id_kind").agg(
        F.count(F.lit(1)).alias("orders"), money(F.sum("revenue")).alias("revenue"),
        F.max("day").alias("last_purchase"), F.min("day").alias("first_purchase"))
    per = per.withColumn("recency_days", F.datediff(F.lit(end), F.col("last_purchase")))
    scores = scored(scored(scored(per, "recency_days", "r_score", lower_is_better=True),
                           "orders", "f_score"), "revenue", "m_score")
    return scores.withColumn("segment", segment(F.col("r_score"), F.col("f_score")))


def active_months(purchases: DataFrame) -> DataFrame:
    """One row per (customer, month with a purchase): revenue, and the first purchase month."""
    per = purchases.groupBy("customer_id", month_number(F.col("day")).alias("month")).agg(
        F.sum("revenue").alias("revenue"))
    return per.withColumn("first_month",
                          F.min("month").over(Window.partitionBy("customer_id")))


def cohorts(active: DataFrame) -> DataFrame:
    """Cohort (month of first purchase) by months since: customers who bought, and the share."""
    sizes = active.where(F.col("month") == F.col("first_month")).groupBy("first_month").agg(
        F.count(F.lit(1)).alias("cohort_customers"))
    return (active.groupBy("first_month", (F.col("month") - F.col("first_month"))
                           .alias("months_since"))
            .agg(F.count(F.lit(1)).alias("customers"), money(F.sum("revenue")).alias("revenue"))
            .join(sizes, "first_month")
            .select(month_start(F.col("first_month")).alias("cohort"), "months_since",
                    "cohort_customers", "customers",
                    pct(F.col("customers"), F.col("cohort_customers")).alias("retention_pct"),
                    "revenue")
            .orderBy("cohort", "months_since"))


def stages(active: DataFrame, first_month: int, last_month: int) -> DataFrame:
    """Per month in ``[first_month, last_month]`` (month numbers): customers and revenue by
    stage. ``lapsed`` customers bought last month, not this one (no revenue, by definition)."""
    spark = active.sparkSession
    months = spark.range(first_month, last_month + 1).select(F.col("id").alias("month"))
    this = active.select("customer_id", "month", "first_month", "revenue")
    last = active.select("customer_id", (F.col("month") + 1).alias("month"),
                         F.lit(True).alias("bought_last_month"))
    stage = (F.when(F.col("month") == F.col("first_month"), "new")
             .when(F.col("bought_last_month"), "repeat")
             .otherwise("won_back"))
    buying = (this.join(last, ["customer_id", "month"], "left")
              .withColumn("stage", stage).select("month", "stage", "revenue"))
    lapsed = (last.join(this, ["customer_id", "month"], "left_anti")
              .select("month", F.lit("lapsed").alias("stage"), F.lit(0.0).alias("revenue")))
    counted = buying.unionByName(lapsed).groupBy("month").agg(
        *[F.count_if(F.col("stage") == s).alias(s) for s in STAGES],
        *[money(F.sum(F.when(F.col("stage") == s, F.col("revenue")))).alias(f"revenue_{s}")
          for s in STAGES[:3]])
    zero_counts = [F.coalesce(s, F.lit(0)).cast("long").alias(s) for s in STAGES]
    zero_money = [F.coalesce(f"revenue_{s}", F.lit(0.0)).alias(f"revenue_{s}")
                  for s in STAGES[:3]]
    return (months.join(counted, "month", "left")
            .select(month_start(F.col("month")).alias("month"), *zero_counts, *zero_money)
            .withColumn("active", F.col("new") + F.col("repeat") + F.col("won_back"))
            .orderBy("month"))


def build(inputs: ReportInputs) -> Report:
    lake, state_dir = lake_options(inputs)
    commerce = read_commerce_events(inputs.spark, lake, state_dir, HISTORY_START, inputs.end,
                                    include_bots=inputs.include_bots)
    purchases = (orders(commerce).select("order_id", "customer_id", "id_kind", "day", "revenue")
                 .persist())
    per_customer = rfm_customers(purchases, inputs.end).persist()
    active = active_months(purchases).persist()
    first = inputs.start.year * 12 + inputs.start.month - 1
    last = inputs.end.year * 12 + inputs.end.month - 1
    return Report(
        name=NAME, title=TITLE, headline="stages",
        tables=(
            Table("summary", f"Customers up to {inputs.end}", summary(per_customer),
                  note="All purchases up to the range's end; top20: the 20% of customers "
                       "(rounded up) with the most revenue."),
            Table("rfm_segments", f"RFM segments on {inputs.end}",
                  segments(per_customer, inputs.spark)),
            Table("stages", "Lifecycle stages by month", stages(active, first, last),
                  note="new: first purchase; repeat: bought this and last month; won_back: "
                       "bought this month, not last month, but before; lapsed: bought last "
                       "month, not this month."),
            Table("cohorts", "Cohort retention (month of first purchase by months since)",
                  cohorts(active)),
            Table("customers", "Customers", per_customer.orderBy(F.desc("revenue"),
                                                                 "customer_id"), detail=True),
        ),
        charts=(
            Chart("rfm_segments", "bar", "segment", ("customers",), "Customers by RFM segment"),
            Chart("stages", "line", "month", STAGES, "Customers by lifecycle stage"),
            Chart("stages", "line", "month", tuple(f"revenue_{s}" for s in STAGES[:3]),
                  "Revenue by lifecycle stage"),
        ),
        notes=("A customer is a purchase's user id where it has one (an imported order's "
               "customer, a logged-in buyer), else its visitor id.",),
    )
