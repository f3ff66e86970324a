"""The demo's simulated history: an export ``clickloop import events`` takes whole, with buying
cycles, and a ground truth that counts its customers the way the reports do."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from demo.history import history_config, history_visitor_id, main, read_summary
from stream_jobs.importing.reading import read_events

END = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_history_file_imports_without_a_reject(tmp_path) -> None:
    out = tmp_path / "history"
    assert main(["--end", END.isoformat(), "--days", "45", "--visitors-per-hour", "2",
                 "--out", str(out)]) == 0
    summary = read_summary(out)
    assert summary is not None
    events, rejects, rows = read_events(out / "events.jsonl")
    assert rejects == [] and rows == len(events) == summary["events"] > 0
    # every event inside the window, under the visitor id its cookie would hold
    first, last = min(e["client_ts"] for e in events), max(e["client_ts"] for e in events)
    assert summary["start"][:10] <= first[:10] and last < "2026-06-01"
    by_key = summary["visitor_ids"]
    assert {e["visitor_id"] for e in events} == set(by_key.values())
    assert all(by_key[k] == history_visitor_id(0, k) for k in by_key)
    truth = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert truth["bots"]["visitors"] == 0 and truth["dnt"]["visits"] == 0
    assert truth["events"] == len(events)
    # the truth's orders are the file's purchases
    purchases = [e for e in events if e["event_type"] == "purchase"]
    with (out / "orders.jsonl").open(encoding="utf-8") as handle:
        orders = [json.loads(line) for line in handle]
    assert sorted(o["order_id"] for o in orders) == sorted(
        e["order"]["order_id"] for e in purchases)
    for order in orders:  # a signed-in buyer is their user id, else the visitor
        event = next(e for e in purchases if e["order"]["order_id"] == order["order_id"])
        assert order["customer"] == (event.get("user_id")
                                     or f"visitor:{order['visitor']}")


def test_customers_come_back_for_more_over_the_months() -> None:
    from simulation.simulator import simulate

    _, truth = simulate(history_config(END, 90, visitors_per_hour=1.5))
    customers = truth.customers()
    assert customers["repeat_customers"] >= 5
    per_customer = Counter(o["customer"] for o in truth.orders())
    assert customers["repeat_customers"] == sum(1 for n in per_customer.values() if n >= 2)
    assert len(customers["by_month"]) >= 3
    # some repeat orders come a month or more after the customer's first one
    first: dict[str, str] = {}
    later = 0
    for order in truth.orders():
        first.setdefault(order["customer"], order["month"])
        later += order["month"] > first[order["customer"]]
    assert later >= 5

