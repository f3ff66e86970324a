"""Imported history (``clickloop import``) in the engine: profile history, item graph and
segments change; live sessions, clocks, carts and the intent model do not; a re-import
changes nothing. (The same end to end, through Kafka and the worker: tests/stream_jobs/
importing/test_profiles.py.)"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from personalization.engine import Engine
from personalization.intent import IntentModel
from personalization.observation import observe
from personalization.profile import public_dict
from personalization.recommend import ItemGraph
from personalization.segments import segment_of
from personalization.stitching import person_profile_id, person_view
from tests.personalization.builders import add, epoch, event, product, view

GAP = 1800.0
PAST = datetime(2011, 3, 1, 10, 0, tzinfo=UTC)  # history: years before the live events


class Labels:
    def __init__(self) -> None:
        self.seen: list[bool] = []

    def __call__(self, _x: dict[str, float], y: bool, _p: float) -> None:
        self.seen.append(y)


def engine() -> tuple[Engine, Labels]:
    labels = Labels()
    return Engine(IntentModel("logreg"), ItemGraph(), gap_s=GAP, on_label=labels), labels


def imported(raw: dict[str, Any]) -> Any:
    """The observation the worker makes of a record with the ``clickloop-import`` header."""
    obs = observe(raw)
    obs.imported = True
    return obs


def order(n: int, day: int, revenue_items: dict[str, int], *, customer: str = "17850",
          refund: bool = False) -> dict[str, Any]:
    """An order as ``clickloop import orders`` publishes it (its own visitor, the shop's
    customer id, the importer's enrichment), ``day`` days after PAST."""
    items = [product(sku, q) for sku, q in revenue_items.items()]
    revenue = round(sum(i["price"] * i["quantity"] for i in items), 2)
    raw = event("refund" if refund else "purchase", f"import-c{customer}", day * 24 * 60,
                start=PAST, event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"test:{n}:{refund}")),
                user_id=customer, properties={"import": "orders"},
                order={"order_id": f"inv-{n}", "revenue": revenue, "currency": "EUR",
                       "items": items})
    raw["enrichment"] = {k: raw["enrichment"][k] for k in ("collector_ts", "derived_ts")}
    raw["enrichment"]["source"] = "server"
    return raw


def history_file() -> list[dict[str, Any]]:
    """30 orders two days apart (more than the 20 orders and, with refunds and views, the 64
    event ids a profile keeps for live dedup), 3 refunds, 40 past product views."""
    rows = [order(n, 2 * n, {"SH-1": 1, "SK-1": 2}) for n in range(30)]
    rows += [order(n, 2 * n + 1, {"SK-1": 1}, refund=True) for n in (3, 7, 11)]
    rows += [view("import-c17850", 2 * n * 24 * 60 + 5, "JK-1" if n % 2 else "CP-1",
                  start=PAST, user_id="17850") for n in range(40)]
    return rows


def test_imported_orders_build_history_and_leave_live_sessions_clocks_and_model_alone() -> None:
    e, labels = engine()
    live = [view("v-live", 0, "WA-1"), add("v-live", 1, "WA-1")]
    for raw in live:
        e.process(observe(raw), "p0")
    clock, part_clock = e.event_time, dict(e.partition_time)
    live_before = copy.deepcopy(public_dict(e.profiles["v-live"]))
    intent_calls = e.model.metrics.summary()

    rows = history_file()
    for raw in rows:
        assert e.process(imported(raw), "p0")
    pid = person_profile_id("17850", "import-c17850")
    h = e.profiles[pid].history
    # by hand: 30 orders of 129 + 2 x 19 = 167; 3 refunds of 19
    assert (h.purchases, h.revenue) == (30, round(30 * 167.0 - 3 * 19.0, 2))
    assert h.last_purchase == epoch(58 * 24 * 60, PAST)
    assert h.first_seen == epoch(0, PAST)
    # sessions by time, whatever the file's order: 30 orders (with the views 5 minutes after
    # them), 10 later days of views alone, 3 refunds on days without an order
    assert h.sessions == 30 + 10 + 3
    assert e.profiles[pid].user_id == "17850" and e.profiles[pid].session is None
    assert e.counters.imported == len(rows)
    # nothing live moved: clocks, the live visitor's session and cart, the model, the labels
    assert (e.event_time, dict(e.partition_time)) == (clock, part_clock)
    assert public_dict(e.profiles["v-live"]) == live_before
    assert labels.seen == [] and e.counters.positives == e.counters.negatives == 0
    assert e.model.metrics.summary() == intent_calls
    assert e.profiles[pid].intent is None
    assert pid not in e.open
    # the item graph learned what was bought together and viewed
    assert e.graph.buys["SH-1"] == 30 and e.graph.cobuy["SH-1"]["SK-1"] == 30
    assert e.graph.views["JK-1"] == 20

    # the same file again (and a third time): nothing changes, every event is a duplicate
    before = copy.deepcopy(public_dict(e.profiles[pid]))
    graph_buys = dict(e.graph.buys)
    for _ in range(2):
        for raw in rows:
            assert not e.process(imported(raw), "p0")
    assert public_dict(e.profiles[pid]) == before
    assert dict(e.graph.buys) == graph_buys
    assert e.counters.duplicates == 2 * len(rows)


def test_the_customer_logging_in_later_sees_the_imported_history_merged() -> None:
    e, labels = engine()
    for raw in history_file():
        e.process(imported(raw), "p1")
    # years later the customer visits with a cookie and logs in
    later = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    e.process(observe(event("page_view", "v-cookie", 0, start=later)), "p0")
    e.process(observe(event("identify", "v-cookie", 1, start=later, user_id="17850")), "p0")
    device = e.profiles[person_profile_id("17850", "v-cookie")]
    merged = person_view(device, [e.profiles[person_profile_id("17850", "import-c17850")]])
    assert (merged.history.purchases, merged.history.last_purchase) == (
        30, epoch(58 * 24 * 60, PAST))
    assert segment_of(merged, 0.01, epoch(2, later)) == "lapsed"  # years since the last order
    assert segment_of(device, 0.01, epoch(2, later)) == "new_visitor"  # the device alone
    assert labels.seen == []


def test_imported_events_of_a_visitor_with_an_open_session_touch_history_only() -> None:
    e, labels = engine()
    e.process(observe(add("v-9", 0, "WA-1")), "p0")
    session = copy.deepcopy(e.profiles["v-9"].session)
    past = [view("v-9", 0, "JK-1", start=PAST), view("v-9", 2, "CP-1", start=PAST),
            event("purchase", "v-9", 3, start=PAST, order={
                "order_id": "old-1", "revenue": 25.0, "currency": "EUR",
                "items": [product("CP-1", 1)]}),
            view("v-9", 3 * 24 * 60, "SH-2", start=PAST)]
    for raw in past:
        e.process(imported(raw), "p0")
    profile = e.profiles["v-9"]
    assert profile.session == session  # not joined, not closed
    assert {sku: line.quantity for sku, line in profile.cart.items()} == {"WA-1": 1}
    assert (profile.history.sessions, profile.history.purchases) == (2, 1)
    assert profile.history.abandoned_cart_at is None
    assert e.graph.coview["CP-1"]["JK-1"] == 1  # viewed together in one past session
    assert "SH-2" not in e.graph.coview  # alone in its session
    assert segment_of(profile, None, epoch(5)) == "lapsed"
    # the live session goes on and closes by live time: its label is the only one
    e.process(observe(view("v-9", 10, "WA-1")), "p0")
    e.advance(epoch(10) + GAP + 1)
    assert labels.seen == [False, False]
    assert e.profiles["v-9"].history.sessions == 3


def test_a_claimed_visitors_imported_events_are_not_counted_again_after_the_login() -> None:
    e, _ = engine()
    past = [view("v-7", n, "JK-1", start=PAST) for n in range(3)]
    for raw in past:
        e.process(imported(raw), "p0")
    e.process(observe(event("identify", "v-7", 0, user_id="ann")), "p0")
    moved = e.profiles[person_profile_id("ann", "v-7")].history
    assert moved.sessions == 1 and moved.first_seen == epoch(0, PAST)
    for raw in past:  # the file imported again
        assert not e.process(imported(raw), "p0")
    assert e.profiles["v-7"].history.sessions == 0
