"""Orders CSV rows -> contract ``purchase`` and ``refund`` events (pure functions, no Spark).

One invoice's positive lines are one ``purchase``; its negative lines, and every line of a
cancellation invoice (``C`` prefix), are one ``refund`` of the same order id. Event ids are
UUIDv5 of the order id and the kind, so an order imported twice, from any file, is one event
downstream (everything deduplicates on ``event_id``). Times are the file's own, converted from
the mapping's time zone to UTC. A customer is a ``user_id`` (the shop's id, matchable) with the
visitor ``import-c<id>``; an order without one gets the one-off visitor ``import-g<invoice>``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from stream_jobs.importing.mapping import OrderMapping
from tracker.contract.spec import ID_PATTERN, SCHEMA_VERSION
from tracker.contract.validate import format_timestamp

# fixed namespace: the same order gives the same event id on every machine, forever
ORDER_NAMESPACE = uuid.UUID("7d1c5f0e-3a55-4f4c-9b8e-2f1f6f0c1a11")
CUSTOMER_VISITOR_PREFIX = "import-c"
GUEST_VISITOR_PREFIX = "import-g"
MAX_QUANTITY = 10_000  # the contract's product.quantity bound
_ID = re.compile(ID_PATTERN)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Reject:
    """A row that did not become part of an order: its file line, why, and its text."""

    line: int
    reason: str
    text: str

    def record(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "text": self.text}


@dataclass(frozen=True)
class OrderLine:
    """One accepted CSV row. ``quantity`` keeps its sign; ``refund`` says which event it joins."""

    line: int
    order_id: str
    refund: bool
    sku: str
    name: str | None
    category: str | None
    quantity: int
    price: Decimal
    ts: datetime  # UTC
    customer: str | None
    country: str | None


def _text(row: Mapping[str, str | None], column: str | None) -> str | None:
    if column is None:
        return None
    value = (row.get(column) or "").strip()
    return value or None


def _customer_id(raw: str) -> str:
    # spreadsheets write integer ids as 17850.0: the shop's id is 17850
    return raw[:-2] if raw.endswith(".0") and raw[:-2].isdigit() else raw


def parse_line(row: Mapping[str, str | None], line: int, text: str,
               mapping: OrderMapping) -> OrderLine | Reject:
    """One CSV row (by column name) -> an :class:`OrderLine`, or a :class:`Reject` saying why."""
    def reject(reason: str) -> Reject:
        return Reject(line, reason, text)

    if None in row:  # csv.DictReader puts surplus cells under None
        return reject(f"{len(row) - 1 + len(row[None] or [])} cells; the header has "  # type: ignore[index]
                      f"{len(row) - 1}")
    missing = [c for c in mapping.columns().values() if c not in row or row[c] is None]
    if missing:
        return reject(f"too few cells: no {', '.join(missing)}")
    invoice = _text(row, mapping.invoice)
    if invoice is None:
        return reject(f"{mapping.invoice}: empty")
    if not _ID.match(invoice) or len(invoice) > 64:
        return reject(f"{mapping.invoice}: {invoice!r} is not an order id (letters, digits and "
                      "_ . : - only, at most 64)")
    sku = _text(row, mapping.sku)
    if sku is None:
        return reject(f"{mapping.sku}: empty")
    if len(sku) > 64:
        return reject(f"{mapping.sku}: longer than 64 characters")
    raw_quantity = _text(row, mapping.quantity) or ""
    try:
        quantity = int(raw_quantity)
    except ValueError:
        return reject(f"{mapping.quantity}: {raw_quantity!r} is not a whole number")
    if quantity == 0:
        return reject(f"{mapping.quantity}: 0 (a line must move at least one unit)")
    if abs(quantity) > MAX_QUANTITY:
        return reject(f"{mapping.quantity}: {quantity} is beyond ±{MAX_QUANTITY}")
    raw_price = _text(row, mapping.price) or ""
    try:
        price = Decimal(raw_price)
    except InvalidOperation:
        return reject(f"{mapping.price}: {raw_price!r} is not a number")
    if not price.is_finite() or price < 0 or price > Decimal("1e9"):
        return reject(f"{mapping.price}: {raw_price} is not a price (0 to 1e9)")
    raw_date = _text(row, mapping.date) or ""
    try:
        local = datetime.strptime(raw_date, mapping.date_format)
    except ValueError:
        return reject(f"{mapping.date}: {raw_date!r} does not match {mapping.date_format!r}")
    ts = (local.replace(tzinfo=mapping.zone()) if local.tzinfo is None else local).astimezone(UTC)
    customer = _text(row, mapping.customer)
    if customer is not None:
        customer = _customer_id(customer)
        if not _ID.match(customer) or len(customer) > 56:
            return reject(f"{mapping.customer}: {customer!r} is not an id (letters, digits and "
                          "_ . : - only, at most 56)")
    cancelled = invoice.startswith(mapping.cancellation_prefix)
    if cancelled and quantity > 0:
        return reject(f"{mapping.quantity}: {quantity} is positive on cancellation invoice "
                      f"{invoice}")
    name = _text(row, mapping.description)
    category = _text(row, mapping.category)
    country = _text(row, mapping.country)
    return OrderLine(line, invoice, cancelled or quantity < 0, sku,
                     name[:256] if name else None, category[:256] if category else None,
                     quantity, price, ts, customer, country[:64] if country else None)


def order_event_id(order_id: str, event_type: str) -> str:
    """The event id of an imported order's purchase or refund (deterministic).

    >>> order_event_id("536365", "purchase") == order_event_id("536365", "purchase")
    True
    >>> order_event_id("536365", "purchase") == order_event_id("536365", "refund")
    False
    """
    return str(uuid.uuid5(ORDER_NAMESPACE, f"{event_type}:{order_id}"))


def order_events(lines: Iterable[OrderLine], mapping: OrderMapping
                 ) -> tuple[list[dict[str, Any]], list[Reject]]:
    """Group accepted lines into one event per (order, purchase|refund), in file order.

    Orders may hold more than the contract's 100 items: that limit guards the collector's
    request bodies, and a past order is kept whole.

    A line naming another customer than its order's first line is rejected: one order has one
    buyer.
    """
    groups: dict[tuple[str, bool], list[OrderLine]] = {}
    rejects: list[Reject] = []
    first_customer: dict[str, OrderLine] = {}
    for item in lines:
        head = first_customer.setdefault(item.order_id, item)
        if item.customer != head.customer:
            rejects.append(Reject(item.line, f"customer {item.customer or '(none)'} differs from "
                                  f"{head.customer or '(none)'} on line {head.line} of order "
                                  f"{item.order_id}", ""))
            continue
        groups.setdefault((item.order_id, item.refund), []).append(item)
    events = [order_event(group, mapping) for group in groups.values()]
    return events, rejects


def order_event(group: list[OrderLine], mapping: OrderMapping) -> dict[str, Any]:
    """The contract event of one order's lines of one kind (purchase or refund)."""
    head = group[0]
    event_type = "refund" if head.refund else "purchase"
    ts = format_timestamp(min(item.ts for item in group))
    revenue = sum((abs(i.quantity) * i.price for i in group), Decimal(0)).quantize(
        CENT, rounding=ROUND_HALF_UP)
    items = []
    for i in group:
        product: dict[str, Any] = {"sku": i.sku, "price": float(i.price),
                                   "currency": mapping.currency, "quantity": abs(i.quantity)}
        if i.name:
            product["name"] = i.name
        if i.category:
            product["category"] = i.category
        items.append(product)
    visitor = (CUSTOMER_VISITOR_PREFIX + head.customer if head.customer
               else GUEST_VISITOR_PREFIX + head.order_id)
    enrichment: dict[str, Any] = {"collector_ts": ts, "derived_ts": ts, "source": "server"}
    if head.country:
        enrichment["geo"] = {"country": head.country}
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": order_event_id(head.order_id, event_type),
        "event_type": event_type,
        "client_ts": ts,
        "visitor_id": visitor,
        "order": {"order_id": head.order_id, "revenue": float(revenue),
                  "currency": mapping.currency, "items": items},
        "properties": {"import": "orders"},
        "enrichment": enrichment,
    }
    if head.customer:
        event["user_id"] = head.customer
    return event

