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
