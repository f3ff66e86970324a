"""Report tables recomputed on demand from the sessions, so the filters apply on report pages.

A report run (``<lake>/reports/<report>/<start>_<end>/``) is precomputed by Spark for all traffic
of its range: it cannot be cut by device or segment afterwards. The tables a report derives
from session rows alone (traffic by day, source, landing page; campaigns; campaign ROI; ways in)
are therefore recomputed here with DuckDB for exactly the picked range and filters, with the
report's own definitions (``stream_jobs/reports/<report>.py``: same columns, same order, same
top 20, rounding half up as Spark's ``round`` does) and the previous period beside them. Tables
that need the events in order, order items or the whole order history stay the run's, and
:data:`PRECOMPUTED_WHY` says why on the page, so a filtered page never shows an unfiltered
figure as if it were filtered.

Every answer is a ``{"columns": [...], "rows": [[...]]}`` table, cached by the caller per lake
state (:mod:`dashboard.cache`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from dashboard.sessions_query import Filters, Period, SessionsQuery

TOP_N = 20  # the reports' default top_n
# report -> its tables that follow the filters, in page order, with their titles
LIVE_TABLES: dict[str, dict[str, str]] = {
    "traffic": {
        "compare": "This period against the previous one",
        "summary": "Summary",
        "people": "People: users where known, visitors otherwise",
        "daily": "By day (previous period aligned)",
        "entry_pages": f"Top {TOP_N} entry (landing) pages",
        "sources": "Traffic sources",
        "referrers": f"Top {TOP_N} referring sites",
    },
    "campaigns": {
        "compare": "Campaign traffic: this period against the previous one",
        "campaigns": f"Top {TOP_N} campaigns by sessions",
        "daily": "Campaign sessions by day (previous period aligned)",
    },
    "campaign_roi": {
        "compare": "Campaign cost and return: this period against the previous one",
        "campaigns": "Cost, visits, orders and return by campaign",
        "daily": "Campaign cost and revenue by day",
    },
    "paths": {"entrances": f"Top {TOP_N} ways in (source, referrer, landing page)"},
    "customers": {"value_by_segment": "Buyers and revenue by RFM segment"},
    "lifecycle": {"value_by_segment": "Buyers and revenue by RFM segment"},
}
# report -> why its other (run) tables cannot follow the filters
PRECOMPUTED_WHY: dict[str, str] = {
    "traffic": "top and exit pages count page-view events, which the report run counted for "
               "all traffic",
    "funnels": "funnels walk each unit's events in time order; the run did that for all "
               "traffic",
    "paths": "page-to-page transitions walk the events in time order; the run did that for "
             "all traffic",
    "customers": "RFM scores rank each customer against all customers of the run's range",
    "lifecycle": "cohorts and stages look back over the whole order history of all customers",
    "baskets": "product pairs and basket sizes come from order items, not from sessions",
    "campaign_roi": "",
    "campaigns": "",
}
TABLE_NOTES: dict[tuple[str, str], str] = {
    ("campaign_roi", "campaigns"): "Costs carry no source, device, country or segment: with a "
    "filter, cost is still the campaign's whole spend, so cost_per_visit, cost_per_order and "
    "roas set filtered visits against all of it.",
    ("campaign_roi", "daily"): "Cost is every campaign's whole spend of the day (costs carry no "
                               "filter dimensions).",
    ("customers", "value_by_segment"): "Segments: the newest lifecycle run's RFM segments; "
    "buyers = people (user where known, else visitor) with a converting session in the range.",
    ("lifecycle", "value_by_segment"): "Buyers = people (user where known, else visitor) with a "
    "converting session in the range, by their RFM segment in the newest lifecycle run.",
}


def half_up(value: Any, places: int = 2) -> float | None:
    """``round(value, places)`` half up on the shortest decimal form of the double, as
    Spark's ``round`` does (Python's ``round`` rounds half to even on binary values).

    >>> half_up(2.675), half_up(0.125), half_up(None)
    (2.68, 0.13, None)
    """
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def pct(part: Any, whole: Any) -> float | None:
    """The reports' ``pct``: ``part * 100 / whole`` as a double, 2 places; None for 0."""
    if part is None or not whole:
        return None
    return half_up(float(part) * 100.0 / float(whole))


def ratio(part: Any, whole: Any) -> float | None:
    if part is None or not whole:
        return None
    return half_up(float(part) / float(whole))


def money(amount: Any) -> float:
    return half_up(amount or 0.0) or 0.0


def change_pct(now: Any, before: Any) -> float | None:
    """Change from ``before`` to ``now`` in percent (None without a base to compare with)."""
    if now is None or not before:
        return None
    return half_up((float(now) - float(before)) * 100.0 / float(before))


def label(column: str) -> str:
    """SQL for the reports' ``none_label``: a missing or empty value reads ``(none)``."""
    return f"CASE WHEN {column} <> '' THEN {column} ELSE '(none)' END"


PERSON = "coalesce('u:' || user_id, 'v:' || visitor_id)"


class ReportTables:
    """The filterable tables of each report, over one lake's sessions (and costs)."""

    def __init__(self, query: SessionsQuery, costs_dir: Path | None = None):
        self.query = query
        self.costs_dir = costs_dir

    def tables(self, report: str, period: Period, filters: Filters) -> dict[str, dict]:
        """``{table name: table}`` for ``report`` (empty for a report with none)."""
        builder = BUILDERS.get(report)
        if builder is None:
            return {}
        with self.query.connect() as con:
            self._costs_view(con)
            return builder(_Ask(con, self.query, period, filters))

    def _costs_view(self, con: Any) -> None:
        files = ([p for p in sorted(self.costs_dir.glob("[!_]*.parquet")) if p.is_file()]
                 if self.costs_dir is not None and self.costs_dir.is_dir() else [])
        if not files:
            con.execute("CREATE VIEW costs AS SELECT NULL::VARCHAR AS campaign, "
                        "NULL::DATE AS date, NULL::DOUBLE AS cost WHERE false")
            return
        listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        # the latest import of a (campaign, date) wins, as in stream_jobs.reports.campaign_roi
        con.execute(
            "CREATE VIEW costs AS SELECT campaign, date, cost FROM (SELECT campaign, "
            "CAST(date AS DATE) AS date, CAST(cost AS DOUBLE) AS cost, row_number() OVER "
            "(PARTITION BY campaign, CAST(date AS DATE) ORDER BY imported_at DESC) AS n "
            f"FROM read_parquet([{listed}], union_by_name = true)) WHERE n = 1")


class _Ask:
    """One connection, one period and its previous one, one set of filters."""

    def __init__(self, con: Any, query: SessionsQuery, period: Period, filters: Filters):
        self.con = con
        self.query = query
        self.period = period
        self.filters = filters

    def rows(self, sql: str, params: list[Any] | None = None, *,
             previous: bool = False) -> list[tuple]:
        """Run ``sql`` with ``{where}`` = the (previous) period's filtered sessions."""
        period = self.period.previous() if previous else self.period
        where, where_params = self.query.where(period, self.filters)
        return self.con.execute(sql.format(where=where),
                                [*where_params, *(params or [])]).fetchall()

    def days(self, sql_per_day: str) -> tuple[list[date], dict[date, tuple], dict[date, tuple]]:
        """Every day of the period, and ``sql_per_day``'s rows (first column the day) for the
        period and for the previous one (keyed by the aligned day of this period)."""
        from datetime import timedelta

        shift = timedelta(days=self.period.days)
        now = {r[0]: r for r in self.rows(sql_per_day)}
        before = {r[0] + shift: r for r in self.rows(sql_per_day, previous=True)}
        days = [self.period.start + timedelta(days=i) for i in range(self.period.days)]
        return days, now, before


def _table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "rows": rows}


def _compare(measures: list[str], now: dict[str, Any], before: dict[str, Any]) -> dict:
    return _table(["measure", "value", "previous", "change_pct"],
                  [[m, now[m], before[m], change_pct(now[m], before[m])] for m in measures])


# --- traffic ---------------------------------------------------------------------------------

def _traffic_summary(ask: _Ask, previous: bool = False) -> dict[str, Any]:
    visitors, sessions, page_views, bounces, avg_s, median_s = ask.rows(
        "SELECT count(DISTINCT visitor_id), count(*), coalesce(sum(page_views), 0), "
        "count(*) FILTER (WHERE bounce), avg(duration_s), median(duration_s) "
        "FROM all_sessions WHERE {where}", previous=previous)[0]
    return {"visitors": visitors, "sessions": sessions, "page_views": int(page_views),
            "bounce_rate_pct": pct(bounces, sessions), "avg_duration_s": half_up(avg_s),
            "median_duration_s": half_up(median_s),
            "pages_per_session": ratio(page_views, sessions)}


def traffic(ask: _Ask) -> dict[str, dict]:
    now, before = _traffic_summary(ask), _traffic_summary(ask, previous=True)
    out = {"compare": _compare(["visitors", "sessions", "page_views", "bounce_rate_pct",
                                "avg_duration_s", "pages_per_session"], now, before),
           "summary": _table(list(now), [list(now.values())])}
    people = ask.rows(
        f"SELECT count(DISTINCT {PERSON}), count(DISTINCT user_id), "
        "count(DISTINCT visitor_id) FILTER (WHERE user_id IS NULL), "
        "count(DISTINCT visitor_id) FILTER (WHERE cookieless), count(DISTINCT visitor_id), "
        "count(*), count(*) FILTER (WHERE cookieless) FROM all_sessions WHERE {where}")[0]
    out["people"] = _table(
        ["people", "identified_users", "anonymous_visitors", "cookieless_visitors", "visitors",
         "sessions", "cookieless_sessions", "cookieless_sessions_pct"],
        [[*people, pct(people[6], people[5])]])
    days, per_day, prev_day = ask.days(
        "SELECT CAST(session_date AS DATE), count(DISTINCT visitor_id), count(*), "
        "sum(page_views), count(*) FILTER (WHERE bounce), avg(duration_s) "
        "FROM all_sessions WHERE {where} GROUP BY 1")
    daily = []
    for day in days:
        _, visitors, sessions, views, bounces, avg_s = per_day.get(day, (day, 0, 0, None, 0,
                                                                         None))
        daily.append([day, visitors, sessions, int(views or 0), pct(bounces, sessions),
                      half_up(avg_s), ratio(views, sessions),
                      prev_day[day][2] if day in prev_day else 0])
    out["daily"] = _table(["date", "visitors", "sessions", "page_views", "bounce_rate_pct",
                           "avg_duration_s", "pages_per_session", "previous_sessions"], daily)
    entries = "SELECT landing_page, count(*) AS n, count(*) FILTER (WHERE bounce) " \
              "FROM all_sessions WHERE {where} AND landing_page IS NOT NULL GROUP BY 1 " \
              f"ORDER BY n DESC, landing_page LIMIT {TOP_N}"
    before_entries = {r[0]: r[1] for r in ask.rows(entries.replace(
        f" LIMIT {TOP_N}", ""), previous=True)}
    out["entry_pages"] = _table(
        ["page", "entrances", "bounce_rate_pct", "previous_entrances"],
        [[page, n, pct(b, n), before_entries.get(page, 0)] for page, n, b in ask.rows(entries)])
    sources = (f"SELECT {label('referrer_class')} AS source, count(*) AS n, "
               "count(DISTINCT visitor_id) FROM all_sessions WHERE {where} GROUP BY 1 "
               "ORDER BY n DESC, source")
    now_sources = ask.rows(sources)
    total = sum(r[1] for r in now_sources)
    before_sources = {r[0]: r[1] for r in ask.rows(sources, previous=True)}
    out["sources"] = _table(
        ["source", "sessions", "visitors", "share_pct", "previous_sessions", "change_pct"],
        [[s, n, v, pct(n, total), before_sources.get(s, 0), change_pct(n, before_sources.get(s))]
         for s, n, v in now_sources])
    referrers = ask.rows(
        f"SELECT referrer_host, {label('referrer_class')} AS source, count(*) AS n, "
        "count(DISTINCT visitor_id) FROM all_sessions WHERE {where} "
        "AND referrer_host IS NOT NULL AND referrer_class <> 'internal' GROUP BY 1, 2 "
        f"ORDER BY n DESC, referrer_host, source LIMIT {TOP_N}")
    out["referrers"] = _table(["referrer_host", "source", "sessions", "visitors"],
                              [list(r) for r in referrers])
    return out


# --- campaigns -------------------------------------------------------------------------------

def _tagged_totals(ask: _Ask, previous: bool = False) -> dict[str, Any]:
    sessions, conversions, revenue = ask.rows(
        "SELECT count(*), count(*) FILTER (WHERE converted), sum(revenue) FROM all_sessions "
        "WHERE {where} AND utm_campaign IS NOT NULL", previous=previous)[0]
    return {"campaign_sessions": sessions, "campaign_conversions": conversions,
            "campaign_revenue": money(revenue),
            "campaign_conversion_rate_pct": pct(conversions, sessions)}


def campaigns(ask: _Ask) -> dict[str, dict]:
    now, before = _tagged_totals(ask), _tagged_totals(ask, previous=True)
    out = {"compare": _compare(list(now), now, before)}
    sql = (f"SELECT {label('utm_campaign')} AS campaign, {label('utm_source')} AS source, "
           f"{label('utm_medium')} AS medium, count(*) AS n, count(DISTINCT visitor_id), "
           "count(*) FILTER (WHERE converted), sum(revenue) FROM all_sessions WHERE {where} "
           "GROUP BY 1, 2, 3 ORDER BY n DESC, campaign, source, medium")
    earlier = {r[:3]: r for r in ask.rows(sql, previous=True)}
    rows = []
    for campaign, source, medium, n, visitors, conversions, revenue in ask.rows(
            f"{sql} LIMIT {TOP_N}"):
        revenue = money(revenue)
        prev = earlier.get((campaign, source, medium))
        rows.append([campaign, source, medium, n, visitors, conversions, revenue,
                     pct(conversions, n), ratio(revenue, n), prev[3] if prev else 0,
                     money(prev[6]) if prev else 0.0])
    out["campaigns"] = _table(
        ["campaign", "source", "medium", "sessions", "visitors", "conversions", "revenue",
         "conversion_rate_pct", "revenue_per_session", "previous_sessions",
         "previous_revenue"], rows)
    days, per_day, prev_day = ask.days(
        "SELECT CAST(session_date AS DATE), count(*), count(*) FILTER (WHERE converted), "
        "sum(revenue) FROM all_sessions WHERE {where} AND utm_campaign IS NOT NULL GROUP BY 1")
    out["daily"] = _table(
        ["date", "campaign_sessions", "campaign_conversions", "campaign_revenue",
         "previous_campaign_sessions"],
        [[d, *(lambda r: [r[1], r[2], money(r[3])])(per_day.get(d, (d, 0, 0, 0.0))),
          prev_day[d][1] if d in prev_day else 0] for d in days])
    return out


# --- campaign ROI ----------------------------------------------------------------------------

def _roi_rows(ask: _Ask, previous: bool = False) -> list[list[Any]]:
    period = ask.period.previous() if previous else ask.period
    spent = {c: v for c, v in ask.con.execute(
        "SELECT campaign, sum(cost) FROM costs WHERE date BETWEEN ? AND ? GROUP BY 1",
        [period.start, period.end]).fetchall()}
    brought = {r[0]: r[1:] for r in ask.rows(
        "SELECT utm_campaign, count(*), coalesce(sum(orders), 0), sum(revenue) "
        "FROM all_sessions WHERE {where} AND utm_campaign IS NOT NULL GROUP BY 1",
        previous=previous)}
    rows = []
    for campaign in set(spent) | set(brought):
        cost = money(spent.get(campaign))
        sessions, orders, revenue = brought.get(campaign, (0, 0, 0.0))
        revenue = money(revenue)
        rows.append([campaign, cost, sessions, int(orders), revenue, ratio(cost, sessions),
                     ratio(cost, orders), ratio(revenue, cost)])
    rows.sort(key=lambda r: (-r[1], -r[2], r[0]))
    return rows


def campaign_roi(ask: _Ask) -> dict[str, dict]:
    now, before = _roi_rows(ask), _roi_rows(ask, previous=True)

    def totals(rows: list[list[Any]]) -> dict[str, Any]:
        cost = money(sum(r[1] for r in rows))
        revenue = money(sum(r[4] for r in rows))
        return {"cost": cost, "campaign_sessions": sum(r[2] for r in rows),
                "orders": sum(r[3] for r in rows), "revenue": revenue,
                "roas": ratio(revenue, cost)}

    earlier = {r[0]: r for r in before}
    out = {"compare": _compare(["cost", "campaign_sessions", "orders", "revenue", "roas"],
                               totals(now), totals(before)),
           "campaigns": _table(
               ["campaign", "cost", "sessions", "orders", "revenue", "cost_per_visit",
                "cost_per_order", "roas", "previous_revenue", "previous_roas"],
               [[*r, earlier[r[0]][4] if r[0] in earlier else 0.0,
                 earlier[r[0]][7] if r[0] in earlier else None] for r in now])}
    spent = {d: c for d, c in ask.con.execute(
        "SELECT date, sum(cost) FROM costs WHERE date BETWEEN ? AND ? GROUP BY 1",
        [ask.period.start, ask.period.end]).fetchall()}
    days, per_day, _ = ask.days(
        "SELECT CAST(session_date AS DATE), count(*), sum(revenue) FROM all_sessions "
        "WHERE {where} AND utm_campaign IS NOT NULL GROUP BY 1")
    daily = []
    for d in days:
        _, sessions, revenue = per_day.get(d, (d, 0, None))
        cost, revenue = money(spent.get(d)), money(revenue)
        daily.append([d, cost, sessions, revenue, ratio(revenue, cost)])
    out["daily"] = _table(["date", "cost", "campaign_sessions", "campaign_revenue", "roas"],
                          daily)
    return out


# --- paths -----------------------------------------------------------------------------------

def paths(ask: _Ask) -> dict[str, dict]:
    sql = (f"SELECT {label('referrer_class')} AS source, {label('referrer_host')} AS host, "
           "landing_page, count(*) AS n FROM all_sessions WHERE {where} "
           "AND landing_page IS NOT NULL GROUP BY 1, 2, 3 "
           "ORDER BY n DESC, source, host, landing_page")
    earlier = {r[:3]: r[3] for r in ask.rows(sql, previous=True)}
    return {"entrances": _table(
        ["source", "referrer_host", "landing_page", "sessions", "previous_sessions"],
        [[*r, earlier.get(r[:3], 0)] for r in ask.rows(f"{sql} LIMIT {TOP_N}")])}


# --- customers' value by segment -------------------------------------------------------------

def value_by_segment(ask: _Ask) -> dict[str, dict]:
    sql = ("SELECT coalesce(seg.segment, '(no segment)') AS segment, "
           f"count(DISTINCT {PERSON}), coalesce(sum(orders), 0), sum(revenue) "
           "FROM all_sessions LEFT JOIN (SELECT customer_id, min(segment) AS segment "
           "FROM segments GROUP BY 1) seg ON seg.customer_id = coalesce(user_id, visitor_id) "
           "WHERE {where} AND converted GROUP BY 1")
    now = ask.rows(sql)
    earlier = {r[0]: r for r in ask.rows(sql, previous=True)}
    total = sum(r[3] or 0.0 for r in now)
    rows = [[segment, buyers, int(orders), money(revenue), pct(money(revenue), money(total)),
             earlier[segment][1] if segment in earlier else 0,
             money(earlier[segment][3]) if segment in earlier else 0.0]
            for segment, buyers, orders, revenue in now]
    rows.sort(key=lambda r: (-r[3], r[0]))
    return {"value_by_segment": _table(
        ["segment", "buyers", "orders", "revenue", "revenue_share_pct", "previous_buyers",
         "previous_revenue"], rows)}


BUILDERS: dict[str, Callable[[_Ask], dict[str, dict]]] = {
    "traffic": traffic, "campaigns": campaigns, "campaign_roi": campaign_roi, "paths": paths,
    "customers": value_by_segment, "lifecycle": value_by_segment,
}


# --- funnels: one filter at a time, from the run's own breakdown -----------------------------

BREAKDOWN_FILTERS = ("source", "device", "country")  # the funnel report's breakdown dimensions
FUNNEL_STEPS_TITLE = "Steps for {filter} (from the run's breakdown by entry session)"


def funnel_steps_for(filters: Filters, columns: list[str],
                     records: list[dict[str, Any]]) -> tuple[dict[str, Any], str] | None:
    """The funnels' steps for the one active filter, from the run's ``funnel_breakdown``.

    The funnels report counts the units reaching each step by the device, country and traffic
    source of the session they entered the funnel in (its top 10 values): with exactly one of
    those filters, that is the filtered funnel, for the run's range. Anything else (a segment,
    two filters) cannot be read off the run: None. Returns the table and a note.
    """
    active = filters.active()
    if len(active) != 1 or next(iter(active)) not in BREAKDOWN_FILTERS:
        return None
    (name, value), = active.items()
    needed = {"funnel", "unit", "dimension", "value", "step", "step_name", "units"}
    if not needed <= set(columns):
        return None
    rows: list[list[Any]] = []
    previous: dict[str, int] = {}
    first: dict[str, int] = {}
    for rec in records:
        if rec["dimension"] != name or rec["value"] != value:
            continue
        funnel, units = rec["funnel"], rec["units"]
        first.setdefault(funnel, units)
        step_pct = pct(units, previous[funnel]) if funnel in previous else None
        rows.append([funnel, rec["unit"], rec["step"], rec["step_name"], units, step_pct,
                     pct(units, first[funnel])])
        previous[funnel] = units
    note = ("Units (sessions or visitors, as the funnel counts) whose entry session had "
            f"{name} = {value}, for the run's range.")
    if not rows:
        note += (f" {value!r} is not among the top 10 {name} values the run broke the funnels "
                 "down by, so it cannot be shown here.")
    return ({"columns": ["funnel", "unit", "step", "step_name", "units", "conversion_step_pct",
                         "conversion_overall_pct"], "rows": rows}, note)
