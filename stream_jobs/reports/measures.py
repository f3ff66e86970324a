"""Small Column helpers shared by the reports, so every rate is computed the same way."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def pct(part: Column, whole: Column) -> Column:
    """``part / whole`` in percent, 2 decimals; null (not an error) when ``whole`` is 0."""
    return F.round(F.try_divide(part.cast("double") * 100.0, whole.cast("double")), 2)


def ratio(part: Column, whole: Column, decimals: int = 2) -> Column:
    """``part / whole`` rounded; null when ``whole`` is 0."""
    return F.round(F.try_divide(part.cast("double"), whole.cast("double")), decimals)


def money(amount: Column) -> Column:
    return F.round(F.coalesce(amount, F.lit(0.0)).cast("double"), 2)


def none_label(column: Column, label: str = "(none)") -> Column:
    """Missing dimension values as a visible label, so they sort and chart like others."""
    return F.coalesce(F.when(column != "", column), F.lit(label))


def all_dates(spark, start: date, end: date, name: str = "date") -> DataFrame:
    """One row per date of the range (so a day without traffic shows as zeros)."""
    return spark.range(1).select(
        F.explode(F.sequence(F.lit(start), F.lit(end))).alias(name)
    )


# Who a row is about: the user where the session is identified, the visitor otherwise. The
# prefixes keep a user id that happens to equal some visitor id from counting once.
PEOPLE_NOTE = ("people = identified_users + anonymous_visitors: a session's user where it is "
               "known (user_id, back-filled to the visitor's earlier anonymous sessions), its "
               "visitor otherwise; one user on two devices counts once.")
COOKIELESS_NOTE = ("cookieless_*: traffic without a cookie (consent denied, Do Not Track or "
                   "cookieless mode) has a visitor id that changes every UTC day, so such a "
                   "visitor is counted once per day and can never be linked to a user.")


def person(user_id: Column, visitor_id: Column) -> Column:
    """The person a row counts for: ``u:<user_id>`` where known, else ``v:<visitor_id>``."""
    return F.coalesce(F.concat(F.lit("u:"), user_id), F.concat(F.lit("v:"), visitor_id))


def people_measures(user_id: Column, visitor_id: Column, cookieless: Column) -> list[Column]:
    """``people``, ``identified_users``, ``anonymous_visitors``, ``cookieless_visitors``."""
    return [
        F.count_distinct(person(user_id, visitor_id)).alias("people"),
        F.count_distinct(user_id).alias("identified_users"),
        F.count_distinct(F.when(user_id.isNull(), visitor_id)).alias("anonymous_visitors"),
        F.count_distinct(F.when(cookieless, visitor_id)).alias("cookieless_visitors"),
    ]
