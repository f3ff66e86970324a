"""The dashboard's pages: overview (on demand), one page per report, personalization, CSVs.

Every page takes the same query string (``start``, ``end``, ``source``, ``device``,
``country``, ``segment``) and every link keeps it, so a chosen range and filter follow the user
through the navigation. Bad parameters answer 400 naming the parameter, never a stack trace.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, jsonify, render_template, request, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from dashboard.cache import folder_signature
from dashboard.report_runs import RUN_FOLDER, ReportRun, pick_run, report_runs
from dashboard.report_tables import (
    FUNNEL_STEPS_TITLE,
    LIVE_TABLES,
    PRECOMPUTED_WHY,
    TABLE_NOTES,
    ReportTables,
    funnel_steps_for,
)
from dashboard.sessions_query import (
    FILTERS,
    FilterError,
    Filters,
    Period,
    SessionsQuery,
    parse_period,
)
from dashboard.state import CHART_JS, state

bp = Blueprint("pages", __name__)
OVERVIEW_TABLES = {
    "kpis": "This period against the previous one",
    "daily": "Sessions and revenue by day (previous period aligned)",
    "by_source": "By traffic source",
    "by_device": "By device",
    "by_country": "By country",
}
DATE_LABELS = ("date", "month", "cohort", "day")


def _query() -> SessionsQuery:
    runs = report_runs(state().reports_root).get("lifecycle", [])
    segments = runs[0].folder / "customers.parquet" if runs else None
    return SessionsQuery(state().sessions_dir, segments)


def _cached(kind: str, *args: Any, compute, also: tuple[Path, ...] = ()) -> Any:
    """``compute()``'s answer, cached until the sessions, the lifecycle runs (segments) or the
    folders ``also`` change."""
    st = state()
    key = (kind, args, folder_signature(st.sessions_dir, st.reports_root / "lifecycle", *also))
    return st.cache.get(key, compute)


def _period_and_filters() -> tuple[Period, Filters]:
    bounds = _cached("bounds", compute=lambda: _query().bounds())
    default_end = bounds[1] if bounds else datetime.now(UTC).date()
    period, filters = parse_period(request.args, default_end), Filters.from_args(request.args)
    if filters.active():
        filters.check(_cached("options", compute=lambda: _query().options()))
    return period, filters


def _context(period: Period, filters: Filters, active: str) -> dict[str, Any]:
    """What the layout needs: navigation, the range, filters and their options."""
    runs = report_runs(state().reports_root)
    from stream_jobs.reports.registry import REPORTS

    names = list(dict.fromkeys([*REPORTS, *sorted(runs)]))
    keep = {"start": period.start.isoformat(), "end": period.end.isoformat(), **filters.active()}
    options = _cached("options", compute=lambda: _query().options())
    return {"period": period, "previous": period.previous(), "filters": filters,
            "filter_names": FILTERS, "options": options, "active": active,
            # reports with something to show: a run, or tables computed from the sessions
            "report_names": names, "have_runs": set(runs) | set(LIVE_TABLES),
            "query": urlencode(keep),
            "keep": keep}


def _charts_for(name: str, columns: list[str], rows: list[list[Any]]) -> list[dict[str, Any]]:
    """A chart per table where one makes sense: lines over a date-like first column, else bars
    of the first numeric column (2 to 50 rows)."""
    if len(rows) < 2 or len(rows) > 400 or not columns:
        return []
    numeric = [i for i, _ in enumerate(columns) if i > 0 and all(
        isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in rows
        if r[i] is not None)]
    numeric = [i for i in numeric if not columns[i].endswith(("_a_b", "_b_a", "_score"))
               and columns[i] not in ("step", "rank")]  # positions, not figures
    if not numeric:
        return []
    at = columns.index("step_name") if "step_name" in columns else 0  # a funnel's steps
    labels = [_text(r[at]) for r in rows]
    if {"sku_a", "sku_b"} <= set(columns):  # a pair is both of its products
        a, b = (columns.index("name_a"), columns.index("name_b")) if {"name_a", "name_b"} <= \
            set(columns) else (columns.index("sku_a"), columns.index("sku_b"))
        labels = [f"{_text(r[a])} + {_text(r[b])}" for r in rows]
    if columns[0] in DATE_LABELS:
        if len(set(labels)) < len(labels):
            return []  # several rows a date (cohort x months since): a line would zigzag
        # series on the first one's scale only: revenue drawn beside counts flattens them
        top = max((abs(r[numeric[0]]) for r in rows if r[numeric[0]] is not None), default=0)
        picked = [i for i in numeric if i == numeric[0] or _same_scale(rows, i, top)][:4]
        kind = "line"
    elif len(rows) <= 50:
        picked = numeric[:1]
        kind = "bar"
    else:
        return []
    return [{"table": name, "kind": kind, "labels": labels,
             "series": [{"name": columns[i], "values": [r[i] for r in rows]} for i in picked]}]


def _same_scale(rows: list[list[Any]], column: int, top: float) -> bool:
    """Whether ``column``'s largest value is within 10x of ``top`` (one axis can show both)."""
    peak = max((abs(r[column]) for r in rows if r[column] is not None), default=0)
    return top > 0 and top / 10 <= peak <= top * 10


def _text(value: Any) -> str:
    from stream_jobs.reports.output import cell_text

    return cell_text(value)


def _table_view(name: str, title: str, columns: list[str], rows: list[list[Any]],
                csv_url: str) -> dict[str, Any]:
    return {"name": name, "title": title, "columns": columns,
            "rows": [[_text(v) for v in r] for r in rows],
            # a column is numeric when its first non-empty value is (a rate may start empty)
            "numeric": [next((isinstance(v, int | float) and not isinstance(v, bool)
                              for v in (r[i] for r in rows) if v is not None), False)
                        for i in range(len(columns))],
            "csv": csv_url}


@bp.route("/")
def overview() -> str:
    period, filters = _period_and_filters()
    data = _cached("overview", period, filters,
                   compute=lambda: _query().overview(period, filters))
    ctx = _context(period, filters, "overview")
    tables, charts = [], []
    for name, title in OVERVIEW_TABLES.items():
        t = data[name]
        tables.append(_table_view(name, title, t["columns"], t["rows"],
                                  f"/overview/{name}.csv?{ctx['query']}"))
        if name == "daily" and t["rows"]:
            charts.append({"table": "daily", "kind": "line",
                           "labels": [_text(r[0]) for r in t["rows"]],
                           "series": [{"name": "sessions", "values": [r[1] for r in t["rows"]]},
                                      {"name": "previous_sessions",
                                       "values": [r[4] for r in t["rows"]]}]})
        elif name.startswith("by_"):
            charts.extend(_charts_for(name, t["columns"], t["rows"]))
    kpis = {r[0]: {"value": _text(r[1]), "previous": _text(r[2]), "change": r[3]}
            for r in data["kpis"]["rows"]}
    return render_template("overview.html", tables=tables, charts=charts, kpis=kpis, **ctx)


@bp.route("/overview/<table>.csv")
def overview_csv(table: str) -> Response:
    if table not in OVERVIEW_TABLES:
        abort(404)
    period, filters = _period_and_filters()
    data = _cached("overview", period, filters,
                   compute=lambda: _query().overview(period, filters))
    t = data[table]
    return _csv_response(t["columns"], t["rows"],
                         f"{table}_{period.start}_{period.end}.csv")


def _csv_response(columns: list[str], rows: list[list[Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([[_text(v) for v in r] for r in rows])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _runs_of(name: str) -> list[ReportRun]:
    from stream_jobs.reports.registry import REPORTS

    runs = report_runs(state().reports_root).get(name)
    if runs is None and name not in REPORTS:
        abort(404, description=f"unknown report {name!r}")
    return runs or []


def _live_tables(name: str, period: Period, filters: Filters) -> dict[str, dict]:
    """The report's tables recomputed from the sessions for this range and these filters."""
    if name not in LIVE_TABLES:
        return {}
    costs = state().lake / "costs"
    return _cached("report", name, period, filters, also=(costs,),
                   compute=lambda: ReportTables(_query(), costs).tables(name, period, filters))


def _live_charts(name: str, columns: list[str], rows: list[list[Any]]) -> list[dict[str, Any]]:
    """A by-day table charts its first figure against the previous period's; a comparison
    table mixes units and gets no chart; others as the run's tables."""
    if name == "compare":
        return []
    if columns and columns[0] in DATE_LABELS and len(rows) >= 2:
        pair = [c for c in columns if f"previous_{c}" in columns][:1]
        if pair:
            picked = [columns.index(pair[0]), columns.index(f"previous_{pair[0]}")]
            return [{"table": name, "kind": "line", "labels": [_text(r[0]) for r in rows],
                     "series": [{"name": columns[i], "values": [r[i] for r in rows]}
                                for i in picked]}]
    return _charts_for(name, columns, rows)


@bp.route("/reports/<name>")
def report(name: str) -> str:
    period, filters = _period_and_filters()
    runs = _runs_of(name)
    run, exact = pick_run(runs, period.start, period.end)
    ctx = _context(period, filters, name)
    live = _live_tables(name, period, filters)
    titles = LIVE_TABLES.get(name, {})
    order = [t for t in ("compare",) if t in live]
    order += [t for t in (run.tables() if run is not None else []) if t not in order]
    order += [t for t in live if t not in order]
    tables, charts, details = [], [], []
    for table in order:
        if table in live:
            columns, rows = live[table]["columns"], live[table]["rows"]
            view = _table_view(table, titles[table], columns, rows,
                               f"/reports/{name}/live/{table}.csv?{ctx['query']}")
            view.update(live=True, note=TABLE_NOTES.get((name, table), ""))
            charts.extend(_live_charts(table, columns, rows))
        else:
            columns, records = run.read(table)
            rows = [[rec[c] for c in columns] for rec in records]
            view = _table_view(table, table.replace("_", " ").capitalize(), columns,
                               rows, f"/reports/{name}/{run.run_id}/{table}.csv")
            view.update(live=False, ignores=bool(filters.active()))
            charts.extend(_charts_for(table, columns, rows))
        tables.append(view)
    if run is not None:
        details = [(t, f"/reports/{name}/{run.run_id}/{t}.csv") for t in run.detail_tables()]
        if name == "funnels" and "funnel_breakdown" in run.tables():
            views, steps_charts = _funnel_steps_view(run, filters, ctx["query"])
            tables[:0] = views
            charts.extend(steps_charts)
    return render_template("report.html", name=name, run=run, exact=exact, runs=runs,
                           tables=tables, charts=charts, details=details,
                           live_names=[t["name"] for t in tables if t["live"]],
                           run_names=[t["name"] for t in tables
                                      if not t["live"] and not t.get("derived")],
                           why=PRECOMPUTED_WHY.get(name, ""), **ctx)


def _funnel_steps_view(run: ReportRun, filters: Filters,
                       query: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The funnels' steps for the one active filter (table view and chart), if it can be read
    off the run's breakdown."""
    found = funnel_steps_for(filters, *run.read("funnel_breakdown"))
    if found is None:
        return [], []
    table, note = found
    (name, value), = filters.active().items()
    view = _table_view("filtered_steps", FUNNEL_STEPS_TITLE.format(filter=f"{name} = {value}"),
                       table["columns"], table["rows"],
                       f"/reports/funnels/{run.run_id}/filtered_steps.csv?{query}")
    view.update(live=False, derived=True, note=note)
    return [view], _charts_for("filtered_steps", table["columns"], table["rows"])


@bp.route("/reports/funnels/<run_id>/filtered_steps.csv")
def funnel_steps_csv(run_id: str) -> Response:
    """The funnels' steps for the one filter in the query string, from that run's breakdown."""
    _, filters = _period_and_filters()
    run = next((r for r in _runs_of("funnels") if r.run_id == run_id), None)
    if run is None or "funnel_breakdown" not in run.tables():
        abort(404, description=f"no funnels run {run_id!r} with a breakdown")
    found = funnel_steps_for(filters, *run.read("funnel_breakdown"))
    if found is None:
        raise FilterError("source", "pick exactly one of source, device or country: the "
                                    "funnels' breakdown has one dimension at a time")
    return _csv_response(found[0]["columns"], found[0]["rows"],
                         f"funnels_{run_id}_filtered_steps.csv")


@bp.route("/reports/<name>/live/<table>.csv")
def report_live_csv(name: str, table: str) -> Response:
    """A filterable report table as computed for the range and filters in the query string."""
    _runs_of(name)  # 404 for an unknown report
    if table not in LIVE_TABLES.get(name, {}):
        abort(404, description=f"no table {table!r} of {name} follows the filters")
    period, filters = _period_and_filters()
    t = _live_tables(name, period, filters)[table]
    return _csv_response(t["columns"], t["rows"],
                         f"{name}_{table}_{period.start}_{period.end}.csv")


@bp.route("/reports/<name>/<run_id>/<table>.csv")
def report_csv(name: str, run_id: str, table: str) -> Response:
    if RUN_FOLDER.match(run_id) is None:
        abort(404)
    run = next((r for r in _runs_of(name) if r.run_id == run_id), None)
    path = run.csv_path(table) if run is not None else None
    if path is None:
        abort(404, description=f"no table {table!r} in {name}/{run_id}")
    return send_file(path, mimetype="text/csv", as_attachment=True,
                     download_name=f"{name}_{run_id}_{table}.csv")


@bp.route("/personalization")
def personalization() -> str:
    period, filters = _period_and_filters()
    figures = _cached("personalization", compute=_personalization_figures)
    return render_template("personalization.html", figures=figures,
                           **_context(period, filters, "personalization"))


def _personalization_figures() -> dict[str, Any]:
    """The intent model's summary and the uplift report, from the personalization store."""
    from personalization.stores import STORE_ERRORS, open_store
    from personalization.uplift import exposed_rows, uplift

    settings = state().settings
    if not settings.personalization.redis_url and not (
            settings.state_dir / "personalization").is_dir():
        return {"error": "no personalization store yet (start the worker: clickloop "
                         "personalization worker)"}
    store = open_store(settings)
    try:
        summary = store.model_summary(settings.personalization.consumer_group)
        report = uplift(exposed_rows(store.iter_profiles())).as_dict()
    except STORE_ERRORS as exc:
        return {"error": f"the personalization store is unusable: {exc}"}
    finally:
        store.close()
    return {"model": summary, "uplift": report}


@bp.route("/static/chart.js")
def chart_js() -> Response:
    if not CHART_JS.is_file():
        return Response("/* Chart.js is not installed: run `npm ci` in dashboard/assets */",
                        status=503, mimetype="text/javascript")
    return send_file(CHART_JS, mimetype="text/javascript", max_age=3600)


@bp.route("/healthz")
def health() -> Response:
    return jsonify({"status": "ok", "lake": str(state().lake)})


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(FilterError)
    def bad_filter(exc: FilterError) -> tuple[Response | str, int]:
        if request.path.endswith(".csv") or request.accept_mimetypes.best == "application/json":
            return jsonify({"error": exc.message, "field": exc.field}), 400
        return render_template("error.html", status=400,
                               message=f"{exc.field}: {exc.message}"), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template("error.html", status=exc.code,
                               message=exc.description or exc.name), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        app.logger.exception("dashboard page failed")
        return render_template("error.html", status=500,
                               message="This page could not be built; the server log says "
                                       "why."), 500


def today() -> date:
    return datetime.now(UTC).date()
