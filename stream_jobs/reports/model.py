"""What a report is made of: its inputs, tables and charts (plain data, no Spark at import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report may read, for sessions that started in ``[start, end]``.

    ``events``: one row per event (:func:`stream_jobs.sessions.rules.event_rows` columns plus
    ``session_id`` and ``session_start``); ``sessions``: rows of
    :func:`~stream_jobs.lake.session_schema`. Bots are already excluded unless
    ``include_bots``.
    """

    spark: SparkSession
    start: date
    end: date
    events: DataFrame
    sessions: DataFrame
    top_n: int = 20
    include_bots: bool = False
    funnels_file: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """One output table. ``frame`` is a Spark DataFrame whose row order is the output order.

    ``detail`` tables (one row per customer, say) can be large: they are written by Spark and
    left out of the HTML page; all others are small aggregates shown in full.
    """

    name: str
    title: str
    frame: DataFrame
    detail: bool = False
    note: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart drawn from a table's columns.

    ``kind``: ``bar`` (horizontal bars, one per row), ``funnel`` (bars narrowing by step) or
    ``line`` (``label`` on the x axis, one line per column in ``values``). ``where`` keeps rows
    whose column equals a value (one funnel of several, say).
    """

    table: str
    kind: str
    label: str
    values: tuple[str, ...]
    title: str
    where: tuple[str, str] | None = None


@dataclass(frozen=True)
class Report:
    """A built report: tables in output order, charts, and the table printed in a terminal."""

    name: str
    title: str
    tables: tuple[Table, ...]
    charts: tuple[Chart, ...] = ()
    headline: str | None = None
    notes: tuple[str, ...] = ()

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)
