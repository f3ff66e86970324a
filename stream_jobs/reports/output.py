"""Write a built report: Parquet + CSV per table and one self-contained HTML page.

Small tables are collected once (Arrow) and every output is made from that one copy: the
Parquet file, the CSV (each cell through :func:`cell_text`) and the HTML page (the same
:func:`cell_text`), so the numbers on the page are the CSV's, character for character.
Detail tables are written by Spark and only linked from the page.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stream_jobs.reports import svg
from stream_jobs.reports.model import Chart, Report, ReportInputs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def cell_text(value: Any) -> str:
    """The one text form of a cell in CSV and HTML: floats with 2 decimals, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class CollectedTable:
    """A small table as collected: column names and raw Python values, in output order."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def texts(self) -> list[list[str]]:
        return [[cell_text(v) for v in row] for row in self.rows]


@dataclass
class WrittenReport:
    """Where a report went, and its small tables (for printing a summary)."""

    name: str
    title: str
    folder: Path
    html: Path
    headline: str | None = None
    files: list[Path] = field(default_factory=list)
    tables: dict[str, CollectedTable] = field(default_factory=dict)

    def headline_table(self) -> CollectedTable | None:
        """The table to show in a terminal: the report's headline, else its first."""
        if self.headline in self.tables:
            return self.tables[self.headline]
        return next(iter(self.tables.values()), None)


def report_folder(reports_root: Path, name: str, inputs: ReportInputs) -> Path:
    """``<root>/<name>/<start>_<end>`` (``…_with_bots`` when bots are counted, so such a run
    never replaces the regular report of the same range)."""
    suffix = "_with_bots" if inputs.include_bots else ""
    return reports_root / name / f"{inputs.start.isoformat()}_{inputs.end.isoformat()}{suffix}"


def write_report(report: Report, inputs: ReportInputs, reports_root: Path) -> WrittenReport:
    """Write ``report`` under ``<reports_root>/<name>/<start>_<end>/`` (replacing it)."""
    import pyarrow.parquet as pq

    folder = report_folder(reports_root, report.name, inputs)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    written = WrittenReport(report.name, report.title, folder, folder / "report.html",
                            report.headline)
    for table in report.tables:
        if table.detail:
            written.files.extend(_write_detail(table.frame, folder, table.name))
            continue
        arrow = table.frame.toArrow()
        collected = CollectedTable(table.name, table.title, list(arrow.column_names),
                                   [list(r.values()) for r in arrow.to_pylist()], table.note)
        written.tables[table.name] = collected
        parquet_path = folder / f"{table.name}.parquet"
        pq.write_table(arrow, parquet_path)
        csv_path = folder / f"{table.name}.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(collected.columns)
            out.writerows(collected.texts())
        written.files.extend([parquet_path, csv_path])
    written.html.write_text(
        html_page(report, inputs, written.tables,
                  [t.name for t in report.tables if t.detail]),
        encoding="utf-8",
    )
    written.files.append(written.html)
    return written


def _write_detail(frame: DataFrame, folder: Path, name: str) -> list[Path]:
    parquet_dir = folder / f"{name}.parquet"
    frame.write.mode("overwrite").parquet(str(parquet_dir))
    scratch = folder / f"_{name}_csv"
    frame.coalesce(1).write.mode("overwrite").option("header", True).csv(str(scratch))
    part = next(scratch.glob("part-*.csv"))
    csv_path = folder / f"{name}.csv"
    part.replace(csv_path)
    shutil.rmtree(scratch, ignore_errors=True)
    return [parquet_dir, csv_path]


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1000px;color:#222;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin:28px 0 8px}
.range{color:#666;margin-top:0}.note{color:#666;font-size:13px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px;display:block;max-width:100%;
overflow-x:auto}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f5f6fa}
svg text{font:12px system-ui,sans-serif;fill:#333}svg .value{font-weight:600}
.chart-box{overflow-x:auto}
"""


def html_page(report: Report, inputs: ReportInputs, tables: dict[str, CollectedTable],
              detail_tables: list[str]) -> str:
    """The report's self-contained HTML page (inline CSS and SVG, nothing fetched)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(report.title)} · {inputs.start} to {inputs.end}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        f'<p class="range">{inputs.start.isoformat()} to {inputs.end.isoformat()} (UTC, sessions '
        f'that started in this range{"" if inputs.include_bots else "; bots excluded"})</p>',
    ]
    parts.extend(f'<p class="note">{escape(note)}</p>' for note in report.notes)
    for i, chart in enumerate(report.charts):
        table = tables.get(chart.table)
        if table is None or not table.rows:
            continue
        parts.append(f'<section class="chart-box"><h2>{escape(chart.title)}</h2>'
                     f"{render_chart(chart, table, chart_id=f'chart-{i}')}</section>")
    for name, table in tables.items():
        parts.append(f"<section><h2>{escape(table.title)}</h2>")
        if table.note:
            parts.append(f'<p class="note">{escape(table.note)}</p>')
        parts.append(render_table(table))
        parts.append(f'<p class="note">Download: <a href="{escape(name)}.csv">{escape(name)}.csv'
                     f'</a> · <a href="{escape(name)}.parquet">{escape(name)}.parquet</a></p>'
                     "</section>")
    for name in detail_tables:
        parts.append(f'<section><h2>{escape(name)}</h2><p class="note">One row per item: '
                     f'<a href="{escape(name)}.csv">{escape(name)}.csv</a> · '
                     f'<a href="{escape(name)}.parquet">{escape(name)}.parquet</a></p></section>')
    parts.append("</body></html>")
    return "\n".join(parts)


def render_table(table: CollectedTable) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = []
    for raw, texts in zip(table.rows, table.texts(), strict=True):
        cells = "".join(
            f'<td class="num">{escape(t)}</td>' if isinstance(v, int | float)
            and not isinstance(v, bool) else f"<td>{escape(t)}</td>"
            for v, t in zip(raw, texts, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    empty = "" if body else '<p class="note">No data in this range.</p>'
    return (f'<table data-table="{escape(table.name)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{empty}")


def render_chart(chart: Chart, table: CollectedTable, *, chart_id: str) -> str:
    """Draw ``chart`` from the collected rows of its table."""
    index = {c: i for i, c in enumerate(table.columns)}
    rows = table.rows
    if chart.where is not None:
        column, wanted = chart.where
        rows = [r for r in rows if cell_text(r[index[column]]) == wanted]
    labels = [cell_text(r[index[chart.label]]) for r in rows]

    def numbers(column: str) -> tuple[list[float], list[str]]:
        values = [r[index[column]] for r in rows]
        return ([float(v) if v is not None else 0.0 for v in values],
                [cell_text(v) for v in values])

    if chart.kind == "line":
        series = [(column, *numbers(column)) for column in chart.values]
        return svg.line_chart(labels, series, chart.title, chart_id=chart_id)
    values, texts = numbers(chart.values[0])
    draw = svg.funnel_chart if chart.kind == "funnel" else svg.bar_chart
    return draw(labels, values, texts, chart.title, chart_id=chart_id)
