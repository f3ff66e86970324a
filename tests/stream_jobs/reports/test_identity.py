"""Identity in the batch: users on sessions (back-fill, shared devices), people in reports,
cookieless traffic marked, and cookieless funnels equal to cookie funnels within a day."""

from __future__ import annotations

import random
from datetime import date

import pytest

from collector.identity import cookieless_visitor_id
from stream_jobs.reports import customers, funnels, traffic
from stream_jobs.reports.model import ReportInputs
from stream_jobs.reports.output import write_report
from stream_jobs.sessions.rules import COOKIELESS_PREFIX, sessionize, sessions_and_events
from tests.stream_jobs.builders import d, event, lake_frame

pytestmark = pytest.mark.spark

FUNNELS_YAML = """
funnels:
  - name: Checkout
    within: session
    steps:
      - {name: Viewed a product, event_type: product_view}
      - {name: Added to cart, event_type: add_to_cart}
      - {name: Purchased, event_type: purchase}
  - name: Day
    within: 1d
    steps:
      - {name: Viewed a product, event_type: product_view}
      - {name: Purchased, event_type: purchase}
"""


def users_by_session(spark, rows: list[dict]) -> list[tuple[str, str, str | None]]:
    sessions = sessionize(lake_frame(spark, rows), gap_minutes=30)
    return [(r.visitor_id, r.session_start.strftime("%d %H:%M"), r.user_id)
            for r in sessions.orderBy("visitor_id", "session_start").collect()]


def test_user_on_the_whole_session_and_back_filled(spark):
    rows = [
        event(1, "a", "2024-03-09 08:00:00"),  # anonymous, the day before: back-filled
        event(2, "a", "2024-03-10 10:00:00"),  # anonymous, same day: back-filled
        event(3, "a", "2024-03-10 12:00:00"),  # before identify, in its session
        event(4, "a", "2024-03-10 12:05:00", "identify", user_id="u1"),
        event(5, "a", "2024-03-10 12:06:00", user_id="u1"),
        event(6, "a", "2024-03-10 15:00:00"),  # after the last identify, no user id: anonymous
        event(7, "b", "2024-03-10 12:00:00"),  # another visitor: untouched
    ]
    assert users_by_session(spark, rows) == [
        ("a", "09 08:00", "u1"), ("a", "10 10:00", "u1"), ("a", "10 12:00", "u1"),
        ("a", "10 15:00", None), ("b", "10 12:00", None)]


def test_shared_device_is_never_merged(spark):
    rows = [
        event(1, "tablet", "2024-03-10 08:00:00"),
        event(2, "tablet", "2024-03-10 09:00:00", "identify", user_id="alice"),
        event(3, "tablet", "2024-03-10 09:01:00", user_id="alice"),
        event(4, "tablet", "2024-03-10 11:00:00"),  # after alice logged out
        event(5, "tablet", "2024-03-10 13:00:00", "identify", user_id="bob"),
        event(6, "tablet", "2024-03-10 15:00:00"),
    ]
    assert users_by_session(spark, rows) == [
        ("tablet", "10 08:00", "alice"), ("tablet", "10 09:00", "alice"),
        # up to alice's identified session only: the anonymous one after it is bob's
        ("tablet", "10 11:00", "bob"), ("tablet", "10 13:00", "bob"),
        ("tablet", "10 15:00", None)]


def two_devices() -> list[dict]:
    """u9 browses on a phone and a laptop, anonymously first, then identifies on both."""
    anon = COOKIELESS_PREFIX + "c1" * 16
    return [
        event(1, "phone", "2024-03-10 08:00:00"),  # anonymous: back-filled to u9
        event(2, "phone", "2024-03-10 10:00:00", "product_view", sku="shoe"),
        event(3, "phone", "2024-03-10 10:01:00", "add_to_cart", sku="shoe"),
        event(4, "phone", "2024-03-10 10:10:00", "identify", user_id="u9"),
        event(5, "phone", "2024-03-10 10:11:00", "purchase", revenue=20.0, user_id="u9"),
        event(10, "laptop", "2024-03-10 18:00:00"),
        event(11, "laptop", "2024-03-10 18:01:00", "product_view", sku="hat"),
        event(12, "laptop", "2024-03-10 18:02:00", "add_to_cart", sku="hat"),
        event(13, "laptop", "2024-03-10 18:05:00", "identify", user_id="u9"),
        event(14, "laptop", "2024-03-10 18:10:00", "purchase", revenue=30.0, user_id="u9"),
        event(20, "x", "2024-03-10 12:00:00"),
        event(21, "x", "2024-03-10 12:01:00", "product_view", sku="shoe"),
        event(30, anon, "2024-03-10 13:00:00"),
        event(31, anon, "2024-03-10 13:01:00", "product_view", sku="hat"),
        event(32, anon, "2024-03-10 13:02:00", "purchase", revenue=5.0),
    ]


DAY = d("2024-03-10")


def inputs_for(spark, rows: list[dict], funnels_file=None, day: date = DAY):
    assigned, sessions = sessions_and_events(lake_frame(spark, rows), 30)
    return ReportInputs(spark=spark, start=day, end=day, events=assigned.cache(),
                        sessions=sessions.cache(), funnels_file=funnels_file)


@pytest.fixture(scope="module")
def funnels_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("identity") / "funnels.yaml"
    path.write_text(FUNNELS_YAML)
    return path


def as_dicts(frame) -> list[dict]:
    return [r.asDict() for r in frame.collect()]


def test_one_user_on_two_devices_is_one_person_in_every_report(spark, funnels_file, tmp_path):
    inputs = inputs_for(spark, two_devices(), funnels_file)
    assert as_dicts(traffic.people(inputs)) == [{
        "people": 3, "identified_users": 1, "anonymous_visitors": 2, "cookieless_visitors": 1,
        "visitors": 4, "sessions": 5, "cookieless_sessions": 1, "cookieless_sessions_pct": 20.0}]

    steps = [(r["funnel"], r["step"], r["visitors"], r["sessions"]) for r in
             as_dicts(funnels.build(inputs).table("funnel_steps").frame)]
    people = [(r["funnel"], r["step"], r["people"], r["identified_users"],
               r["anonymous_visitors"], r["cookieless_visitors"]) for r in
              as_dicts(funnels.build(inputs).table("funnel_people").frame)]
    # units: 4 sessions view a product, phone and laptop add and buy; as people that is u9 once
    assert steps[:3] == [("Checkout", 1, 4, 4), ("Checkout", 2, 2, 2), ("Checkout", 3, 2, 2)]
    assert people == [("Checkout", 1, 3, 1, 2, 1), ("Checkout", 2, 1, 1, 0, 0),
                      ("Checkout", 3, 1, 1, 0, 0),
                      # 1d funnel, per visitor: phone, laptop and the cookieless one buy
                      ("Day", 1, 3, 1, 2, 1), ("Day", 2, 2, 1, 1, 1)]

    per_customer = customers.customers(inputs)
    assert [(r["customer_id"], r["orders"], r["revenue"], r["id_kind"])
            for r in as_dicts(per_customer)] == [
        ("u9", 2, 50.0, "user"), (COOKIELESS_PREFIX + "c1" * 16, 1, 5.0, "cookieless visitor")]
    assert [(r["id_kind"], r["customers"]) for r in
            as_dicts(customers.id_kinds(per_customer, spark))] == [
        ("user", 1), ("visitor", 0), ("cookieless visitor", 1)]

    # the CSV names the measure, the page explains it and marks the cookieless share
    written = write_report(traffic.build(inputs), inputs, tmp_path)
    csv_text = (written.folder / "people.csv").read_text()
    assert csv_text.splitlines() == [
        "people,identified_users,anonymous_visitors,cookieless_visitors,visitors,sessions,"
        "cookieless_sessions,cookieless_sessions_pct", "3,1,2,1,4,5,1,20.00"]
    page = written.html.read_text()
    assert "users where known, visitors otherwise" in page
    assert "1 of 5 sessions (20.00%) and 1 of 4 visitors come from cookieless traffic" in page


def test_sessions_mark_cookieless_visitors(spark):
    day_id = cookieless_visitor_id(b"s" * 32, "shop.example", "81.2.69.0", "Firefox")
    assert day_id.startswith(COOKIELESS_PREFIX)  # the collector's ids are what the batch marks
    rows = [event(1, day_id, "2024-03-10 10:00:00"), event(2, "cookie1", "2024-03-10 10:00:00")]
    marked = {r.visitor_id: r.cookieless for r in
              sessionize(lake_frame(spark, rows), 30).collect()}
    assert marked == {day_id: True, "cookie1": False}
    # no cookieless traffic: no note on the page
    assert traffic.cookieless_note(traffic.people(inputs_for(spark, rows[1:]))) == ()


def simulated_day(cookieless: bool, seed: int = 11) -> list[dict]:
    """One day of shop traffic by 12 people, recorded with cookies or without.

    With cookies a person is their cookie id (and identifies when buying); without, the
    collector drops user ids and identify events and derives the day's id from site,
    anonymised network and user agent: the same person keeps one id all day.
    """
    rng = random.Random(seed)
    salt = b"day-salt-2024-03-10".ljust(32, b".")
    rows, n = [], 0
    for person in range(12):
        ip_anon, agent = f"10.0.{person}.0", f"Browser/{person}"
        visitor = (cookieless_visitor_id(salt, "shop.example", ip_anon, agent) if cookieless
                   else f"cookie{person:02d}")
        hour = 8
        for _visit in range(rng.randint(1, 3)):
            hour += rng.randint(1, 3)
            depth = rng.randint(1, 4)  # page, product, cart, purchase
            when = f"2024-03-10 {hour:02d}:"
            steps = [("page_view", {}), ("product_view", {"sku": "shoe"}),
                     ("add_to_cart", {"sku": "shoe"}),
                     ("identify", {"user_id": f"user{person}"}),
                     ("purchase", {"revenue": 10.0, "user_id": f"user{person}"})]
            for minute, (kind, extra) in enumerate(steps[:depth if depth < 4 else 5]):
                if cookieless and kind == "identify":
                    continue
                if cookieless:
                    extra = {k: v for k, v in extra.items() if k != "user_id"}
                n += 1
                rows.append(event(n, visitor, f"{when}{minute:02d}:00", kind, **extra))
    return rows


def test_funnels_within_a_day_equal_cookie_mode(spark, funnels_file):
    cookie = inputs_for(spark, simulated_day(cookieless=False), funnels_file)
    daily = inputs_for(spark, simulated_day(cookieless=True), funnels_file)

    def counts(inputs) -> list[tuple]:
        return [(r["funnel"], r["step"], r["visitors"], r["sessions"],
                 r["conversion_overall_pct"]) for r in
                as_dicts(funnels.build(inputs).table("funnel_steps").frame)]

    assert counts(daily) == counts(cookie)
    assert counts(cookie)[0][2] > 0 and counts(cookie)[2][2] > 0  # people did buy
    summary = ("visitors", "sessions", "page_views", "bounce_rate_pct")
    assert [tuple(r[c] for c in summary) for r in as_dicts(traffic.summary(daily))] == \
        [tuple(r[c] for c in summary) for r in as_dicts(traffic.summary(cookie))]
    # ...and the cookieless figures are marked as such
    share = as_dicts(traffic.people(daily))[0]
    assert share["cookieless_sessions_pct"] == 100.0
    assert share["identified_users"] == 0 and as_dicts(traffic.people(cookie))[0][
        "cookieless_visitors"] == 0
