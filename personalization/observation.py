"""One Kafka record → an :class:`Observation`: the few fields of an event the worker uses.

The collector has validated and enriched every event on the topic, so this is a reader, not a
validator: it picks fields, converts the timestamp once, and refuses (with a reason) only what
it cannot use at all (not JSON, no visitor, no time). Event time is ``enrichment.derived_ts``
(skew-corrected) when present, else ``client_ts``: a visitor's phone clock set to last year must
not close or reopen sessions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracker.contract import parse_timestamp


class UnusableEvent(ValueError):
    """A record the worker cannot learn from; the message says why (it is counted and logged)."""


class NoVisitor(UnusableEvent):
    """A valid event without a visitor id (a site backend's event under denied consent):
    nothing to personalize, and nothing wrong either (counted, not logged)."""


@dataclass(frozen=True, slots=True)
class Item:
    """A product as events describe it (``product``, ``order.items``, ``products``)."""

    sku: str
    name: str | None = None
    category: str | None = None
    price: float | None = None
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class DecisionRef:
    """The decision a ``personalization_*`` event reports (see the contract's ``decision``)."""

    decision_id: str
    slot: str
    variant: str
    arm: str | None


@dataclass(frozen=True, slots=True)
class Observation:
    """What the worker reads from one event."""

    event_id: str
    event_type: str
    visitor_id: str
    ts: float  # event time, epoch seconds (UTC)
    session_id: str | None = None
    user_id: str | None = None
    url: str | None = None
    product: Item | None = None
    products: tuple[Item, ...] = ()
    order_id: str | None = None
    revenue: float = 0.0
    order_items: tuple[Item, ...] = ()
    query: str | None = None
    engaged_ms: int = 0
    decision: DecisionRef | None = None
    device: str | None = None
    source: str | None = None  # enrichment.referrer_class
    campaign: str | None = None  # enrichment.utm.campaign
    is_bot: bool = False


def read_record(value: bytes | str | dict[str, Any]) -> Observation:
    """Parse a Kafka record value (JSON) or an already decoded event."""
    if isinstance(value, dict):
        event = value
    else:
        try:
            event = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UnusableEvent(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise UnusableEvent(f"not a JSON object but {type(event).__name__}")
    return observe(event)


def observe(event: dict[str, Any]) -> Observation:
    """The :class:`Observation` of a decoded contract event."""
    event_type = event.get("event_type")
    if not isinstance(event_type, str):
        raise UnusableEvent("event_type missing")
    visitor_id = event.get("visitor_id")
    if not isinstance(visitor_id, str) or not visitor_id:
        raise NoVisitor("visitor_id missing (events without a visitor are not personalized)")
    enrichment = event.get("enrichment") or {}
    moment = parse_timestamp(enrichment.get("derived_ts")) or parse_timestamp(
        event.get("client_ts"))
    if moment is None:
        raise UnusableEvent("neither enrichment.derived_ts nor client_ts is a timestamp")
    ua = enrichment.get("ua") or {}
    utm = enrichment.get("utm") or {}
    order = event.get("order") if isinstance(event.get("order"), dict) else None
    return Observation(
        event_id=str(event.get("event_id") or ""),
        event_type=event_type,
        visitor_id=visitor_id,
        ts=moment.timestamp(),
        session_id=_str(event.get("session_id")),
        user_id=_str(event.get("user_id")),
        url=_str(event.get("url")),
        product=_item(event.get("product")),
        products=_items(event.get("products")),
        order_id=_str(order.get("order_id")) if order else None,
        revenue=_money(order.get("revenue")) if order else 0.0,
        order_items=_items(order.get("items")) if order else (),
        query=_str(event.get("query")),
        engaged_ms=_int(event.get("engaged_ms")),
        decision=_decision(event.get("decision")),
        device=_str(ua.get("device")),
        source=_str(enrichment.get("referrer_class")),
        campaign=_str(utm.get("campaign")),
        is_bot=bool(ua.get("is_bot")) or ua.get("device") == "bot",
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _money(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return 0.0


def _item(value: Any) -> Item | None:
    if not isinstance(value, dict) or not _str(value.get("sku")):
        return None
    price = value.get("price")
    quantity = value.get("quantity")
    return Item(
        sku=value["sku"],
        name=_str(value.get("name")),
        category=_str(value.get("category")),
        price=float(price) if isinstance(price, int | float) and not isinstance(price, bool)
        else None,
        quantity=quantity if isinstance(quantity, int) and quantity > 0 else 1,
    )


def _items(value: Any) -> tuple[Item, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in map(_item, value) if item is not None)


def _decision(value: Any) -> DecisionRef | None:
    if not isinstance(value, dict):
        return None
    decision_id, slot, variant = (_str(value.get(k)) for k in ("decision_id", "slot", "variant"))
    if not (decision_id and slot and variant):
        return None
    return DecisionRef(decision_id, slot, variant, _str(value.get("arm")))
