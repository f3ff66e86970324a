"""The simulator's ground truth: what every simulated visitor did, counted from what was sent.

Every number here is counted from the events the simulator actually emitted (after the
``max_events`` and time-window cuts), never from what a visitor *planned*, so a report built by
the pipeline from the same traffic must reproduce them exactly, for the events the collector
accepted. Per visit (one visit = one session of 30-minute inactivity; visits of one visitor are
always more than 30 minutes apart): events by type and channel, page views, product views, cart
adds, checkout, purchase, revenue, device, source, campaign, landing and exit page. Aggregates:
traffic and funnel counts for humans (JS and no-JS), crawlers counted apart.

Files written by :meth:`GroundTruth.write`:

- ``visits.jsonl``: one line per visit;
- ``visitors.jsonl``: one line per visitor;
- ``orders.jsonl``: one line per order (time, revenue, items, the customer as reports count
  them: the buyer's user id when signed in, else the visitor);
- ``decisions.jsonl``: one line per personalization decision (slot, variant, every variant's
  conversion probability when a response model is set, and whether the visit converted);
- ``summary.json``: the aggregates (see :meth:`GroundTruth.summary`), with ``customers``:
  orders and revenue by month and day, customers and repeat customers.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from simulation.config import SimConfig
from simulation.records import Decision, Request, Visit
from tracker.contract import format_timestamp

# The default funnel: each step counts visits that did the steps before it, in this order.
FUNNEL = ("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")


@dataclass
class VisitTruth:
    """Counters for one visit, updated as its requests are emitted."""

    visit: Visit
    events_by_type: Counter[str] = field(default_factory=Counter)
    requests_by_channel: Counter[str] = field(default_factory=Counter)
    events_by_channel: Counter[str] = field(default_factory=Counter)
    first_ts: str | None = None
    last_ts: str | None = None
    landing_page: str | None = None
    exit_page: str | None = None
    funnel_depth: int = 0
    orders: list[str] = field(default_factory=list)
    order_details: list[dict[str, Any]] = field(default_factory=list)
    revenue_cents: int = 0
    engaged_ms: int = 0
    converted_destiny: bool | None = None  # outcome drawn from a variant response, if any

    def add(self, request: Request) -> None:
        self.requests_by_channel[request.channel] += 1
        for event in request.events:
            kind = event["event_type"]
            self.events_by_type[kind] += 1
            self.events_by_channel[request.channel] += 1
            ts = event["client_ts"]
            self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
            self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)
            if kind == "page_view":
                if self.landing_page is None:
                    self.landing_page = event["url"]
                self.exit_page = event["url"]
            if self.funnel_depth < len(FUNNEL) and kind == FUNNEL[self.funnel_depth]:
                self.funnel_depth += 1
            if kind == "purchase":
                self.orders.append(event["order"]["order_id"])
                self.order_details.append({
                    "order_id": event["order"]["order_id"], "ts": ts,
                    "revenue": event["order"]["revenue"], "user_id": event.get("user_id"),
                    "items": sum(int(i.get("quantity") or 1)
                                 for i in event["order"].get("items") or ())})
                self.revenue_cents += round(event["order"]["revenue"] * 100)
            if kind == "page_ping":
                self.engaged_ms += event["engaged_ms"]

    def as_dict(self) -> dict[str, Any]:
        v = self.visit
        visitor = v.visitor
        counts = self.events_by_type
        return {
            "visitor": visitor.key,
            "visit": v.number,
            "kind": visitor.kind,
            "device": visitor.device,
            "browser": visitor.browser,
            "user_agent": visitor.user_agent,
            "ip": visitor.ip,
            "country": visitor.country,
            "dnt": visitor.dnt,
            "account": visitor.user_id,
            "session_id": v.session_id,
            "returning": v.returning,
            "cart_return": v.cart_return,
            "source": v.source,
            "referrer": v.referrer,
            "campaign": v.campaign,
            "utm": dict(v.utm),
            "landing_page": self.landing_page,
            "landing_path": _path(self.landing_page),
            "exit_page": self.exit_page,
            "start": self.first_ts,
            "end": self.last_ts,
            "events": sum(counts.values()),
            "events_by_type": dict(sorted(counts.items())),
            "requests_by_channel": dict(sorted(self.requests_by_channel.items())),
            "events_by_channel": dict(sorted(self.events_by_channel.items())),
            "page_views": counts["page_view"],
            "product_views": counts["product_view"],
            "searches": counts["search"],
            "cart_adds": counts["add_to_cart"],
            "cart_removes": counts["remove_from_cart"],
            "checkouts": counts["begin_checkout"],
            "purchases": counts["purchase"],
            "purchased": counts["purchase"] > 0,
            "orders": list(self.orders),
            "revenue": self.revenue_cents / 100,
            "engaged_ms": self.engaged_ms,
            "bounce": counts["page_view"] == 1,
            "funnel_depth": self.funnel_depth,
            "intent": round(v.intent, 4),
            "converted_destiny": self.converted_destiny,
        }


class GroundTruth:
    """Collects the truth of one simulation run (the simulator feeds it; you read it)."""

    def __init__(self, config: SimConfig):
        self.config = config
        self._visits: dict[str, VisitTruth] = {}
        self._decisions: list[dict[str, Any]] = []
        self._closed = False

    # fed by the simulator ---------------------------------------------------------------------

    def record(self, request: Request) -> None:
        if not request.events:
            return
        key = request.visit.key
        truth = self._visits.get(key)
        if truth is None:
            truth = self._visits[key] = VisitTruth(request.visit)
        truth.add(request)

    def record_decision(self, visit: Visit, at: datetime, slot: str, decision: Decision | None,
                        context: Mapping[str, Any], probabilities: Mapping[str, float] | None,
                        destiny: bool | None) -> None:
        self._decisions.append({
            "visitor": visit.visitor.key,
            "visit": visit.number,
            "at": format_timestamp(at),
            "slot": slot,
            "decision_id": decision.decision_id if decision else None,
            "variant": decision.variant if decision else None,
            "arm": decision.arm if decision else None,
            "context": dict(context),
            "probabilities": dict(probabilities) if probabilities is not None else None,
            "first": destiny is not None,
            "converted": destiny,
        })
        if destiny is not None:
            self._visits.setdefault(visit.key, VisitTruth(visit)).converted_destiny = destiny

    def close(self) -> None:
        self._closed = True

    # read -------------------------------------------------------------------------------------

    def visits(self) -> list[dict[str, Any]]:
        """One dict per visit that sent at least one event, in order of first event."""
        rows = [t.as_dict() for t in self._visits.values() if t.first_ts is not None]
        return sorted(rows, key=lambda r: (r["start"], r["visitor"], r["visit"]))

    def decisions(self) -> list[dict[str, Any]]:
        return list(self._decisions)

    def orders(self) -> list[dict[str, Any]]:
        """One dict per order, in time order. ``customer`` follows the reports' rule: the
        purchase's ``user_id`` when the buyer was signed in, else the visitor (the simulator's
        key; the pipeline has the visitor's cookie id in its place, one for one). Orders
        without a visitor id on the wire (Do-Not-Track) have ``customer`` None: no report can
        tell who placed them."""
        rows = []
        for t in self._visits.values():
            visitor = t.visit.visitor
            for order in t.order_details:
                customer = order["user_id"] or (None if visitor.dnt else f"visitor:{visitor.key}")
                rows.append({**order, "visitor": visitor.key, "visit": t.visit.number,
                             "kind": visitor.kind, "customer": customer,
                             "month": order["ts"][:7], "day": order["ts"][:10]})
        return sorted(rows, key=lambda r: (r["ts"], r["order_id"]))

    def customers(self) -> dict[str, Any]:
        """Orders and revenue by UTC month and day, customers and repeat customers (two or more
        orders), over the orders a report can attribute (:meth:`orders`, ``customer`` set)."""
        orders = [o for o in self.orders() if o["customer"] is not None]
        per_customer: Counter[str] = Counter(o["customer"] for o in orders)
        months: dict[str, dict[str, Any]] = {}
        for month in sorted({o["month"] for o in orders}):
            these = [o for o in orders if o["month"] == month]
            months[month] = {"orders": len(these), "revenue": _cents(o["revenue"] for o in these),
                             "customers": len({o["customer"] for o in these})}
        days: dict[str, dict[str, Any]] = {}
        for day in sorted({o["day"] for o in orders}):
            these = [o for o in orders if o["day"] == day]
            days[day] = {"orders": len(these), "revenue": _cents(o["revenue"] for o in these)}
        return {
            "customers": len(per_customer),
            "orders": len(orders),
            "revenue": _cents(o["revenue"] for o in orders),
            "repeat_customers": sum(1 for n in per_customer.values() if n >= 2),
            "by_month": months,
            "by_day": days,
        }

    def visitors(self) -> list[dict[str, Any]]:
        """One dict per visitor that sent at least one event."""
        by_visitor: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.visits():
            by_visitor[row["visitor"]].append(row)
        out = []
        for key, rows in by_visitor.items():
            first = rows[0]
            out.append({
                "visitor": key,
                "kind": first["kind"],
                "device": first["device"],
                "user_agent": first["user_agent"],
                "ip": first["ip"],
                "country": first["country"],
                "dnt": first["dnt"],
                "account": first["account"],
                "first_source": first["source"],
                "first_seen": first["start"],
                "last_seen": rows[-1]["end"],
                "visits": len(rows),
                "events": sum(r["events"] for r in rows),
                "page_views": sum(r["page_views"] for r in rows),
                "orders": sum(r["purchases"] for r in rows),
                "revenue": _cents(r["revenue"] for r in rows),
            })
        return sorted(out, key=lambda r: r["visitor"])

    def summary(self) -> dict[str, Any]:
        """Aggregates a report must reproduce. ``humans`` are JS and no-JS visitors; crawlers
        are under ``bots``; ``funnel`` counts visits reaching each :data:`FUNNEL` step in order,
        ``funnel_any`` visits with at least one such event."""
        visits = self.visits()
        humans = [v for v in visits if v["kind"] != "bot"]
        bots = [v for v in visits if v["kind"] == "bot"]
        events_by_type: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        requests: Counter[str] = Counter()
        for v in visits:
            events_by_type.update(v["events_by_type"])
            by_channel.update(v["events_by_channel"])
            requests.update(v["requests_by_channel"])
        config = self.config
        return {
            "seed": config.seed,
            "start": format_timestamp(config.start) if config.start else None,
            "end": format_timestamp(config.end) if config.start else None,
            "max_events": config.max_events,
            "events": sum(events_by_type.values()),
            "events_by_type": dict(sorted(events_by_type.items())),
            "events_by_channel": dict(sorted(by_channel.items())),
            "requests_by_channel": dict(sorted(requests.items())),
            "humans": _traffic(humans),
            "dnt": _traffic([v for v in humans if v["dnt"]]),
            "bots": {
                "visitors": len({v["visitor"] for v in bots}),
                "page_views": sum(v["page_views"] for v in bots),
                "events": sum(v["events"] for v in bots),
            },
            "decisions": len(self._decisions),
            "customers": self.customers(),
        }

    def write(self, directory: Path) -> dict[str, Path]:
        """Write the five files into ``directory`` (created if needed); returns their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {name: directory / name for name in
                 ("visits.jsonl", "visitors.jsonl", "decisions.jsonl", "orders.jsonl",
                  "summary.json")}
        _write_lines(paths["visits.jsonl"], self.visits())
        _write_lines(paths["orders.jsonl"], self.orders())
        _write_lines(paths["visitors.jsonl"], self.visitors())
        _write_lines(paths["decisions.jsonl"], self.decisions())
        paths["summary.json"].write_text(json.dumps(self.summary(), indent=2) + "\n",
                                         encoding="utf-8")
        return paths


def _traffic(visits: list[dict[str, Any]]) -> dict[str, Any]:
    """Traffic and funnel counts over ``visits``."""
    funnel = {step: sum(1 for v in visits if v["funnel_depth"] > i)
              for i, step in enumerate(FUNNEL)}
    funnel_any = {step: sum(1 for v in visits if v["events_by_type"].get(step, 0) > 0)
                  for step in FUNNEL}
    return {
        "visitors": len({v["visitor"] for v in visits}),
        "visits": len(visits),
        "returning_visits": sum(1 for v in visits if v["returning"]),
        "page_views": sum(v["page_views"] for v in visits),
        "bounces": sum(1 for v in visits if v["bounce"]),
        "product_views": sum(v["product_views"] for v in visits),
        "cart_adds": sum(v["cart_adds"] for v in visits),
        "checkouts": sum(v["checkouts"] for v in visits),
        "orders": sum(v["purchases"] for v in visits),
        "converted_visits": sum(1 for v in visits if v["purchased"]),
        "revenue": _cents(v["revenue"] for v in visits),
        "funnel": funnel,
        "funnel_any": funnel_any,
        "by_source": _breakdown(visits, "source"),
        "by_device": _breakdown(visits, "device"),
        "by_campaign": _breakdown(visits, "campaign"),
        "by_country": _breakdown(visits, "country"),
        "landing_pages": dict(sorted(Counter(v["landing_path"] for v in visits
                                             if v["landing_path"]).items())),
    }


def _breakdown(visits: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in visits:
        groups[v[key] if v[key] is not None else "(none)"].append(v)
    return {
        name: {
            "visits": len(rows),
            "page_views": sum(r["page_views"] for r in rows),
            "converted_visits": sum(1 for r in rows if r["purchased"]),
            "orders": sum(r["purchases"] for r in rows),
            "revenue": _cents(r["revenue"] for r in rows),
        }
        for name, rows in sorted(groups.items())
    }


def _cents(amounts: Iterable[float]) -> float:
    """Sum money exactly (in cents) and return it with two decimals."""
    return sum(round(a * 100) for a in amounts) / 100


def _path(url: str | None) -> str | None:
    if url is None:
        return None
    return urlsplit(url).path


def _write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
