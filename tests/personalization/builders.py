"""Hand-made visitors for the personalization tests: valid, enriched contract events.

Times are written as minutes after a fixed start, so a test reads like a story ("at minute 3
she adds the jacket, at minute 40 she has gone"). Every event is checked against the contract
(with the collector's enrichment block) so the tests feed the worker what Kafka really holds.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.contract import check_event, format_timestamp

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SHOP = "https://shop.example.com"
_ids = itertools.count(1)

PRODUCTS = {
    "JK-1": ("Storm Jacket", "Apparel/Jackets", 189.0),
    "SH-1": ("Trail Shoe", "Shoes/Trail", 129.0),
    "SH-2": ("Road Shoe", "Shoes/Running", 99.0),
    "SK-1": ("Merino Socks", "Apparel/Socks", 19.0),
    "WA-1": ("GPS Watch", "Gear/Watches", 299.0),
    "CP-1": ("Running Cap", "Apparel/Caps", 25.0),
}


def at(minute: float, start: datetime = START) -> datetime:
    return start + timedelta(minutes=minute)


def epoch(minute: float, start: datetime = START) -> float:
    return at(minute, start).timestamp()


def product(sku: str, quantity: int | None = None) -> dict[str, Any]:
    name, category, price = PRODUCTS[sku]
    out: dict[str, Any] = {"sku": sku, "name": name, "category": category, "price": price,
                           "currency": "EUR"}
    if quantity is not None:
        out["quantity"] = quantity
    return out


def event(kind: str, visitor: str, minute: float, *, device: str = "desktop",
          source: str = "direct", campaign: str | None = None, is_bot: bool = False,
          start: datetime = START, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """One enriched event of ``visitor`` at ``minute``; ``fields`` are contract fields."""
    moment = format_timestamp(at(minute, start))
    enrichment: dict[str, Any] = {
        "collector_ts": moment, "derived_ts": moment, "source": "js",
        "ua": {"device": "bot" if is_bot else device, "is_bot": is_bot},
        "referrer_class": source,
    }
    if campaign:
        enrichment["utm"] = {"campaign": campaign}
    if kind in ("page_view", "page_ping") and "url" not in fields:
        fields["url"] = f"{SHOP}/"
    out = {"schema_version": 1,
           "event_id": event_id or str(uuid.UUID(int=next(_ids), version=4)),
           "event_type": kind, "client_ts": moment, "visitor_id": visitor,
           "enrichment": enrichment, **fields}
    return check_event(out, allow_enrichment=True)


def view(visitor: str, minute: float, sku: str, **kw: Any) -> dict[str, Any]:
    return event("product_view", visitor, minute, url=f"{SHOP}/p/{sku}", product=product(sku),
                 **kw)


def add(visitor: str, minute: float, sku: str, quantity: int = 1, **kw: Any) -> dict[str, Any]:
    return event("add_to_cart", visitor, minute, url=f"{SHOP}/p/{sku}",
                 product=product(sku, quantity), **kw)


def remove(visitor: str, minute: float, sku: str, quantity: int = 1, **kw: Any
           ) -> dict[str, Any]:
    return event("remove_from_cart", visitor, minute, url=f"{SHOP}/cart",
                 product=product(sku, quantity), **kw)


def buy(visitor: str, minute: float, order_id: str, items: dict[str, int], **kw: Any
        ) -> dict[str, Any]:
    revenue = round(sum(PRODUCTS[sku][2] * q for sku, q in items.items()), 2)
    return event("purchase", visitor, minute, url=f"{SHOP}/order/{order_id}",
                 order={"order_id": order_id, "revenue": revenue, "currency": "EUR",
                        "items": [product(sku, q) for sku, q in items.items()]}, **kw)


def shown(visitor: str, minute: float, slot: str, variant: str, arm: str,
          decision_id: str = "d-1", **kw: Any) -> dict[str, Any]:
    return event("personalization_shown", visitor, minute, url=f"{SHOP}/",
                 decision={"decision_id": decision_id, "slot": slot, "variant": variant,
                           "arm": arm}, **kw)
