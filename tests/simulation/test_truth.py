"""Ground truth counting on a tiny hand-made scenario: every expected number written by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from simulation import catalogue
from simulation.config import SimConfig
from simulation.records import Request, Visit, Visitor
from simulation.truth import GroundTruth
from tracker.contract import format_timestamp

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHOP = "http://shop.test"
_ids = iter(range(1, 10_000))


def visitor(key: str, kind: str = "human", device: str = "desktop") -> Visitor:
    return Visitor(key, int(key[1:]), kind, device, "Chrome", "UA", "81.2.69.160", "GB", "en-GB",
                   "Europe/London", (1, 1), (1, 1), False, None, 0.0)


def visit(who: Visitor, number: int, source: str, campaign: str | None = None) -> Visit:
    return Visit(who, number, f"s-{who.key}-{number}", START, source, None, campaign, {},
                 SHOP + "/", number > 1, False, 0.0)


def event(kind: str, minute: float, path: str, **fields: Any) -> dict[str, Any]:
    return {"schema_version": 1, "event_id": f"00000000-0000-4000-8000-{next(_ids):012d}",
            "event_type": kind, "client_ts": format_timestamp(START + timedelta(minutes=minute)),
            "url": SHOP + path, **fields}


def req(v: Visit, channel: str, minute: float, *events: dict[str, Any]) -> Request:
    return Request(START + timedelta(minutes=minute), v, channel, SHOP + "/", tuple(events))


def order(order_id: str, revenue: float) -> dict[str, Any]:
    return {"order_id": order_id, "revenue": revenue, "currency": "EUR"}


PRODUCT = {"sku": "RS-1001"}


def scenario() -> GroundTruth:
    a, b, c = visitor("v1"), visitor("v2", device="mobile"), visitor("v3", kind="bot",
                                                                       device="bot")
    a1, a2 = visit(a, 1, "search"), visit(a, 2, "direct")
    b1, b2 = visit(b, 1, "paid", "trail-season"), visit(b, 2, "email", "cart-reminder")
    c1 = visit(c, 1, "direct")
    truth = GroundTruth(SimConfig(seed=5, start=START, minutes=24 * 60))
    for r in (
        # a buys on the first visit: product → cart → checkout → purchase → confirmation
        req(a1, "js", 0, event("page_view", 0, "/p/RS-1001"),
            event("product_view", 0, "/p/RS-1001", product=PRODUCT)),
        req(a1, "js", 1, event("page_ping", 1, "/p/RS-1001", engaged_ms=15000)),
        req(a1, "js", 2, event("page_view", 2, "/cart"),
            event("add_to_cart", 2, "/cart", product=PRODUCT)),
        req(a1, "js", 3, event("page_view", 3, "/checkout"),
            event("begin_checkout", 3, "/checkout", products=[PRODUCT])),
        req(a1, "server", 4, event("purchase", 4, "/order/A", order=order("A", 129.95))),
        req(a1, "js", 5, event("page_view", 5, "/order/A")),
        # a comes back a day later and bounces
        req(a2, "js", 1440, event("page_view", 1440, "/")),
        # b abandons a cart ...
        req(b1, "js", 10, event("page_view", 10, "/c/trail-shoes")),
        req(b1, "js", 11, event("page_view", 11, "/p/TS-2001"),
            event("product_view", 11, "/p/TS-2001", product=PRODUCT)),
        req(b1, "js", 12, event("page_view", 12, "/cart"),
            event("add_to_cart", 12, "/cart", product=PRODUCT)),
        # ... and buys it from the reminder email: checkout without a cart add in this visit
        req(b2, "js", 200, event("page_view", 200, "/cart")),
        req(b2, "js", 201, event("page_view", 201, "/checkout"),
            event("begin_checkout", 201, "/checkout", products=[PRODUCT])),
        req(b2, "server", 202, event("purchase", 202, "/order/B", order=order("B", 139.95))),
        # a crawler fetches two pages through the pixel
        req(c1, "pixel", 30, event("page_view", 30, "/")),
        req(c1, "pixel", 31, event("page_view", 31, "/c/jackets")),
    ):
        truth.record(r)
    truth.close()
    return truth


def test_summary_counts_the_scenario() -> None:
    summary = scenario().summary()
    assert summary["events"] == 21
    assert summary["events_by_type"] == {
        "add_to_cart": 2, "begin_checkout": 2, "page_ping": 1, "page_view": 12,
        "product_view": 2, "purchase": 2,
    }
    assert summary["requests_by_channel"] == {"js": 11, "pixel": 2, "server": 2}
    assert summary["events_by_channel"] == {"js": 17, "pixel": 2, "server": 2}
    humans = summary["humans"]
    assert humans["visitors"] == 2
    assert humans["visits"] == 4
    assert humans["returning_visits"] == 2
    assert humans["page_views"] == 10
    assert humans["bounces"] == 1
    assert humans["product_views"] == 2
    assert humans["cart_adds"] == 2
    assert humans["checkouts"] == 2
    assert humans["orders"] == 2
    assert humans["converted_visits"] == 2
    assert humans["revenue"] == 269.90
    # ordered: b's second visit checks out without a product view or cart add in that visit
    assert humans["funnel"] == {"page_view": 4, "product_view": 2, "add_to_cart": 2,
                                "begin_checkout": 1, "purchase": 1}
    assert humans["funnel_any"] == {"page_view": 4, "product_view": 2, "add_to_cart": 2,
                                    "begin_checkout": 2, "purchase": 2}
    assert humans["by_source"] == {
        "direct": {"visits": 1, "page_views": 1, "converted_visits": 0, "orders": 0,
                   "revenue": 0.0},
        "email": {"visits": 1, "page_views": 2, "converted_visits": 1, "orders": 1,
                  "revenue": 139.95},
        "paid": {"visits": 1, "page_views": 3, "converted_visits": 0, "orders": 0,
                 "revenue": 0.0},
        "search": {"visits": 1, "page_views": 4, "converted_visits": 1, "orders": 1,
                   "revenue": 129.95},
    }
    assert {k: v["visits"] for k, v in humans["by_campaign"].items()} == {
        "(none)": 2, "cart-reminder": 1, "trail-season": 1}
    assert {k: v["visits"] for k, v in humans["by_device"].items()} == {"desktop": 2, "mobile": 2}
    assert humans["landing_pages"] == {"/": 1, "/c/trail-shoes": 1, "/cart": 1, "/p/RS-1001": 1}
    assert summary["bots"] == {"visitors": 1, "page_views": 2, "events": 2}


def test_visit_rows() -> None:
    rows = {(r["visitor"], r["visit"]): r for r in scenario().visits()}
    a1 = rows[("v1", 1)]
    assert a1["landing_page"] == SHOP + "/p/RS-1001"
    assert a1["exit_page"] == SHOP + "/order/A"
    assert a1["start"] == "2026-03-02T09:00:00.000Z"
    assert a1["end"] == "2026-03-02T09:05:00.000Z"
    assert a1["events"] == 9
    assert a1["orders"] == ["A"]
    assert a1["revenue"] == 129.95
    assert a1["engaged_ms"] == 15000
    assert a1["funnel_depth"] == 5
    assert a1["bounce"] is False
    assert rows[("v1", 2)]["bounce"] is True
    assert rows[("v2", 2)]["funnel_depth"] == 1
    visitors = {v["visitor"]: v for v in scenario().visitors()}
    assert visitors["v2"]["visits"] == 2
    assert visitors["v2"]["orders"] == 1
    assert visitors["v2"]["revenue"] == 139.95
    assert visitors["v2"]["first_source"] == "paid"


def test_write_files(tmp_path) -> None:
    truth = scenario()
    paths = truth.write(tmp_path / "truth")
    lines = paths["visits.jsonl"].read_text().splitlines()
    assert len(lines) == 5
    assert [json.loads(line)["visitor"] for line in lines] == ["v1", "v2", "v3", "v2", "v1"]
    assert len(paths["visitors.jsonl"].read_text().splitlines()) == 3
    assert paths["decisions.jsonl"].read_text() == ""
    assert json.loads(paths["summary.json"].read_text())["humans"]["orders"] == 2


def test_prices_in_events_come_from_the_catalogue() -> None:
    # the scenario's revenues are the catalogue's prices; the shop charges the same
    assert catalogue.PRODUCTS["RS-1001"].price == 129.95
    assert catalogue.PRODUCTS["TS-2001"].price == 139.95
