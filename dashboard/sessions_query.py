"""Traffic figures computed on demand from ``<lake>/sessions/`` with DuckDB (read-only).

Sessions are small rows, partitioned by date, so a date range with filters is one DuckDB scan
that answers in well under a second for months of traffic; answers are cached per lake state
(:mod:`dashboard.cache`). Bots are left out, as in the reports. Every value a user picks goes in
as a bound parameter, never into the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

FILTERS = ("source", "device", "country", "segment")
# filter name -> sessions column (segment is resolved through the lifecycle report's customers)
FILTER_COLUMNS = {"source": "referrer_class", "device": "device", "country": "country"}
BREAKDOWNS = {"by_source": "referrer_class", "by_device": "device", "by_country": "country"}
MAX_FILTER_LENGTH = 64


class FilterError(ValueError):
    """A filter or date the dashboard cannot use; ``field`` names the query parameter."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one (the comparison)."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    device: str | None = None
    country: str | None = None
    segment: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        values: dict[str, str | None] = {}
        for name in FILTERS:
            value = (args.get(name) or "").strip()
            if len(value) > MAX_FILTER_LENGTH:
                raise FilterError(name, f"longer than {MAX_FILTER_LENGTH} characters")
            values[name] = value or None
        return cls(**values)

    def active(self) -> dict[str, str]:
        return {n: v for n in FILTERS if (v := getattr(self, n)) is not None}

    def check(self, options: dict[str, list[str]]) -> None:
        """Refuse a value the lake does not hold (a typo would otherwise show zeros that look
        like real figures); the message names the parameter and the values it can take."""
        for name, value in self.active().items():
            known = options.get(name, [])
            if value in known:
                continue
            if not known:
                why = ("no lifecycle report run yet: segments come from it (clickloop report "
                       "--report lifecycle)" if name == "segment" else "the lake has no sessions")
                raise FilterError(name, f"{value!r} cannot be used: {why}")
            shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
            raise FilterError(name, f"{value!r} is not a {name} in this lake (one of: {shown})")


def parse_period(args: Any, default_end: date, default_days: int = 30,
                 max_days: int = 3660) -> Period:
    """``start``/``end`` query parameters (YYYY-MM-DD), defaulting to the last 30 days."""
    def one(name: str, fallback: date) -> date:
        raw = (args.get(name) or "").strip()
        if not raw:
            return fallback
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise FilterError(name, f"{raw[:40]!r} is not a date (YYYY-MM-DD)") from exc

    end = one("end", default_end)
    start = one("start", end - timedelta(days=default_days - 1))
    if start > end:
        raise FilterError("start", f"{start} is after end {end}")
    if (end - start).days + 1 > max_days:
        raise FilterError("start", f"the range is longer than {max_days} days")
    return Period(start, end)


class SessionsQuery:
    """Queries over one lake's sessions (and, for the segment filter, the lifecycle report)."""

    def __init__(self, sessions_dir: Path, segments_dir: Path | None = None):
        self.sessions_dir = sessions_dir
        self.segments_dir = segments_dir

    def _has_sessions(self) -> bool:
        return next(self.sessions_dir.glob("session_date=*/*.parquet"), None) is not None

    def connect(self) -> Any:
        """A DuckDB connection with the views ``all_sessions`` (bots out; typed and empty
        without sessions, so every query still answers) and ``segments``."""
        import duckdb

        con = duckdb.connect(":memory:")
        glob = str(self.sessions_dir / "session_date=*" / "*.parquet")
        if self._has_sessions():
            con.execute(f"CREATE VIEW all_sessions AS SELECT * FROM read_parquet("
                        f"'{_quote(glob)}', hive_partitioning = true, union_by_name = true) "
                        "WHERE NOT coalesce(is_bot, false)")
        else:
            columns = ", ".join(f"NULL::{kind} AS {name}" for name, kind in SESSION_COLUMNS)
            con.execute(f"CREATE VIEW all_sessions AS SELECT {columns} WHERE false")
        if self.segments_dir is not None and self.segments_dir.is_dir():
            seg_glob = str(self.segments_dir / "*.parquet")
            con.execute("CREATE VIEW segments AS SELECT customer_id, segment FROM "
                        f"read_parquet('{_quote(seg_glob)}')")
        else:
            con.execute("CREATE VIEW segments AS SELECT NULL::VARCHAR AS customer_id, "
                        "NULL::VARCHAR AS segment WHERE false")
        return con

    def where(self, period: Period, filters: Filters) -> tuple[str, list[Any]]:
        """The SQL condition (with its bound parameters) for sessions of ``period`` that pass
        ``filters``; every value a user picked is a parameter, never SQL text."""
        clauses = ["CAST(session_date AS DATE) BETWEEN ? AND ?"]
        params: list[Any] = [period.start, period.end]
        for name, column in FILTER_COLUMNS.items():
            value = getattr(filters, name)
            if value is not None:
                clauses.append(f"coalesce({column}, '(none)') = ?")
                params.append(value)
        if filters.segment is not None:
            clauses.append("coalesce(user_id, visitor_id) IN "
                           "(SELECT customer_id FROM segments WHERE segment = ?)")
            params.append(filters.segment)
        return " AND ".join(clauses), params

    def bounds(self) -> tuple[date, date] | None:
        """First and last session date in the lake, or None without sessions."""
        if not self._has_sessions():
            return None
        with self.connect() as con:
            low, high = con.execute("SELECT min(CAST(session_date AS DATE)), "
                                    "max(CAST(session_date AS DATE)) FROM all_sessions").fetchone()
        return (low, high) if low is not None else None

    def options(self) -> dict[str, list[str]]:
        """The values each filter can take (for the pickers)."""
        out: dict[str, list[str]] = {name: [] for name in FILTERS}
        if not self._has_sessions():
            return out
        with self.connect() as con:
            for name, column in FILTER_COLUMNS.items():
                out[name] = [r[0] for r in con.execute(
                    f"SELECT DISTINCT coalesce({column}, '(none)') AS v FROM all_sessions "
                    "ORDER BY v").fetchall()]
            out["segment"] = [r[0] for r in con.execute(
                "SELECT DISTINCT segment FROM segments WHERE segment IS NOT NULL "
                "ORDER BY segment").fetchall()]
        return out

    def overview(self, period: Period, filters: Filters) -> dict[str, Any]:
        """KPIs of the period and the previous one, daily series, breakdowns (tables as
        ``{"columns": [...], "rows": [[...]]}``)."""
        previous = period.previous()
        if not self._has_sessions():
            empty = _kpis_of(None)
            return {"kpis": _kpi_table(empty, empty), "daily": _table(DAILY_COLUMNS, []),
                    **{name: _table(BREAKDOWN_COLUMNS, []) for name in BREAKDOWNS}}
        with self.connect() as con:
            now = _kpis_of(self._kpis(con, period, filters))
            before = _kpis_of(self._kpis(con, previous, filters))
            daily = self._daily(con, period, filters)
            out = {"kpis": _kpi_table(now, before), "daily": daily}
            for name, column in BREAKDOWNS.items():
                out[name] = self._breakdown(con, period, filters, column)
        return out

    def _kpis(self, con: Any, period: Period, filters: Filters) -> tuple:
        where, params = self.where(period, filters)
        return con.execute(
            "SELECT count(*), count(DISTINCT visitor_id), count(*) FILTER (WHERE converted), "
            "coalesce(sum(revenue), 0), count(*) FILTER (WHERE bounce) "
            f"FROM all_sessions WHERE {where}", params).fetchone()

    def _daily(self, con: Any, period: Period, filters: Filters) -> dict[str, Any]:
        where, params = self.where(period, filters)
        prev_where, prev_params = self.where(period.previous(), filters)
        shift = period.days
        rows = con.execute(
            "WITH days AS (SELECT CAST(d AS DATE) AS day FROM "
            "generate_series(CAST(? AS DATE), CAST(? AS DATE), INTERVAL 1 DAY) t(d)), "
            f"cur AS (SELECT CAST(session_date AS DATE) AS day, count(*) AS sessions, "
            "count(*) FILTER (WHERE converted) AS conversions, "
            f"round(coalesce(sum(revenue), 0), 2) AS revenue FROM all_sessions WHERE {where} "
            "GROUP BY 1), "
            f"prev AS (SELECT CAST(session_date AS DATE) + {shift} AS day, count(*) AS sessions, "
            f"round(coalesce(sum(revenue), 0), 2) AS revenue FROM all_sessions "
            f"WHERE {prev_where} GROUP BY 1) "
            "SELECT days.day, coalesce(cur.sessions, 0), coalesce(cur.conversions, 0), "
            "coalesce(cur.revenue, 0.0), coalesce(prev.sessions, 0), coalesce(prev.revenue, 0.0) "
            "FROM days LEFT JOIN cur USING (day) LEFT JOIN prev USING (day) ORDER BY days.day",
            [period.start, period.end, *params, *prev_params]).fetchall()
        return _table(DAILY_COLUMNS, [list(r) for r in rows])

    def _breakdown(self, con: Any, period: Period, filters: Filters,
                   column: str) -> dict[str, Any]:
        where, params = self.where(period, filters)
        rows = con.execute(
            f"SELECT coalesce({column}, '(none)') AS value, count(*) AS sessions, "
            "count(DISTINCT visitor_id), count(*) FILTER (WHERE converted) AS conversions, "
            "round(100.0 * count(*) FILTER (WHERE converted) / count(*), 2), "
            "round(coalesce(sum(revenue), 0), 2) "
            f"FROM all_sessions WHERE {where} GROUP BY 1 ORDER BY sessions DESC, value LIMIT 20",
            params).fetchall()
        return _table(BREAKDOWN_COLUMNS, [list(r) for r in rows])


# the sessions' columns the dashboard reads, for the empty view of a lake without sessions
SESSION_COLUMNS = (
    ("session_id", "VARCHAR"), ("visitor_id", "VARCHAR"), ("user_id", "VARCHAR"),
    ("duration_s", "DOUBLE"), ("page_views", "BIGINT"), ("landing_page", "VARCHAR"),
    ("exit_page", "VARCHAR"), ("referrer_class", "VARCHAR"), ("referrer_host", "VARCHAR"),
    ("utm_source", "VARCHAR"), ("utm_medium", "VARCHAR"), ("utm_campaign", "VARCHAR"),
    ("device", "VARCHAR"), ("country", "VARCHAR"), ("is_bot", "BOOLEAN"),
    ("cookieless", "BOOLEAN"), ("orders", "BIGINT"), ("converted", "BOOLEAN"),
    ("revenue", "DOUBLE"), ("bounce", "BOOLEAN"), ("session_date", "DATE"),
)
DAILY_COLUMNS = ["date", "sessions", "conversions", "revenue", "previous_sessions",
                 "previous_revenue"]
BREAKDOWN_COLUMNS = ["value", "sessions", "visitors", "conversions", "conversion_rate_pct",
                     "revenue"]
KPI_NAMES = ("sessions", "visitors", "conversions", "conversion_rate_pct", "revenue",
             "bounce_rate_pct")


def _kpis_of(row: tuple | None) -> dict[str, float | int | None]:
    sessions, visitors, conversions, revenue, bounces = row or (0, 0, 0, 0.0, 0)
    return {
        "sessions": sessions, "visitors": visitors, "conversions": conversions,
        "conversion_rate_pct": _pct(conversions, sessions),
        "revenue": _money(revenue),
        "bounce_rate_pct": _pct(bounces, sessions),
    }


def _money(amount: Any) -> float:
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(float(amount))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _pct(part: int, whole: int) -> float | None:
    """``part/whole`` in percent, 2 decimals rounded half up (as the reports round)."""
    from decimal import ROUND_HALF_UP, Decimal

    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"),
                                                                 rounding=ROUND_HALF_UP))


def _kpi_table(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for name in KPI_NAMES:
        a, b = now[name], before[name]
        change = _pct_change(a, b)
        rows.append([name, a, b, change])
    return _table(["measure", "value", "previous", "change_pct"], rows)


def _pct_change(now: float | None, before: float | None) -> float | None:
    from decimal import ROUND_HALF_UP, Decimal

    if now is None or not before:
        return None
    change = (Decimal(str(now)) - Decimal(str(before))) * 100 / Decimal(str(before))
    return float(change.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"columns": columns, "rows": rows}


def _quote(text: str) -> str:
    return text.replace("'", "''")
