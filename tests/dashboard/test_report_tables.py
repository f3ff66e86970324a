"""Report tables recomputed on demand (DuckDB over the sessions and costs) against plain Python
on the fixture's rows: the filters and the previous period on report pages."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from dashboard.app import create_app
from dashboard.report_tables import ReportTables, funnel_steps_for
from dashboard.sessions_query import Filters, Period, SessionsQuery
from tests.dashboard.conftest import COSTS, SEGMENT_OF, write_report_run
from tracker.settings import DashboardSettings

PERIOD = Period(date(2024, 3, 15), date(2024, 3, 28))
PREVIOUS = (date(2024, 3, 1), date(2024, 3, 14))
COLUMN = {"source": "referrer_class", "device": "device", "country": "country"}
FILTER_CASES = [{}, {"device": "mobile"}, {"source": "search"}, {"country": "(none)"},
                {"segment": "Champions"}, {"device": "desktop", "country": "GB"}]


def r2(value: float | None) -> float | None:
    """Half up on the double's shortest decimal form (how Spark's round rounds)."""
    if value is None:
        return None
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def share(part: float, whole: float) -> float | None:
    return r2(part * 100.0 / whole) if whole else None


def kept(rows, start: date, end: date, **filters: str) -> list[dict]:
    out = [r for r in rows if not r["is_bot"] and start <= r["session_date"] <= end]
    for name, value in filters.items():
        if name == "segment":
            out = [r for r in out if SEGMENT_OF.get(r["user_id"] or r["visitor_id"]) == value]
        else:
            out = [r for r in out if (r[COLUMN[name]] or "(none)") == value]
    return out


def none_label(value: str | None) -> str:
    return value if value else "(none)"


def tables(lake, report: str, period: Period = PERIOD, **filters: str) -> dict:
    root = lake.settings.lake
    query = SessionsQuery(root / "sessions", root / "reports" / "lifecycle" /
                          "2024-03-01_2024-03-28" / "customers.parquet")
    return ReportTables(query, root / "costs").tables(report, period, Filters(**filters))


def as_dicts(table: dict) -> list[dict]:
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_traffic_tables_follow_the_filters_and_compare_with_the_previous_period(
        dashboard_lake, filters):
    got = tables(dashboard_lake, "traffic", **filters)
    now = kept(dashboard_lake.sessions, PERIOD.start, PERIOD.end, **filters)
    before = kept(dashboard_lake.sessions, *PREVIOUS, **filters)
    assert now and before, "the case must have sessions in both periods"

    def summary(rows: list[dict]) -> dict:
        n = len(rows)
        durations = sorted(r["duration_s"] for r in rows)
        middle = (durations[(n - 1) // 2] + durations[n // 2]) / 2
        views = sum(r["page_views"] for r in rows)
        return {"visitors": len({r["visitor_id"] for r in rows}), "sessions": n,
                "page_views": views, "bounce_rate_pct": share(sum(r["bounce"] for r in rows), n),
                "avg_duration_s": r2(sum(durations) / n), "median_duration_s": r2(middle),
                "pages_per_session": r2(views / n)}

    assert as_dicts(got["summary"]) == [summary(now)]
    compare = {r["measure"]: (r["value"], r["previous"]) for r in as_dicts(got["compare"])}
    assert compare["sessions"] == (len(now), len(before))
    assert compare["page_views"] == (summary(now)["page_views"], summary(before)["page_views"])

    people = as_dicts(got["people"])[0]
    persons = {f"u:{r['user_id']}" if r["user_id"] else f"v:{r['visitor_id']}" for r in now}
    assert people["people"] == len(persons)
    assert people["identified_users"] == len({r["user_id"] for r in now if r["user_id"]})
    assert people["cookieless_sessions"] == sum(r["cookieless"] for r in now)

    sources = as_dicts(got["sources"])
    want = {}
    for r in now:
        want[none_label(r["referrer_class"])] = want.get(none_label(r["referrer_class"]), 0) + 1
    assert {s["source"]: s["sessions"] for s in sources} == want
    assert [s["sessions"] for s in sources] == sorted(want.values(), reverse=True)
    for s in sources:
        earlier = sum(1 for r in before if none_label(r["referrer_class"]) == s["source"])
        assert (s["share_pct"], s["previous_sessions"]) == (
            share(s["sessions"], len(now)), earlier)

    entries = {e["page"]: e for e in as_dicts(got["entry_pages"])}
    for page, e in entries.items():
        landing = [r for r in now if r["landing_page"] == page]
        assert (e["entrances"], e["bounce_rate_pct"], e["previous_entrances"]) == (
            len(landing), share(sum(r["bounce"] for r in landing), len(landing)),
            sum(1 for r in before if r["landing_page"] == page))
    assert sum(e["entrances"] for e in entries.values()) == len(now)

    referred = {(r["referrer_host"], r["referrer_class"]) for r in now if r["referrer_host"]}
    assert {(r["referrer_host"], r["source"]) for r in as_dicts(got["referrers"])} == referred


def test_traffic_days_cover_the_range_with_the_previous_period_aligned(dashboard_lake):
    daily = as_dicts(tables(dashboard_lake, "traffic", device="tablet")["daily"])
    assert [d["date"] for d in daily] == [PERIOD.start + timedelta(days=i) for i in range(14)]
    for d in daily:
        day = kept(dashboard_lake.sessions, d["date"], d["date"], device="tablet")
        earlier = d["date"] - timedelta(days=14)
        assert (d["sessions"], d["visitors"], d["previous_sessions"]) == (
            len(day), len({r["visitor_id"] for r in day}),
            len(kept(dashboard_lake.sessions, earlier, earlier, device="tablet")))


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_campaign_tables_follow_the_filters(dashboard_lake, filters):
    got = tables(dashboard_lake, "campaigns", **filters)
    now = kept(dashboard_lake.sessions, PERIOD.start, PERIOD.end, **filters)
    before = kept(dashboard_lake.sessions, *PREVIOUS, **filters)
    groups: dict[tuple, list[dict]] = {}
    for r in now:
        key = tuple(none_label(r[f"utm_{k}"]) for k in ("campaign", "source", "medium"))
        groups.setdefault(key, []).append(r)
    rows = as_dicts(got["campaigns"])
    assert {(c["campaign"], c["source"], c["medium"]) for c in rows} == set(groups)
    for c in rows:
        members = groups[(c["campaign"], c["source"], c["medium"])]
        revenue = r2(sum(r["revenue"] for r in members))
        conversions = sum(r["converted"] for r in members)
        earlier = [r for r in before if none_label(r["utm_campaign"]) == c["campaign"]
                   and none_label(r["utm_source"]) == c["source"]]
        assert (c["sessions"], c["conversions"], c["revenue"], c["conversion_rate_pct"],
                c["revenue_per_session"], c["previous_sessions"]) == (
            len(members), conversions, revenue, share(conversions, len(members)),
            r2(revenue / len(members)), len(earlier))
    tagged = [r for r in now if r["utm_campaign"]]
    compare = {r["measure"]: r["value"] for r in as_dicts(got["compare"])}
    assert compare["campaign_sessions"] == len(tagged)
    assert compare["campaign_revenue"] == r2(sum(r["revenue"] for r in tagged))
    assert sum(d["campaign_sessions"] for d in as_dicts(got["daily"])) == len(tagged)


@pytest.mark.parametrize("filters", [{}, {"device": "mobile"}])
def test_campaign_roi_sets_filtered_visits_against_the_whole_spend(dashboard_lake, filters):
    got = as_dicts(tables(dashboard_lake, "campaign_roi", **filters)["campaigns"])
    now = kept(dashboard_lake.sessions, PERIOD.start, PERIOD.end, **filters)
    latest: dict[tuple, float] = {}
    for campaign, day, cost, _ in sorted(COSTS, key=lambda c: c[3]):
        latest[(campaign, day)] = cost  # a later import replaces an earlier one
    by_campaign = {c["campaign"]: c for c in got}
    assert set(by_campaign) == {"spring", "retarget", "brand"}
    for campaign, row in by_campaign.items():
        cost = r2(sum(v for (c, d), v in latest.items()
                      if c == campaign and PERIOD.start <= d <= PERIOD.end))
        visits = [r for r in now if r["utm_campaign"] == campaign]
        revenue = r2(sum(r["revenue"] for r in visits))
        orders = sum(r["orders"] for r in visits)
        assert (row["cost"], row["sessions"], row["orders"], row["revenue"]) == (
            cost, len(visits), orders, revenue), campaign
        assert row["roas"] == (r2(revenue / cost) if cost else None)
        assert row["cost_per_order"] == (r2(cost / orders) if orders else None)
    assert [c["cost"] for c in got] == sorted((c["cost"] for c in got), reverse=True)
    spring_20 = next(d for d in as_dicts(tables(dashboard_lake, "campaign_roi")["daily"])
                     if d["date"] == date(2024, 3, 20))
    assert spring_20["cost"] == 30.0 + 4.5  # the replacing import, plus retarget's day


@pytest.mark.parametrize("filters", FILTER_CASES)
def test_ways_in_and_value_by_segment_follow_the_filters(dashboard_lake, filters):
    now = kept(dashboard_lake.sessions, PERIOD.start, PERIOD.end, **filters)
    ways: dict[tuple, int] = {}
    for r in now:
        key = (none_label(r["referrer_class"]), none_label(r["referrer_host"]),
               r["landing_page"])
        ways[key] = ways.get(key, 0) + 1
    got = as_dicts(tables(dashboard_lake, "paths", **filters)["entrances"])
    assert {(e["source"], e["referrer_host"], e["landing_page"]): e["sessions"]
            for e in got} == dict(sorted(ways.items(), key=lambda kv: -kv[1])[:20])

    buying = [r for r in now if r["converted"]]
    segments: dict[str, list[dict]] = {}
    for r in buying:
        segments.setdefault(SEGMENT_OF.get(r["user_id"] or r["visitor_id"], "(no segment)"),
                            []).append(r)
    value = {v["segment"]: v for v in as_dicts(
        tables(dashboard_lake, "customers", **filters)["value_by_segment"])}
    assert set(value) == set(segments)
    for name, members in segments.items():
        persons = {r["user_id"] or r["visitor_id"] for r in members}
        assert (value[name]["buyers"], value[name]["orders"], value[name]["revenue"]) == (
            len(persons), sum(r["orders"] for r in members),
            r2(sum(r["revenue"] for r in members)))


def test_an_empty_lake_answers_empty_report_tables(tmp_path):
    empty = ReportTables(SessionsQuery(tmp_path / "sessions"), tmp_path / "costs")
    got = empty.tables("traffic", PERIOD, Filters())
    assert got["summary"]["rows"][0][:3] == [0, 0, 0]
    assert got["sources"]["rows"] == [] and len(got["daily"]["rows"]) == 14
    assert empty.tables("campaign_roi", PERIOD, Filters())["campaigns"]["rows"] == []
    assert empty.tables("baskets", PERIOD, Filters()) == {}


BREAKDOWN = [  # funnel_breakdown rows as the funnels report writes them
    {"funnel": "Checkout", "unit": "sessions", "dimension": d, "value": v, "step": s,
     "step_name": n, "units": u, "conversion_overall_pct": None}
    for d, v, counts in [("device", "mobile", (40, 10, 4)), ("device", "desktop", (60, 30, 15)),
                         ("country", "GB", (50, 20, 9))]
    for s, n, u in zip((1, 2, 3), ("Viewed", "Carted", "Bought"), counts, strict=True)]


def test_funnel_steps_for_one_filter_come_from_the_runs_breakdown():
    columns = list(BREAKDOWN[0])
    table, note = funnel_steps_for(Filters(device="mobile"), columns, BREAKDOWN)
    assert [r[4] for r in table["rows"]] == [40, 10, 4]
    assert [r[5] for r in table["rows"]] == [None, 25.0, 40.0]
    assert [r[6] for r in table["rows"]] == [100.0, 25.0, 10.0]
    assert "device = mobile" in note
    table, note = funnel_steps_for(Filters(country="FR"), columns, BREAKDOWN)
    assert table["rows"] == [] and "not among the top 10" in note
    assert funnel_steps_for(Filters(segment="Champions"), columns, BREAKDOWN) is None
    assert funnel_steps_for(Filters(device="mobile", country="GB"), columns, BREAKDOWN) is None


def client(lake):
    settings = dataclasses.replace(lake.settings, dashboard=DashboardSettings(token=None))
    return create_app({"TESTING": True}, settings=settings).test_client()


def test_report_pages_filter_their_tables_and_say_which_ignore_the_filter(dashboard_lake):
    write_report_run(dashboard_lake.settings.lake, "traffic", PERIOD.start, PERIOD.end,
                     {"summary": [{"visitors": 1, "sessions": 999}],
                      "top_pages": [{"page": "/", "page_views": 123}]})
    c = client(dashboard_lake)
    page = c.get("/reports/traffic?start=2024-03-15&end=2024-03-28&device=mobile").data.decode()
    mobile = kept(dashboard_lake.sessions, PERIOD.start, PERIOD.end, device="mobile")
    # the run's summary (999 sessions, all traffic) is replaced by the filtered one
    assert "999" not in page
    assert f'<td class="num">{len(mobile)}</td>' in page
    assert 'data-ignores-filter="top_pages"' in page
    assert 'data-ignores-filter="summary"' not in page
    unfiltered = c.get("/reports/traffic?start=2024-03-15&end=2024-03-28").data.decode()
    assert "data-ignores-filter" not in unfiltered  # nothing to ignore without a filter
    data = c.get("/reports/traffic/live/sources.csv?start=2024-03-15&end=2024-03-28"
                 "&device=mobile")
    assert data.status_code == 200
    rows = list(csv.DictReader(io.StringIO(data.data.decode())))
    assert sum(int(r["sessions"]) for r in rows) == len(mobile)
    # a report whose tables all come from the run says so, table by table
    lifecycle = c.get("/reports/lifecycle?start=2024-03-01&end=2024-03-28&segment=Champions")
    assert b'data-ignores-filter="rfm_segments"' in lifecycle.data
    assert b'id="table-value_by_segment"' in lifecycle.data


@pytest.mark.parametrize(("url", "field"), [
    ("/reports/traffic?device=spaceship", "device"),
    ("/reports/campaigns?country=XX", "country"),
    ("/reports/paths?source=carrier-pigeon", "source"),
    ("/reports/customers?segment=Whales", "segment"),
    ("/reports/traffic?start=2024-02-30", "start"),
    ("/?device=" + "x" * 65, "device"),
])
def test_a_bad_filter_value_on_any_page_answers_400_naming_it(dashboard_lake, url, field):
    c = client(dashboard_lake)
    page = c.get(url)
    assert page.status_code == 400
    assert f'id="error">{field}: '.encode() in page.data
    data = c.get(url.replace("/reports/traffic?", "/reports/traffic/live/summary.csv?")
                 .replace("/reports/campaigns?", "/reports/campaigns/live/daily.csv?")
                 .replace("/reports/paths?", "/reports/paths/live/entrances.csv?")
                 .replace("/reports/customers?", "/reports/customers/live/value_by_segment.csv?")
                 .replace("/?", "/overview/kpis.csv?"))
    assert data.status_code == 400 and data.json["field"] == field


def test_a_segment_without_any_lifecycle_run_is_refused(dashboard_lake):
    import shutil

    shutil.rmtree(dashboard_lake.settings.lake / "reports" / "lifecycle")
    page = client(dashboard_lake).get("/reports/traffic?segment=Champions")
    assert page.status_code == 400 and b"no lifecycle report run yet" in page.data
    assert client(dashboard_lake).get("/reports/traffic/live/nope.csv").status_code == 404


def test_the_funnels_page_reads_one_filter_off_the_runs_breakdown(dashboard_lake):
    write_report_run(dashboard_lake.settings.lake, "funnels", PERIOD.start, PERIOD.end,
                     {"funnel_steps": [{"funnel": "Checkout", "step": 1, "sessions": 100}],
                      "funnel_breakdown": BREAKDOWN})
    c = client(dashboard_lake)
    q = "start=2024-03-15&end=2024-03-28"
    page = c.get(f"/reports/funnels?{q}&device=desktop").data.decode()
    assert 'id="table-filtered_steps"' in page
    assert 'data-ignores-filter="funnel_steps"' in page
    data = c.get(f"/reports/funnels/2024-03-15_2024-03-28/filtered_steps.csv?{q}&device=desktop")
    units = [int(r["units"]) for r in csv.DictReader(io.StringIO(data.data.decode()))]
    assert units == [60, 30, 15]
    segment = c.get(f"/reports/funnels?{q}&segment=Champions").data.decode()
    assert 'id="table-filtered_steps"' not in segment
    assert 'data-ignores-filter="funnel_breakdown"' in segment
    refused = c.get(f"/reports/funnels/2024-03-15_2024-03-28/filtered_steps.csv?{q}")
    assert refused.status_code == 400 and refused.json["field"] == "source"
