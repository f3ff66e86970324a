"""On-demand traffic figures (DuckDB over the sessions) against plain Python on the same rows."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.report_runs import pick_run, report_runs
from dashboard.sessions_query import FilterError, Filters, Period, SessionsQuery, parse_period
from tests.dashboard.conftest import FIRST_DAY, expected


def query(lake) -> SessionsQuery:
    root = lake.settings.lake
    return SessionsQuery(root / "sessions", root / "reports" / "lifecycle" /
                         "2024-03-01_2024-03-28" / "customers.parquet")


def kpis(overview: dict) -> dict:
    return {r[0]: (r[1], r[2]) for r in overview["kpis"]["rows"]}


@pytest.mark.parametrize("filters", [
    {}, {"device": "mobile"}, {"source": "email"}, {"country": "(none)"},
    {"segment": "Champions"}, {"device": "desktop", "country": "GB"},
])
def test_overview_figures_and_the_previous_period_match_the_rows(dashboard_lake, filters):
    period = Period(date(2024, 3, 15), date(2024, 3, 28))
    got = kpis(query(dashboard_lake).overview(period, Filters(**filters)))
    now = expected(dashboard_lake.sessions, period.start, period.end, **filters)
    before = expected(dashboard_lake.sessions, date(2024, 3, 1), date(2024, 3, 14), **filters)
    for name in ("sessions", "visitors", "conversions", "conversion_rate_pct", "revenue"):
        assert got[name] == (now[name], before[name]), name
    assert now["sessions"] > 0


def test_daily_rows_cover_every_day_and_align_the_previous_period(dashboard_lake):
    period = Period(date(2024, 3, 22), date(2024, 3, 28))
    daily = query(dashboard_lake).overview(period, Filters())["daily"]
    assert [r[0] for r in daily["rows"]] == [date(2024, 3, d) for d in range(22, 29)]
    for row in daily["rows"]:
        day = row[0]
        same = expected(dashboard_lake.sessions, day, day)
        week_before = expected(dashboard_lake.sessions, day.replace(day=day.day - 7),
                               day.replace(day=day.day - 7))
        assert (row[1], row[2], row[4]) == (same["sessions"], same["conversions"],
                                            week_before["sessions"])


def test_breakdowns_and_filter_options(dashboard_lake):
    q = query(dashboard_lake)
    period = Period(FIRST_DAY, date(2024, 3, 28))
    by_device = q.overview(period, Filters())["by_device"]
    got = {r[0]: r[1] for r in by_device["rows"]}
    assert got == {d: expected(dashboard_lake.sessions, period.start, period.end,
                               device=d)["sessions"] for d in ("desktop", "mobile", "tablet")}
    assert [r[1] for r in by_device["rows"]] == sorted(got.values(), reverse=True)
    options = q.options()
    assert options["country"] == ["(none)", "FR", "GB"]
    assert options["segment"] == ["At risk", "Champions"]
    assert q.bounds() == (FIRST_DAY, date(2024, 3, 28))


def test_an_empty_lake_answers_zeros(tmp_path):
    q = SessionsQuery(tmp_path / "sessions")
    overview = q.overview(Period(date(2024, 1, 1), date(2024, 1, 2)), Filters())
    assert kpis(overview)["sessions"] == (0, 0)
    assert q.bounds() is None


def test_bad_dates_and_filters_name_the_parameter():
    with pytest.raises(FilterError) as bad:
        parse_period({"start": "2024-02-30"}, date(2024, 3, 1))
    assert bad.value.field == "start"
    with pytest.raises(FilterError) as reversed_:
        parse_period({"start": "2024-03-05", "end": "2024-03-01"}, date(2024, 3, 1))
    assert reversed_.value.field == "start"
    with pytest.raises(FilterError) as long_:
        Filters.from_args({"device": "x" * 65})
    assert long_.value.field == "device"
    assert parse_period({}, date(2024, 3, 30)) == Period(date(2024, 3, 1), date(2024, 3, 30))


def test_the_run_for_a_range_is_exact_else_the_narrowest_covering_one(dashboard_lake, tmp_path):
    from tests.dashboard.conftest import LIFECYCLE_TABLES, write_report_run

    lake = dashboard_lake.settings.lake
    write_report_run(lake, "lifecycle", date(2024, 1, 1), date(2024, 3, 31), LIFECYCLE_TABLES)
    runs = report_runs(lake / "reports")["lifecycle"]
    assert pick_run(runs, date(2024, 3, 1), date(2024, 3, 28))[1] is True
    run, exact = pick_run(runs, date(2024, 3, 2), date(2024, 3, 10))
    assert (run.start, exact) == (date(2024, 3, 1), False)
    run, exact = pick_run(runs, date(2023, 1, 1), date(2023, 2, 1))
    assert (run.end, exact) == (date(2024, 3, 31), False)
    assert runs[0].tables() == ["summary", "rfm_segments", "stages"]
